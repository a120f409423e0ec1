//! Taking in a camera's segments: verify, seal under the customer's key, store.
//!
//! Each segment's footage is sealed as a blob of kind [`FOOTAGE`] under the customer's key
//! (the camera is a device acting for the `delivery.video` purpose, so it records only while
//! the customer consents), with a record beside it holding the signed header and the flags,
//! found by camera and time. The stream's state is a sealed record too, updated with a version
//! check, so an instance that restarts, or another one that takes the stream over, carries
//! on where it left off.

use super::stream::{Flag, Rejection, StreamState};
use bytes::Bytes;
use ed25519_dalek::VerifyingKey;
use seuil_store::{IndexFields, StoreError};
use seuil_vault::{Actor, Vault, VaultError, Write};

/// Segments' footage and their records.
pub const FOOTAGE: &str = "delivery.footage";
/// A camera stream's state.
pub const STREAM: &str = "camera.stream";
/// The purpose cameras record under.
pub const PURPOSE: &str = "delivery.video";

/// How often a segment is tried again when another writer updated the stream meanwhile.
const ATTEMPTS: usize = 4;

/// A camera paired with a customer's home.
#[derive(Clone, Debug)]
pub struct PairedCamera {
    pub id: [u8; 16],
    pub key: VerifyingKey,
    /// The device id it acts as.
    pub device: String,
    /// The customer whose footage it records.
    pub subject: String,
}

impl PairedCamera {
    fn actor(&self) -> Actor {
        Actor::Device(self.device.clone())
    }

    fn stream_id(&self) -> String {
        hex::encode(self.id)
    }
}

/// How long a segment's footage is kept, decided from its start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// It belongs to a visit: the footage retention rule applies (72 hours).
    Visit,
    /// It shows an unlock no visit accounts for: kept until the customer deletes it.
    Pinned,
    /// No visit yet: kept only until then, in case a visit starts and claims it (recording
    /// begins 30 s before the unlock, which nobody knows in advance).
    Until(i64),
}

/// What became of a genuine segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ingested {
    pub counter: u64,
    /// When the segment starts, Unix milliseconds, and how long it lasts.
    pub start: i64,
    pub duration_ms: u32,
    pub kept: bool,
    pub flags: Vec<Flag>,
    /// End of the newest footage of the stream, Unix milliseconds: what liveness is measured
    /// from.
    pub newest_end: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("segment refused: {0}")]
    Rejected(Rejection),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The record id of a segment: its camera, then its counter, so ids sort by counter.
pub fn segment_id(camera: &[u8; 16], counter: u64) -> String {
    format!("{}-{counter:020}", hex::encode(camera))
}

/// Verifies one segment from `camera` and keeps it if it is genuine and new.
pub async fn ingest(
    vault: &Vault,
    camera: &PairedCamera,
    header: &[u8],
    footage: Bytes,
    keep_for: &(dyn Fn(i64) -> Keep + Sync),
) -> Result<Ingested, IngestError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (mut state, version) = load(vault, camera).await?;
        let (segment, verdict) = state
            .check(header, &footage, &camera.id, &camera.key)
            .map_err(IngestError::Rejected)?;
        // Liveness is what has arrived, not what the camera's clock claims: footage that
        // says it ends in the future counts as ending now, so a fast clock (or a segment
        // signed ahead of time) cannot keep a silent camera looking live.
        state.newest_end = state.newest_end.min(vault.now());
        let info = segment.info;
        if verdict.keep {
            let keep_until = match keep_for(info.start) {
                Keep::Visit => Retain::Rule,
                Keep::Pinned => Retain::Pinned,
                Keep::Until(t) => Retain::Until(t),
            };
            keep(
                vault,
                camera,
                &segment,
                &verdict.flags,
                footage.clone(),
                keep_until,
            )
            .await?;
        }
        match save(vault, camera, &state, version).await {
            Ok(()) => {
                return Ok(Ingested {
                    counter: info.counter,
                    start: info.start,
                    duration_ms: info.duration_ms,
                    kept: verdict.keep,
                    flags: verdict.flags,
                    newest_end: state.newest_end,
                });
            }
            Err(VaultError::Store(
                StoreError::Conflict { .. } | StoreError::VersionConflict { .. },
            )) if attempt < ATTEMPTS => {
                // Another writer moved the stream on: check again against what it saw.
                tracing::debug!(camera = %camera.stream_id(), "stream updated meanwhile; retrying");
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn load(
    vault: &Vault,
    camera: &PairedCamera,
) -> Result<(StreamState, Option<u64>), VaultError> {
    match vault
        .open(&camera.actor(), PURPOSE, STREAM, &camera.stream_id())
        .await
    {
        Ok(opened) => {
            let state = serde_json::from_slice(&opened.body)
                .map_err(|e| VaultError::invalid("camera stream state", e.to_string()))?;
            Ok((state, Some(opened.version)))
        }
        Err(VaultError::NotFound { .. }) => Ok((StreamState::default(), None)),
        Err(e) => Err(e),
    }
}

async fn save(
    vault: &Vault,
    camera: &PairedCamera,
    state: &StreamState,
    version: Option<u64>,
) -> Result<(), VaultError> {
    let body = serde_json::to_vec(state)
        .map_err(|e| VaultError::invalid("camera stream state", e.to_string()))?;
    let id = camera.stream_id();
    let w = Write {
        kind: STREAM,
        id: &id,
        subject: &camera.subject,
        index: IndexFields {
            scope: Some(id.clone()),
            at: Some(state.newest_end),
            ..IndexFields::default()
        },
        body: &body,
    };
    match version {
        Some(v) => vault
            .update(&camera.actor(), PURPOSE, w, v)
            .await
            .map(|_| ()),
        None => vault.seal(&camera.actor(), PURPOSE, w).await,
    }
}

/// How long a kept segment's record stays.
enum Retain {
    Rule,
    Pinned,
    Until(i64),
}

/// Seals the footage's record, then the footage.
///
/// In that order, so that sealed footage never exists without the record that deletion,
/// retention and erasure find it by: a crash between the two leaves a record whose footage
/// never arrived, which readers skip and deletion removes, never footage nothing sweeps.
async fn keep(
    vault: &Vault,
    camera: &PairedCamera,
    segment: &seuil_proto::Segment,
    flags: &[Flag],
    footage: Bytes,
    keep_until: Retain,
) -> Result<(), VaultError> {
    let info = &segment.info;
    let id = segment_id(&camera.id, info.counter);
    let record = serde_json::json!({
        "header": hex::encode(segment.encode()),
        "start": info.start,
        "duration_ms": info.duration_ms,
        "flags": flags,
    });
    let body = serde_json::to_vec(&record)
        .map_err(|e| VaultError::invalid("segment record", e.to_string()))?;
    let w = Write {
        kind: FOOTAGE,
        id: &id,
        subject: &camera.subject,
        index: IndexFields {
            status: Some(if flags.is_empty() { "ok" } else { "flagged" }.into()),
            at: Some(info.start),
            scope: Some(camera.stream_id()),
        },
        body: &body,
    };
    let sealed = match keep_until {
        Retain::Until(until) => {
            vault
                .seal_until(&camera.actor(), PURPOSE, w, Some(until))
                .await
        }
        Retain::Pinned => vault.seal_until(&camera.actor(), PURPOSE, w, None).await,
        Retain::Rule => vault.seal(&camera.actor(), PURPOSE, w).await,
    };
    match sealed {
        // Recorded already by an attempt that lost the race to save the stream (its footage
        // may not have been written: it is written again).
        Err(VaultError::Store(StoreError::Conflict { .. })) | Ok(()) => {}
        Err(e) => return Err(e),
    }
    let body = futures_util::stream::iter([Ok(footage)]);
    vault
        .seal_blob(
            &camera.actor(),
            PURPOSE,
            &camera.subject,
            FOOTAGE,
            &id,
            Box::pin(body),
        )
        .await?;
    Ok(())
}
