//! The single-use grant that lets one courier open one lock in one time window.
//!
//! Layout (big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version ([`crate::VERSION`]) |
//! | 1 | kind `G` |
//! | 16 | lock id |
//! | 16 | grant id |
//! | 32 | courier's per-delivery Ed25519 public key |
//! | 8 | `not_before`, Unix milliseconds |
//! | 8 | `not_after`, Unix milliseconds |
//! | 4 | lock epoch (grants below the lock's epoch floor are revoked) |
//! | 8 | issuer sequence number (anti-replay) |
//! | 1 | [`Permissions`] |
//! | 32 | SHA-256 of the camera's public key that must prove it is recording |
//! | 8 | issuer key id |
//! | 64 | Ed25519 signature by the issuer over `"seuil grant v1" ‖ bytes 0..135` |

use crate::codec::{Reader, Writer};
use crate::{DecodeError, Hash, Signature, VerifyError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const KIND: u8 = b'G';
const CONTEXT: &[u8] = b"seuil grant v1";
/// Bytes covered by the signature.
pub const GRANT_BODY_LEN: usize = 135;
/// A whole grant: small enough for an NFC tag or a BLE characteristic.
pub const GRANT_LEN: usize = GRANT_BODY_LEN + 64;
const _: () = assert!(
    GRANT_LEN <= 200,
    "the delivery issue caps a grant at 200 bytes"
);

/// What a grant lets the courier do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permissions(u8);

impl Permissions {
    pub const DOOR: Permissions = Permissions(1);
    pub const GARAGE: Permissions = Permissions(1 << 1);
    pub const FRIDGE: Permissions = Permissions(1 << 2);
    /// The lock must confirm it relocked; the confirmation consumes the grant.
    pub const RELOCK_REQUIRED: Permissions = Permissions(1 << 3);
    /// The lock opens only with a fresh attestation from the named camera.
    pub const CAMERA_PROOF_REQUIRED: Permissions = Permissions(1 << 4);
    const PLACES: u8 = 0b111;
    const KNOWN: u8 = 0b1_1111;

    /// Checks raw bits: only defined bits, and at least one place to open.
    pub fn from_bits(bits: u8) -> Result<Permissions, DecodeError> {
        if bits & !Self::KNOWN != 0 || bits & Self::PLACES == 0 {
            return Err(DecodeError::Permissions { bits });
        }
        Ok(Permissions(bits))
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 | rhs.0)
    }
}

/// The signed part of a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantBody {
    pub lock_id: [u8; 16],
    pub grant_id: [u8; 16],
    pub courier_key: [u8; 32],
    pub not_before: i64,
    pub not_after: i64,
    pub epoch: u32,
    pub sequence: u64,
    pub permissions: Permissions,
    pub camera_key_hash: Hash,
    pub issuer_key_id: [u8; 8],
}

impl GrantBody {
    pub fn encode(&self) -> [u8; GRANT_BODY_LEN] {
        let mut out = [0u8; GRANT_BODY_LEN];
        let mut w = Writer::new(&mut out);
        w.u8(crate::VERSION)
            .u8(KIND)
            .bytes(&self.lock_id)
            .bytes(&self.grant_id)
            .bytes(&self.courier_key)
            .i64(self.not_before)
            .i64(self.not_after)
            .u32(self.epoch)
            .u64(self.sequence)
            .u8(self.permissions.bits())
            .bytes(&self.camera_key_hash)
            .bytes(&self.issuer_key_id);
        debug_assert_eq!(w.len(), GRANT_BODY_LEN);
        out
    }

    /// Signs the body with the issuer's key.
    pub fn sign(self, issuer: &SigningKey) -> Grant {
        let signature = crate::signing::sign(issuer, CONTEXT, &self.encode());
        Grant {
            body: self,
            signature,
        }
    }
}

/// A signed grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub body: GrantBody,
    pub signature: Signature,
}

impl Grant {
    pub fn encode(&self) -> [u8; GRANT_LEN] {
        let mut out = [0u8; GRANT_LEN];
        Writer::new(&mut out)
            .bytes(&self.body.encode())
            .bytes(&self.signature);
        out
    }

    /// Reads a grant, checking its form (not its signature: see [`Grant::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Grant, DecodeError> {
        let mut r = Reader::open(bytes, GRANT_LEN, KIND, "grant")?;
        let lock_id = r.array();
        let grant_id = r.array();
        let courier_key = r.array();
        let not_before = r.i64();
        let not_after = r.i64();
        let epoch = r.u32();
        let sequence = r.u64();
        let permissions = Permissions::from_bits(r.u8())?;
        let camera_key_hash = r.array();
        let issuer_key_id = r.array();
        let signature = r.array();
        if not_after <= not_before {
            return Err(DecodeError::EmptyWindow {
                not_before,
                not_after,
            });
        }
        Ok(Grant {
            body: GrantBody {
                lock_id,
                grant_id,
                courier_key,
                not_before,
                not_after,
                epoch,
                sequence,
                permissions,
                camera_key_hash,
                issuer_key_id,
            },
            signature,
        })
    }

    /// Checks the issuer's signature, under a key read by [`crate::public_key`].
    pub fn verify(&self, issuer: &VerifyingKey) -> Result<(), VerifyError> {
        crate::signing::verify(
            issuer,
            CONTEXT,
            &self.body.encode(),
            &self.signature,
            "grant",
        )
    }

    /// SHA-256 of the whole encoded grant, signature included: what a courier proof names.
    pub fn hash(&self) -> Hash {
        Sha256::digest(self.encode()).into()
    }
}
