//! A paired lock, its issuer, a camera and couriers, as the tests need them.

#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use seuil_lock::{Lock, LockConfig, LockState};
use seuil_proto::{
    ATTESTATION_LEN, AttestationInfo, CourierProof, Grant, GrantBody, LockSync, PROOF_LEN,
    Permissions, SYNC_LEN, SyncInfo, key_hash,
};

pub const LOCK_ID: [u8; 16] = [0x10; 16];
pub const ISSUER_ID: [u8; 8] = *b"issuer-1";
pub const T0: i64 = 1_800_000_000_000;
pub const MINUTE: i64 = 60_000;

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn issuer() -> SigningKey {
    key(1)
}

pub fn camera() -> SigningKey {
    key(3)
}

pub fn courier(n: u8) -> SigningKey {
    key(100u8.wrapping_add(n))
}

pub fn config() -> LockConfig {
    LockConfig::new(LOCK_ID, [0x55; 32])
        .with_issuer(ISSUER_ID, issuer().verifying_key().as_bytes())
        .expect("issuer key")
        .with_camera(camera().verifying_key().as_bytes())
        .expect("camera key")
}

pub fn lock() -> Lock {
    Lock::new(config(), LockState::default())
}

/// A door grant for courier `n`, valid from `T0` for 30 minutes, with a camera proof.
pub fn grant_body(n: u8, sequence: u64) -> GrantBody {
    GrantBody {
        lock_id: LOCK_ID,
        grant_id: [n; 16],
        courier_key: courier(n).verifying_key().to_bytes(),
        not_before: T0,
        not_after: T0 + 30 * MINUTE,
        epoch: 0,
        sequence,
        permissions: Permissions::DOOR
            | Permissions::RELOCK_REQUIRED
            | Permissions::CAMERA_PROOF_REQUIRED,
        camera_key_hash: key_hash(camera().verifying_key().as_bytes()),
        issuer_key_id: ISSUER_ID,
    }
}

pub fn sign(body: GrantBody) -> Grant {
    body.sign(&issuer())
}

pub fn proof(grant: &Grant, challenge: &[u8; 32], courier: &SigningKey) -> [u8; PROOF_LEN] {
    CourierProof::sign(grant, challenge, courier).encode()
}

pub fn attest(challenge: &[u8; 32], at: i64) -> [u8; ATTESTATION_LEN] {
    AttestationInfo {
        camera_id: [0x33; 16],
        challenge: *challenge,
        at,
        newest_counter: 7,
        newest_hash: [0x44; 32],
    }
    .sign(&camera())
    .encode()
}

pub fn sync(time: i64, epoch_floor: u32) -> [u8; SYNC_LEN] {
    SyncInfo {
        lock_id: LOCK_ID,
        time,
        epoch_floor,
        issuer_key_id: ISSUER_ID,
    }
    .sign(&issuer())
    .encode()
}

/// A whole honest attempt at time `now`: challenge, proof by the grant's courier, attestation.
pub fn attempt(lock: &mut Lock, grant: &Grant, courier_n: u8, now: i64) -> seuil_lock::Outcome {
    let challenge = lock.challenge(now);
    let p = proof(grant, &challenge, &courier(courier_n));
    let a = attest(&challenge, now);
    lock.try_unlock(&grant.encode(), &p, Some(&a), now)
}

pub fn sync_message(time: i64, epoch_floor: u32) -> LockSync {
    LockSync::decode(&sync(time, epoch_floor)).expect("sync decodes")
}
