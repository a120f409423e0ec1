//! A whole delivery through the domain: grant issuance, the lock deciding offline, the camera's
//! signed stream sealed in the vault, the visit's steps and the watchdog; then the same visit
//! with the camera jammed halfway.

mod common;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use seuil_delivery::alarms::{Alarm, Watchdog};
use seuil_delivery::camera::{Keep, PairedCamera, ingest};
use seuil_delivery::grants::{Approval, GrantFor, Issuer, Refused, Request, may_issue};
use seuil_delivery::visit::{Step, Visit};
use seuil_lock::{Lock, LockConfig, LockState, Outcome, Refusal};
use seuil_proto::{AttestationInfo, CourierProof, Permissions, SegmentInfo, VisitTag};
use seuil_vault::Vault;
use sha2::{Digest, Sha256};

const T0: i64 = 1_800_000_000_000;
const LOCK_ID: [u8; 16] = [0x10; 16];
const CAMERA_ID: [u8; 16] = [0xCA; 16];

struct World {
    _dir: tempfile::TempDir,
    clock: std::sync::Arc<seuil_vault::ManualClock>,
    vault: Vault,
    issuer: Issuer,
    lock: Lock,
    camera_key: SigningKey,
    camera: PairedCamera,
    courier_key: SigningKey,
    prev: [u8; 32],
    counter: u64,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(seuil_vault::ManualClock::new(T0));
    let (vault, customer) = common::vault_with_customer_at(dir.path(), clock.clone()).await;
    let issuer = Issuer {
        key: SigningKey::from_bytes(&[1; 32]),
        key_id: *b"issuer-1",
        next_sequence: 1,
    };
    let camera_key = SigningKey::from_bytes(&[3; 32]);
    let config = LockConfig::new(LOCK_ID, [0x55; 32])
        .with_issuer(issuer.key_id, issuer.key.verifying_key().as_bytes())
        .unwrap()
        .with_camera(camera_key.verifying_key().as_bytes())
        .unwrap();
    World {
        _dir: dir,
        clock,
        vault,
        issuer,
        lock: Lock::new(config, LockState::default()),
        camera: PairedCamera {
            id: CAMERA_ID,
            key: camera_key.verifying_key(),
            device: "camera-1".into(),
            subject: customer,
        },
        camera_key,
        courier_key: SigningKey::from_bytes(&[4; 32]),
        prev: [0; 32],
        counter: 0,
    }
}

impl World {
    /// The camera closes one second of footage starting at `start` and sends it.
    async fn second_of_footage(&mut self, start: i64) -> i64 {
        let footage = Bytes::from(vec![(self.counter % 251) as u8; 4096]);
        let seg = SegmentInfo {
            camera_id: CAMERA_ID,
            counter: self.counter,
            start,
            duration_ms: 1_000,
            prev_hash: self.prev,
            content_hash: Sha256::digest(&footage).into(),
            visit: Some(VisitTag {
                grant_id: [7; 16],
                challenge: [0; 32],
            }),
        }
        .sign(&self.camera_key);
        self.prev = seg.hash();
        self.counter += 1;
        // A segment arrives as it ends.
        self.clock.set(start + 1_000);
        let got = ingest(&self.vault, &self.camera, &seg.encode(), footage, &|_| {
            Keep::Visit
        })
        .await
        .unwrap();
        assert!(got.kept && got.flags.is_empty(), "{got:?}");
        got.newest_end
    }

    /// The courier's phone at the door: challenge, proof, and the camera's attestation.
    fn try_door(&mut self, grant: &seuil_proto::Grant, now: i64) -> Outcome {
        let challenge = self.lock.challenge(now);
        let proof = CourierProof::sign(grant, &challenge, &self.courier_key).encode();
        let attestation = AttestationInfo {
            camera_id: CAMERA_ID,
            challenge,
            at: now,
            newest_counter: self.counter,
            newest_hash: self.prev,
        }
        .sign(&self.camera_key)
        .encode();
        self.lock
            .try_unlock(&grant.encode(), &proof, Some(&attestation), now)
    }
}

#[tokio::test]
async fn a_whole_delivery_and_a_jammed_camera() {
    let mut w = world().await;
    let window = (T0, T0 + 30 * 60_000);
    let mut visit = Visit::default();
    let mut watchdog = Watchdog::new(5 * 60_000, 60_000);

    // The courier arrives; the camera is already streaming.
    let now = T0 + 60_000;
    visit.arrive(now).unwrap();
    let mut newest = None;
    for s in 0..3 {
        newest = Some(w.second_of_footage(now - 3_000 + s * 1_000).await);
    }
    let request = |newest: Option<i64>, now: i64| Request {
        approval: Approval::ThisOrder,
        window,
        assigned_courier: Some("courier-1"),
        courier: "courier-1",
        camera_newest_end: newest,
        now,
    };
    // A grant needs a live camera: not when its footage is stale.
    assert_eq!(
        may_issue(&request(newest, now + 5_000)),
        Err(Refused::CameraNotLive)
    );
    may_issue(&request(newest, now)).unwrap();
    let grant = w.issuer.issue(&GrantFor {
        lock_id: LOCK_ID,
        grant_id: [7; 16],
        courier_key: w.courier_key.verifying_key().to_bytes(),
        valid: window,
        epoch: 0,
        places: Permissions::DOOR,
        camera_key: w.camera_key.verifying_key().to_bytes(),
    });

    // Unlock, go in; the camera keeps sending.
    assert!(matches!(w.try_door(&grant, now), Outcome::Unlocked { .. }));
    visit.unlocked(now).unwrap();
    visit.entered().unwrap();
    for s in 0..5 {
        let t = now + s * 1_000;
        newest = Some(w.second_of_footage(t).await);
        assert!(watchdog.check(&visit, newest, t + 1_000).is_empty());
    }

    // The camera is jammed: nothing more arrives. Within 3 s of its last footage the
    // customer is alarmed.
    let last = newest.unwrap();
    assert!(watchdog.check(&visit, newest, last + 1_999).is_empty());
    let alarms = watchdog.check(&visit, newest, last + 2_000);
    assert_eq!(alarms, vec![Alarm::CameraSilent { since: last }]);

    // While the camera is silent no new grant is issued, so the only way in is the one
    // already used.
    assert_eq!(
        may_issue(&request(newest, last + 3_000)),
        Err(Refused::CameraNotLive)
    );

    // The courier leaves and relocks; a second entry with the same grant is refused.
    w.lock.relock(last + 10_000).unwrap();
    visit.relocked(last + 10_000).unwrap();
    assert_eq!(
        w.try_door(&grant, last + 20_000),
        Outcome::Refused(Refusal::Replayed)
    );
    visit.finish(last + 30_000).unwrap();
    assert_eq!(visit.step, Step::Done);
}
