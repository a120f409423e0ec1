//! A camera's signed segments of footage, as it closes them (about one a second).
//!
//! The request is signed like every device request; the body is the segment's signed header
//! ([`seuil_proto::SEGMENT_LEN`] bytes) followed by its H.264. The footage is verified and
//! sealed under the owner's key by the delivery domain; the owner hears at once of a segment
//! that was refused or flagged.

use crate::auth::DeviceCaller;
use crate::notify;
use crate::problem::{ApiResult, Problem};
use crate::state::Shared;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use seuil_delivery::camera::{IngestError, PairedCamera, ingest};
use seuil_proto::{SEGMENT_LEN, camera_id};

pub async fn segment(
    State(state): State<Shared>,
    device: DeviceCaller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    if device.device_type != "camera" {
        return Err(Problem::forbidden("only a camera sends segments"));
    }
    if body.len() <= SEGMENT_LEN {
        return Err(Problem::unprocessable(format!(
            "the body must be the {SEGMENT_LEN}-byte signed segment header followed by its footage"
        )));
    }
    let footage = body.slice(SEGMENT_LEN..);
    let camera = PairedCamera {
        id: camera_id(device.public_key.as_bytes()),
        key: device.public_key,
        device: device.id.clone(),
        subject: device.owner.clone(),
    };
    let stream = hex::encode(camera.id);
    let keep_for = |start: i64| state.watch.keep_for(&stream, start, state.vault.now());
    match ingest(
        &state.vault,
        &camera,
        &body[..SEGMENT_LEN],
        footage.clone(),
        &keep_for,
    )
    .await
    {
        Ok(got) => {
            if got.kept {
                crate::watch::footage_kept(&state, &stream, got.start, got.duration_ms, footage)
                    .await;
            }
            if !got.flags.is_empty() {
                let data =
                    json!({ "device": device.id, "counter": got.counter, "flags": got.flags });
                notify::notify(&state, &device.owner, "camera.flagged", data).await?;
            }
            Ok(Json(json!({
                "counter": got.counter,
                "kept": got.kept,
                "flags": got.flags,
                "newest_end": got.newest_end,
            })))
        }
        Err(IngestError::Rejected(why)) => {
            let data = json!({ "device": device.id, "reason": why.to_string() });
            notify::notify(&state, &device.owner, "camera.refused", data).await?;
            Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "segment-refused",
                "segment refused",
                why.to_string(),
            ))
        }
        Err(IngestError::Vault(e)) => Err(e.into()),
    }
}
