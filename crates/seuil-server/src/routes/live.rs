//! The customer's live view: the newest verified footage of their camera, with its age.
//!
//! It is LIVE only while the newest verified segment ended less than [`LIVE_MS`] ago;
//! otherwise it is STALE since that moment, and the picture shown is labelled so. The age
//! comes from the signed segments, never from when the page last refreshed, so a camera
//! that froze on one frame or fell silent cannot pass for live.

use crate::auth::Caller;
use crate::problem::{ApiResult, Problem};
use crate::state::{AppState, Shared};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use seuil_delivery::camera::{FOOTAGE, PURPOSE};
use seuil_delivery::deliveries::{self, DeliveryError};
use seuil_delivery::footage::still;
use seuil_delivery::home;
use seuil_store::Query;
use seuil_vault::Actor;

/// Footage younger than this is live.
pub const LIVE_MS: i64 = 2_000;

/// `hh:mm:ss` (UTC) of a Unix-millisecond time.
pub fn clock(ms: i64) -> String {
    let s = ms.div_euclid(1_000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60)
}

/// What the live view shows now.
pub async fn status(state: &AppState, customer: &str) -> ApiResult<Value> {
    let actor = Actor::Subject(customer.into());
    let (h, _) = home::load(&state.vault, &actor, customer)
        .await?
        .ok_or_else(|| Problem::from(DeliveryError::NoHome))?;
    let newest = deliveries::camera_newest_end(&state.vault, &h).await?;
    let now = state.vault.now();
    let age = newest.map(|t| (now - t).max(0));
    let live = age.is_some_and(|a| a < LIVE_MS);
    let label = match newest {
        _ if live => "LIVE".to_owned(),
        Some(t) => format!("STALE since {}", clock(t)),
        None => "no footage yet".to_owned(),
    };
    Ok(json!({
        "camera_device": h.camera_device,
        "live": live,
        "label": label,
        "newest_end": newest,
        "age_ms": age,
        "stale_since": if live { None } else { newest },
    }))
}

pub async fn live(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    status(&state, &caller.subject).await.map(Json)
}

/// The newest kept segment's last picture, as a BMP. Only while the customer consents to
/// in-home video: a withdrawal stops the showing at the next read, even of footage recorded
/// before it.
pub async fn frame(State(state): State<Shared>, caller: Caller) -> ApiResult<Response> {
    if !state.vault.has_consent(&caller.subject, PURPOSE).await? {
        return Err(Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "consent-required",
            "in-home video is off",
            format!("you withdrew consent to `{PURPOSE}`; grant it again to see your camera"),
        ));
    }
    let actor = Actor::Subject(caller.subject.clone());
    let (h, _) = home::load(&state.vault, &actor, &caller.subject)
        .await?
        .ok_or_else(|| Problem::from(DeliveryError::NoHome))?;
    let now = state.vault.now();
    let q = Query {
        kind: FOOTAGE.into(),
        subject: Some(caller.subject.clone()),
        scope: Some(h.camera_stream()),
        at_from: Some(now - 60_000),
        ..Query::default()
    };
    let recent = state.vault.store().query(&q).await?;
    let newest = recent
        .last()
        .ok_or_else(|| Problem::not_found("no footage in the last minute"))?;
    let chunks: Vec<bytes::Bytes> = state
        .vault
        .open_blob(&actor, PURPOSE, &caller.subject, FOOTAGE, &newest.id)
        .await?
        .try_collect()
        .await
        .map_err(|e| Problem::internal(format!("cannot read the footage: {e}")))?;
    let h264 = chunks.concat();
    // Decoding takes a core for a while: beyond the cap, the caller tries again later (the
    // live view asks every second anyway) rather than every core being taken.
    let Ok(_permit) = state.frame_decodes.try_acquire() else {
        return Err(Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many pictures being decoded",
            "the server is decoding as many live pictures as it allows; try again in a second",
        ));
    };
    let bmp = tokio::task::spawn_blocking(move || still::last_picture_bmp(&h264))
        .await
        .map_err(|e| Problem::internal(e.to_string()))?
        .map_err(|e| Problem::internal(format!("cannot decode the footage: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "image/bmp")], bmp).into_response())
}
