//! In-home delivery over HTTP: the customer's home and approvals, the operator's orders, the
//! courier at the door, and the lock's sync. The decisions are the delivery domain's; this
//! module checks who is asking, turns bodies into domain calls, and keeps the watchdog
//! ([`crate::watch`]) following each visit.

mod clips;
mod courier;
mod home;
mod lock;
mod orders;

pub use clips::{
    PinRequest, clip, delete_clip, dispute, operator_clip, pin_clip, withdraw_dispute,
};
pub use courier::{GrantRequest, abort, arrive, courier_deliveries, grant, relock};
pub use home::{
    ApprovalRequest, HomeRequest, get_home, pair, pair_home, revoke, revoke_grants, set_standing,
    standing_approval,
};
pub use lock::{LockEventBody, LockSyncRequest, lock_sync};
pub use orders::{
    AssignRequest, DeliveryRequest, abort_delivery, approve, assign_courier, create_delivery,
    my_deliveries, my_delivery,
};

use crate::auth::Caller;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::http::StatusCode;
use serde_json::{Value, json};
use seuil_delivery::deliveries::{Delivery, DeliveryError};
use seuil_delivery::home::Home;
use seuil_vault::Actor;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl From<DeliveryError> for Problem {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::NotFound => Problem::not_found("no such delivery"),
            DeliveryError::NoHome => Problem::new(
                StatusCode::CONFLICT,
                "no-home",
                "no paired lock and camera",
                "the customer has not paired a lock and a camera (PUT /api/me/home)",
            ),
            DeliveryError::Refused(why) => Problem::new(
                StatusCode::FORBIDDEN,
                "grant-refused",
                "grant refused",
                why.to_string(),
            ),
            DeliveryError::Step(e) => Problem::conflict(e.to_string()),
            DeliveryError::Invalid(why) => Problem::unprocessable(why),
            DeliveryError::Conflict(why) => Problem::conflict(why),
            DeliveryError::Forbidden(why) => Problem::forbidden(why),
            DeliveryError::Corrupt(why) => Problem::internal(why),
            DeliveryError::Vault(e) => e.into(),
        }
    }
}

/// The customer's delivery. `home` (when paired) says whether a revocation reached the lock.
fn customer_view(d: &Delivery, home: Option<&Home>, now: i64) -> Value {
    let grant = d.grant.as_ref().map(|g| {
        let state = home.map(|h| g.state(&d.visit, h, now));
        json!({
            "issued_at": g.issued_at,
            "not_after": g.not_after,
            "lock_accepts_until": g.lock_accepts_until(),
            "revoked_at": g.revoked_at,
            "state": state,
        })
    });
    json!({
        "id": d.id,
        "order": d.order,
        "window": { "start": d.window.0, "end": d.window.1 },
        "places": d.places,
        "approval": d.approval,
        "approval_in_force": home.map(|h| d.approval_with(h)),
        "courier_assigned": d.courier.is_some(),
        "visit": d.visit,
        "grant_issued_at": d.grant.as_ref().map(|g| g.issued_at),
        "grant": grant,
        "alarms": d.alarms,
        "tamper": d.tamper,
        "clip": d.clip,
    })
}

/// [`customer_view`] for the caller, reading their home for the grant's state.
async fn customer_json(state: &AppState, caller: &Caller, d: &Delivery) -> ApiResult<Value> {
    let home = seuil_delivery::home::load(&state.vault, &subject(caller), &caller.subject).await?;
    Ok(customer_view(
        d,
        home.as_ref().map(|(h, _)| h),
        state.vault.now(),
    ))
}

/// A courier sees the job, not the customer's alarms or footage.
fn courier_view(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "order": d.order,
        "window": { "start": d.window.0, "end": d.window.1 },
        "places": d.places,
        "step": d.visit.step,
        "grant_issued": d.grant.is_some(),
    })
}

fn home_view(h: &Home) -> Value {
    json!({
        "lock_device": h.lock_device,
        "lock_id": hex::encode(h.lock_id()),
        "camera_device": h.camera_device,
        "camera_id": hex::encode(h.camera_id()),
        "relock_within_s": h.relock_within_s,
        "epoch": h.epoch,
        "lock_epoch_floor": h.lock_epoch_floor,
        "revocation_pending": h.lock_epoch_floor < h.epoch,
        "standing_approval": h.standing_approval.is_some(),
        "standing_since": h.standing_approval,
    })
}

fn subject(caller: &Caller) -> Actor {
    Actor::Subject(caller.subject.clone())
}

async fn own_home(state: &AppState, caller: &Caller) -> ApiResult<(Home, u64)> {
    seuil_delivery::home::load(&state.vault, &subject(caller), &caller.subject)
        .await?
        .ok_or_else(|| DeliveryError::NoHome.into())
}

/// A visit was called off: the watchdog follows it while its revoked grant may still open the
/// lock, and the customer hears of it, with who called it off and whether the lock knows.
async fn called_off(state: &AppState, d: &Delivery, by: &str) -> ApiResult<()> {
    track(state, d).await;
    let revoked = d.grant.as_ref().is_some_and(|g| g.revoked_at.is_some());
    let data = json!({
        "delivery": d.id,
        "by": by,
        "grant_revoked": revoked,
        "revocation": revoked.then_some("pending until the lock's next sync"),
    });
    crate::notify::notify(state, &d.customer, "delivery.aborted", data).await?;
    Ok(())
}

/// Keeps the watchdog following a delivery that just changed.
pub(crate) async fn track(state: &AppState, d: &Delivery) {
    match seuil_delivery::home::load(&state.vault, &Actor::system("watchdog"), &d.customer).await {
        Ok(Some((h, _))) => state
            .watch
            .track(d, &h, &state.config.delivery, state.vault.now()),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the home of a visit to watch it"),
    }
}
