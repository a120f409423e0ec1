//! Any bytes split into a grant, a proof, an attestation and a sync never open the lock.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seuil_lock::{Lock, LockConfig, LockState, Outcome};

fuzz_target!(|data: &[u8]| {
    // A fixed valid key (the Ed25519 base point's encoding) for the issuer and the camera.
    const KEY: [u8; 32] = [
        0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
        0x66, 0x66, 0x66, 0x66,
    ];
    let Ok(config) = LockConfig::new([1; 16], [2; 32]).with_issuer(*b"issuer-1", &KEY) else {
        return;
    };
    let Ok(config) = config.with_camera(&KEY) else {
        return;
    };
    let mut lock = Lock::new(config, LockState::default());
    let (head, rest) = data.split_at(data.len().min(8));
    let now = i64::from_le_bytes(head.try_into().unwrap_or([0; 8]));
    let parts: Vec<&[u8]> = rest.splitn(4, |&b| b == 0xff).collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or(&[]);
    let _ = lock.sync(part(3), now);
    lock.challenge(now);
    let out = lock.try_unlock(part(0), part(1), Some(part(2)), now);
    assert!(matches!(out, Outcome::Refused(_)), "random bytes opened the lock");
});
