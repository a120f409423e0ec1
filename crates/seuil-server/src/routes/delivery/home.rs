//! The customer's home: pairing a lock and a camera, the standing approval, revoking grants.

use super::{home_view, own_home, subject};
use crate::auth::{Caller, device};
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::{AppState, Shared};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use seuil_delivery::deliveries;
use seuil_delivery::home::{self, DEFAULT_RELOCK_WITHIN_S, Home};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeRequest {
    pub lock_device: String,
    pub camera_device: String,
    pub relock_within_s: Option<u32>,
}

/// The public key (hex) of the caller's device `id` of type `want`.
async fn device_key(state: &AppState, caller: &Caller, id: &str, want: &str) -> ApiResult<String> {
    let opened = state
        .vault
        .open(&subject(caller), "account", device::KIND, id)
        .await
        .map_err(|_| Problem::unprocessable(format!("you have no device {id}")))?;
    if opened.index.status.as_deref() != Some(want) {
        return Err(Problem::unprocessable(format!(
            "device {id} is not a {want}"
        )));
    }
    opened
        .index
        .scope
        .clone()
        .ok_or_else(|| Problem::internal("a device record without its key"))
}

pub async fn pair_home(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(req): ApiJson<HomeRequest>,
) -> ApiResult<Json<Value>> {
    pair(&state, &caller, req).await.map(Json)
}

/// Pairs (or re-pairs) the caller's home; a new lock starts a new grant epoch.
pub async fn pair(state: &AppState, caller: &Caller, req: HomeRequest) -> ApiResult<Value> {
    let relock = req.relock_within_s.unwrap_or(DEFAULT_RELOCK_WITHIN_S);
    if !(30..=3_600).contains(&relock) {
        return Err(Problem::unprocessable(
            "`relock_within_s` must be 30 to 3600 seconds",
        ));
    }
    let lock_key = device_key(state, caller, &req.lock_device, "lock").await?;
    let camera_key = device_key(state, caller, &req.camera_device, "camera").await?;
    let actor = subject(caller);
    let existing = home::load(&state.vault, &actor, &caller.subject).await?;
    let (epoch, standing, version) = match &existing {
        // A new lock starts a new epoch: grants for the old one are revoked.
        Some((h, v)) if h.lock_key == lock_key => (h.epoch, h.standing_approval, Some(*v)),
        Some((h, v)) => (h.epoch + 1, h.standing_approval, Some(*v)),
        None => (1, None, None),
    };
    // What the old lock reported says nothing of a new one.
    let lock_epoch_floor = match &existing {
        Some((h, _)) if h.lock_key == lock_key => h.lock_epoch_floor,
        _ => 0,
    };
    let h = Home {
        lock_device: req.lock_device,
        lock_key,
        camera_device: req.camera_device,
        camera_key,
        relock_within_s: relock,
        epoch,
        standing_approval: standing,
        lock_epoch_floor,
    };
    home::save(&state.vault, &actor, &caller.subject, &h, version).await?;
    Ok(home_view(&h))
}

pub async fn get_home(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    let (h, _) = own_home(&state, &caller).await?;
    Ok(Json(home_view(&h)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    pub approved: bool,
}

pub async fn standing_approval(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(req): ApiJson<ApprovalRequest>,
) -> ApiResult<Json<Value>> {
    set_standing(&state, &caller, req.approved).await.map(Json)
}

pub async fn set_standing(state: &AppState, caller: &Caller, approved: bool) -> ApiResult<Value> {
    let h = deliveries::set_standing(&state.vault, &caller.subject, approved).await?;
    Ok(home_view(&h))
}

/// Raises the lock's epoch: every grant issued so far stops working at the lock's next sync
/// (until then the home says `revocation_pending`).
pub async fn revoke_grants(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    revoke(&state, &caller).await.map(Json)
}

pub async fn revoke(state: &AppState, caller: &Caller) -> ApiResult<Value> {
    let h = deliveries::revoke_all(&state.vault, &caller.subject).await?;
    Ok(home_view(&h))
}
