//! A camera segment's signed header: about one second of H.264, chained to the one before.
//!
//! The camera signs each segment as it closes it. The counter and the hash chain let the
//! server see at once a missing, reordered, duplicated or substituted segment, and the signed
//! counter carries liveness even when the scene does not move. While a visit is open the
//! header also names the grant and the lock's challenge, so footage of a visit cannot be
//! passed off as footage of another.
//!
//! Layout (big-endian): version, kind `S`, camera id (16), counter (8), start in Unix
//! milliseconds (8), duration in milliseconds (4), the previous segment's hash (32), SHA-256
//! of the H.264 payload (32), a visit flag (1: 0 or 1), grant id (16) and lock challenge (32)
//! (zero without a visit), then an Ed25519 signature (64) by the camera over
//! `"seuil camera segment v1" ‖ the bytes before it`.

use crate::codec::{Reader, Writer};
use crate::{DecodeError, Hash, Signature, VerifyError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const KIND: u8 = b'S';
const CONTEXT: &[u8] = b"seuil camera segment v1";
const BODY_LEN: usize = 2 + 16 + 8 + 8 + 4 + 32 + 32 + 1 + 16 + 32;
pub const SEGMENT_LEN: usize = BODY_LEN + 64;

/// The visit a segment was recorded during.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisitTag {
    pub grant_id: [u8; 16],
    pub challenge: [u8; 32],
}

/// The signed fields of a segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    pub camera_id: [u8; 16],
    /// One more than the previous segment's; never reused.
    pub counter: u64,
    pub start: i64,
    pub duration_ms: u32,
    /// The previous segment's [`Segment::hash`]; zeros for a camera's first segment.
    pub prev_hash: Hash,
    pub content_hash: Hash,
    pub visit: Option<VisitTag>,
}

impl SegmentInfo {
    fn encode(&self) -> [u8; BODY_LEN] {
        let mut out = [0u8; BODY_LEN];
        let (flag, visit) = match self.visit {
            Some(v) => (1, v),
            None => (
                0,
                VisitTag {
                    grant_id: [0; 16],
                    challenge: [0; 32],
                },
            ),
        };
        Writer::new(&mut out)
            .u8(crate::VERSION)
            .u8(KIND)
            .bytes(&self.camera_id)
            .u64(self.counter)
            .i64(self.start)
            .u32(self.duration_ms)
            .bytes(&self.prev_hash)
            .bytes(&self.content_hash)
            .u8(flag)
            .bytes(&visit.grant_id)
            .bytes(&visit.challenge);
        out
    }

    /// Signs the header with the camera's device key.
    pub fn sign(self, camera: &SigningKey) -> Segment {
        let signature = crate::signing::sign(camera, CONTEXT, &self.encode());
        Segment {
            info: self,
            signature,
        }
    }
}

/// A signed segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub info: SegmentInfo,
    pub signature: Signature,
}

impl Segment {
    pub fn encode(&self) -> [u8; SEGMENT_LEN] {
        let mut out = [0u8; SEGMENT_LEN];
        Writer::new(&mut out)
            .bytes(&self.info.encode())
            .bytes(&self.signature);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Segment, DecodeError> {
        let mut r = Reader::open(bytes, SEGMENT_LEN, KIND, "camera segment")?;
        let camera_id = r.array();
        let counter = r.u64();
        let start = r.i64();
        let duration_ms = r.u32();
        let prev_hash = r.array();
        let content_hash = r.array();
        let flag = r.u8();
        let grant_id = r.array();
        let challenge = r.array();
        let signature = r.array();
        let visit = match flag {
            0 if grant_id == [0; 16] && challenge == [0; 32] => None,
            1 => Some(VisitTag {
                grant_id,
                challenge,
            }),
            _ => {
                return Err(DecodeError::Field {
                    what: "camera segment",
                    field: "visit flag",
                });
            }
        };
        Ok(Segment {
            info: SegmentInfo {
                camera_id,
                counter,
                start,
                duration_ms,
                prev_hash,
                content_hash,
                visit,
            },
            signature,
        })
    }

    pub fn verify(&self, camera: &VerifyingKey) -> Result<(), VerifyError> {
        crate::signing::verify(
            camera,
            CONTEXT,
            &self.info.encode(),
            &self.signature,
            "camera segment",
        )
    }

    /// SHA-256 of the whole encoded header: what the next segment's `prev_hash` holds.
    pub fn hash(&self) -> Hash {
        Sha256::digest(self.encode()).into()
    }
}
