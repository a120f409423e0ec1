//! Accounts: one vault subject each. The record is kind `account`, id = subject, indexed by
//! role and by a blind index of the normalised email (never the email itself); its sealed body
//! holds the email, the display name and the Argon2id hash.
//!
//! An index-only `account.email` record whose id is the blind index makes email addresses
//! unique even when two sign-ups race (the store refuses the second insert).

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use seuil_store::{IndexFields, NewRecord, Query, StoreError};
use seuil_vault::{Actor, VaultError, Write};

pub const KIND: &str = "account";

/// What an export leaves out of an account record: the password hash is the service's check,
/// not the customer's data, and a leaked export must not hand out a guessing target.
pub fn omit_from_export(kind: &str, body: &mut serde_json::Value) {
    if kind == KIND
        && let Some(fields) = body.as_object_mut()
    {
        fields.remove("password_hash");
    }
}
const EMAIL_CLAIM: &str = "account.email";
pub const PURPOSE: &str = "account";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Courier,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Courier => "courier",
            Role::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "customer" => Some(Role::Customer),
            "courier" => Some(Role::Courier),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sealed body of an account record.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccountBody {
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
}

/// An account found by email, opened for sign-in.
pub struct Found {
    pub subject: String,
    pub role: Role,
    pub body: AccountBody,
}

pub fn normalize_email(email: &str) -> ApiResult<String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && e.matches('@').count() == 1
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(e)
    } else {
        Err(Problem::unprocessable(
            "`email` must be an email address such as name@example.com",
        ))
    }
}

/// The most common passwords, which a guesser tries first (see the file's head).
static COMMON: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        include_str!("common-passwords.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    });

/// Whether `password` is one of the 10,000 most common (letter case aside).
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.trim().to_lowercase().as_str())
}

pub fn check_password(password: &str) -> ApiResult<()> {
    let n = password.chars().count();
    if n < 8 {
        return Err(Problem::unprocessable(
            "`password` must be at least 8 characters long",
        ));
    }
    if password.len() > 1024 {
        return Err(Problem::unprocessable(
            "`password` must be at most 1024 bytes long",
        ));
    }
    if is_common(password) {
        return Err(Problem::unprocessable(
            "this password is one of the 10,000 most common, which guessers try first: choose another",
        ));
    }
    Ok(())
}

/// The role and the body of an opened account record.
fn account_of(opened: &seuil_vault::Opened) -> ApiResult<(Role, AccountBody)> {
    let role = opened
        .index
        .status
        .as_deref()
        .and_then(Role::parse)
        .ok_or_else(|| Problem::internal("account without a role"))?;
    let body = serde_json::from_slice(&opened.body)
        .map_err(|_| Problem::internal("unreadable account record"))?;
    Ok((role, body))
}

/// The caller's account record opened as themselves, with its version (for an update).
async fn open_own_versioned(
    state: &AppState,
    subject: &str,
) -> ApiResult<(Role, AccountBody, IndexFields, u64)> {
    let opened = state
        .vault
        .open(&Actor::Subject(subject.into()), PURPOSE, KIND, subject)
        .await?;
    let (role, body) = account_of(&opened)?;
    Ok((role, body, opened.index.clone(), opened.version))
}

/// Whether `password` is the account holder's (for a step that asks for it again).
pub async fn password_is(state: &AppState, subject: &str, password: &str) -> ApiResult<bool> {
    let (_, body, _, _) = open_own_versioned(state, subject).await?;
    Ok(password.len() <= 1024
        && state
            .hasher
            .verify(password, Some(&body.password_hash))
            .await)
}

/// Replaces the account's password; the caller has checked the current one.
pub async fn set_password(state: &AppState, subject: &str, new_password: &str) -> ApiResult<()> {
    check_password(new_password)?;
    let password_hash = state.hasher.hash(new_password).await?;
    let (_, mut body, index, version) = open_own_versioned(state, subject).await?;
    body.password_hash = password_hash;
    let bytes = serde_json::to_vec(&body).map_err(|e| Problem::internal(e.to_string()))?;
    state
        .vault
        .update(
            &Actor::Subject(subject.into()),
            PURPOSE,
            Write {
                kind: KIND,
                id: subject,
                subject,
                index,
                body: &bytes,
            },
            version,
        )
        .await?;
    Ok(())
}

pub fn check_display_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Problem::unprocessable(
            "`display_name` must be 1 to 100 printable characters",
        ));
    }
    Ok(name.to_owned())
}

pub fn email_index(state: &AppState, normalized: &str) -> String {
    state.vault.blind_index("email", normalized)
}

pub async fn create(
    state: &AppState,
    email: &str,
    password: &str,
    display_name: &str,
    role: Role,
) -> ApiResult<String> {
    let email = normalize_email(email)?;
    check_password(password)?;
    let display_name = check_display_name(display_name)?;
    let blind = email_index(state, &email);
    let taken =
        || Problem::conflict("an account with this email address already exists; sign in instead");
    if state
        .vault
        .store()
        .get(EMAIL_CLAIM, &blind)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let password_hash = state.hasher.hash(password).await?;
    let subject = state.vault.create_subject().await?;
    let claim = NewRecord {
        kind: EMAIL_CLAIM.into(),
        id: blind.clone(),
        subject: subject.clone(),
        index: IndexFields::default(),
        body: Vec::new(),
        retain_until: None,
    };
    match state.vault.store().insert(&claim).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            // Lost a race for the same address: the fresh subject holds nothing; shred it.
            let _ = state.vault.erase(&Actor::system("auth"), &subject).await;
            return Err(taken());
        }
        Err(e) => return Err(e.into()),
    }
    let body = serde_json::to_vec(&AccountBody {
        email,
        display_name,
        password_hash,
    })
    .map_err(|e| Problem::internal(e.to_string()))?;
    state
        .vault
        .seal(
            &Actor::Subject(subject.clone()),
            PURPOSE,
            Write {
                kind: KIND,
                id: &subject,
                subject: &subject,
                index: IndexFields {
                    status: Some(role.as_str().into()),
                    at: None,
                    scope: Some(blind),
                },
                body: &body,
            },
        )
        .await?;
    Ok(subject)
}

/// Finds an account by email and opens it as `system:auth` (so the sign-in shows in the
/// account holder's own access log).
pub async fn find_by_email(state: &AppState, normalized: &str) -> ApiResult<Option<Found>> {
    let q = Query {
        kind: KIND.into(),
        scope: Some(email_index(state, normalized)),
        limit: Some(1),
        ..Query::default()
    };
    let Some(rec) = state.vault.store().query(&q).await?.into_iter().next() else {
        return Ok(None);
    };
    let opened = match state
        .vault
        .open(&Actor::system("auth"), PURPOSE, KIND, &rec.id)
        .await
    {
        Ok(o) => o,
        Err(VaultError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (role, body) = account_of(&opened)?;
    Ok(Some(Found {
        subject: opened.subject,
        role,
        body,
    }))
}

/// The caller's own account, opened as themselves.
pub async fn open_own(state: &AppState, subject: &str) -> ApiResult<(Role, AccountBody)> {
    let (role, body, _, _) = open_own_versioned(state, subject).await?;
    Ok((role, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in ["password", "Password1", "QWERTY123", "iloveyou", "trustno1"] {
            assert!(is_common(common), "{common}");
        }
        assert!(check_password("password").is_err());
        assert!(check_password("a long enough password").is_ok());
        assert!(!is_common("correct horse battery staple"));
        assert_eq!(COMMON.len(), 10_000);
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b.com.",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
