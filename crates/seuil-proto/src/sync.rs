//! The server's signed word to one lock about time and revocation.
//!
//! A lock has no network of its own to trust: its clock can be rolled back and its radio
//! replayed. When it syncs (through the courier's phone or its own bridge), the issuer sends
//! the time and the lock's epoch floor, signed. The lock only ever moves either forward, so
//! a replayed old sync changes nothing, and grants of an epoch below the floor are revoked.
//!
//! Layout: version, kind `T`, lock id (16), time in Unix milliseconds (8), epoch floor (4),
//! issuer key id (8), then an Ed25519 signature (64) by the issuer over
//! `"seuil lock sync v1" ‖ the bytes before it`.

use crate::codec::{Reader, Writer};
use crate::{DecodeError, Signature, VerifyError};
use ed25519_dalek::{SigningKey, VerifyingKey};

const KIND: u8 = b'T';
const CONTEXT: &[u8] = b"seuil lock sync v1";
const BODY_LEN: usize = 2 + 16 + 8 + 4 + 8;
pub const SYNC_LEN: usize = BODY_LEN + 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncInfo {
    pub lock_id: [u8; 16],
    /// The issuer's time, Unix milliseconds.
    pub time: i64,
    /// Grants of a lower epoch are revoked.
    pub epoch_floor: u32,
    pub issuer_key_id: [u8; 8],
}

impl SyncInfo {
    fn encode(&self) -> [u8; BODY_LEN] {
        let mut out = [0u8; BODY_LEN];
        Writer::new(&mut out)
            .u8(crate::VERSION)
            .u8(KIND)
            .bytes(&self.lock_id)
            .i64(self.time)
            .u32(self.epoch_floor)
            .bytes(&self.issuer_key_id);
        out
    }

    pub fn sign(self, issuer: &SigningKey) -> LockSync {
        let signature = crate::signing::sign(issuer, CONTEXT, &self.encode());
        LockSync {
            info: self,
            signature,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockSync {
    pub info: SyncInfo,
    pub signature: Signature,
}

impl LockSync {
    pub fn encode(&self) -> [u8; SYNC_LEN] {
        let mut out = [0u8; SYNC_LEN];
        Writer::new(&mut out)
            .bytes(&self.info.encode())
            .bytes(&self.signature);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<LockSync, DecodeError> {
        let mut r = Reader::open(bytes, SYNC_LEN, KIND, "lock sync")?;
        Ok(LockSync {
            info: SyncInfo {
                lock_id: r.array(),
                time: r.i64(),
                epoch_floor: r.u32(),
                issuer_key_id: r.array(),
            },
            signature: r.array(),
        })
    }

    /// Checks the issuer's signature, under a key read by [`crate::public_key`].
    pub fn verify(&self, issuer: &VerifyingKey) -> Result<(), VerifyError> {
        crate::signing::verify(
            issuer,
            CONTEXT,
            &self.info.encode(),
            &self.signature,
            "lock sync",
        )
    }
}
