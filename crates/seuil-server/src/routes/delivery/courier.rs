//! The courier at the door: arrive, get the grant, report the relock.

use super::{B64, courier_view, track};
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, public_key};
use crate::problem::ApiResult;
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use seuil_delivery::deliveries::{self};

pub async fn courier_deliveries(
    State(state): State<Shared>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let all = deliveries::for_courier(&state.vault, &caller.subject).await?;
    Ok(Json(
        json!({ "deliveries": all.iter().map(courier_view).collect::<Vec<_>>() }),
    ))
}

pub async fn arrive(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let d = deliveries::arrive(&state.vault, &caller.subject, &id).await?;
    track(&state, &d).await;
    Ok(Json(courier_view(&d)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// Base64 of the courier app's 32-byte Ed25519 key for this delivery.
    pub courier_key: String,
}

pub async fn grant(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<GrantRequest>,
) -> ApiResult<Json<Value>> {
    let key = public_key("courier_key", &req.courier_key)?;
    let (d, grant) = deliveries::issue_grant(
        &state.vault,
        &state.config.delivery,
        &caller.subject,
        &id,
        key,
    )
    .await?;
    track(&state, &d).await;
    // Again now that this instance follows the visit: a segment that arrived between the
    // grant and the line above was kept as a buffer.
    let stream = d.camera_stream.clone().unwrap_or_default();
    let from = d.visit.granted_at.unwrap_or_else(|| state.vault.now());
    seuil_delivery::clips::claim_recording(&state.vault, &stream, &d.customer, from).await?;
    Ok(Json(json!({
        "grant": B64.encode(grant.encode()),
        "grant_id": hex::encode(grant.body.grant_id),
        "lock_id": hex::encode(grant.body.lock_id),
        "not_after": grant.body.not_after,
    })))
}

pub async fn relock(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let d = deliveries::courier_relocked(&state.vault, &caller.subject, &id).await?;
    track(&state, &d).await;
    Ok(Json(courier_view(&d)))
}

/// The courier calls the visit off before the door is unlocked (nobody home to the lock, a
/// parcel left at the door instead).
pub async fn abort(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let actor = seuil_vault::Actor::Courier(caller.subject.clone());
    let d = deliveries::abort(&state.vault, &actor, &id).await?;
    super::called_off(&state, &d, "courier").await?;
    Ok(Json(courier_view(&d)))
}
