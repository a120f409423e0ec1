//! Grants and courier proofs: round trips, and every way a message can be wrong.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use seuil_proto::{
    CourierProof, DecodeError, GRANT_LEN, Grant, GrantBody, PROOF_LEN, Permissions, VerifyError,
};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn body(courier: &SigningKey) -> GrantBody {
    GrantBody {
        lock_id: [1; 16],
        grant_id: [2; 16],
        courier_key: courier.verifying_key().to_bytes(),
        not_before: 1_700_000_000_000,
        not_after: 1_700_000_900_000,
        epoch: 3,
        sequence: 42,
        permissions: Permissions::DOOR
            | Permissions::RELOCK_REQUIRED
            | Permissions::CAMERA_PROOF_REQUIRED,
        camera_key_hash: [9; 32],
        issuer_key_id: [7; 8],
    }
}

#[test]
fn a_grant_round_trips_and_only_its_issuer_verifies() {
    let (issuer, courier) = (key(1), key(2));
    let grant = body(&courier).sign(&issuer);
    let bytes = grant.encode();
    assert_eq!(bytes.len(), GRANT_LEN);
    let back = Grant::decode(&bytes).expect("decode");
    assert_eq!(back, grant);
    back.verify(&issuer.verifying_key())
        .expect("issuer signed it");
    assert_eq!(
        back.verify(&key(3).verifying_key()),
        Err(VerifyError::BadSignature { what: "grant" })
    );
}

#[test]
fn malformed_grants_say_what_is_wrong() {
    let grant = body(&key(2)).sign(&key(1)).encode();
    let err = Grant::decode(&grant[..100]).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Truncated {
            what: "grant",
            need: GRANT_LEN,
            got: 100
        }
    );
    assert!(err.to_string().contains("truncated"), "{err}");

    let mut long = grant.to_vec();
    long.push(0);
    assert!(matches!(
        Grant::decode(&long),
        Err(DecodeError::TrailingBytes { .. })
    ));

    let mut v2 = grant;
    v2[0] = 2;
    let err = Grant::decode(&v2).unwrap_err();
    assert!(err.to_string().contains("version 2"), "{err}");

    let proof_bytes =
        CourierProof::sign(&Grant::decode(&grant).unwrap(), &[0; 32], &key(2)).encode();
    // A proof is never read as a grant, whatever its length.
    let mut as_grant = grant;
    as_grant[1] = proof_bytes[1];
    assert!(matches!(
        Grant::decode(&as_grant),
        Err(DecodeError::WrongKind { .. })
    ));

    // Permissions: byte 2 + 16 + 16 + 32 + 8 + 8 + 4 + 8 = 94.
    let mut nowhere = grant;
    nowhere[94] = Permissions::RELOCK_REQUIRED.bits();
    assert!(matches!(
        Grant::decode(&nowhere),
        Err(DecodeError::Permissions { .. })
    ));
    let mut unknown = grant;
    unknown[94] |= 0x80;
    assert!(matches!(
        Grant::decode(&unknown),
        Err(DecodeError::Permissions { .. })
    ));

    let mut b = body(&key(2));
    b.not_after = b.not_before;
    let empty = b.sign(&key(1)).encode();
    assert!(matches!(
        Grant::decode(&empty),
        Err(DecodeError::EmptyWindow { .. })
    ));
}

#[test]
fn a_proof_is_bound_to_its_grant_its_challenge_and_the_courier_key() {
    let (issuer, courier) = (key(1), key(2));
    let grant = body(&courier).sign(&issuer);
    let challenge = [5u8; 32];
    let proof = CourierProof::sign(&grant, &challenge, &courier);
    let bytes = proof.encode();
    assert_eq!(bytes.len(), PROOF_LEN);
    let back = CourierProof::decode(&bytes).expect("decode");
    assert_eq!(back, proof);
    back.verify(&grant, &challenge).expect("valid proof");

    // Replayed against the lock's next challenge.
    assert_eq!(
        back.verify(&grant, &[6; 32]),
        Err(VerifyError::OtherChallenge)
    );
    // Presented with another grant.
    let mut other = body(&courier);
    other.sequence += 1;
    let other = other.sign(&issuer);
    assert_eq!(
        back.verify(&other, &challenge),
        Err(VerifyError::OtherGrant)
    );
    // Signed by someone who copied the grant but not the courier's key.
    let thief = CourierProof::sign(&grant, &challenge, &key(9));
    assert_eq!(
        thief.verify(&grant, &challenge),
        Err(VerifyError::BadSignature {
            what: "courier proof"
        })
    );
}

fn any_body() -> impl Strategy<Value = GrantBody> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<[u8; 32]>(),
        any::<i64>(),
        1..i64::MAX,
        any::<u32>(),
        any::<u64>(),
        1u8..32,
        any::<[u8; 32]>(),
        any::<[u8; 8]>(),
    )
        .prop_filter_map(
            "a window that fits in i64 and a place to open",
            |(lock, grant, courier, nb, len, epoch, seq, bits, cam, issuer)| {
                Some(GrantBody {
                    lock_id: lock,
                    grant_id: grant,
                    courier_key: courier,
                    not_before: nb,
                    not_after: nb.checked_add(len)?,
                    epoch,
                    sequence: seq,
                    permissions: Permissions::from_bits(bits).ok()?,
                    camera_key_hash: cam,
                    issuer_key_id: issuer,
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn grants_round_trip(b in any_body()) {
        let grant = b.sign(&key(1));
        prop_assert_eq!(Grant::decode(&grant.encode()), Ok(grant));
        prop_assert!(grant.verify(&key(1).verifying_key()).is_ok());
    }

    /// Any single changed byte makes the grant unreadable or its signature invalid.
    #[test]
    fn a_changed_byte_never_verifies(b in any_body(), at in 0..GRANT_LEN, flip in 1u8..=255) {
        let issuer = key(1);
        let mut bytes = b.sign(&issuer).encode();
        bytes[at] ^= flip;
        if let Ok(changed) = Grant::decode(&bytes) {
            prop_assert!(changed.verify(&issuer.verifying_key()).is_err());
        }
    }

    /// Arbitrary input is an error or a grant, never a panic.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Grant::decode(&bytes);
        let _ = CourierProof::decode(&bytes);
    }

    /// The right length, version and kind, then anything: every field's check is reached.
    #[test]
    fn decoding_arbitrary_grant_bodies_never_panics(rest in proptest::collection::vec(any::<u8>(), GRANT_LEN - 2)) {
        let mut bytes = vec![seuil_proto::VERSION, b'G'];
        bytes.extend(rest);
        if let Ok(grant) = Grant::decode(&bytes) {
            prop_assert_eq!(grant.encode().to_vec(), bytes);
        }
    }
}
