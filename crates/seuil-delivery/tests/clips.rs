//! A visit's footage end to end in the domain: real segments from a camera whose lens is
//! covered for five seconds while the courier is inside, the visit's steps from the lock's
//! reports, then the clip read back for the customer, refused to an operator outside a
//! dispute, and analysed: the cover is found and recorded on the delivery.

mod common;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use seuil_delivery::camera::{Keep, PairedCamera, ingest};
use seuil_delivery::clips;
use seuil_delivery::deliveries::{self, DeliveryError, LockEvent, NewDelivery, Place, Reported};
use seuil_delivery::footage::{Kind, segments, synthetic};
use seuil_delivery::grants::Rules;
use seuil_delivery::home::{self, Home};
use seuil_proto::{SegmentInfo, camera_id};
use seuil_vault::Actor;
use sha2::{Digest, Sha256};

const CLIP: &str = "one-by-one-person-detection.mp4";
const SECONDS: usize = 24;
const COVERED: std::ops::Range<usize> = 9..14;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_covered_lens_during_a_visit_is_found_in_its_clip() {
    let Some(data) = common::video(CLIP) else {
        return;
    };
    let cut = segments::cut(&data).unwrap();
    assert!(cut.segments.len() >= SECONDS);
    let dir = tempfile::tempdir().unwrap();
    let (vault, customer) = common::vault_with_customer(dir.path()).await;
    let me = Actor::Subject(customer.clone());
    let lock_key = SigningKey::from_bytes(&[21; 32]);
    let camera_key = SigningKey::from_bytes(&[22; 32]);
    let h = Home {
        lock_device: "lock-1".into(),
        lock_key: hex::encode(lock_key.verifying_key().as_bytes()),
        camera_device: "camera-1".into(),
        camera_key: hex::encode(camera_key.verifying_key().as_bytes()),
        relock_within_s: 300,
        epoch: 1,
        standing_approval: Some(0),
        lock_epoch_floor: 0,
    };
    home::save(&vault, &me, &customer, &h, None).await.unwrap();
    let operator = Actor::Operator("op-1".into());
    let now = vault.now();
    let d = deliveries::create(
        &vault,
        &Rules::default(),
        &operator,
        NewDelivery {
            customer: customer.clone(),
            order: "a parcel".into(),
            window: (now - 60_000, now + 3_600_000),
            places: vec![Place::Door],
            courier: Some("courier-1".into()),
        },
    )
    .await
    .unwrap();

    // The camera's last SECONDS of footage, ending now, with the lens covered for a while.
    let camera = PairedCamera {
        id: camera_id(camera_key.verifying_key().as_bytes()),
        key: camera_key.verifying_key(),
        device: "camera-1".into(),
        subject: customer.clone(),
    };
    let base = vault.now() - SECONDS as i64 * 1_000;
    let mut prev = [0u8; 32];
    for (i, seg) in cut.segments[..SECONDS].iter().enumerate() {
        let footage = if COVERED.contains(&i) {
            synthetic::dark(cut.width, cut.height, seg.pictures).unwrap()
        } else {
            seg.h264.clone()
        };
        let header = SegmentInfo {
            camera_id: camera.id,
            counter: i as u64,
            start: base + i as i64 * 1_000,
            duration_ms: 1_000,
            prev_hash: prev,
            content_hash: Sha256::digest(&footage).into(),
            visit: None,
        }
        .sign(&camera_key);
        prev = header.hash();
        let got = ingest(
            &vault,
            &camera,
            &header.encode(),
            Bytes::from(footage),
            &|_| Keep::Visit,
        )
        .await
        .unwrap();
        assert!(got.kept, "{got:?}");
    }

    // The courier arrives and gets the grant; the lock reports the unlock and the relock.
    deliveries::arrive(&vault, "courier-1", &d.id)
        .await
        .unwrap();
    // A key of small order (here the identity) is never signed into a grant: the lock would
    // accept proofs anyone can make for it.
    let mut weak = [0; 32];
    weak[0] = 1;
    let refused =
        deliveries::issue_grant(&vault, &Rules::default(), "courier-1", &d.id, weak).await;
    assert!(
        matches!(refused, Err(deliveries::DeliveryError::Invalid(_))),
        "{refused:?}"
    );
    let courier_key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    let (_, grant) = deliveries::issue_grant(
        &vault,
        &Rules::default(),
        "courier-1",
        &d.id,
        courier_key.to_bytes(),
    )
    .await
    .unwrap();
    let lock = Actor::Device("lock-1".into());
    let grant_id = grant.body.grant_id;
    let unlocked = LockEvent::Unlocked {
        grant_id,
        at: base + 2_000,
    };
    let r = deliveries::lock_reported(&vault, &lock, &customer, &h, unlocked)
        .await
        .unwrap();
    assert!(matches!(r, Reported::Visit(_)), "{r:?}");
    let relocked = LockEvent::Relocked {
        grant_id,
        at: base + 20_000,
    };
    let r = deliveries::lock_reported(&vault, &lock, &customer, &h, relocked)
        .await
        .unwrap();
    let Reported::Visit(done) = r else {
        panic!("{r:?}")
    };
    assert_eq!(done.visit.step.as_str(), "done");

    // The customer watches the clip; an operator may not, outside a dispute.
    let clip = clips::customer_clip(&vault, &customer, &d.id)
        .await
        .unwrap();
    assert!(
        clip.len() > 100_000,
        "the visit's clip: {} bytes",
        clip.len()
    );
    match clips::operator_clip(&vault, "op-1", &d.id).await {
        Err(DeliveryError::Forbidden(_)) => {}
        other => panic!("an operator saw footage outside a dispute: {other:?}"),
    }

    // The analysis finds the cover where it was, and records it.
    let (h264, seconds) = clips::for_analysis(&vault, &d.id).await.unwrap();
    assert!((seconds - SECONDS as f64).abs() < 0.5, "{seconds}");
    let events = clips::find_tampering(&h264, seconds).unwrap();
    let covered: Vec<_> = events.iter().filter(|e| e.kind == Kind::Covered).collect();
    assert_eq!(covered.len(), 1, "{events:?}");
    let (start, end) = (COVERED.start as f64, COVERED.end as f64);
    assert!(
        (covered[0].start_s - start).abs() < 1.0 && (covered[0].end_s - end).abs() < 1.0,
        "{events:?}"
    );
    let recorded = clips::record_tampering(&vault, &d.id, &events)
        .await
        .unwrap();
    assert!(recorded.clip.analysed && !recorded.tamper.is_empty());

    // Once disputed, the operator may; the footage is on hold: it cannot be deleted or
    // unpinned until the customer withdraws the dispute.
    clips::dispute(&vault, &customer, &d.id).await.unwrap();
    let seen = clips::operator_clip(&vault, "op-1", &d.id).await.unwrap();
    assert_eq!(seen.len(), clip.len());
    match clips::delete(&vault, &customer, &d.id).await {
        Err(DeliveryError::Conflict(_)) => {}
        other => panic!("disputed footage was deleted: {other:?}"),
    }
    assert!(clips::pin(&vault, &customer, &d.id, false).await.is_err());
    let still = clips::operator_clip(&vault, "op-1", &d.id).await.unwrap();
    assert_eq!(
        still.len(),
        clip.len(),
        "the dispute still holds its footage"
    );
    let withdrawn = clips::withdraw_dispute(&vault, &customer, &d.id)
        .await
        .unwrap();
    assert!(withdrawn.clip.disputed_at.is_none());
    assert!(matches!(
        clips::operator_clip(&vault, "op-1", &d.id).await,
        Err(DeliveryError::Forbidden(_))
    ));
    let deleted = clips::delete(&vault, &customer, &d.id).await.unwrap();
    assert!(deleted.clip.deleted_at.is_some());
    assert!(
        clips::dispute(&vault, &customer, &d.id).await.is_err(),
        "nothing left to dispute"
    );
    assert!(
        clips::customer_clip(&vault, &customer, &d.id)
            .await
            .unwrap()
            .is_empty()
    );
}
