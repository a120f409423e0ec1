//! The attacks the delivery service exists to stop, played against the domain with a real
//! vault and the real lock: a decline ignored, a delivery that yields many grants, grants a
//! called-off visit leaves opening an offline lock, an abort that silences the watch on an
//! open door, disputed footage deleted, footage of a re-paired camera left behind, and a
//! courier reading another courier's delivery.

mod common;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use seuil_delivery::alarms::Alarm;
use seuil_delivery::camera::{FOOTAGE, Keep, PairedCamera, ingest};
use seuil_delivery::clips;
use seuil_delivery::deliveries::{
    self, Delivery, DeliveryError, GrantState, LockEvent, NewDelivery, Place, Reported,
};
use seuil_delivery::grants::{Approval, Refused, Rules};
use seuil_delivery::home::{self, Home};
use seuil_delivery::visit::{RECORDING_MARGIN_MS, Step};
use seuil_lock::{Lock, LockConfig, LockState, Outcome, Refusal};
use seuil_proto::{AttestationInfo, CourierProof, Grant, SegmentInfo, camera_id};
use seuil_store::Query;
use seuil_vault::{Actor, ManualClock, Outcome as Audited, Vault};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const T0: i64 = 1_800_000_000_000;
const MINUTE: i64 = 60_000;

struct Camera {
    key: SigningKey,
    paired: PairedCamera,
    prev: [u8; 32],
    counter: u64,
}

impl Camera {
    fn new(seed: u8, customer: &str) -> Camera {
        let key = SigningKey::from_bytes(&[seed; 32]);
        Camera {
            paired: PairedCamera {
                id: camera_id(key.verifying_key().as_bytes()),
                key: key.verifying_key(),
                device: format!("camera-{seed}"),
                subject: customer.to_owned(),
            },
            key,
            prev: [0; 32],
            counter: 0,
        }
    }

    fn stream(&self) -> String {
        hex::encode(self.paired.id)
    }
}

struct World {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    vault: Vault,
    customer: String,
    rules: Rules,
    camera: Camera,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let (vault, customer) = common::vault_with_customer_at(dir.path(), clock.clone()).await;
    let camera = Camera::new(22, &customer);
    let lock_key = SigningKey::from_bytes(&[21; 32]);
    let h = Home {
        lock_device: "lock-1".into(),
        lock_key: hex::encode(lock_key.verifying_key().as_bytes()),
        camera_device: camera.paired.device.clone(),
        camera_key: hex::encode(camera.key.verifying_key().as_bytes()),
        relock_within_s: 300,
        epoch: 1,
        standing_approval: None,
        lock_epoch_floor: 0,
    };
    let me = Actor::Subject(customer.clone());
    home::save(&vault, &me, &customer, &h, None).await.unwrap();
    World {
        _dir: dir,
        clock,
        vault,
        customer,
        rules: Rules::default(),
        camera,
    }
}

impl World {
    fn me(&self) -> Actor {
        Actor::Subject(self.customer.clone())
    }

    async fn home(&self) -> Home {
        home::load(&self.vault, &self.me(), &self.customer)
            .await
            .unwrap()
            .unwrap()
            .0
    }

    /// A delivery for today, assigned to courier-1.
    async fn delivery(&self) -> Delivery {
        let now = self.vault.now();
        deliveries::create(
            &self.vault,
            &self.rules,
            &Actor::Operator("op-1".into()),
            NewDelivery {
                customer: self.customer.clone(),
                order: "a parcel".into(),
                window: (now - MINUTE, now + 4 * 60 * MINUTE),
                places: vec![Place::Door],
                courier: Some("courier-1".into()),
            },
        )
        .await
        .unwrap()
    }

    /// The camera closes the second ending now and sends it; kept as the server would keep
    /// footage outside any visit: a 30 s buffer.
    async fn second_of_footage(&mut self) {
        let now = self.vault.now();
        let cam = &mut self.camera;
        let footage = Bytes::from(vec![(cam.counter % 251) as u8; 2048]);
        let seg = SegmentInfo {
            camera_id: cam.paired.id,
            counter: cam.counter,
            start: now - 1_000,
            duration_ms: 1_000,
            prev_hash: cam.prev,
            content_hash: Sha256::digest(&footage).into(),
            visit: None,
        }
        .sign(&cam.key);
        cam.prev = seg.hash();
        cam.counter += 1;
        let buffer = |start: i64| Keep::Until(start + RECORDING_MARGIN_MS);
        let got = ingest(&self.vault, &cam.paired, &seg.encode(), footage, &buffer)
            .await
            .unwrap();
        assert!(got.kept, "{got:?}");
    }

    /// A few seconds of footage up to now, so the camera is live.
    async fn camera_live(&mut self) {
        for _ in 0..3 {
            self.clock.advance(1_000);
            self.second_of_footage().await;
        }
    }

    /// The courier arrives (once) and asks for the grant.
    async fn grant(&mut self, id: &str) -> Result<(Delivery, Grant), DeliveryError> {
        let (d, _) = deliveries::load(&self.vault, &self.me(), id).await?;
        if d.visit.step == Step::Scheduled {
            deliveries::arrive(&self.vault, "courier-1", id).await?;
        }
        self.camera_live().await;
        deliveries::issue_grant(
            &self.vault,
            &self.rules,
            "courier-1",
            id,
            courier().verifying_key().to_bytes(),
        )
        .await
    }

    /// The home's lock as the lock maker's firmware runs it: trusting the server's issuer.
    async fn lock(&self) -> Lock {
        let issuer = deliveries::issuer(&self.vault).await.unwrap();
        let h = self.home().await;
        let config = LockConfig::new(h.lock_id(), [0x55; 32])
            .with_issuer(issuer.key_id, issuer.key.verifying_key().as_bytes())
            .unwrap()
            .with_camera(self.camera.key.verifying_key().as_bytes())
            .unwrap();
        Lock::new(config, LockState::default())
    }

    /// The lock syncs: it takes the server's signed sync, and reports the floor it now holds.
    async fn sync(&self, lock: &mut Lock) {
        let issuer = deliveries::issuer(&self.vault).await.unwrap();
        let h = self.home().await;
        let now = self.vault.now();
        lock.sync(&deliveries::lock_sync(&issuer, &h, now).encode(), now)
            .unwrap();
        let device = Actor::Device("lock-1".into());
        deliveries::lock_synced(
            &self.vault,
            &device,
            &self.customer,
            &h,
            lock.state().epoch_floor,
        )
        .await
        .unwrap();
    }

    /// The courier at the door with `grant`: challenge, proof, camera attestation.
    fn try_door(&self, lock: &mut Lock, grant: &Grant) -> Outcome {
        let now = self.vault.now();
        let challenge = lock.challenge(now);
        let proof = CourierProof::sign(grant, &challenge, &courier()).encode();
        let attestation = AttestationInfo {
            camera_id: self.camera.paired.id,
            challenge,
            at: now,
            newest_counter: self.camera.counter,
            newest_hash: self.camera.prev,
        }
        .sign(&self.camera.key)
        .encode();
        lock.try_unlock(&grant.encode(), &proof, Some(&attestation), now)
    }

    async fn state_of_grant(&self, id: &str) -> GrantState {
        let (d, _) = deliveries::load(&self.vault, &self.me(), id).await.unwrap();
        let h = self.home().await;
        let g = d.grant.as_ref().expect("a grant");
        g.state(&d.visit, &h, self.vault.now())
    }
}

fn courier() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

#[tokio::test]
async fn a_decline_overrides_the_standing_approval() {
    let mut w = world().await;
    deliveries::set_standing(&w.vault, &w.customer, true)
        .await
        .unwrap();
    let d = w.delivery().await;
    assert_eq!(d.approval_with(&w.home().await), Approval::Standing);
    let declined = deliveries::approve(&w.vault, &w.customer, &d.id, false)
        .await
        .unwrap();
    assert_eq!(declined.approval, Approval::Declined);
    assert_eq!(declined.approval_with(&w.home().await), Approval::Declined);
    match w.grant(&d.id).await {
        Err(DeliveryError::Refused(Refused::Declined)) => {}
        other => panic!("a declined order got a grant: {other:?}"),
    }
}

#[tokio::test]
async fn a_delivery_has_one_live_grant_at_a_time_and_it_lives_ten_minutes() {
    let mut w = world().await;
    let d = w.delivery().await;
    deliveries::approve(&w.vault, &w.customer, &d.id, true)
        .await
        .unwrap();
    let (_, first) = w.grant(&d.id).await.unwrap();
    let issued = w.vault.now();
    assert_eq!(first.body.not_before, issued);
    assert_eq!(first.body.not_after, issued + 10 * MINUTE, "not the window");
    match w.grant(&d.id).await {
        Err(DeliveryError::Conflict(_)) => {}
        other => panic!("a second grant while the first is live: {other:?}"),
    }
    // The lock accepts it up to its skew after its end; only then may a new one be issued.
    w.clock.set(issued + 14 * MINUTE);
    assert!(matches!(
        w.grant(&d.id).await,
        Err(DeliveryError::Conflict(_))
    ));
    w.clock.set(issued + 16 * MINUTE);
    let (_, second) = w.grant(&d.id).await.unwrap();
    assert_ne!(second.body.grant_id, first.body.grant_id);

    // Never past the window.
    let now = w.vault.now();
    let late = deliveries::create(
        &w.vault,
        &w.rules,
        &Actor::Operator("op-1".into()),
        NewDelivery {
            customer: w.customer.clone(),
            order: "a late parcel".into(),
            window: (now - MINUTE, now + 3 * MINUTE),
            places: vec![Place::Door],
            courier: Some("courier-1".into()),
        },
    )
    .await
    .unwrap();
    deliveries::approve(&w.vault, &w.customer, &late.id, true)
        .await
        .unwrap();
    let (_, g) = w.grant(&late.id).await.unwrap();
    assert_eq!(g.body.not_after, late.window.1);
}

#[tokio::test]
async fn a_window_longer_than_the_cap_is_refused() {
    let w = world().await;
    let now = w.vault.now();
    let new = |hours: i64| NewDelivery {
        customer: w.customer.clone(),
        order: "a parcel".into(),
        window: (now, now + hours * 60 * MINUTE),
        places: vec![Place::Door],
        courier: None,
    };
    let op = Actor::Operator("op-1".into());
    deliveries::create(&w.vault, &w.rules, &op, new(12))
        .await
        .unwrap();
    match deliveries::create(&w.vault, &w.rules, &op, new(13)).await {
        Err(DeliveryError::Invalid(why)) => assert!(why.contains("at most 720 minutes"), "{why}"),
        other => panic!("a 13-hour window was booked: {other:?}"),
    }
}

/// Each way a visit is called off after its grant was issued revokes that grant: pending
/// until the lock syncs, after which the real lock refuses it.
#[tokio::test]
async fn calling_a_granted_visit_off_revokes_its_grant_at_the_locks_next_sync() {
    for how in [
        "abort",
        "reassign",
        "decline",
        "withdraw-standing",
        "revoke-all",
    ] {
        let mut w = world().await;
        let mut lock = w.lock().await;
        w.sync(&mut lock).await;
        if how == "withdraw-standing" {
            deliveries::set_standing(&w.vault, &w.customer, true)
                .await
                .unwrap();
        }
        let d = w.delivery().await;
        if how != "withdraw-standing" {
            deliveries::approve(&w.vault, &w.customer, &d.id, true)
                .await
                .unwrap();
        }
        let (_, grant) = w.grant(&d.id).await.unwrap();
        assert_eq!(w.state_of_grant(&d.id).await, GrantState::Live, "{how}");
        let epoch_before = w.home().await.epoch;
        let op = Actor::Operator("op-1".into());
        match how {
            "abort" => drop(deliveries::abort(&w.vault, &op, &d.id).await.unwrap()),
            "reassign" => {
                let d = deliveries::assign(&w.vault, "op-1", &d.id, "courier-2")
                    .await
                    .unwrap();
                assert_eq!(d.visit.step, Step::Scheduled, "the new courier must arrive");
            }
            "decline" => drop(
                deliveries::approve(&w.vault, &w.customer, &d.id, false)
                    .await
                    .unwrap(),
            ),
            "withdraw-standing" => drop(
                deliveries::set_standing(&w.vault, &w.customer, false)
                    .await
                    .unwrap(),
            ),
            _ => drop(deliveries::revoke_all(&w.vault, &w.customer).await.unwrap()),
        }
        assert!(
            w.home().await.epoch > epoch_before,
            "{how}: no epoch raised"
        );
        assert_eq!(
            w.state_of_grant(&d.id).await,
            GrantState::RevocationPending,
            "{how}"
        );
        w.sync(&mut lock).await;
        assert_eq!(w.state_of_grant(&d.id).await, GrantState::Revoked, "{how}");
        assert!(
            matches!(
                w.try_door(&mut lock, &grant),
                Outcome::Refused(Refusal::Revoked { .. })
            ),
            "{how}: the lock still opens with the revoked grant"
        );
    }
}

#[tokio::test]
async fn a_revoked_grant_used_on_a_lock_that_had_not_synced_alarms_and_pins_the_footage() {
    let mut w = world().await;
    let mut lock = w.lock().await;
    w.sync(&mut lock).await;
    let d = w.delivery().await;
    deliveries::approve(&w.vault, &w.customer, &d.id, true)
        .await
        .unwrap();
    let (_, grant) = w.grant(&d.id).await.unwrap();
    deliveries::abort(&w.vault, &Actor::Operator("op-1".into()), &d.id)
        .await
        .unwrap();
    // The lock is offline: it has not heard of the revocation, and opens.
    w.clock.advance(1_000);
    assert!(matches!(
        w.try_door(&mut lock, &grant),
        Outcome::Unlocked { .. }
    ));
    let at = w.vault.now();
    let h = w.home().await;
    let device = Actor::Device("lock-1".into());
    let unlocked = LockEvent::Unlocked {
        grant_id: grant.body.grant_id,
        at,
    };
    let r = deliveries::lock_reported(&w.vault, &device, &w.customer, &h, unlocked)
        .await
        .unwrap();
    match r {
        Reported::Alarm {
            delivery: Some(called_off),
            alarm,
        } => {
            assert_eq!(called_off.id, d.id);
            assert_eq!(alarm, Alarm::RevokedGrantUsed { at });
        }
        other => panic!("an unlock with a revoked grant raised nothing: {other:?}"),
    }
    let q = Query {
        kind: FOOTAGE.into(),
        subject: Some(w.customer.clone()),
        scope: Some(w.camera.stream()),
        ..Query::default()
    };
    let footage = w.vault.store().query(&q).await.unwrap();
    let around: Vec<_> = footage
        .iter()
        .filter(|r| r.index.at.is_some_and(|t| t >= at - RECORDING_MARGIN_MS))
        .collect();
    assert!(!around.is_empty());
    assert!(
        around.iter().all(|r| r.retain_until.is_none()),
        "the footage before the unexplained unlock is pinned"
    );
}

#[tokio::test]
async fn the_footage_from_before_the_grant_is_the_visits_not_a_buffer() {
    let mut w = world().await;
    let d = w.delivery().await;
    deliveries::approve(&w.vault, &w.customer, &d.id, true)
        .await
        .unwrap();
    let (d, _) = w.grant(&d.id).await.unwrap();
    let granted = d.visit.granted_at.unwrap();
    assert_eq!(d.camera_stream.as_deref(), Some(w.camera.stream().as_str()));
    assert!(d.visit.watching(granted) && d.visit.may_record(granted - RECORDING_MARGIN_MS));
    let q = Query {
        kind: FOOTAGE.into(),
        subject: Some(w.customer.clone()),
        ..Query::default()
    };
    let footage = w.vault.store().query(&q).await.unwrap();
    assert_eq!(footage.len(), 3);
    for r in footage {
        let until = r.retain_until.expect("under the footage rule");
        assert!(
            until > granted + 71 * 60 * MINUTE,
            "still a 30 s buffer: {until}"
        );
    }
}

#[tokio::test]
async fn nobody_calls_off_a_visit_while_the_door_is_open() {
    let mut w = world().await;
    let d = w.delivery().await;
    deliveries::approve(&w.vault, &w.customer, &d.id, true)
        .await
        .unwrap();
    let (_, grant) = w.grant(&d.id).await.unwrap();
    let h = w.home().await;
    let device = Actor::Device("lock-1".into());
    let unlocked = LockEvent::Unlocked {
        grant_id: grant.body.grant_id,
        at: w.vault.now(),
    };
    deliveries::lock_reported(&w.vault, &device, &w.customer, &h, unlocked)
        .await
        .unwrap();
    for actor in [
        Actor::Operator("op-1".into()),
        Actor::Courier("courier-1".into()),
    ] {
        match deliveries::abort(&w.vault, &actor, &d.id).await {
            Err(DeliveryError::Conflict(_)) => {}
            other => panic!("{actor:?} called off an open door: {other:?}"),
        }
    }
    let (d, _) = deliveries::load(&w.vault, &w.me(), &d.id).await.unwrap();
    assert_eq!(d.visit.step, Step::Unlocked);
    assert!(matches!(
        deliveries::assign(&w.vault, "op-1", &d.id, "courier-2").await,
        Err(DeliveryError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_couriers_probe_of_another_couriers_delivery_is_refused_unopened_and_audited() {
    let w = world().await;
    let d = w.delivery().await;
    let before = w.vault.access_log(&w.customer).await.unwrap().len();
    match deliveries::load(&w.vault, &Actor::Courier("courier-2".into()), &d.id).await {
        Err(DeliveryError::NotFound) => {}
        other => panic!("courier-2 read courier-1's delivery: {other:?}"),
    }
    let log = w.vault.access_log(&w.customer).await.unwrap();
    let new: Vec<_> = log[before..]
        .iter()
        .filter_map(|e| e.event.as_ref())
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0].actor, Actor::Courier("courier-2".into()));
    assert_eq!(new[0].outcome, Audited::Refused, "audited as a refusal");
    // The assigned courier still reads it.
    deliveries::load(&w.vault, &Actor::Courier("courier-1".into()), &d.id)
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_a_visits_footage_after_re_pairing_removes_the_old_cameras_footage() {
    let mut w = world().await;
    let d = w.delivery().await;
    deliveries::approve(&w.vault, &w.customer, &d.id, true)
        .await
        .unwrap();
    let (_, grant) = w.grant(&d.id).await.unwrap();
    let h = w.home().await;
    let device = Actor::Device("lock-1".into());
    let g = grant.body.grant_id;
    let at = w.vault.now();
    for event in [
        LockEvent::Unlocked { grant_id: g, at },
        LockEvent::Relocked {
            grant_id: g,
            at: at + 5_000,
        },
    ] {
        deliveries::lock_reported(&w.vault, &device, &w.customer, &h, event)
            .await
            .unwrap();
    }
    w.second_of_footage().await;
    let old_stream = w.camera.stream();
    // The customer pairs a new camera.
    let new_camera = Camera::new(23, &w.customer);
    let mut repaired = h.clone();
    repaired.camera_device = new_camera.paired.device.clone();
    repaired.camera_key = hex::encode(new_camera.key.verifying_key().as_bytes());
    let (_, version) = home::load(&w.vault, &w.me(), &w.customer)
        .await
        .unwrap()
        .unwrap();
    home::save(&w.vault, &w.me(), &w.customer, &repaired, Some(version))
        .await
        .unwrap();

    clips::delete(&w.vault, &w.customer, &d.id).await.unwrap();
    let q = Query {
        kind: FOOTAGE.into(),
        subject: Some(w.customer.clone()),
        scope: Some(old_stream.clone()),
        at_from: Some(at - RECORDING_MARGIN_MS),
        ..Query::default()
    };
    let left = w.vault.store().query(&q).await.unwrap();
    assert!(
        left.is_empty(),
        "{} segments outlived the deletion",
        left.len()
    );
    let media = w
        .vault
        .blobs()
        .list(&format!("{}/{FOOTAGE}/{old_stream}", w.customer))
        .await
        .unwrap();
    assert!(
        media.is_empty(),
        "sealed footage outlived the deletion: {media:?}"
    );
}

/// The customer declines with the courier at the door, after the grant: the lock, offline,
/// still opens with it. The door is followed as any open door, and the customer alarmed.
#[tokio::test]
async fn a_grant_revoked_at_the_door_and_used_anyway_alarms_and_the_door_is_watched() {
    let mut w = world().await;
    let mut lock = w.lock().await;
    w.sync(&mut lock).await;
    let d = w.delivery().await;
    deliveries::approve(&w.vault, &w.customer, &d.id, true)
        .await
        .unwrap();
    let (_, grant) = w.grant(&d.id).await.unwrap();
    deliveries::approve(&w.vault, &w.customer, &d.id, false)
        .await
        .unwrap();
    w.clock.advance(1_000);
    assert!(matches!(
        w.try_door(&mut lock, &grant),
        Outcome::Unlocked { .. }
    ));
    let at = w.vault.now();
    let h = w.home().await;
    let unlocked = LockEvent::Unlocked {
        grant_id: grant.body.grant_id,
        at,
    };
    let device = Actor::Device("lock-1".into());
    match deliveries::lock_reported(&w.vault, &device, &w.customer, &h, unlocked)
        .await
        .unwrap()
    {
        Reported::Alarm {
            delivery: Some(opened),
            alarm,
        } => {
            assert_eq!(alarm, Alarm::RevokedGrantUsed { at });
            assert_eq!(
                opened.visit.step,
                Step::Unlocked,
                "followed as an open door"
            );
            assert!(opened.visit.watching(at + 60 * MINUTE));
        }
        other => panic!("a revoked grant opened the door unnoticed: {other:?}"),
    }
}

/// The courier says "relocked" while the lock, silent, says nothing: the door still counts
/// as open, and nobody may call the visit off.
#[tokio::test]
async fn the_couriers_word_alone_does_not_end_the_watch() {
    let mut w = world().await;
    let d = w.delivery().await;
    deliveries::approve(&w.vault, &w.customer, &d.id, true)
        .await
        .unwrap();
    let (_, grant) = w.grant(&d.id).await.unwrap();
    let h = w.home().await;
    let device = Actor::Device("lock-1".into());
    let unlocked = LockEvent::Unlocked {
        grant_id: grant.body.grant_id,
        at: w.vault.now(),
    };
    deliveries::lock_reported(&w.vault, &device, &w.customer, &h, unlocked)
        .await
        .unwrap();
    let said = deliveries::courier_relocked(&w.vault, "courier-1", &d.id)
        .await
        .unwrap();
    assert_eq!(said.visit.step, Step::Relocked);
    assert!(said.visit.watching(w.vault.now() + 60 * MINUTE));
    assert!(!said.visit.recording_closed(w.vault.now() + 60 * MINUTE));
    assert!(matches!(
        deliveries::abort(&w.vault, &Actor::Operator("op-1".into()), &d.id).await,
        Err(DeliveryError::Conflict(_))
    ));
}
