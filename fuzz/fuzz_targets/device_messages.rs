//! Any bytes as each message a device sends or receives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seuil_proto::{Attestation, CourierProof, Grant, LockSync, Segment};

fuzz_target!(|data: &[u8]| {
    let _ = Grant::decode(data);
    let _ = CourierProof::decode(data);
    let _ = Segment::decode(data);
    let _ = Attestation::decode(data);
    let _ = LockSync::decode(data);
    let _ = seuil_lock::LockState::decode(data);
});
