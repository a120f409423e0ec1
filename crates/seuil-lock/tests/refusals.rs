//! Every way an unlock can be wrong is refused, with its reason; the honest one opens once.

mod common;

use common::*;
use seuil_lock::{Lock, LockState, Outcome, Refusal, STATE_LEN, StateError};
use seuil_proto::{DecodeError, Permissions, VerifyError};

fn refused(outcome: Outcome) -> Refusal {
    match outcome {
        Outcome::Refused(r) => r,
        Outcome::Unlocked { .. } => panic!("the lock opened"),
    }
}

#[test]
fn an_honest_grant_opens_once_and_not_after_relock() {
    let mut lock = lock();
    let grant = sign(grant_body(1, 1));
    let out = attempt(&mut lock, &grant, 1, T0 + MINUTE);
    assert_eq!(
        out,
        Outcome::Unlocked {
            grant_id: [1; 16],
            places: grant.body.permissions
        }
    );
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0 + 2 * MINUTE)),
        Refusal::Replayed,
        "a second entry before relock"
    );
    let relocked = lock.relock(T0 + 3 * MINUTE).expect("a visit was open");
    assert_eq!(relocked.grant_id, [1; 16]);
    assert_eq!(relocked.open_ms, 2 * MINUTE);
    assert_eq!(lock.relock(T0 + 4 * MINUTE), None, "nothing left to close");
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0 + 5 * MINUTE)),
        Refusal::Replayed,
        "reused after relock"
    );
}

#[test]
fn a_forged_grant_is_refused() {
    let mut lock = lock();
    let forged = grant_body(1, 1).sign(&key(66));
    assert_eq!(refused(attempt(&mut lock, &forged, 1, T0)), Refusal::Forged);
    // Altered after signing: a longer window.
    let mut altered = sign(grant_body(1, 2));
    altered.body.not_after += 24 * 60 * MINUTE;
    assert_eq!(
        refused(attempt(&mut lock, &altered, 1, T0)),
        Refusal::Forged
    );
}

#[test]
fn grants_outside_their_window_are_refused() {
    let mut lock = lock();
    let grant = sign(grant_body(1, 1));
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0 - 6 * MINUTE)),
        Refusal::NotYetValid
    );
    let mut lock = common::lock();
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0 + 36 * MINUTE)),
        Refusal::Expired
    );
}

#[test]
fn five_minutes_of_skew_are_tolerated() {
    let grant = sign(grant_body(1, 1));
    let mut early = lock();
    assert!(matches!(
        attempt(&mut early, &grant, 1, T0 - 4 * MINUTE),
        Outcome::Unlocked { .. }
    ));
    let mut late = lock();
    assert!(matches!(
        attempt(&mut late, &grant, 1, T0 + 34 * MINUTE),
        Outcome::Unlocked { .. }
    ));
}

#[test]
fn a_grant_for_another_lock_is_refused() {
    let mut lock = lock();
    let mut body = grant_body(1, 1);
    body.lock_id = [0x99; 16];
    assert_eq!(
        refused(attempt(&mut lock, &sign(body), 1, T0)),
        Refusal::OtherLock
    );
}

#[test]
fn an_unknown_issuer_is_refused() {
    let mut lock = lock();
    let mut body = grant_body(1, 1);
    body.issuer_key_id = *b"stranger";
    assert_eq!(
        refused(attempt(&mut lock, &sign(body), 1, T0)),
        Refusal::UnknownIssuer
    );
}

#[test]
fn a_revoked_epoch_is_refused() {
    let mut lock = lock();
    lock.sync(&sync(T0, 5), T0).expect("sync");
    let mut body = grant_body(1, 1);
    body.epoch = 4;
    assert_eq!(
        refused(attempt(&mut lock, &sign(body), 1, T0)),
        Refusal::Revoked { epoch: 4, floor: 5 }
    );
    body.epoch = 5;
    body.sequence = 2;
    assert!(matches!(
        attempt(&mut lock, &sign(body), 1, T0),
        Outcome::Unlocked { .. }
    ));
}

#[test]
fn replays_and_old_sequences_are_refused() {
    let mut lock = lock();
    for seq in [5, 3, 4] {
        let g = sign(grant_body(1, seq));
        assert!(matches!(
            attempt(&mut lock, &g, 1, T0),
            Outcome::Unlocked { .. }
        ));
    }
    let again = sign(grant_body(1, 3));
    assert_eq!(
        refused(attempt(&mut lock, &again, 1, T0)),
        Refusal::Replayed
    );
    let far = sign(grant_body(1, 5 + 64));
    assert!(matches!(
        attempt(&mut lock, &far, 1, T0),
        Outcome::Unlocked { .. }
    ));
    let old = sign(grant_body(1, 2));
    assert_eq!(refused(attempt(&mut lock, &old, 1, T0)), Refusal::TooOld);
}

#[test]
fn a_proof_over_a_stale_challenge_is_refused() {
    let mut lock = lock();
    let grant = sign(grant_body(1, 1));
    let old = lock.challenge(T0);
    let _fresh = lock.challenge(T0);
    let p = proof(&grant, &old, &courier(1));
    let a = attest(&old, T0);
    assert_eq!(
        refused(lock.try_unlock(&grant.encode(), &p, Some(&a), T0)),
        Refusal::StaleChallenge
    );
    // The attempt used the fresh challenge up too.
    assert_eq!(
        refused(lock.try_unlock(&grant.encode(), &p, Some(&a), T0)),
        Refusal::NoChallenge
    );
    // A challenge past its time to live.
    let late = lock.challenge(T0);
    let p = proof(&grant, &late, &courier(1));
    let a = attest(&late, T0);
    assert_eq!(
        refused(lock.try_unlock(&grant.encode(), &p, Some(&a), T0 + 2 * MINUTE)),
        Refusal::NoChallenge
    );
}

#[test]
fn a_proof_by_another_key_or_for_another_grant_is_refused() {
    let mut lock = lock();
    let grant = sign(grant_body(1, 1));
    let challenge = lock.challenge(T0);
    let thief = proof(&grant, &challenge, &courier(2));
    let a = attest(&challenge, T0);
    assert_eq!(
        refused(lock.try_unlock(&grant.encode(), &thief, Some(&a), T0)),
        Refusal::BadProof(VerifyError::BadSignature {
            what: "courier proof"
        })
    );
    let other = sign(grant_body(2, 2));
    let challenge = lock.challenge(T0);
    let p = proof(&other, &challenge, &courier(2));
    let a = attest(&challenge, T0);
    assert_eq!(
        refused(lock.try_unlock(&grant.encode(), &p, Some(&a), T0)),
        Refusal::BadProof(VerifyError::OtherGrant)
    );
}

#[test]
fn the_camera_attestation_is_required_when_the_grant_says_so() {
    let mut lock = lock();
    let grant = sign(grant_body(1, 1));
    let challenge = lock.challenge(T0);
    let p = proof(&grant, &challenge, &courier(1));
    assert_eq!(
        refused(lock.try_unlock(&grant.encode(), &p, None, T0)),
        Refusal::CameraProofMissing
    );
    // An attestation over an old challenge: a frozen or replaying camera.
    let old = lock.challenge(T0);
    let challenge = lock.challenge(T0);
    let p = proof(&grant, &challenge, &courier(1));
    let a = attest(&old, T0);
    assert_eq!(
        refused(lock.try_unlock(&grant.encode(), &p, Some(&a), T0)),
        Refusal::BadAttestation(VerifyError::OtherChallenge)
    );
    // Without the camera proof permission, none is needed.
    let mut body = grant_body(1, 2);
    body.permissions = Permissions::GARAGE;
    let grant = sign(body);
    let challenge = lock.challenge(T0);
    let p = proof(&grant, &challenge, &courier(1));
    assert!(matches!(
        lock.try_unlock(&grant.encode(), &p, None, T0),
        Outcome::Unlocked { .. }
    ));
}

#[test]
fn a_lock_without_a_camera_refuses_grants_that_need_one() {
    let config = seuil_lock::LockConfig::new(LOCK_ID, [0x55; 32])
        .with_issuer(ISSUER_ID, issuer().verifying_key().as_bytes())
        .expect("issuer");
    let mut lock = Lock::new(config, LockState::default());
    let grant = sign(grant_body(1, 1));
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0)),
        Refusal::NoCamera
    );
}

#[test]
fn malformed_messages_say_what_is_wrong() {
    let mut lock = lock();
    let grant = sign(grant_body(1, 1)).encode();
    lock.challenge(T0);
    let r = refused(lock.try_unlock(&grant[..50], &[0; 130], None, T0));
    assert!(
        matches!(
            r,
            Refusal::Malformed(DecodeError::Truncated { what: "grant", .. })
        ),
        "{r:?}"
    );
    assert!(r.to_string().contains("truncated"), "{r}");
}

#[test]
fn a_rolled_back_clock_does_not_revive_an_expired_grant() {
    let mut lock = lock();
    let grant = sign(grant_body(1, 1));
    // The lock saw the time after the window, then its clock is set back into it.
    lock.challenge(T0 + 60 * MINUTE);
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0 + MINUTE)),
        Refusal::Expired
    );
    // A replayed old sync does not move time back either.
    let mut lock = common::lock();
    lock.sync(&sync(T0 + 60 * MINUTE, 0), T0).expect("sync");
    assert_eq!(
        lock.sync(&sync(T0, 0), T0),
        Err(Refusal::StaleSync),
        "an older sync"
    );
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0)),
        Refusal::Expired,
        "the lock's clock reads T0, but the sync said an hour later"
    );
}

#[test]
fn syncs_must_be_signed_by_the_issuer_for_this_lock() {
    let mut lock = lock();
    let mut forged = sync_message(T0, 9);
    forged.info.epoch_floor = 10;
    assert_eq!(lock.sync(&forged.encode(), T0), Err(Refusal::Forged));
    let mut other = sync_message(T0, 9);
    other.info.lock_id = [0; 16];
    assert_eq!(lock.sync(&other.encode(), T0), Err(Refusal::OtherLock));
    assert_eq!(lock.state().epoch_floor, 0);
}

#[test]
fn power_loss_mid_visit_keeps_the_grant_used() {
    let mut lock = lock();
    let grant = sign(grant_body(1, 1));
    assert!(matches!(
        attempt(&mut lock, &grant, 1, T0),
        Outcome::Unlocked { .. }
    ));
    let flash = lock.state().encode();
    assert_eq!(flash.len(), STATE_LEN);
    // The power goes out: only the flash survives.

    let state = LockState::decode(&flash).expect("state decodes");
    let mut lock = Lock::new(config(), state);
    assert_eq!(lock.state().visit.map(|v| v.grant_id), Some([1; 16]));
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0 + MINUTE)),
        Refusal::Replayed
    );
    assert!(lock.relock(T0 + 2 * MINUTE).is_some(), "the visit survives");
    // A challenge asked for before the power went out is gone with it.
    let mut lock = Lock::new(config(), LockState::decode(&flash).expect("decode"));
    let g2 = sign(grant_body(2, 2));
    let p = proof(&g2, &[0; 32], &courier(2));
    assert_eq!(
        refused(lock.try_unlock(&g2.encode(), &p, None, T0)),
        Refusal::NoChallenge
    );
}

#[test]
fn a_corrupt_state_is_refused_not_trusted() {
    let mut flash = lock().state().encode();
    flash[20] ^= 1;
    assert_eq!(LockState::decode(&flash), Err(StateError::Checksum));
    assert_eq!(
        LockState::decode(&flash[..10]),
        Err(StateError::Length { got: 10 })
    );
}

#[test]
fn challenges_never_repeat_even_across_restarts() {
    let mut lock = lock();
    let a = lock.challenge(T0);
    let b = lock.challenge(T0);
    assert_ne!(a, b);
    let mut again = Lock::new(config(), *lock.state());
    let c = again.challenge(T0);
    assert!(c != a && c != b);
}

#[test]
fn small_order_keys_are_refused_at_configuration() {
    use seuil_lock::{ConfigError, LockConfig};
    // The identity point: a valid encoding, but anyone could sign for it.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    let config = || LockConfig::new([7; 16], [9; 32]);
    assert_eq!(
        config().with_issuer(*b"weak-key", &weak).err(),
        Some(ConfigError::BadIssuerKey)
    );
    assert_eq!(
        config().with_camera(&weak).err(),
        Some(ConfigError::BadCameraKey)
    );
}

/// A lock whose four replay slots are held by issuers it no longer trusts (a state from
/// before a key rotation), and that now trusts `ISSUER_ID`.
fn lock_with_retired_slots() -> Lock {
    let mut state = LockState::default();
    for (n, slot) in state.replay.iter_mut().enumerate() {
        slot.key_id = *b"retired0";
        slot.key_id[7] = b'0' + n as u8;
        slot.in_use = true;
    }
    Lock::new(config(), state)
}

#[test]
fn replay_slots_of_retired_issuers_are_reused_and_a_grant_still_opens_once() {
    let mut lock = lock_with_retired_slots();
    let grant = sign(grant_body(1, 1));
    assert!(matches!(
        attempt(&mut lock, &grant, 1, T0 + MINUTE),
        Outcome::Unlocked { .. }
    ));
    lock.relock(T0 + 2 * MINUTE);
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0 + 3 * MINUTE)),
        Refusal::Replayed,
        "the lock had no slot for its issuer and forgot the grant was used"
    );
    // Across a power cycle too.
    let mut lock = Lock::new(config(), *lock.state());
    assert_eq!(
        refused(attempt(&mut lock, &grant, 1, T0 + 4 * MINUTE)),
        Refusal::Replayed
    );
}

#[test]
fn an_issuer_trusted_again_after_losing_its_slot_cannot_replay_its_old_grants() {
    let mut lock = lock();
    let old = sign(grant_body(1, 1));
    assert!(matches!(
        attempt(&mut lock, &old, 1, T0 + MINUTE),
        Outcome::Unlocked { .. }
    ));
    lock.relock(T0 + MINUTE);
    // Rotations: four other issuers, one at a time, take every slot from ISSUER_ID.
    let mut at = T0 + MINUTE;
    let mut state = *lock.state();
    for n in 0..4u8 {
        let mut id = *b"rotate-0";
        id[7] = b'0' + n;
        let k = key(40 + n);
        let config = seuil_lock::LockConfig::new(LOCK_ID, [0x55; 32])
            .with_issuer(id, k.verifying_key().as_bytes())
            .unwrap()
            .with_camera(camera().verifying_key().as_bytes())
            .unwrap();
        let mut rotated = Lock::new(config, state);
        at += MINUTE;
        let mut body = grant_body(2, 1);
        body.issuer_key_id = id;
        body.not_before = at;
        body.not_after = at + 10 * MINUTE;
        assert!(matches!(
            attempt(&mut rotated, &body.sign(&k), 2, at),
            Outcome::Unlocked { .. }
        ));
        rotated.relock(at);
        state = *rotated.state();
    }
    assert!(state.replay.iter().all(|s| s.key_id != ISSUER_ID));
    // ISSUER_ID is trusted again: its used grant must not open a second time.
    let mut back = Lock::new(config(), state);
    assert_eq!(
        refused(attempt(&mut back, &old, 1, at + MINUTE)),
        Refusal::TooOld
    );
    // Its grants made after the slots were reset open.
    let mut fresh = grant_body(1, 2);
    fresh.not_before = at + 6 * MINUTE;
    fresh.not_after = at + 20 * MINUTE;
    assert!(matches!(
        attempt(&mut back, &sign(fresh), 1, at + 7 * MINUTE),
        Outcome::Unlocked { .. }
    ));
}

#[test]
fn a_version_1_state_still_decodes() {
    let mut lock = lock();
    assert!(matches!(
        attempt(&mut lock, &sign(grant_body(1, 1)), 1, T0 + MINUTE),
        Outcome::Unlocked { .. }
    ));
    let v2 = lock.state().encode();
    // The same state as version 1 wrote it: no "slots reset at", its own checksum.
    let mut v1 = Vec::new();
    v1.push(1u8);
    v1.extend_from_slice(&v2[1..38]);
    v1.extend_from_slice(&v2[46..STATE_LEN - 8]);
    let sum = <sha2::Sha256 as sha2::Digest>::digest(&v1);
    v1.extend_from_slice(&sum[..8]);
    let decoded = LockState::decode(&v1).expect("a version 1 state decodes");
    assert_eq!(decoded, *lock.state());
}
