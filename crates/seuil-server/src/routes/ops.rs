//! Health, metrics and the OpenAPI document.

use crate::problem::{ApiResult, Problem};
use crate::state::Shared;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// 200 when the store answers a cheap query, 503 otherwise.
pub async fn healthz(State(state): State<Shared>) -> ApiResult<Json<Value>> {
    match state.vault.store().audit_size().await {
        Ok(_) => Ok(Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unavailable");
            Err(Problem::unavailable("the store does not answer"))
        }
    }
}

/// Prometheus metrics: for a scraper on the same machine, or an operator's token; to anyone
/// only when `metrics_public` says so. (They hold no personal data, but the traffic's shape
/// is nobody else's business.)
pub async fn metrics(State(state): State<Shared>, req: axum::extract::Request) -> Response {
    // A request served without a socket (in-process) is not known to be local.
    let local = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ci| match ci.0.ip() {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
            v4 => v4.is_loopback(),
        });
    if !state.config.metrics_public && !local {
        let operator = crate::auth::sessions::resolve(&state, req.headers())
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.role == crate::auth::Role::Operator);
        if !operator {
            return Problem::forbidden(
                "metrics are served to this machine, or with an operator's token",
            )
            .into_response();
        }
    }
    let pending = state.vault.store().outbox_pending().await.ok();
    let body = state.metrics.render(pending, state.hub.open_streams());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

pub async fn openapi() -> Response {
    let doc = crate::openapi::document_json();
    ([(header::CONTENT_TYPE, "application/json")], doc).into_response()
}
