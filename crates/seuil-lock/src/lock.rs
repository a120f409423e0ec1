//! The lock's decisions: challenge, unlock, relock and sync.

use crate::config::LockConfig;
use crate::replay::ReplayError;
use crate::state::{LockState, Visit};
use seuil_proto::{
    Attestation, CourierProof, DecodeError, Grant, LockSync, Permissions, VerifyError,
};
use sha2::{Digest, Sha256};

/// Why the lock stayed shut. Each says what was wrong, for the lock's event log and the
/// courier's app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A message could not be read.
    Malformed(DecodeError),
    /// The grant is for another lock.
    OtherLock,
    /// The grant or sync names an issuer key this lock does not trust.
    UnknownIssuer,
    /// The issuer's signature does not verify: a forged or altered grant or sync.
    Forged,
    /// The grant's epoch is below the lock's epoch floor.
    Revoked {
        epoch: u32,
        floor: u32,
    },
    NotYetValid,
    Expired,
    /// The grant was used already.
    Replayed,
    /// The grant's sequence number is too far below the newest used to tell.
    TooOld,
    /// No challenge was asked for, or the one asked for was used or has expired.
    NoChallenge,
    /// The courier proof answers another challenge than the lock's current one.
    StaleChallenge,
    /// The courier proof is not signed by the grant's courier key, or names another grant.
    BadProof(VerifyError),
    /// The grant requires a camera attestation and none came.
    CameraProofMissing,
    /// The grant requires a camera attestation and no camera is paired with this lock.
    NoCamera,
    /// The camera attestation does not verify.
    BadAttestation(VerifyError),
    /// A sync older than the newest accepted: a replay.
    StaleSync,
    /// Every replay slot belongs to another trusted issuer, so the lock could not remember
    /// that this grant was used: it stays shut rather than open twice.
    NoReplaySlot,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refusal::Malformed(e) => write!(f, "malformed message: {e}"),
            Refusal::OtherLock => f.write_str("the grant is for another lock"),
            Refusal::UnknownIssuer => f.write_str("the issuer key is not trusted by this lock"),
            Refusal::Forged => f.write_str("the issuer's signature does not verify"),
            Refusal::Revoked { epoch, floor } => {
                write!(f, "the grant's epoch {epoch} is revoked (floor {floor})")
            }
            Refusal::NotYetValid => f.write_str("the grant's window has not started"),
            Refusal::Expired => f.write_str("the grant's window has ended"),
            Refusal::Replayed => f.write_str("the grant was used already"),
            Refusal::TooOld => f.write_str("the grant is too old to tell from a replay"),
            Refusal::NoChallenge => f.write_str("ask the lock for a fresh challenge first"),
            Refusal::StaleChallenge => {
                f.write_str("the proof answers an old challenge; ask for a fresh one")
            }
            Refusal::BadProof(e) => write!(f, "bad courier proof: {e}"),
            Refusal::CameraProofMissing => f.write_str("the grant requires a camera attestation"),
            Refusal::NoCamera => f.write_str("the grant requires a camera and none is paired"),
            Refusal::BadAttestation(e) => write!(f, "bad camera attestation: {e}"),
            Refusal::StaleSync => f.write_str("the sync is older than the newest accepted"),
            Refusal::NoReplaySlot => {
                f.write_str("the lock has no room to remember this issuer's grants")
            }
        }
    }
}

impl core::error::Error for Refusal {}

/// The answer to an unlock attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Open the places the grant names (door, garage or fridge).
    Unlocked {
        grant_id: [u8; 16],
        places: Permissions,
    },
    Refused(Refusal),
}

/// A relock that closed a visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relocked {
    pub grant_id: [u8; 16],
    /// How long the door was open, in milliseconds of trusted time.
    pub open_ms: i64,
}

/// A challenge waiting for its answer (kept in memory only: after a power loss the courier
/// asks again).
#[derive(Clone, Copy, Debug)]
struct Pending {
    value: [u8; 32],
    issued_at: i64,
}

pub struct Lock {
    config: LockConfig,
    state: LockState,
    pending: Option<Pending>,
}

impl Lock {
    pub fn new(config: LockConfig, state: LockState) -> Lock {
        Lock {
            config,
            state,
            pending: None,
        }
    }

    /// What to persist after every call that takes `&mut self`.
    pub fn state(&self) -> &LockState {
        &self.state
    }

    pub fn config(&self) -> &LockConfig {
        &self.config
    }

    /// The lock's trusted time for its own clock reading `now`: corrected by the last sync,
    /// and never below what it has already seen. Moves the floor up.
    fn observe(&mut self, now: i64) -> i64 {
        let t = now
            .saturating_add(self.state.clock_offset)
            .max(self.state.time_floor);
        self.state.time_floor = t;
        t
    }

    /// A fresh challenge for the next unlock attempt, replacing any earlier one. Derived from
    /// the lock's secret and a counter that never repeats, so no RNG is needed and nobody
    /// without the secret can predict it.
    pub fn challenge(&mut self, now: i64) -> [u8; 32] {
        let t = self.observe(now);
        self.state.challenges = self.state.challenges.wrapping_add(1);
        let value: [u8; 32] = Sha256::new()
            .chain_update(b"seuil lock challenge v1")
            .chain_update(self.config.secret)
            .chain_update(self.config.lock_id)
            .chain_update(self.state.challenges.to_be_bytes())
            .finalize()
            .into();
        self.pending = Some(Pending {
            value,
            issued_at: t,
        });
        value
    }

    /// Decides an unlock. Every attempt uses up the current challenge, whatever its outcome.
    /// On `Unlocked` the grant is used up too: persist [`Lock::state`] before opening.
    pub fn try_unlock(
        &mut self,
        grant: &[u8],
        proof: &[u8],
        attestation: Option<&[u8]>,
        now: i64,
    ) -> Outcome {
        match self.check_unlock(grant, proof, attestation, now) {
            Ok((grant, slot)) => {
                let b = &grant.body;
                let now = self.state.time_floor;
                self.state
                    .take_slot(slot, &b.issuer_key_id, now)
                    .mark(b.sequence);
                self.state.visit = Some(Visit {
                    grant_id: b.grant_id,
                    unlocked_at: self.state.time_floor,
                    relock_required: b.permissions.contains(Permissions::RELOCK_REQUIRED),
                });
                Outcome::Unlocked {
                    grant_id: b.grant_id,
                    places: b.permissions,
                }
            }
            Err(refusal) => Outcome::Refused(refusal),
        }
    }

    fn check_unlock(
        &mut self,
        grant: &[u8],
        proof: &[u8],
        attestation: Option<&[u8]>,
        now: i64,
    ) -> Result<(Grant, usize), Refusal> {
        let t = self.observe(now);
        let challenge = self
            .pending
            .take()
            .filter(|p| t - p.issued_at <= self.config.challenge_ttl_ms)
            .ok_or(Refusal::NoChallenge)?
            .value;
        let grant = Grant::decode(grant).map_err(Refusal::Malformed)?;
        let b = &grant.body;
        if b.lock_id != self.config.lock_id {
            return Err(Refusal::OtherLock);
        }
        let issuer = self
            .config
            .issuer(&b.issuer_key_id)
            .ok_or(Refusal::UnknownIssuer)?;
        grant.verify(&issuer.key).map_err(|_| Refusal::Forged)?;
        if b.epoch < self.state.epoch_floor {
            return Err(Refusal::Revoked {
                epoch: b.epoch,
                floor: self.state.epoch_floor,
            });
        }
        let skew = self.config.skew_ms;
        if t < b.not_before.saturating_sub(skew) {
            return Err(Refusal::NotYetValid);
        }
        if t > b.not_after.saturating_add(skew) {
            return Err(Refusal::Expired);
        }
        // Where this issuer's used grants are remembered. Without a slot the lock could not
        // mark the grant used, so it refuses rather than fail open.
        let slot = self
            .state
            .slot_for(&b.issuer_key_id, |id| self.config.issuer(id).is_some())
            .ok_or(Refusal::NoReplaySlot)?;
        // A new window knows nothing of grants used before a slot was last reset: one of them
        // may be this issuer's, from before it lost its slot.
        if self.state.slot_is_new(slot, &b.issuer_key_id)
            && b.not_before <= self.state.slots_reset_at.saturating_add(skew)
        {
            return Err(Refusal::TooOld);
        }
        self.state
            .window(&b.issuer_key_id)
            .check(b.sequence)
            .map_err(|e| match e {
                ReplayError::Used => Refusal::Replayed,
                ReplayError::TooOld => Refusal::TooOld,
            })?;
        let proof = CourierProof::decode(proof).map_err(Refusal::Malformed)?;
        proof.verify(&grant, &challenge).map_err(|e| match e {
            VerifyError::OtherChallenge => Refusal::StaleChallenge,
            other => Refusal::BadProof(other),
        })?;
        if b.permissions.contains(Permissions::CAMERA_PROOF_REQUIRED) {
            let bytes = attestation.ok_or(Refusal::CameraProofMissing)?;
            let camera = self.config.camera.ok_or(Refusal::NoCamera)?;
            Attestation::decode(bytes)
                .map_err(Refusal::Malformed)?
                .verify(&camera, &b.camera_key_hash, &challenge)
                .map_err(Refusal::BadAttestation)?;
        }
        Ok((grant, slot))
    }

    /// The door reports it is locked again: closes the open visit, if any.
    pub fn relock(&mut self, now: i64) -> Option<Relocked> {
        let t = self.observe(now);
        self.state.visit.take().map(|v| Relocked {
            grant_id: v.grant_id,
            open_ms: t - v.unlocked_at,
        })
    }

    /// Applies a signed sync from the issuer: the time (forward only) and the epoch floor
    /// (up only). Returns the lock's trusted time after it.
    pub fn sync(&mut self, sync: &[u8], now: i64) -> Result<i64, Refusal> {
        let sync = LockSync::decode(sync).map_err(Refusal::Malformed)?;
        let info = sync.info;
        if info.lock_id != self.config.lock_id {
            return Err(Refusal::OtherLock);
        }
        let issuer = self
            .config
            .issuer(&info.issuer_key_id)
            .ok_or(Refusal::UnknownIssuer)?;
        sync.verify(&issuer.key).map_err(|_| Refusal::Forged)?;
        if info.time <= self.state.last_sync {
            return Err(Refusal::StaleSync);
        }
        self.state.last_sync = info.time;
        self.state.clock_offset = info.time.saturating_sub(now);
        self.state.epoch_floor = self.state.epoch_floor.max(info.epoch_floor);
        Ok(self.observe(now))
    }
}
