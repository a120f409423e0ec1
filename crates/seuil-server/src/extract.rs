//! Extractors whose rejections are problem+json (never axum's plain text, never a 500).
//! Request bodies are declared with `#[serde(deny_unknown_fields)]`.

use crate::problem::Problem;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body. Wrong content type → 415, not JSON at all → 400, valid JSON of the wrong
/// shape (unknown field, missing field, wrong type) → 422, too large → 413.
pub struct ApiJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(&req) {
            return Err(Problem::from_rejection(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected `Content-Type: application/json`".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| Problem::from_rejection(r.status(), r.body_text()))?;
        // Two steps so that syntax errors (400) and shape errors (422) are told apart reliably.
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))?;
        serde_json::from_value(value).map(ApiJson).map_err(|e| {
            Problem::unprocessable(format!("the JSON body does not fit this route: {e}"))
        })
    }
}

/// A urlencoded form body (portal).
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| ApiForm(v))
            .map_err(|r| Problem::from_rejection(r.status(), r.body_text()))
    }
}

/// Query-string parameters.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|r| Problem::from_rejection(r.status(), r.body_text()))
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|r| Problem::from_rejection(r.status(), r.body_text()))
    }
}

/// The client's address for rate limiting: the socket peer, or the first `X-Forwarded-For`
/// entry when the server is configured to trust its proxy. `unknown` when neither is known.
pub struct ClientIp(pub String);

impl FromRequestParts<crate::state::Shared> for ClientIp {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::Shared,
    ) -> Result<Self, Problem> {
        if state.config.trust_forwarded_for
            && let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        {
            return Ok(ClientIp(first.to_owned()));
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|ci| ci.0.ip().to_string());
        Ok(ClientIp(peer.unwrap_or_else(|| "unknown".into())))
    }
}

/// Reads the body field `field` as base64 of a 32-byte Ed25519 public key that
/// [`seuil_proto::public_key`] accepts (a curve point not of small order).
pub fn public_key(field: &str, text: &str) -> Result<[u8; 32], Problem> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .filter(|b| seuil_proto::public_key(b).is_some())
        .ok_or_else(|| {
            Problem::unprocessable(format!(
                "`{field}` must be base64 of a 32-byte Ed25519 public key"
            ))
        })
}
