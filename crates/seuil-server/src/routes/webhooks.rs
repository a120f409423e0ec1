//! The caller's webhook subscriptions.

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath};
use crate::notify::webhook;
use crate::problem::ApiResult;
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use seuil_vault::Actor;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    pub url: String,
}

pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(req): ApiJson<WebhookRequest>,
) -> ApiResult<Response> {
    let c = webhook::create(&state, &caller.subject, &req.url).await?;
    let body = json!({ "id": c.id, "url": c.url, "secret": c.secret, "created_at": c.created_at });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn list(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    let hooks = webhook::list(&state, &caller.subject).await?;
    let hooks: Vec<Value> = hooks
        .into_iter()
        .map(|(id, url, created_at)| json!({ "id": id, "url": url, "created_at": created_at }))
        .collect();
    Ok(Json(json!({ "webhooks": hooks })))
}

pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .vault
        .delete(
            &Actor::Subject(caller.subject),
            webhook::PURPOSE,
            webhook::KIND,
            &id,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
