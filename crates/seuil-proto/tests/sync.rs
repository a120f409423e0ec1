//! Lock syncs: round trips, and any changed byte fails to decode or to verify.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use seuil_proto::{DecodeError, LockSync, SYNC_LEN, SyncInfo, VerifyError};

fn issuer() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

fn sync() -> LockSync {
    SyncInfo {
        lock_id: [4; 16],
        time: 1_800_000_000_000,
        epoch_floor: 7,
        issuer_key_id: *b"issuer-1",
    }
    .sign(&issuer())
}

#[test]
fn a_sync_round_trips_and_only_its_issuer_verifies() {
    let bytes = sync().encode();
    assert_eq!(bytes.len(), SYNC_LEN);
    let back = LockSync::decode(&bytes).expect("decode");
    assert_eq!(back, sync());
    back.verify(&issuer().verifying_key()).expect("verifies");
    let other = SigningKey::from_bytes(&[2; 32]).verifying_key();
    assert_eq!(
        back.verify(&other),
        Err(VerifyError::BadSignature { what: "lock sync" })
    );
    assert!(matches!(
        LockSync::decode(&bytes[..SYNC_LEN - 1]),
        Err(DecodeError::Truncated {
            what: "lock sync",
            ..
        })
    ));
}

proptest! {
    #[test]
    fn any_changed_byte_fails(at in 0..SYNC_LEN, bit in 0u8..8) {
        let mut bytes = sync().encode();
        bytes[at] ^= 1 << bit;
        let verified = LockSync::decode(&bytes)
            .map_err(|_| ())
            .and_then(|s| s.verify(&issuer().verifying_key()).map_err(|_| ()));
        prop_assert!(verified.is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = LockSync::decode(&bytes);
    }
}
