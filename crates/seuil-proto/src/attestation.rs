//! The camera's fresh statement that it is recording, for the lock.
//!
//! A lock whose grant requires a camera proof opens only with an attestation that answers
//! its own current challenge, signed by the camera the grant names (by key hash), and that
//! points at the newest segment the camera has closed. A frozen or unplugged camera cannot
//! produce one.
//!
//! Layout: version, kind `A`, camera id (16), the lock's challenge (32), time in Unix
//! milliseconds (8), the newest segment's counter (8) and hash (32), then an Ed25519
//! signature (64) by the camera over `"seuil camera attestation v1" ‖ the bytes before it`.

use crate::codec::{Reader, Writer};
use crate::{DecodeError, Hash, Signature, VerifyError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const KIND: u8 = b'A';
const CONTEXT: &[u8] = b"seuil camera attestation v1";
const BODY_LEN: usize = 2 + 16 + 32 + 8 + 8 + 32;
pub const ATTESTATION_LEN: usize = BODY_LEN + 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttestationInfo {
    pub camera_id: [u8; 16],
    pub challenge: [u8; 32],
    pub at: i64,
    pub newest_counter: u64,
    pub newest_hash: Hash,
}

impl AttestationInfo {
    fn encode(&self) -> [u8; BODY_LEN] {
        let mut out = [0u8; BODY_LEN];
        Writer::new(&mut out)
            .u8(crate::VERSION)
            .u8(KIND)
            .bytes(&self.camera_id)
            .bytes(&self.challenge)
            .i64(self.at)
            .u64(self.newest_counter)
            .bytes(&self.newest_hash);
        out
    }

    pub fn sign(self, camera: &SigningKey) -> Attestation {
        let signature = crate::signing::sign(camera, CONTEXT, &self.encode());
        Attestation {
            info: self,
            signature,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attestation {
    pub info: AttestationInfo,
    pub signature: Signature,
}

impl Attestation {
    pub fn encode(&self) -> [u8; ATTESTATION_LEN] {
        let mut out = [0u8; ATTESTATION_LEN];
        Writer::new(&mut out)
            .bytes(&self.info.encode())
            .bytes(&self.signature);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Attestation, DecodeError> {
        let mut r = Reader::open(bytes, ATTESTATION_LEN, KIND, "camera attestation")?;
        Ok(Attestation {
            info: AttestationInfo {
                camera_id: r.array(),
                challenge: r.array(),
                at: r.i64(),
                newest_counter: r.u64(),
                newest_hash: r.array(),
            },
            signature: r.array(),
        })
    }

    /// Checks that the attestation answers `challenge` and is signed by the camera whose
    /// public key hashes to `camera_key_hash` (as a grant names it).
    pub fn verify(
        &self,
        camera_key: &VerifyingKey,
        camera_key_hash: &Hash,
        challenge: &[u8; 32],
    ) -> Result<(), VerifyError> {
        if &key_hash(camera_key.as_bytes()) != camera_key_hash {
            return Err(VerifyError::OtherCamera);
        }
        if &self.info.challenge != challenge {
            return Err(VerifyError::OtherChallenge);
        }
        crate::signing::verify(
            camera_key,
            CONTEXT,
            &self.info.encode(),
            &self.signature,
            "camera attestation",
        )
    }
}

/// The hash a grant carries to name a camera: SHA-256 of its Ed25519 public key.
pub fn key_hash(camera_key: &[u8; 32]) -> Hash {
    Sha256::digest(camera_key).into()
}

/// The id a camera's segments and attestations carry: the first 16 bytes of its
/// [`key_hash`], so a camera names itself by its key and nothing else needs agreeing on.
pub fn camera_id(camera_key: &[u8; 32]) -> [u8; 16] {
    let hash = key_hash(camera_key);
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash[..16]);
    id
}
