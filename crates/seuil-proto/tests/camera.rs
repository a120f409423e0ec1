//! Camera segment headers and attestations: round trips, chains, and what must not verify.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use seuil_proto::{
    ATTESTATION_LEN, Attestation, AttestationInfo, DecodeError, SEGMENT_LEN, Segment, SegmentInfo,
    VerifyError, VisitTag, key_hash,
};

fn camera() -> SigningKey {
    SigningKey::from_bytes(&[4; 32])
}

fn info(counter: u64, prev_hash: [u8; 32], visit: Option<VisitTag>) -> SegmentInfo {
    SegmentInfo {
        camera_id: [3; 16],
        counter,
        start: 1_700_000_000_000 + counter as i64 * 1_000,
        duration_ms: 1_000,
        prev_hash,
        content_hash: [counter as u8; 32],
        visit,
    }
}

#[test]
fn segments_chain_and_round_trip() {
    let cam = camera();
    let first = info(0, [0; 32], None).sign(&cam);
    let visit = VisitTag {
        grant_id: [2; 16],
        challenge: [5; 32],
    };
    let second = info(1, first.hash(), Some(visit)).sign(&cam);
    for seg in [first, second] {
        let bytes = seg.encode();
        assert_eq!(bytes.len(), SEGMENT_LEN);
        let back = Segment::decode(&bytes).expect("decode");
        assert_eq!(back, seg);
        back.verify(&cam.verifying_key())
            .expect("the camera signed it");
    }
    assert_eq!(second.info.prev_hash, first.hash());
    assert_eq!(
        second.verify(&SigningKey::from_bytes(&[8; 32]).verifying_key()),
        Err(VerifyError::BadSignature {
            what: "camera segment"
        })
    );
}

#[test]
fn a_visit_flag_must_be_0_or_1_and_an_absent_visit_all_zeros() {
    let seg = info(0, [0; 32], None).sign(&camera()).encode();
    // The flag: 2 + 16 + 8 + 8 + 4 + 32 + 32 = 102.
    let mut flag = seg;
    flag[102] = 7;
    assert_eq!(
        Segment::decode(&flag),
        Err(DecodeError::Field {
            what: "camera segment",
            field: "visit flag"
        })
    );
    let mut stray = seg;
    stray[103] = 1;
    assert!(Segment::decode(&stray).is_err());
}

#[test]
fn an_attestation_answers_one_challenge_from_the_named_camera() {
    let cam = camera();
    let key = cam.verifying_key().to_bytes();
    let att = AttestationInfo {
        camera_id: [3; 16],
        challenge: [5; 32],
        at: 1_700_000_000_000,
        newest_counter: 41,
        newest_hash: [6; 32],
    }
    .sign(&cam);
    let bytes = att.encode();
    assert_eq!(bytes.len(), ATTESTATION_LEN);
    let back = Attestation::decode(&bytes).expect("decode");
    assert_eq!(back, att);
    let vk = cam.verifying_key();
    back.verify(&vk, &key_hash(&key), &[5; 32])
        .expect("valid attestation");
    assert_eq!(
        back.verify(&vk, &key_hash(&key), &[6; 32]),
        Err(VerifyError::OtherChallenge)
    );
    let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
    assert_eq!(
        back.verify(&other, &key_hash(&key), &[5; 32]),
        Err(VerifyError::OtherCamera)
    );
    assert_eq!(
        back.verify(&other, &key_hash(other.as_bytes()), &[5; 32]),
        Err(VerifyError::BadSignature {
            what: "camera attestation"
        })
    );
    assert!(matches!(
        Attestation::decode(&bytes[..50]),
        Err(DecodeError::Truncated { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single changed byte of a header makes it unreadable or its signature invalid.
    #[test]
    fn a_changed_segment_byte_never_verifies(counter in 0u64..1_000_000_000, visit in any::<bool>(), at in 0..SEGMENT_LEN, flip in 1u8..=255) {
        let tag = visit.then_some(VisitTag { grant_id: [2; 16], challenge: [5; 32] });
        let cam = camera();
        let mut bytes = info(counter, [1; 32], tag).sign(&cam).encode();
        bytes[at] ^= flip;
        if let Ok(changed) = Segment::decode(&bytes) {
            prop_assert!(changed.verify(&cam.verifying_key()).is_err());
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Segment::decode(&bytes);
        let _ = Attestation::decode(&bytes);
    }

    #[test]
    fn decoding_arbitrary_segment_bodies_never_panics(rest in proptest::collection::vec(any::<u8>(), SEGMENT_LEN - 2)) {
        let mut bytes = vec![seuil_proto::VERSION, b'S'];
        bytes.extend(rest);
        if let Ok(seg) = Segment::decode(&bytes) {
            prop_assert_eq!(seg.encode().to_vec(), bytes);
        }
    }
}
