//! A customer's devices (locks, cameras, scanners) and the signed device heartbeat.

use crate::auth::{Caller, DeviceCaller, device};
use crate::extract::{ApiJson, ApiPath};
use crate::notify::{self, webhook::random_id};
use crate::problem::{ApiResult, Problem};
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use seuil_store::{IndexFields, Query};
use seuil_vault::{Actor, Opened, Write};

const PURPOSE: &str = "account";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    Lock,
    Camera,
    Scanner,
}

impl DeviceType {
    fn as_str(self) -> &'static str {
        match self {
            DeviceType::Lock => "lock",
            DeviceType::Camera => "camera",
            DeviceType::Scanner => "scanner",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    pub name: String,
    #[serde(rename = "type")]
    pub device_type: DeviceType,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
}

/// The sealed body of a device record.
#[derive(Serialize, Deserialize)]
struct DeviceBody {
    name: String,
    #[serde(rename = "type")]
    device_type: DeviceType,
    public_key: String,
}

fn view(o: &Opened) -> ApiResult<Value> {
    let b: DeviceBody = serde_json::from_slice(&o.body)
        .map_err(|_| Problem::internal("unreadable device record"))?;
    Ok(json!({
        "id": o.id,
        "name": b.name,
        "type": b.device_type,
        "public_key": b.public_key,
        "created_at": o.created_at,
    }))
}

pub async fn register(
    State(state): State<Shared>,
    caller: Caller,
    ApiJson(req): ApiJson<DeviceRequest>,
) -> ApiResult<Response> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Problem::unprocessable(
            "`name` must be 1 to 100 printable characters",
        ));
    }
    let pk = crate::extract::public_key("public_key", &req.public_key)?;
    let pk_hex = hex::encode(pk);
    let same_key = Query {
        kind: device::KIND.into(),
        scope: Some(pk_hex.clone()),
        limit: Some(1),
        ..Query::default()
    };
    if !state.vault.store().query(&same_key).await?.is_empty() {
        return Err(Problem::conflict(
            "a device with this public key is already registered; generate a new key pair",
        ));
    }
    let id = random_id("dev");
    let body = serde_json::to_vec(&DeviceBody {
        name: name.to_owned(),
        device_type: req.device_type,
        public_key: base64::engine::general_purpose::STANDARD.encode(pk),
    })
    .map_err(|e| Problem::internal(e.to_string()))?;
    let actor = Actor::Subject(caller.subject.clone());
    state
        .vault
        .seal(
            &actor,
            PURPOSE,
            Write {
                kind: device::KIND,
                id: &id,
                subject: &caller.subject,
                index: IndexFields {
                    status: Some(req.device_type.as_str().into()),
                    at: None,
                    scope: Some(pk_hex),
                },
                body: &body,
            },
        )
        .await?;
    let opened = state.vault.open(&actor, PURPOSE, device::KIND, &id).await?;
    Ok((StatusCode::CREATED, Json(view(&opened)?)).into_response())
}

pub async fn list(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    let q = Query {
        kind: device::KIND.into(),
        subject: Some(caller.subject.clone()),
        ..Query::default()
    };
    let opened = state
        .vault
        .open_all(&Actor::Subject(caller.subject.clone()), PURPOSE, &q)
        .await?;
    let devices = opened.iter().map(view).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({ "devices": devices })))
}

pub async fn get(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let opened = state
        .vault
        .open(&Actor::Subject(caller.subject), PURPOSE, device::KIND, &id)
        .await?;
    Ok(Json(view(&opened)?))
}

pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .vault
        .delete(&Actor::Subject(caller.subject), PURPOSE, device::KIND, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Heartbeats are frequent, so they go to the owner's live streams only, never to webhooks
/// (alarms about a silent device use [`crate::App::notify`], which does both).
pub async fn heartbeat(
    State(state): State<Shared>,
    device: DeviceCaller,
) -> ApiResult<Json<Value>> {
    let data = json!({ "device": device.id, "type": device.device_type });
    let live = notify::notify_live(&state, &device.owner, "device.heartbeat", data)?;
    Ok(Json(
        json!({ "device": device.id, "owner_notified": live > 0 }),
    ))
}
