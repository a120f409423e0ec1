//! Sessions: index-only store records (no personal data), kind `session`, id =
//! hex(SHA-256(token)) so a leaked database does not leak usable tokens. `retain_until` is the
//! absolute expiry, so the retention sweeper removes expired sessions; the index's `at` is
//! when a cookie session lapses if unused (the idle timeout), moved on as it is used (at most
//! once a minute, so a busy page does not write on every request).

use super::accounts::Role;
use crate::problem::ApiResult;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use rand::RngCore;
use seuil_store::{IndexFields, Millis, NewRecord, Query};
use sha2::{Digest, Sha256};

pub const KIND: &str = "session";
/// The session cookie over plain HTTP (development, tests).
pub const COOKIE: &str = "seuil_session";
/// The session cookie over HTTPS: the `__Host-` prefix makes browsers refuse it unless it is
/// `Secure`, for path `/` and for this host only, so a sibling subdomain cannot plant one.
pub const HOST_COOKIE: &str = "__Host-seuil_session";

/// The session cookie's name for this deployment.
pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config.secure_cookies {
        HOST_COOKIE
    } else {
        COOKIE
    }
}

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
    let now = state.vault.now();
    let expires_at = now.saturating_add(ttl);
    state
        .vault
        .store()
        .insert(&record(
            &session_id(&token),
            subject,
            role,
            via,
            idle_deadline(state, via, now, expires_at),
            expires_at,
        ))
        .await?;
    Ok((token, expires_at))
}

fn record(
    id: &str,
    subject: &str,
    role: Role,
    via: Via,
    lapses_at: Millis,
    expires_at: Millis,
) -> NewRecord {
    NewRecord {
        kind: KIND.into(),
        id: id.into(),
        subject: subject.into(),
        index: IndexFields {
            status: Some(role.as_str().into()),
            at: Some(lapses_at),
            scope: Some(via.as_str().into()),
        },
        body: Vec::new(),
        retain_until: Some(expires_at),
    }
}

/// When a session used at `now` lapses if not used again: a cookie session after the idle
/// timeout (never past its expiry); an API token at its expiry.
fn idle_deadline(state: &AppState, via: Via, now: Millis, expires_at: Millis) -> Millis {
    match via {
        Via::Cookie => now
            .saturating_add(state.config.session_idle_ms)
            .min(expires_at),
        Via::Bearer => expires_at,
    }
}

/// How stale a session's idle deadline may get before a request moves it on.
const TOUCH_EVERY_MS: Millis = 60_000;

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
    let now = state.vault.now();
    let expires_at = rec.retain_until.unwrap_or(Millis::MAX);
    let live = rec.index.at.is_some_and(|lapses| lapses > now) && expires_at > now;
    let right_kind = rec.index.scope.as_deref() == Some(via.as_str());
    let Some(role) = rec.index.status.as_deref().and_then(Role::parse) else {
        return Ok(None);
    };
    if !live || !right_kind || !state.vault.subject_exists(&rec.subject).await? {
        return Ok(None);
    }
    // Used now: the idle deadline moves on (another request doing the same wins; fine).
    let deadline = idle_deadline(state, via, now, expires_at);
    let touch_every = TOUCH_EVERY_MS.min(state.config.session_idle_ms / 4);
    if rec.index.at.is_some_and(|at| deadline - at > touch_every) {
        let moved = record(&id, &rec.subject, role, via, deadline, expires_at);
        if let Err(e) = state.vault.store().update(&moved, rec.version).await
            && !matches!(e, seuil_store::StoreError::VersionConflict { .. })
        {
            tracing::warn!(error = %e, "cannot move a session's idle deadline on");
        }
    }
    Ok(Some(Caller {
        subject: rec.subject,
        role,
        session_id: id,
        via,
    }))
}

/// Ends one session, and its open event streams on this instance (other instances' streams
/// see it gone at their next check).
pub async fn delete(state: &AppState, session_id: &str) -> ApiResult<()> {
    state.vault.store().delete(KIND, session_id).await?;
    state.hub.end_session(session_id);
    Ok(())
}

/// One of a subject's sessions or API tokens, as they see it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SessionInfo {
    /// What revoking it takes (a hash of its token: not the token).
    pub id: String,
    pub via: &'static str,
    pub created_at: Millis,
    /// When it lapses unless used (cookie sessions), and when it ends anyway.
    pub lapses_at: Option<Millis>,
    pub expires_at: Option<Millis>,
    /// The one this request came with.
    pub current: bool,
}

/// The subject's live sessions and tokens, newest first.
pub async fn list(state: &AppState, caller: &Caller) -> ApiResult<Vec<SessionInfo>> {
    let q = Query {
        kind: KIND.into(),
        subject: Some(caller.subject.clone()),
        ..Query::default()
    };
    let now = state.vault.now();
    let mut out: Vec<SessionInfo> = state
        .vault
        .store()
        .query(&q)
        .await?
        .into_iter()
        .filter(|r| r.index.at.is_some_and(|at| at > now))
        .map(|r| SessionInfo {
            via: match r.index.scope.as_deref() {
                Some("bearer") => Via::Bearer.as_str(),
                _ => Via::Cookie.as_str(),
            },
            current: r.id == caller.session_id,
            created_at: r.created_at,
            lapses_at: r.index.at,
            expires_at: r.retain_until,
            id: r.id,
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    Ok(out)
}

/// Ends one of the caller's own sessions or tokens; `false` when they have none by that id.
pub async fn revoke(state: &AppState, caller: &Caller, id: &str) -> ApiResult<bool> {
    match state.vault.store().get(KIND, id).await? {
        Some(r) if r.subject == caller.subject => {
            delete(state, id).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
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
    state.hub.close(subject);
    Ok(())
}

/// Ends every session of a subject but `keep` (a password change: the other devices sign in
/// again with the new password).
pub async fn delete_others(state: &AppState, subject: &str, keep: &str) -> ApiResult<()> {
    let q = Query {
        kind: KIND.into(),
        subject: Some(subject.into()),
        ..Query::default()
    };
    for rec in state.vault.store().query(&q).await? {
        if rec.id != keep {
            delete(state, &rec.id).await?;
        }
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
    match cookie(headers, cookie_name(state)) {
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
    let name = cookie_name(state);
    HeaderValue::from_str(&format!(
        "{name}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("seuil_session=; Path=/"))
}

pub fn clear_cookie(state: &AppState) -> HeaderValue {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let name = cookie_name(state);
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
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
