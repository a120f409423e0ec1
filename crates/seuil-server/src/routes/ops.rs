//! Health, metrics and the OpenAPI document.

use crate::problem::{ApiResult, Problem};
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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

pub async fn metrics(State(state): State<Shared>) -> Response {
    let pending = state.vault.store().outbox_pending().await.ok();
    let body = state.metrics.render(pending, state.hub.open_streams());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

pub async fn openapi() -> Response {
    let doc = crate::openapi::document_json();
    ([(header::CONTENT_TYPE, "application/json")], doc).into_response()
}
