//! Errors as `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`.
//!
//! 4xx details tell the caller what was wrong and what to do; they are never logged, since
//! they may echo the caller's input. 5xx details are logged and, unless they are safe to show
//! (integrity failures), replaced by a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seuil_store::StoreError;
use seuil_vault::VaultError;
use std::fmt;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Clone, Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// A short slug; the `type` URI is `/problems/<slug>`.
    pub slug: &'static str,
    pub title: String,
    pub detail: String,
    /// Seconds, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, Problem>;

impl Problem {
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title: title.into(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "bad request",
            detail,
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign-in required",
            "this route needs a session: sign in (POST /api/sessions) or send `Authorization: Bearer <token>`",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "not found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "conflict", detail)
    }

    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "invalid request",
            detail,
        )
    }

    pub fn too_many(retry_after_secs: u64, detail: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "too many requests",
            detail,
        );
        p.retry_after = Some(retry_after_secs.max(1));
        p
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
            detail,
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "service unavailable",
            detail,
        )
    }

    /// Maps an axum extractor rejection (JSON, form, query, path) to a 4xx problem.
    pub fn from_rejection(status: StatusCode, text: String) -> Self {
        let status = if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        let (slug, title) = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "request body too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported-media-type", "unsupported content type")
            }
            StatusCode::UNPROCESSABLE_ENTITY => ("invalid", "invalid request"),
            _ => ("bad-request", "bad request"),
        };
        let detail = match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                "the body is larger than this server accepts; send less".into()
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                format!("{text}; send `Content-Type: application/json` with a JSON body")
            }
            _ => text,
        };
        Self::new(status, slug, title, detail)
    }

    pub fn body_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": format!("/problems/{}", self.slug),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.title,
            self.status.as_u16(),
            self.detail
        )
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body_json()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"seuil\""),
            );
        }
        res
    }
}

impl From<VaultError> for Problem {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::NotFound { .. } => Self::not_found(e.to_string()),
            VaultError::UnknownPurpose(_) => Self::not_found(e.to_string()),
            VaultError::ConsentRequired { .. } => Self::new(
                StatusCode::FORBIDDEN,
                "consent-required",
                "consent required",
                e.to_string(),
            ),
            VaultError::Invalid { .. } => Self::unprocessable(e.to_string()),
            VaultError::Integrity { .. } => {
                tracing::error!(error = %e, "integrity failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "integrity",
                    "integrity error",
                    e.to_string(),
                )
            }
            VaultError::AuditBroken(_) => {
                tracing::error!(error = %e, "audit log failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "audit",
                    "audit log error",
                    "the audit log could not be written or verified; the request was not carried out",
                )
            }
            VaultError::WrongKek { .. } | VaultError::Kek(_) => {
                tracing::error!(error = %e, "key-encryption key failure");
                Self::internal("the server's keys are unavailable; try again later")
            }
            VaultError::Store(s) => s.into(),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } | StoreError::VersionConflict { .. } => {
                Self::conflict(e.to_string())
            }
            StoreError::NotFound { .. } => Self::not_found(e.to_string()),
            StoreError::Invalid { .. } => Self::unprocessable(e.to_string()),
            StoreError::Unavailable { .. } => {
                tracing::error!(error = %e, "store unavailable");
                Self::unavailable("storage is unavailable; try again shortly")
            }
            _ => {
                tracing::error!(error = %e, "store failure");
                Self::internal("a storage error occurred; try again later")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_errors_map_to_statuses() {
        let cases: Vec<(VaultError, u16)> = vec![
            (VaultError::not_found("x"), 404),
            (
                VaultError::ConsentRequired {
                    purpose: "p".into(),
                },
                403,
            ),
            (VaultError::Integrity { what: "x".into() }, 500),
            (VaultError::invalid("x", "y"), 422),
            (VaultError::Store(StoreError::conflict("x")), 409),
            (
                VaultError::Store(StoreError::VersionConflict {
                    what: "x".into(),
                    expected: 1,
                }),
                409,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(Problem::from(e).status.as_u16(), status);
        }
        assert_eq!(
            Problem::from(VaultError::Integrity { what: "x".into() }).title,
            "integrity error"
        );
    }
}
