//! Random sequences of everything a lock can be handed, checked against a model of the rules:
//! the lock opens exactly when a grant signed by its issuer, for it, unused, of an epoch not
//! revoked and inside its window by the lock's trusted time, comes with the courier's proof
//! over the current fresh challenge and, when the grant requires it, the camera's attestation
//! over it too. Clocks roll back, syncs are replayed, power is lost, bytes are flipped.

mod common;

use common::*;
use proptest::prelude::*;
use seuil_lock::{DEFAULT_CHALLENGE_TTL_MS, DEFAULT_SKEW_MS, Lock, LockState, Outcome};
use seuil_proto::{Grant, GrantBody, Permissions};

#[derive(Clone, Debug)]
enum Tamper {
    None,
    /// Signed by a key the lock does not trust.
    Forged,
    OtherLock,
    /// One bit of the encoded grant flipped.
    Flip(usize, u8),
}

#[derive(Clone, Debug)]
struct GrantSpec {
    courier: u8,
    sequence: u64,
    start_min: i64,
    minutes: i64,
    epoch: u32,
    camera: bool,
    tamper: Tamper,
}

#[derive(Clone, Debug)]
enum ProofKind {
    Honest,
    /// Signed by another courier's key.
    WrongKey,
    /// Over the challenge before the current one.
    OldChallenge,
    Garbage,
}

#[derive(Clone, Debug)]
enum AttestKind {
    Honest,
    OldChallenge,
    Missing,
    Garbage,
}

#[derive(Clone, Debug)]
enum Op {
    /// The lock's own clock moves, backwards too.
    Tick(i64),
    Challenge,
    Unlock {
        grant: usize,
        proof: ProofKind,
        attest: AttestKind,
    },
    Relock,
    Sync {
        at_min: i64,
        epoch_floor: u32,
    },
    PowerCycle,
}

fn grant_spec() -> impl Strategy<Value = GrantSpec> {
    let tamper = prop_oneof![
        6 => Just(Tamper::None),
        1 => Just(Tamper::Forged),
        1 => Just(Tamper::OtherLock),
        1 => (0usize..199, 0u8..8).prop_map(|(i, b)| Tamper::Flip(i, b)),
    ];
    (
        0u8..4,
        0u64..80,
        -60i64..90,
        1i64..60,
        0u32..3,
        any::<bool>(),
        tamper,
    )
        .prop_map(
            |(courier, sequence, start_min, minutes, epoch, camera, tamper)| GrantSpec {
                courier,
                sequence,
                start_min,
                minutes,
                epoch,
                camera,
                tamper,
            },
        )
}

fn op(grants: usize) -> impl Strategy<Value = Op> {
    let proof = prop_oneof![
        6 => Just(ProofKind::Honest),
        1 => Just(ProofKind::WrongKey),
        1 => Just(ProofKind::OldChallenge),
        1 => Just(ProofKind::Garbage),
    ];
    let attest = prop_oneof![
        6 => Just(AttestKind::Honest),
        1 => Just(AttestKind::OldChallenge),
        1 => Just(AttestKind::Missing),
        1 => Just(AttestKind::Garbage),
    ];
    prop_oneof![
        2 => (0i64..120).prop_map(|s| Op::Tick(s * 1000)),
        2 => (-20i64..30).prop_map(|m| Op::Tick(m * MINUTE / 2)),
        4 => Just(Op::Challenge),
        6 => (0..grants, proof, attest).prop_map(|(grant, proof, attest)| Op::Unlock { grant, proof, attest }),
        1 => Just(Op::Relock),
        1 => (-60i64..120, 0u32..4).prop_map(|(at_min, epoch_floor)| Op::Sync { at_min, epoch_floor }),
        1 => Just(Op::PowerCycle),
    ]
}

fn build(spec: &GrantSpec) -> (GrantBody, Vec<u8>, bool) {
    let mut body = grant_body(spec.courier, spec.sequence);
    body.grant_id = [spec.courier; 16];
    body.grant_id[..8].copy_from_slice(&spec.sequence.to_be_bytes());
    body.not_before = T0 + spec.start_min * MINUTE;
    body.not_after = body.not_before + spec.minutes * MINUTE;
    body.epoch = spec.epoch;
    body.permissions = if spec.camera {
        Permissions::DOOR | Permissions::CAMERA_PROOF_REQUIRED
    } else {
        Permissions::DOOR
    };
    let (bytes, genuine) = match spec.tamper {
        Tamper::None => (sign(body).encode().to_vec(), true),
        Tamper::Forged => (body.sign(&key(77)).encode().to_vec(), false),
        Tamper::OtherLock => {
            let mut other = body;
            other.lock_id = [0xEE; 16];
            (sign(other).encode().to_vec(), false)
        }
        Tamper::Flip(i, bit) => {
            let mut bytes = sign(body).encode().to_vec();
            bytes[i] ^= 1 << bit;
            (bytes, false)
        }
    };
    (body, bytes, genuine)
}

/// The rules, written plainly.
#[derive(Default)]
struct Model {
    clock: i64,
    offset: i64,
    floor: i64,
    last_sync: i64,
    epoch_floor: u32,
    used: Vec<u64>,
    /// The current challenge and when it was issued, if not yet used.
    pending: Option<([u8; 32], i64)>,
    previous: Option<[u8; 32]>,
}

impl Model {
    fn observe(&mut self) -> i64 {
        self.floor = self.floor.max(self.clock + self.offset);
        self.floor
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_lock_opens_exactly_when_the_rules_say(
        specs in proptest::collection::vec(grant_spec(), 1..8),
        ops in proptest::collection::vec(op(8), 1..40),
    ) {
        let grants: Vec<_> = specs.iter().map(build).collect();
        let mut lock = lock();
        let mut m = Model { clock: T0, ..Model::default() };
        for op in ops {
            match op {
                Op::Tick(dt) => m.clock += dt,
                Op::Challenge => {
                    let c = lock.challenge(m.clock);
                    let t = m.observe();
                    m.previous = m.pending.map(|(p, _)| p).or(m.previous);
                    m.pending = Some((c, t));
                }
                Op::Unlock { grant, proof, attest } => {
                    let (body, bytes, genuine) = &grants[grant % grants.len()];
                    let spec_courier = specs[grant % specs.len()].courier;
                    let t = m.observe();
                    let pending = m.pending.take();
                    let fresh = pending.filter(|(_, at)| t - at <= DEFAULT_CHALLENGE_TTL_MS);
                    let challenge = pending.map(|(c, _)| c).unwrap_or([0; 32]);
                    let old = m.previous.unwrap_or([1; 32]);
                    let grant_for_proof = Grant::decode(bytes).unwrap_or_else(|_| sign(*body));
                    let proof_bytes = match proof {
                        ProofKind::Honest => common::proof(&grant_for_proof, &challenge, &courier(spec_courier)).to_vec(),
                        ProofKind::WrongKey => common::proof(&grant_for_proof, &challenge, &key(200)).to_vec(),
                        ProofKind::OldChallenge => common::proof(&grant_for_proof, &old, &courier(spec_courier)).to_vec(),
                        ProofKind::Garbage => vec![0xAB; 40],
                    };
                    let attest_bytes = match attest {
                        AttestKind::Honest => Some(common::attest(&challenge, m.clock).to_vec()),
                        AttestKind::OldChallenge => Some(common::attest(&old, m.clock).to_vec()),
                        AttestKind::Missing => None,
                        AttestKind::Garbage => Some(vec![0xCD; 12]),
                    };
                    let out = lock.try_unlock(bytes, &proof_bytes, attest_bytes.as_deref(), m.clock);

                    let camera_ok = !body.permissions.contains(Permissions::CAMERA_PROOF_REQUIRED)
                        || matches!(attest, AttestKind::Honest);
                    let should_open = *genuine
                        && fresh.is_some()
                        && matches!(proof, ProofKind::Honest)
                        && camera_ok
                        && body.epoch >= m.epoch_floor
                        && t >= body.not_before - DEFAULT_SKEW_MS
                        && t <= body.not_after + DEFAULT_SKEW_MS
                        && !m.used.contains(&body.sequence)
                        && m.used.iter().all(|&u| u < body.sequence + 64);
                    match out {
                        Outcome::Unlocked { grant_id, .. } => {
                            prop_assert!(should_open, "opened against the rules: {body:?} at {t}");
                            prop_assert_eq!(grant_id, body.grant_id);
                            m.used.push(body.sequence);
                        }
                        Outcome::Refused(why) => {
                            prop_assert!(!should_open, "refused an honest unlock: {why} ({body:?} at {t})");
                        }
                    }
                }
                Op::Relock => {
                    lock.relock(m.clock);
                    m.observe();
                }
                Op::Sync { at_min, epoch_floor } => {
                    let time = T0 + at_min * MINUTE;
                    let accepted = lock.sync(&sync(time, epoch_floor), m.clock).is_ok();
                    prop_assert_eq!(accepted, time > m.last_sync);
                    if accepted {
                        m.last_sync = time;
                        m.offset = time - m.clock;
                        m.epoch_floor = m.epoch_floor.max(epoch_floor);
                    }
                    m.observe();
                }
                Op::PowerCycle => {
                    let flash = lock.state().encode();
                    lock = Lock::new(config(), LockState::decode(&flash).expect("state decodes"));
                    m.previous = m.pending.map(|(p, _)| p).or(m.previous);
                    m.pending = None;
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_open_the_lock_nor_panic(
        grant in proptest::collection::vec(any::<u8>(), 0..260),
        proof in proptest::collection::vec(any::<u8>(), 0..200),
        attest in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        sync_bytes in proptest::collection::vec(any::<u8>(), 0..120),
        now in any::<i64>(),
    ) {
        let mut lock = lock();
        let _ = lock.sync(&sync_bytes, now);
        lock.challenge(now);
        let out = lock.try_unlock(&grant, &proof, attest.as_deref(), now);
        prop_assert!(matches!(out, Outcome::Refused(_)));
    }

    #[test]
    fn state_bytes_round_trip_and_any_flip_is_caught(
        challenges in any::<u64>(),
        floor in any::<i64>(),
        epoch in any::<u32>(),
        at in 0usize..seuil_lock::STATE_LEN,
        bit in 0u8..8,
    ) {
        let mut lock = lock();
        for _ in 0..(challenges % 4) {
            lock.challenge(floor);
        }
        let mut state = *lock.state();
        state.time_floor = floor;
        state.epoch_floor = epoch;
        state.challenges = challenges;
        let bytes = state.encode();
        prop_assert_eq!(LockState::decode(&bytes), Ok(state));
        let mut flipped = bytes;
        flipped[at] ^= 1 << bit;
        prop_assert!(LockState::decode(&flipped).is_err());
    }
}

/// Issuer `n` of a rotation: its key id and signing key.
fn rotating_issuer(n: u8) -> ([u8; 8], ed25519_dalek::SigningKey) {
    let mut id = *b"rotate-0";
    id[7] = b'0' + n;
    (id, key(40 + n))
}

/// A lock that trusts the issuers in `trusted` (at most four of them), with `state`.
fn lock_trusting(trusted: &[u8], state: LockState) -> Lock {
    let mut config = seuil_lock::LockConfig::new(LOCK_ID, [0x55; 32])
        .with_camera(camera().verifying_key().as_bytes())
        .expect("camera key");
    for &n in trusted {
        let (id, k) = rotating_issuer(n);
        config = config
            .with_issuer(id, k.verifying_key().as_bytes())
            .expect("issuer key");
    }
    Lock::new(config, state)
}

#[derive(Clone, Debug)]
enum RotationOp {
    /// The lock is told to trust these issuers from now on (a rotation), across a power cycle.
    Trust(Vec<u8>),
    /// A genuine grant of issuer `issuer` with number `sequence` is tried.
    Unlock { issuer: u8, sequence: u64 },
}

fn rotation_op() -> impl Strategy<Value = RotationOp> {
    prop_oneof![
        1 => proptest::collection::btree_set(0u8..7, 1..=4)
            .prop_map(|s| RotationOp::Trust(s.into_iter().collect())),
        5 => (0u8..7, 0u64..12).prop_map(|(issuer, sequence)| RotationOp::Unlock { issuer, sequence }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Seven issuers over time and four replay slots: whatever the rotations, no grant ever
    /// opens the door twice, and a trusted issuer's new grant still opens it. Each grant is
    /// signed once, valid from when it is first handed over; six minutes pass between steps.
    #[test]
    fn more_issuers_than_replay_slots_never_open_a_grant_twice(
        first in proptest::collection::btree_set(0u8..7, 1..=4),
        ops in proptest::collection::vec(rotation_op(), 1..60),
    ) {
        let mut trusted: Vec<u8> = first.into_iter().collect();
        let mut lock = lock_trusting(&trusted, LockState::default());
        let mut signed: std::collections::HashMap<(u8, u64), Grant> = Default::default();
        let mut opened: Vec<(u8, u64)> = Vec::new();
        let mut now = T0;
        for op in ops {
            now += 6 * MINUTE;
            match op {
                RotationOp::Trust(next) => {
                    let flash = lock.state().encode();
                    trusted = next;
                    lock = lock_trusting(&trusted, LockState::decode(&flash).expect("state decodes"));
                }
                RotationOp::Unlock { issuer, sequence } => {
                    let new = !signed.contains_key(&(issuer, sequence));
                    let grant = *signed.entry((issuer, sequence)).or_insert_with(|| {
                        let (id, k) = rotating_issuer(issuer);
                        let mut body = grant_body(1, sequence);
                        body.issuer_key_id = id;
                        body.grant_id[..8].copy_from_slice(&sequence.to_be_bytes());
                        body.grant_id[8] = issuer;
                        body.not_before = now;
                        body.not_after = now + 30 * MINUTE;
                        body.sign(&k)
                    });
                    let out = attempt(&mut lock, &grant, 1, now);
                    let above_all_used = !opened.iter().any(|&(i, s)| i == issuer && s >= sequence);
                    match out {
                        Outcome::Unlocked { .. } => {
                            prop_assert!(trusted.contains(&issuer), "an untrusted issuer opened");
                            prop_assert!(
                                !opened.contains(&(issuer, sequence)),
                                "issuer {issuer}'s grant {sequence} opened twice"
                            );
                            opened.push((issuer, sequence));
                        }
                        Outcome::Refused(why) => {
                            // A grant signed just now, numbered above everything its issuer
                            // used: refusing it would lock a trusted issuer out.
                            prop_assert!(
                                !(trusted.contains(&issuer) && new && above_all_used),
                                "refused a new grant of a trusted issuer: {why}"
                            );
                        }
                    }
                    lock.relock(now);
                }
            }
        }
    }
}
