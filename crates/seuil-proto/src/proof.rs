//! The courier's answer to a lock's challenge: proof of holding the grant's courier key now.
//!
//! A grant alone is a bearer token that anyone who copies it could replay. The lock sends a
//! fresh random challenge; the courier's phone signs it together with the grant's hash using
//! the per-delivery key named in the grant. A captured grant without the key, or a captured
//! answer to an old challenge, opens nothing.
//!
//! Layout: version, kind `P`, the grant's hash (32), the challenge (32), then an Ed25519
//! signature (64) over `"seuil courier proof v1" ‖ grant hash ‖ challenge`.

use crate::codec::{Reader, Writer};
use crate::{DecodeError, Grant, Hash, Signature, VerifyError};
use ed25519_dalek::SigningKey;

const KIND: u8 = b'P';
const CONTEXT: &[u8] = b"seuil courier proof v1";
pub const PROOF_LEN: usize = 2 + 32 + 32 + 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CourierProof {
    pub grant_hash: Hash,
    pub challenge: [u8; 32],
    pub signature: Signature,
}

impl CourierProof {
    /// Answers `challenge` for `grant` with the courier's per-delivery key.
    pub fn sign(grant: &Grant, challenge: &[u8; 32], courier: &SigningKey) -> CourierProof {
        let grant_hash = grant.hash();
        let signature =
            crate::signing::sign(courier, CONTEXT, &signed_body(&grant_hash, challenge));
        CourierProof {
            grant_hash,
            challenge: *challenge,
            signature,
        }
    }

    pub fn encode(&self) -> [u8; PROOF_LEN] {
        let mut out = [0u8; PROOF_LEN];
        Writer::new(&mut out)
            .u8(crate::VERSION)
            .u8(KIND)
            .bytes(&self.grant_hash)
            .bytes(&self.challenge)
            .bytes(&self.signature);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<CourierProof, DecodeError> {
        let mut r = Reader::open(bytes, PROOF_LEN, KIND, "courier proof")?;
        Ok(CourierProof {
            grant_hash: r.array(),
            challenge: r.array(),
            signature: r.array(),
        })
    }

    /// Checks that this proof answers `challenge` (the lock's own, fresh one) for `grant`, and
    /// is signed by the courier key the grant names. The grant's own signature is checked
    /// separately ([`Grant::verify`]).
    pub fn verify(&self, grant: &Grant, challenge: &[u8; 32]) -> Result<(), VerifyError> {
        if self.grant_hash != grant.hash() {
            return Err(VerifyError::OtherGrant);
        }
        if &self.challenge != challenge {
            return Err(VerifyError::OtherChallenge);
        }
        crate::signing::verify_raw(
            &grant.body.courier_key,
            CONTEXT,
            &signed_body(&self.grant_hash, challenge),
            &self.signature,
            "courier proof",
        )
    }
}

/// What the courier signs after the context: the grant's hash, then the challenge.
fn signed_body(grant_hash: &Hash, challenge: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    Writer::new(&mut out).bytes(grant_hash).bytes(challenge);
    out
}
