//! One camera's stream of signed segments: what arrived, in what order, and what did not.
//!
//! The camera numbers its segments and chains each to the one before, so the server can tell
//! at once a segment that is missing, late, sent twice, or substituted, and the stream goes
//! on: a flagged segment is still kept when it is genuine, because footage with a hole in it
//! is worth more to the customer than no footage.
//!
//! Pure and deterministic: the caller persists [`StreamState`] and acts on the flags.

use serde::{Deserialize, Serialize};
use seuil_proto::{DecodeError, Hash, Segment, VerifyError};
use sha2::{Digest, Sha256};

/// Late segments remembered as missing, and recent ones remembered by hash, at most.
pub const WINDOW: u64 = 64;

/// Why a segment was refused: it is not the camera's genuine footage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed segment header: {0}")]
    Malformed(DecodeError),
    #[error("the segment is from another camera")]
    OtherCamera,
    #[error("{0}")]
    BadSignature(VerifyError),
    #[error("the footage does not match the hash its header signs")]
    ContentMismatch,
}

/// Something wrong with the stream, on a genuine segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "flag")]
pub enum Flag {
    /// The counter skipped ahead: `missing` segments before this one have not arrived.
    Gap { missing: u64 },
    /// A segment that was missing arrived late.
    Reordered,
    /// A segment already received came again (the same bytes: a retransmission).
    Duplicate,
    /// A different segment with a counter already used: the camera signed two versions of
    /// the same second, which a genuine camera never does.
    Equivocation,
    /// The segment does not name the one before it as its predecessor: footage was cut or
    /// substituted between them.
    ChainBroken,
    /// Older than anything the stream still remembers.
    TooOld,
}

/// What to do with a genuine segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Keep its footage (false for a retransmission, an equivocation or one too old).
    pub keep: bool,
    pub flags: Vec<Flag>,
}

/// What the server remembers of a camera's stream between segments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamState {
    /// The counter expected next; `None` before the first segment.
    pub next: Option<u64>,
    /// The hash of the segment with counter `next - 1`.
    pub last_hash: Hash,
    /// End of the newest segment's footage, Unix milliseconds.
    pub newest_end: i64,
    /// Counters below `next` that have not arrived, within [`WINDOW`].
    pub missing: Vec<u64>,
    /// Hashes of the most recent segments, by counter, within [`WINDOW`].
    pub recent: Vec<(u64, Hash)>,
}

impl StreamState {
    /// Checks a segment header and its footage from the camera `camera_id` with `key`.
    /// Rejections change nothing; a verdict has been recorded in the state.
    pub fn check(
        &mut self,
        header: &[u8],
        footage: &[u8],
        camera_id: &[u8; 16],
        key: &ed25519_dalek::VerifyingKey,
    ) -> Result<(Segment, Verdict), Rejection> {
        let segment = Segment::decode(header).map_err(Rejection::Malformed)?;
        if &segment.info.camera_id != camera_id {
            return Err(Rejection::OtherCamera);
        }
        segment.verify(key).map_err(Rejection::BadSignature)?;
        let content: Hash = Sha256::digest(footage).into();
        if content != segment.info.content_hash {
            return Err(Rejection::ContentMismatch);
        }
        let verdict = self.record(&segment);
        Ok((segment, verdict))
    }

    /// Places a genuine segment in the stream.
    fn record(&mut self, segment: &Segment) -> Verdict {
        let info = &segment.info;
        let hash = segment.hash();
        let counter = info.counter;
        let mut flags = Vec::new();
        let Some(next) = self.next else {
            self.advance(counter, hash, info.start + i64::from(info.duration_ms));
            return Verdict { keep: true, flags };
        };
        if counter >= next {
            if counter > next {
                flags.push(Flag::Gap {
                    missing: counter - next,
                });
                let first_missing = next.max(counter.saturating_sub(WINDOW));
                self.missing.extend(first_missing..counter);
            } else if info.prev_hash != self.last_hash {
                flags.push(Flag::ChainBroken);
            }
            self.advance(counter, hash, info.start + i64::from(info.duration_ms));
            return Verdict { keep: true, flags };
        }
        // Below the newest: a late one, a retransmission, or a second version.
        if let Some(&(_, known)) = self.recent.iter().find(|(c, _)| *c == counter) {
            flags.push(if known == hash {
                Flag::Duplicate
            } else {
                Flag::Equivocation
            });
            return Verdict { keep: false, flags };
        }
        if let Some(i) = self.missing.iter().position(|&c| c == counter) {
            self.missing.swap_remove(i);
            self.remember(counter, hash);
            flags.push(Flag::Reordered);
            return Verdict { keep: true, flags };
        }
        flags.push(Flag::TooOld);
        Verdict { keep: false, flags }
    }

    fn advance(&mut self, counter: u64, hash: Hash, end: i64) {
        self.next = Some(counter.saturating_add(1));
        self.last_hash = hash;
        self.newest_end = self.newest_end.max(end);
        self.remember(counter, hash);
        let floor = counter.saturating_sub(WINDOW);
        self.missing.retain(|&c| c >= floor);
    }

    fn remember(&mut self, counter: u64, hash: Hash) {
        self.recent.push((counter, hash));
        let newest = self.next.unwrap_or(0).saturating_sub(1);
        let floor = newest.saturating_sub(WINDOW);
        self.recent.retain(|&(c, _)| c >= floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use seuil_proto::SegmentInfo;

    const CAMERA: [u8; 16] = [3; 16];

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[5; 32])
    }

    /// Segments 0..n of a chain, with their footage.
    fn chain(n: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut prev = [0u8; 32];
        (0..n)
            .map(|counter| {
                let footage = format!("second {counter}").into_bytes();
                let seg = SegmentInfo {
                    camera_id: CAMERA,
                    counter,
                    start: 1_000 * counter as i64,
                    duration_ms: 1_000,
                    prev_hash: prev,
                    content_hash: Sha256::digest(&footage).into(),
                    visit: None,
                }
                .sign(&key());
                prev = seg.hash();
                (seg.encode().to_vec(), footage)
            })
            .collect()
    }

    fn feed(state: &mut StreamState, seg: &(Vec<u8>, Vec<u8>)) -> Result<Verdict, Rejection> {
        state
            .check(&seg.0, &seg.1, &CAMERA, &key().verifying_key())
            .map(|(_, v)| v)
    }

    #[test]
    fn an_unbroken_chain_raises_nothing() {
        let mut s = StreamState::default();
        for seg in &chain(10) {
            assert_eq!(
                feed(&mut s, seg),
                Ok(Verdict {
                    keep: true,
                    flags: vec![]
                })
            );
        }
        assert_eq!(s.next, Some(10));
    }

    #[test]
    fn gaps_late_arrivals_and_repeats_are_flagged_and_the_stream_goes_on() {
        let c = chain(8);
        let mut s = StreamState::default();
        feed(&mut s, &c[0]).unwrap();
        feed(&mut s, &c[1]).unwrap();
        let gap = feed(&mut s, &c[4]).unwrap();
        assert_eq!(gap.flags, vec![Flag::Gap { missing: 2 }]);
        assert!(gap.keep);
        let late = feed(&mut s, &c[2]).unwrap();
        assert_eq!(
            late,
            Verdict {
                keep: true,
                flags: vec![Flag::Reordered]
            }
        );
        let again = feed(&mut s, &c[2]).unwrap();
        assert_eq!(
            again,
            Verdict {
                keep: false,
                flags: vec![Flag::Duplicate]
            }
        );
        let next = feed(&mut s, &c[5]).unwrap();
        assert_eq!(next.flags, vec![], "the chain goes on from 4");
        assert_eq!(s.missing, vec![3]);
    }

    #[test]
    fn a_substituted_segment_breaks_the_chain_and_a_second_version_is_equivocation() {
        let c = chain(3);
        let mut s = StreamState::default();
        feed(&mut s, &c[0]).unwrap();
        // A segment 1 that does not follow segment 0.
        let footage = b"elsewhere".to_vec();
        let forged = SegmentInfo {
            camera_id: CAMERA,
            counter: 1,
            start: 1_000,
            duration_ms: 1_000,
            prev_hash: [9; 32],
            content_hash: Sha256::digest(&footage).into(),
            visit: None,
        }
        .sign(&key());
        let v = feed(&mut s, &(forged.encode().to_vec(), footage)).unwrap();
        assert_eq!(v.flags, vec![Flag::ChainBroken]);
        let v = feed(&mut s, &c[1]).unwrap();
        assert_eq!(
            v,
            Verdict {
                keep: false,
                flags: vec![Flag::Equivocation]
            }
        );
    }

    #[test]
    fn forged_or_altered_segments_are_refused_and_change_nothing() {
        let c = chain(2);
        let mut s = StreamState::default();
        feed(&mut s, &c[0]).unwrap();
        let before = s.clone();
        let mut bad_sig = c[1].clone();
        bad_sig.0[200] ^= 1;
        assert!(matches!(
            feed(&mut s, &bad_sig),
            Err(Rejection::BadSignature(_))
        ));
        let altered = (c[1].0.clone(), b"other footage".to_vec());
        assert_eq!(feed(&mut s, &altered), Err(Rejection::ContentMismatch));
        assert!(matches!(
            feed(&mut s, &(c[1].0[..10].to_vec(), c[1].1.clone())),
            Err(Rejection::Malformed(_))
        ));
        let other = s.check(&c[1].0, &c[1].1, &[4; 16], &key().verifying_key());
        assert_eq!(other.map(|_| ()), Err(Rejection::OtherCamera));
        assert_eq!(s, before);
    }
}
