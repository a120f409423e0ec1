//! Device request signatures (Ed25519).
//!
//! A device signs `METHOD \n path \n timestamp \n hex(sha256(body))`, where `path` is the
//! request's path plus `?query` when there is one, and sends
//! `Seuil-Device: <id>`, `Seuil-Timestamp: <unix ms>`, `Seuil-Signature: base64(signature)`.
//! Requests more than the configured skew (±5 min) away from the server clock are refused, and
//! so is a signature already seen within that window (per instance).

use crate::problem::Problem;
use crate::state::AppState;
use axum::http::{HeaderMap, Method};
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use seuil_store::Millis;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

pub const KIND: &str = "device";
pub const HEADER_DEVICE: &str = "seuil-device";
pub const HEADER_TIMESTAMP: &str = "seuil-timestamp";
pub const HEADER_SIGNATURE: &str = "seuil-signature";

/// A device whose request signature checked out.
#[derive(Clone, Debug)]
pub struct DeviceCaller {
    pub id: String,
    pub owner: String,
    /// `lock`, `camera` or `scanner`.
    pub device_type: String,
    /// The Ed25519 key it signed with.
    pub public_key: VerifyingKey,
}

/// The bytes a device signs.
pub fn message(method: &Method, path: &str, timestamp: Millis, body: &[u8]) -> Vec<u8> {
    format!(
        "{}\n{}\n{}\n{}",
        method.as_str(),
        path,
        timestamp,
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "device-unauthorized",
        "device signature rejected",
        detail,
    )
}

/// Checks a signed device request and returns the device.
pub async fn verify(
    state: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DeviceCaller, Problem> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let (Some(id), Some(ts), Some(sig)) = (
        get(HEADER_DEVICE),
        get(HEADER_TIMESTAMP),
        get(HEADER_SIGNATURE),
    ) else {
        return Err(unauthorized(
            "send Seuil-Device, Seuil-Timestamp and Seuil-Signature headers",
        ));
    };
    let ts: Millis = ts
        .parse()
        .map_err(|_| unauthorized("Seuil-Timestamp must be Unix time in milliseconds"))?;
    let now = state.vault.now();
    if (now - ts).abs() > state.config.device_clock_skew_ms {
        return Err(unauthorized(
            "Seuil-Timestamp is too far from the server's clock; check the device clock",
        ));
    }
    let sig_bytes = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .map_err(|_| unauthorized("Seuil-Signature must be base64"))?;
    let signature = Signature::from_slice(&sig_bytes)
        .map_err(|_| unauthorized("Seuil-Signature must be 64 bytes"))?;
    let bad = || unauthorized("unknown device or bad signature");
    if id.is_empty() || id.len() > 64 {
        return Err(bad());
    }
    let rec = state.vault.store().get(KIND, id).await?.ok_or_else(bad)?;
    let mut pk = [0u8; 32];
    hex::decode_to_slice(rec.index.scope.as_deref().unwrap_or_default(), &mut pk)
        .map_err(|_| bad())?;
    let key = VerifyingKey::from_bytes(&pk).map_err(|_| bad())?;
    key.verify(&message(method, path, ts, body), &signature)
        .map_err(|_| bad())?;
    if !state
        .replay
        .first_use(&sig_bytes, now, state.config.device_clock_skew_ms)
    {
        return Err(unauthorized(
            "this signed request was already used; sign each request anew",
        ));
    }
    Ok(DeviceCaller {
        id: rec.id,
        owner: rec.subject,
        device_type: rec.index.status.unwrap_or_default(),
        public_key: key,
    })
}

/// Signatures seen recently (per instance), to refuse replays inside the skew window.
#[derive(Default)]
pub struct ReplayCache(Mutex<HashMap<[u8; 32], Millis>>);

impl ReplayCache {
    pub fn first_use(&self, signature: &[u8], now: Millis, window: Millis) -> bool {
        let digest: [u8; 32] = Sha256::digest(signature).into();
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 10_000 {
            seen.retain(|_, t| *t + 2 * window > now);
        }
        match seen.get(&digest) {
            Some(t) if *t + 2 * window > now => false,
            _ => {
                seen.insert(digest, now);
                true
            }
        }
    }
}
