//! The lock's sync: its event log up; signed time, its epoch floor and the keys it trusts down.

use super::B64;
use crate::auth::DeviceCaller;
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::Shared;
use crate::watch;
use axum::Json;
use axum::extract::State;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use seuil_delivery::alarms::Alarm;
use seuil_delivery::deliveries::{self, DeliveryError, LockEvent, Reported};
use seuil_delivery::home::{self};
use seuil_vault::Actor;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockSyncRequest {
    /// The lock's events since its last acknowledged sync, oldest first.
    pub events: Vec<LockEventBody>,
    /// The epoch floor the lock holds now: revocations up to it have reached the lock.
    #[serde(default)]
    pub epoch_floor: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEventBody {
    /// `unlocked`, `opened` (the door sensor, during a visit) or `relocked`.
    pub event: String,
    /// Hex of the grant's 16-byte id.
    pub grant_id: String,
    /// Unix milliseconds, by the lock's trusted clock.
    pub at: i64,
}

fn lock_event(e: &LockEventBody) -> ApiResult<LockEvent> {
    let mut grant_id = [0u8; 16];
    hex::decode_to_slice(&e.grant_id, &mut grant_id)
        .map_err(|_| Problem::unprocessable("`grant_id` must be 32 hex digits"))?;
    match e.event.as_str() {
        "unlocked" => Ok(LockEvent::Unlocked { grant_id, at: e.at }),
        "opened" => Ok(LockEvent::Opened { grant_id, at: e.at }),
        "relocked" => Ok(LockEvent::Relocked { grant_id, at: e.at }),
        other => Err(Problem::unprocessable(format!(
            "`event` must be `unlocked`, `opened` or `relocked`, not `{other}`"
        ))),
    }
}

/// The lock reports its log and hears the signed time, its epoch floor, and the keys it
/// trusts (the issuer's, and its paired camera's).
pub async fn lock_sync(
    State(state): State<Shared>,
    device: DeviceCaller,
    ApiJson(req): ApiJson<LockSyncRequest>,
) -> ApiResult<Json<Value>> {
    if device.device_type != "lock" {
        return Err(Problem::forbidden("only a lock syncs"));
    }
    if req.events.len() > 256 {
        return Err(Problem::unprocessable("at most 256 events per sync"));
    }
    let events = req
        .events
        .iter()
        .map(lock_event)
        .collect::<ApiResult<Vec<_>>>()?;
    let actor = Actor::Device(device.id.clone());
    let (h, _) = home::load(&state.vault, &actor, &device.owner)
        .await?
        .ok_or_else(|| Problem::from(DeliveryError::NoHome))?;
    if h.lock_device != device.id {
        return Err(Problem::forbidden(
            "this lock is not the one paired with the home",
        ));
    }
    if let Some(floor) = req.epoch_floor {
        deliveries::lock_synced(&state.vault, &actor, &device.owner, &h, floor).await?;
    }
    for event in events {
        match deliveries::lock_reported(&state.vault, &actor, &device.owner, &h, event).await? {
            Reported::Visit(d) => {
                state
                    .watch
                    .track(&d, &h, &state.config.delivery, state.vault.now())
            }
            Reported::Alarm { delivery, alarm } => {
                let stream = delivery
                    .as_ref()
                    .map_or_else(|| h.camera_stream(), |d| d.camera_stream_in(&h));
                if let Alarm::UnlockOutsideVisit { at } | Alarm::RevokedGrantUsed { at } = alarm {
                    state.watch.incident(&stream, at, state.vault.now());
                }
                if let Some(d) = &delivery {
                    state
                        .watch
                        .track(d, &h, &state.config.delivery, state.vault.now());
                }
                let id = delivery.as_ref().map(|d| d.id.as_str());
                watch::raise(&state, id, &device.owner, alarm).await;
            }
            Reported::Nothing => {}
        }
    }
    let issuer = deliveries::issuer(&state.vault).await?;
    let sync = deliveries::lock_sync(&issuer, &h, state.vault.now());
    Ok(Json(json!({
        "sync": B64.encode(sync.encode()),
        "acknowledged": req.events.len(),
        "issuer_key_id": hex::encode(issuer.key_id),
        "issuer_public_key": B64.encode(issuer.key.verifying_key().as_bytes()),
        "camera_public_key": B64.encode(h.camera_key()),
        "lock_id": hex::encode(h.lock_id()),
    })))
}
