//! Wire formats shared between the Seuil server and devices.
//!
//! Everything here is fixed-size, versioned binary, encoded without a heap, so the same code
//! runs in the server and in a lock's firmware (`no_std`). Every message starts with two
//! bytes: the format [`VERSION`] and a kind byte, so a device never mistakes one message for
//! another. Integers are big-endian. Signatures are Ed25519 over a context string followed by
//! the signed bytes, so a signature made for one kind of message is never valid for another.
//!
//! | message | kind | bytes | signed by |
//! |---|---|---|---|
//! | [`Grant`] | `G` | [`GRANT_LEN`] (≤ 200) | the issuer (the Seuil server) |
//! | [`CourierProof`] | `P` | [`PROOF_LEN`] | the courier's per-delivery key |
//! | [`Segment`] header | `S` | [`SEGMENT_LEN`] | the camera's device key |
//! | [`Attestation`] | `A` | [`ATTESTATION_LEN`] | the camera's device key |
//! | [`LockSync`] | `T` | [`SYNC_LEN`] | the issuer |

#![no_std]

mod attestation;
mod codec;
mod error;
mod grant;
mod proof;
mod segment;
mod signing;
mod sync;

pub use attestation::{ATTESTATION_LEN, Attestation, AttestationInfo, camera_id, key_hash};
pub use error::{DecodeError, VerifyError};
pub use grant::{GRANT_BODY_LEN, GRANT_LEN, Grant, GrantBody, Permissions};
pub use proof::{CourierProof, PROOF_LEN};
pub use segment::{SEGMENT_LEN, Segment, SegmentInfo, VisitTag};
pub use signing::public_key;
pub use sync::{LockSync, SYNC_LEN, SyncInfo};

/// The format version every message starts with.
pub const VERSION: u8 = 1;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// An Ed25519 signature, as sent.
pub type Signature = [u8; 64];
