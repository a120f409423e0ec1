//! Sign-up, sign-in, sessions, tokens, the caller's account and its erasure.

use crate::auth::accounts::{self, Role};
use crate::auth::{Caller, Via, sessions};
use crate::extract::{ApiJson, ClientIp};
use crate::problem::{ApiResult, Problem};
use crate::state::{AppState, Shared};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use seuil_store::Millis;
use seuil_vault::{Actor, ErasureCertificate};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    pub confirm: String,
    /// The account's password, asked again: a session left open must not erase the account.
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The account's password, asked again: a token outlives the session that made it.
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// A new session: its token (for the cookie) and what it is for.
pub struct NewSession {
    pub subject: String,
    pub role: Role,
    pub token: String,
    pub expires_at: Millis,
}

impl NewSession {
    fn json(&self) -> serde_json::Value {
        json!({ "subject": self.subject, "role": self.role, "expires_at": self.expires_at })
    }
}

/// Creates a customer account and a cookie session for it. Sign-ups from one address are
/// throttled: "this email has an account already" must not be an unlimited oracle.
pub async fn do_sign_up(state: &AppState, ip: &str, req: &SignUpRequest) -> ApiResult<NewSession> {
    if let Err(wait) = state.sign_ups.begin(&format!("ip:{ip}"), state.vault.now()) {
        return Err(Problem::too_many(
            wait,
            format!("too many sign-ups from this address; try again in {wait} s"),
        ));
    }
    let subject = accounts::create(
        state,
        &req.email,
        &req.password,
        &req.display_name,
        Role::Customer,
    )
    .await?;
    let (token, expires_at) =
        sessions::create(state, &subject, Role::Customer, Via::Cookie).await?;
    Ok(NewSession {
        subject,
        role: Role::Customer,
        token,
        expires_at,
    })
}

/// Checks credentials, throttled per client address and per account (see
/// [`crate::auth::rate_limit`]): the attempt counts before the password is even hashed.
pub async fn do_sign_in(
    state: &AppState,
    ip: &str,
    email: &str,
    password: &str,
) -> ApiResult<NewSession> {
    let now = state.vault.now();
    let normalized =
        accounts::normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    let (source, account) = (
        format!("ip:{ip}"),
        format!("email:{}", accounts::email_index(state, &normalized)),
    );
    if let Err(wait) = state.limiter.begin(&source, &account, now) {
        state.metrics.login("rate_limited");
        return Err(Problem::too_many(
            wait,
            format!("too many failed sign-ins; try again in {wait} s"),
        ));
    }
    let found = if password.len() <= 1024 {
        accounts::find_by_email(state, &normalized).await?
    } else {
        None
    };
    let ok = state
        .hasher
        .verify(
            password,
            found.as_ref().map(|f| f.body.password_hash.as_str()),
        )
        .await;
    match found {
        Some(f) if ok => {
            state.limiter.succeeded(&source, &account);
            state.metrics.login("ok");
            let (token, expires_at) =
                sessions::create(state, &f.subject, f.role, Via::Cookie).await?;
            Ok(NewSession {
                subject: f.subject,
                role: f.role,
                token,
                expires_at,
            })
        }
        _ => {
            // Counted as a failure when it began.
            state.metrics.login("failed");
            Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "sign-in failed",
                "wrong email address or password",
            ))
        }
    }
}

/// Checks the caller's password again before a step that needs it, throttled like a sign-in
/// (a stolen session must not be a way to guess the password).
pub async fn reauthenticate(
    state: &AppState,
    ip: &str,
    caller: &Caller,
    password: &str,
) -> ApiResult<()> {
    let (source, account) = (format!("ip:{ip}"), format!("subject:{}", caller.subject));
    if let Err(wait) = state.limiter.begin(&source, &account, state.vault.now()) {
        return Err(Problem::too_many(
            wait,
            format!("too many wrong passwords; try again in {wait} s"),
        ));
    }
    if !accounts::password_is(state, &caller.subject, password).await? {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "wrong-password",
            "wrong password",
            "the password given is not this account's",
        ));
    }
    state.limiter.succeeded(&source, &account);
    Ok(())
}

/// Changes the caller's password once the current one is given; every other session and
/// token of the account ends.
pub async fn do_change_password(
    state: &AppState,
    ip: &str,
    caller: &Caller,
    change: &PasswordChange,
) -> ApiResult<()> {
    reauthenticate(state, ip, caller, &change.current_password).await?;
    accounts::set_password(state, &caller.subject, &change.new_password).await?;
    sessions::delete_others(state, &caller.subject, &caller.session_id).await
}

/// Erases the caller: shreds their key, ends their sessions and streams, and purges what is
/// left in the background.
pub async fn do_erase(state: &Shared, caller: &Caller) -> ApiResult<ErasureCertificate> {
    let cert = state
        .vault
        .erase(&Actor::Subject(caller.subject.clone()), &caller.subject)
        .await?;
    sessions::delete_all(state, &caller.subject).await?;
    state.hub.close(&caller.subject);
    let (st, subject) = (state.clone(), caller.subject.clone());
    tokio::spawn(async move {
        if let Err(e) = st.vault.purge_erased(&subject).await {
            // The retention sweeper finishes it later.
            tracing::warn!(error = %e, "purge after erasure failed; the sweeper will retry");
        }
    });
    Ok(cert)
}

pub async fn sign_up(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignUpRequest>,
) -> ApiResult<Response> {
    let s = do_sign_up(&state, &ip, &req).await?;
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, sessions::set_cookie(&state, &s.token))],
        Json(s.json()),
    )
        .into_response())
}

pub async fn sign_in(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignInRequest>,
) -> ApiResult<Response> {
    let s = do_sign_in(&state, &ip, &req.email, &req.password).await?;
    Ok((
        [(header::SET_COOKIE, sessions::set_cookie(&state, &s.token))],
        Json(s.json()),
    )
        .into_response())
}

pub async fn sign_out(State(state): State<Shared>, caller: Caller) -> ApiResult<Response> {
    sessions::delete(&state, &caller.session_id).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, sessions::clear_cookie(&state))],
    )
        .into_response())
}

pub async fn create_token(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<Response> {
    reauthenticate(&state, &ip, &caller, &req.password).await?;
    let (token, expires_at) =
        sessions::create(&state, &caller.subject, caller.role, Via::Bearer).await?;
    let body = json!({ "token": token, "token_type": "Bearer", "expires_at": expires_at });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn me(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<serde_json::Value>> {
    let (role, body) = accounts::open_own(&state, &caller.subject).await?;
    Ok(Json(json!({
        "subject": caller.subject,
        "role": role,
        "email": body.email,
        "display_name": body.display_name,
    })))
}

pub async fn erase_me(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(req): ApiJson<EraseRequest>,
) -> ApiResult<Response> {
    if req.confirm != "DELETE" {
        return Err(Problem::unprocessable(
            "to erase your account, send {\"confirm\": \"DELETE\", \"password\": \"...\"}",
        ));
    }
    reauthenticate(&state, &ip, &caller, &req.password).await?;
    let cert = do_erase(&state, &caller).await?;
    let body = super::privacy::certificate_json(&state, &cert);
    Ok((
        [(header::SET_COOKIE, sessions::clear_cookie(&state))],
        Json(body),
    )
        .into_response())
}

pub async fn change_password(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    do_change_password(&state, &ip, &caller, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_sessions(
    State(state): State<Shared>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    let all = sessions::list(&state, &caller).await?;
    Ok(Json(json!({ "sessions": all })))
}

pub async fn revoke_session(
    State(state): State<Shared>,
    caller: Caller,
    crate::extract::ApiPath(id): crate::extract::ApiPath<String>,
) -> ApiResult<StatusCode> {
    if sessions::revoke(&state, &caller, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(
            "you have no session or token by that id",
        ))
    }
}

/// Signs out everywhere: every session and token of the account ends, this one too.
pub async fn sign_out_everywhere(
    State(state): State<Shared>,
    caller: Caller,
) -> ApiResult<Response> {
    sessions::delete_all(&state, &caller.subject).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, sessions::clear_cookie(&state))],
    )
        .into_response())
}
