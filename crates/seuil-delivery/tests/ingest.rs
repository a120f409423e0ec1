//! Camera ingestion against a real vault on SQLite and a local blob folder.

mod common;

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use seuil_delivery::camera::{Flag, IngestError, Keep, PairedCamera, Rejection, ingest};
use seuil_proto::{SegmentInfo, VisitTag};
use seuil_vault::{Actor, Vault, VaultError};
use sha2::{Digest, Sha256};

struct Home {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    vault: Vault,
    camera: PairedCamera,
    key: SigningKey,
}

async fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    // The segments' footage (from 1_800_000_000_000 on) has all arrived by now.
    let clock = std::sync::Arc::new(seuil_vault::ManualClock::new(1_800_000_060_000));
    let (vault, customer) = common::vault_with_customer_at(&root, clock).await;
    let key = SigningKey::from_bytes(&[8; 32]);
    let camera = PairedCamera {
        id: [0xCA; 16],
        key: key.verifying_key(),
        device: "camera-1".into(),
        subject: customer,
    };
    Home {
        _dir: dir,
        root,
        vault,
        camera,
        key,
    }
}

/// Segments 0..n, each a second of "footage" holding a marker.
fn segments(key: &SigningKey, n: u64) -> Vec<(Vec<u8>, Bytes)> {
    let mut prev = [0u8; 32];
    (0..n)
        .map(|counter| {
            let footage = Bytes::from(format!("FOOTAGE-MARKER-{counter:04}-").repeat(500));
            let seg = SegmentInfo {
                camera_id: [0xCA; 16],
                counter,
                start: 1_800_000_000_000 + 1_000 * counter as i64,
                duration_ms: 1_000,
                prev_hash: prev,
                content_hash: Sha256::digest(&footage).into(),
                visit: Some(VisitTag {
                    grant_id: [1; 16],
                    challenge: [2; 32],
                }),
            }
            .sign(key);
            prev = seg.hash();
            (seg.encode().to_vec(), footage)
        })
        .collect()
}

#[tokio::test]
async fn genuine_segments_are_sealed_and_only_the_customer_reads_them_back() {
    let h = home().await;
    let segs = segments(&h.key, 5);
    for (i, (header, footage)) in segs.iter().enumerate() {
        let got = ingest(&h.vault, &h.camera, header, footage.clone(), &|_| {
            Keep::Visit
        })
        .await
        .unwrap();
        assert_eq!(got.counter, i as u64);
        assert!(got.kept && got.flags.is_empty(), "{got:?}");
    }
    let me = Actor::Subject(h.camera.subject.clone());
    let id = seuil_delivery::camera::ingest::segment_id(&h.camera.id, 3);
    let mut stream = h
        .vault
        .open_blob(
            &me,
            "delivery.video",
            &h.camera.subject,
            "delivery.footage",
            &id,
        )
        .await
        .unwrap();
    let mut back = Vec::new();
    while let Some(chunk) = stream.next().await {
        back.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(back, segs[3].1.to_vec());

    // Nothing of the footage is on disk in plaintext.
    for entry in walk(&h.root) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(15).any(|w| w == b"FOOTAGE-MARKER-"),
            "plaintext footage in {}",
            entry.display()
        );
    }
}

#[tokio::test]
async fn bad_missing_late_and_repeated_segments_are_flagged_and_the_stream_goes_on() {
    let h = home().await;
    let segs = segments(&h.key, 6);
    let put = |i: usize| {
        ingest(&h.vault, &h.camera, &segs[i].0, segs[i].1.clone(), &|_| {
            Keep::Visit
        })
    };
    put(0).await.unwrap();
    let forged = {
        let mut header = segs[1].0.clone();
        header[180] ^= 0x10;
        ingest(&h.vault, &h.camera, &header, segs[1].1.clone(), &|_| {
            Keep::Visit
        })
        .await
    };
    assert!(
        matches!(
            forged,
            Err(IngestError::Rejected(Rejection::BadSignature(_)))
        ),
        "{forged:?}"
    );
    let swapped = ingest(&h.vault, &h.camera, &segs[1].0, segs[2].1.clone(), &|_| {
        Keep::Visit
    })
    .await;
    assert!(matches!(
        swapped,
        Err(IngestError::Rejected(Rejection::ContentMismatch))
    ));
    let gap = put(3).await.unwrap();
    assert_eq!(gap.flags, vec![Flag::Gap { missing: 2 }]);
    let late = put(1).await.unwrap();
    assert_eq!(late.flags, vec![Flag::Reordered]);
    let again = put(1).await.unwrap();
    assert_eq!((again.kept, again.flags), (false, vec![Flag::Duplicate]));
    let on = put(4).await.unwrap();
    assert!(on.kept && on.flags.is_empty(), "{on:?}");
    assert_eq!(on.newest_end, 1_800_000_000_000 + 5_000);
}

#[tokio::test]
async fn without_the_customers_consent_the_camera_records_nothing() {
    let h = home().await;
    h.vault
        .withdraw_consent(
            &Actor::Subject(h.camera.subject.clone()),
            &h.camera.subject,
            "delivery.video",
        )
        .await
        .unwrap();
    let segs = segments(&h.key, 1);
    let r = ingest(&h.vault, &h.camera, &segs[0].0, segs[0].1.clone(), &|_| {
        Keep::Visit
    })
    .await;
    assert!(
        matches!(
            r,
            Err(IngestError::Vault(VaultError::ConsentRequired { .. }))
        ),
        "{r:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn footage_outside_a_visit_is_kept_only_until_its_buffer_ends() {
    use seuil_delivery::camera::{FOOTAGE, segment_id};
    let h = home().await;
    let segs = segments(&h.key, 2);
    let buffered = |start: i64| Keep::Until(start + 30_000);
    ingest(
        &h.vault,
        &h.camera,
        &segs[0].0,
        segs[0].1.clone(),
        &buffered,
    )
    .await
    .unwrap();
    ingest(&h.vault, &h.camera, &segs[1].0, segs[1].1.clone(), &|_| {
        Keep::Visit
    })
    .await
    .unwrap();
    let (vault, camera) = (&h.vault, &h.camera);
    let kept_until = |counter: u64| async move {
        let id = segment_id(&camera.id, counter);
        vault
            .store()
            .get(FOOTAGE, &id)
            .await
            .unwrap()
            .unwrap()
            .retain_until
    };
    assert_eq!(kept_until(0).await, Some(1_800_000_000_000 + 30_000));
    let rule = kept_until(1)
        .await
        .expect("a visit's footage is under the 72-hour rule");
    assert_eq!(rule, h.vault.now() + 72 * 3_600_000);
}
