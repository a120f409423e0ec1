//! A visit's footage: the customer's to watch, pin, delete or dispute; an operator's only
//! inside a dispute.

use super::customer_json;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiResult, Problem};
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use seuil_delivery::clips;

fn h264(clip: Vec<u8>) -> ApiResult<Response> {
    if clip.is_empty() {
        return Err(Problem::not_found(
            "this visit has no footage (none recorded, or deleted)",
        ));
    }
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "video/h264"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"visit.h264\"",
            ),
        ],
        clip,
    )
        .into_response())
}

pub async fn clip(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    h264(clips::customer_clip(&state.vault, &caller.subject, &id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRequest {
    pub pinned: bool,
}

pub async fn pin_clip(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<PinRequest>,
) -> ApiResult<Json<Value>> {
    let d = clips::pin(&state.vault, &caller.subject, &id, req.pinned).await?;
    Ok(Json(customer_json(&state, &caller, &d).await?))
}

pub async fn delete_clip(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let d = clips::delete(&state.vault, &caller.subject, &id).await?;
    Ok(Json(customer_json(&state, &caller, &d).await?))
}

pub async fn dispute(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let d = clips::dispute(&state.vault, &caller.subject, &id).await?;
    Ok(Json(customer_json(&state, &caller, &d).await?))
}

/// The customer withdraws their dispute: operators may no longer view the footage, and it
/// may be deleted again.
pub async fn withdraw_dispute(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let d = clips::withdraw_dispute(&state.vault, &caller.subject, &id).await?;
    Ok(Json(customer_json(&state, &caller, &d).await?))
}

/// An operator views a visit's footage: only inside a dispute the customer opened, and the
/// customer sees each view in their access log.
pub async fn operator_clip(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    h264(clips::operator_clip(&state.vault, &caller.subject, &id).await?)
}
