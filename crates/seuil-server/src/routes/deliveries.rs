//! In-home delivery over HTTP: the customer's home and approvals, the operator's orders, the
//! courier at the door, and the lock's sync. The decisions are the delivery domain's; this
//! module checks who is asking, turns bodies into domain calls, and keeps the watchdog
//! ([`crate::watch`]) following each visit.

use crate::auth::accounts::{self, Role};
use crate::auth::{Caller, DeviceCaller, device};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiResult, Problem};
use crate::state::{AppState, Shared};
use crate::watch;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use seuil_delivery::clips;
use seuil_delivery::deliveries::{
    self, Delivery, DeliveryError, LockEvent, NewDelivery, Place, Reported,
};
use seuil_delivery::home::{self, DEFAULT_RELOCK_WITHIN_S, Home};
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

fn customer_view(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "order": d.order,
        "window": { "start": d.window.0, "end": d.window.1 },
        "places": d.places,
        "approval": d.approval,
        "courier_assigned": d.courier.is_some(),
        "visit": d.visit,
        "grant_issued_at": d.grant.as_ref().map(|g| g.issued_at),
        "alarms": d.alarms,
        "tamper": d.tamper,
        "clip": d.clip,
    })
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
        "standing_approval": h.standing_approval.is_some(),
        "standing_since": h.standing_approval,
    })
}

fn subject(caller: &Caller) -> Actor {
    Actor::Subject(caller.subject.clone())
}

async fn own_home(state: &AppState, caller: &Caller) -> ApiResult<(Home, u64)> {
    home::load(&state.vault, &subject(caller), &caller.subject)
        .await?
        .ok_or_else(|| DeliveryError::NoHome.into())
}

/// Keeps the watchdog following a delivery that just changed.
async fn track(state: &AppState, d: &Delivery) {
    match home::load(&state.vault, &Actor::system("watchdog"), &d.customer).await {
        Ok(Some((h, _))) => state.watch.track(d, &h),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read the home of a visit to watch it"),
    }
}

// ---- the customer's home -----------------------------------------------------------------

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
    let h = Home {
        lock_device: req.lock_device,
        lock_key,
        camera_device: req.camera_device,
        camera_key,
        relock_within_s: relock,
        epoch,
        standing_approval: standing,
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
    let (mut h, version) = own_home(state, caller).await?;
    h.standing_approval = match (approved, h.standing_approval) {
        (true, Some(since)) => Some(since),
        (true, None) => Some(state.vault.now()),
        (false, _) => None,
    };
    home::save(
        &state.vault,
        &subject(caller),
        &caller.subject,
        &h,
        Some(version),
    )
    .await?;
    Ok(home_view(&h))
}

/// Raises the lock's epoch: every grant issued so far stops working at the lock's next sync.
pub async fn revoke_grants(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    revoke(&state, &caller).await.map(Json)
}

pub async fn revoke(state: &AppState, caller: &Caller) -> ApiResult<Value> {
    let (mut h, version) = own_home(state, caller).await?;
    h.epoch += 1;
    home::save(
        &state.vault,
        &subject(caller),
        &caller.subject,
        &h,
        Some(version),
    )
    .await?;
    Ok(home_view(&h))
}

// ---- the customer's deliveries -------------------------------------------------------------

pub async fn my_deliveries(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    let all = deliveries::for_customer(&state.vault, &caller.subject).await?;
    Ok(Json(
        json!({ "deliveries": all.iter().map(customer_view).collect::<Vec<_>>() }),
    ))
}

pub async fn my_delivery(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (d, _) = deliveries::load(&state.vault, &subject(&caller), &id).await?;
    Ok(Json(customer_view(&d)))
}

pub async fn approve(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ApprovalRequest>,
) -> ApiResult<Json<Value>> {
    let d = deliveries::approve(&state.vault, &caller.subject, &id, req.approved).await?;
    Ok(Json(customer_view(&d)))
}

// ---- the operator ----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequest {
    pub customer_email: String,
    pub courier_email: Option<String>,
    pub order: String,
    pub window_start: i64,
    pub window_end: i64,
    pub places: Vec<Place>,
}

async fn account_with_role(
    state: &AppState,
    email: &str,
    role: Role,
    field: &str,
) -> ApiResult<String> {
    let normalized = accounts::normalize_email(email)?;
    match accounts::find_by_email(state, &normalized).await? {
        Some(found) if found.role == role => Ok(found.subject),
        _ => Err(Problem::unprocessable(format!(
            "`{field}` names no {} account",
            role.as_str()
        ))),
    }
}

pub async fn create_delivery(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(req): ApiJson<DeliveryRequest>,
) -> ApiResult<Response> {
    let customer = account_with_role(
        &state,
        &req.customer_email,
        Role::Customer,
        "customer_email",
    )
    .await?;
    let courier = match &req.courier_email {
        Some(email) => {
            Some(account_with_role(&state, email, Role::Courier, "courier_email").await?)
        }
        None => None,
    };
    let d = deliveries::create(
        &state.vault,
        &Actor::Operator(caller.subject.clone()),
        NewDelivery {
            customer: customer.clone(),
            order: req.order,
            window: (req.window_start, req.window_end),
            places: req.places,
            courier,
        },
    )
    .await?;
    let data = json!({ "delivery": d.id, "order": d.order, "window": d.window });
    crate::notify::notify(&state, &customer, "delivery.scheduled", data).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": d.id, "step": d.visit.step })),
    )
        .into_response())
}

// ---- the courier -----------------------------------------------------------------------------

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
    let key = B64
        .decode(req.courier_key.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .filter(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_ok())
        .ok_or_else(|| {
            Problem::unprocessable("`courier_key` must be base64 of a 32-byte Ed25519 public key")
        })?;
    let (d, grant) = deliveries::issue_grant(&state.vault, &caller.subject, &id, key).await?;
    track(&state, &d).await;
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

// ---- the lock --------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockSyncRequest {
    /// The lock's events since its last acknowledged sync, oldest first.
    pub events: Vec<LockEventBody>,
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
    for event in events {
        match deliveries::lock_reported(&state.vault, &actor, &device.owner, event).await? {
            Reported::Visit(d) => state.watch.track(&d, &h),
            Reported::Alarm(alarm) => watch::raise(&state, None, &device.owner, alarm).await,
            Reported::Nothing => {}
        }
    }
    let sync = deliveries::lock_sync(&state.vault, &h).await?;
    let issuer = deliveries::issuer(&state.vault).await?;
    Ok(Json(json!({
        "sync": B64.encode(sync.encode()),
        "acknowledged": req.events.len(),
        "issuer_key_id": hex::encode(issuer.key_id),
        "issuer_public_key": B64.encode(issuer.key.verifying_key().as_bytes()),
        "camera_public_key": B64.encode(h.camera_key()),
        "lock_id": hex::encode(h.lock_id()),
    })))
}

// ---- a visit's footage -----------------------------------------------------------------------

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
    Ok(Json(customer_view(&d)))
}

pub async fn delete_clip(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let d = clips::delete(&state.vault, &caller.subject, &id).await?;
    Ok(Json(customer_view(&d)))
}

pub async fn dispute(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let d = clips::dispute(&state.vault, &caller.subject, &id).await?;
    Ok(Json(customer_view(&d)))
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
