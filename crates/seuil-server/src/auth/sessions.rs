//! Sessions: index-only store records (no personal data), kind `session`, id =
//! hex(SHA-256(token)) so a leaked database does not leak usable tokens. `retain_until` is the
//! expiry, so the retention sweeper removes expired sessions.

use super::accounts::Role;
use crate::problem::ApiResult;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use rand::RngCore;
use seuil_store::{IndexFields, Millis, NewRecord, Query};
use sha2::{Digest, Sha256};

pub const KIND: &str = "session";
pub const COOKIE: &str = "seuil_session";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Cookie,
    Bearer,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Cookie => "cookie",
            Via::Bearer => "bearer",
        }
    }
}

/// Who is calling, once their session is checked.
#[derive(Clone, Debug)]
pub struct Caller {
    pub subject: String,
    pub role: Role,
    /// The stored session id (a hash of the token).
    pub session_id: String,
    pub via: Via,
}

pub fn session_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Creates a session and returns its token and expiry.
pub async fn create(
    state: &AppState,
    subject: &str,
    role: Role,
    via: Via,
) -> ApiResult<(String, Millis)> {
    let token = new_token();
    let ttl = match via {
        Via::Cookie => state.config.session_ttl_ms,
        Via::Bearer => state.config.token_ttl_ms,
    };
    let expires_at = state.vault.now().saturating_add(ttl);
    state
        .vault
        .store()
        .insert(&NewRecord {
            kind: KIND.into(),
            id: session_id(&token),
            subject: subject.into(),
            index: IndexFields {
                status: Some(role.as_str().into()),
                at: Some(expires_at),
                scope: Some(via.as_str().into()),
            },
            body: Vec::new(),
            retain_until: Some(expires_at),
        })
        .await?;
    Ok((token, expires_at))
}

/// The session behind `token`, if it exists, was issued for `via`, has not expired and its
/// subject has not been erased.
pub async fn lookup(state: &AppState, token: &str, via: Via) -> ApiResult<Option<Caller>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let id = session_id(token);
    let Some(rec) = state.vault.store().get(KIND, &id).await? else {
        return Ok(None);
    };
    let live = rec.index.at.is_some_and(|exp| exp > state.vault.now());
    let right_kind = rec.index.scope.as_deref() == Some(via.as_str());
    let Some(role) = rec.index.status.as_deref().and_then(Role::parse) else {
        return Ok(None);
    };
    if !live || !right_kind || !state.vault.subject_exists(&rec.subject).await? {
        return Ok(None);
    }
    Ok(Some(Caller {
        subject: rec.subject,
        role,
        session_id: id,
        via,
    }))
}

pub async fn delete(state: &AppState, session_id: &str) -> ApiResult<()> {
    state.vault.store().delete(KIND, session_id).await?;
    Ok(())
}

/// Ends every session of a subject (sign-out everywhere, erasure).
pub async fn delete_all(state: &AppState, subject: &str) -> ApiResult<()> {
    let q = Query {
        kind: KIND.into(),
        subject: Some(subject.into()),
        ..Query::default()
    };
    for rec in state.vault.store().query(&q).await? {
        state.vault.store().delete(KIND, &rec.id).await?;
    }
    Ok(())
}

/// Resolves the caller from `Authorization: Bearer` or the session cookie.
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Caller>> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        return match token {
            Some(t) => lookup(state, t, Via::Bearer).await,
            None => Ok(None),
        };
    }
    match cookie(headers, COOKIE) {
        Some(t) => lookup(state, &t, Via::Cookie).await,
        None => Ok(None),
    }
}

/// The value of cookie `name` from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

pub fn set_cookie(state: &AppState, token: &str) -> HeaderValue {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let max_age = state.config.session_ttl_ms / 1000;
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("seuil_session=; Path=/"))
}

pub fn clear_cookie(state: &AppState) -> HeaderValue {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("seuil_session=; Path=/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; seuil_session=tok; b=2"),
        );
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
