//! The privacy kernel end to end over real SQLite: sealing, opening, consent, audit, shred.

mod common;

use common::{T0, vault, vault_in};
use futures_util::StreamExt;
use seuil_store::IndexFields;
use seuil_vault::{Actor, Outcome, VaultError, Write, merkle};

fn write<'a>(subject: &'a str, id: &'a str, body: &'a [u8]) -> Write<'a> {
    Write {
        kind: "note",
        id,
        subject,
        index: IndexFields::default(),
        body,
    }
}

#[tokio::test]
async fn seal_then_open_returns_the_body_and_audits_both() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    t.vault
        .seal(&me, "account", write(&s, "n1", b"hello"))
        .await
        .unwrap();
    let opened = t.vault.open(&me, "account", "note", "n1").await.unwrap();
    assert_eq!(&opened.body[..], b"hello");
    let log = t.vault.access_log(&s).await.unwrap();
    let actions: Vec<_> = log
        .iter()
        .map(|e| e.event.as_ref().unwrap().action.as_str())
        .collect();
    assert_eq!(actions, ["seal", "open"]);
}

#[tokio::test]
async fn a_subject_cannot_reach_another_subjects_record() {
    let t = vault().await;
    let a = t.vault.create_subject().await.unwrap();
    let b = t.vault.create_subject().await.unwrap();
    t.vault
        .seal(
            &Actor::Subject(a.clone()),
            "account",
            write(&a, "n1", b"a's"),
        )
        .await
        .unwrap();
    let err = t
        .vault
        .open(&Actor::Subject(b.clone()), "account", "note", "n1")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::NotFound { .. }), "{err}");
    let err = t
        .vault
        .seal(&Actor::Subject(b), "account", write(&a, "n2", b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn consent_gates_other_actors_and_withdrawal_is_immediate() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    let op = Actor::Operator("op1".into());
    t.vault
        .seal(&me, "delivery.video", write(&s, "clip", b"frames"))
        .await
        .unwrap();
    let err = t
        .vault
        .open(&op, "delivery.video", "note", "clip")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::ConsentRequired { .. }), "{err}");
    t.vault
        .grant_consent(&me, &s, "delivery.video")
        .await
        .unwrap();
    assert_eq!(
        &t.vault
            .open(&op, "delivery.video", "note", "clip")
            .await
            .unwrap()
            .body[..],
        b"frames"
    );
    t.vault
        .withdraw_consent(&me, &s, "delivery.video")
        .await
        .unwrap();
    assert!(
        t.vault
            .open(&op, "delivery.video", "note", "clip")
            .await
            .is_err()
    );
    // The subject always reaches their own data.
    assert!(
        t.vault
            .open(&me, "delivery.video", "note", "clip")
            .await
            .is_ok()
    );
    let outcomes: Vec<_> = t
        .vault
        .access_log(&s)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.event)
        .map(|e| e.outcome)
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Denied).count(),
        2
    );
    // An operator cannot decide consent for the subject.
    assert!(
        t.vault
            .grant_consent(&op, &s, "delivery.video")
            .await
            .is_err()
    );
    let states = t.vault.consents(&s).await.unwrap();
    assert!(
        states
            .iter()
            .any(|c| c.purpose.name == "delivery.video" && !c.granted)
    );
}

#[tokio::test]
async fn unknown_purposes_are_refused() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let err = t
        .vault
        .seal(
            &Actor::Subject(s.clone()),
            "because.we.can",
            write(&s, "n", b"x"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::UnknownPurpose(_)));
}

#[tokio::test]
async fn a_moved_or_altered_body_fails_with_an_integrity_error_that_is_audited() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    t.vault
        .seal(&me, "account", write(&s, "n1", b"one"))
        .await
        .unwrap();
    t.vault
        .seal(&me, "account", write(&s, "n2", b"two"))
        .await
        .unwrap();
    let store = t.vault.store();
    let n1 = store.get("note", "n1").await.unwrap().unwrap();
    let n2 = store.get("note", "n2").await.unwrap().unwrap();
    // Move n1's body onto n2.
    let moved = seuil_store::NewRecord {
        body: n1.body.clone(),
        kind: n2.kind.clone(),
        id: n2.id.clone(),
        subject: n2.subject.clone(),
        index: n2.index.clone(),
        retain_until: n2.retain_until,
    };
    store.update(&moved, n2.version).await.unwrap();
    let err = t
        .vault
        .open(&me, "account", "note", "n2")
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Integrity { .. }), "{err}");
    // Flip one bit of n1.
    let mut body = n1.body.clone();
    let last = body.len() - 1;
    body[last] ^= 1;
    let flipped = seuil_store::NewRecord {
        body,
        kind: n1.kind,
        id: n1.id,
        subject: n1.subject,
        index: n1.index,
        retain_until: n1.retain_until,
    };
    store.update(&flipped, n1.version).await.unwrap();
    assert!(matches!(
        t.vault.open(&me, "account", "note", "n1").await,
        Err(VaultError::Integrity { .. })
    ));
    let log = t.vault.access_log(&s).await.unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.event.as_ref().unwrap().outcome == Outcome::IntegrityError)
            .count(),
        2
    );
}

#[tokio::test]
async fn optimistic_updates_never_overwrite_silently() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    t.vault
        .seal(&me, "account", write(&s, "n", b"v1"))
        .await
        .unwrap();
    assert_eq!(
        t.vault
            .update(&me, "account", write(&s, "n", b"v2"), 1)
            .await
            .unwrap(),
        2
    );
    let err = t
        .vault
        .update(&me, "account", write(&s, "n", b"stale"), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            VaultError::Store(seuil_store::StoreError::VersionConflict { .. })
        ),
        "{err}"
    );
    assert_eq!(
        &t.vault
            .open(&me, "account", "note", "n")
            .await
            .unwrap()
            .body[..],
        b"v2"
    );
}

#[tokio::test]
async fn after_erasure_everything_of_the_subject_is_unreadable_and_certified() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    t.vault
        .seal(&me, "account", write(&s, "n", b"secret"))
        .await
        .unwrap();
    let clip = futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"video"))]).boxed();
    t.vault
        .seal_blob(&me, "account", &s, "clip", "c1", clip)
        .await
        .unwrap();
    let cert = t.vault.erase(&me, &s).await.unwrap();
    assert!(cert.verify());
    assert_eq!(cert.log_public_key, t.vault.log_public_key().to_bytes());
    assert!(matches!(
        t.vault.open(&me, "account", "note", "n").await,
        Err(VaultError::NotFound { .. })
    ));
    assert!(
        t.vault
            .open_blob(&me, "account", &s, "clip", "c1")
            .await
            .is_err()
    );
    assert!(t.vault.export(&me, &s).await.is_err());
    assert!(t.vault.access_log(&s).await.is_err());
    // Erasing twice hands back the same certificate.
    assert_eq!(t.vault.erase(&me, &s).await.unwrap(), cert);
    assert_eq!(t.vault.purge_erased(&s).await.unwrap(), 1);
    assert!(
        t.vault
            .blobs()
            .list(&format!("{s}/"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(t.vault.store().shred_ledger().await.unwrap().len(), 1);
    // The log still verifies: the erased subject's leaves stay, sealed under a key that is gone.
    let report = t.vault.verify_audit(&|_, _| {}).await.unwrap();
    assert_eq!(report.leaves, 3, "seal, seal_blob and erase");
}

#[tokio::test]
async fn export_holds_records_media_consents_and_proven_events() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    t.vault
        .seal(&me, "account", write(&s, "n", br#"{"hello":"world"}"#))
        .await
        .unwrap();
    let clip =
        futures_util::stream::iter(vec![Ok(bytes::Bytes::from(vec![42u8; 200_000]))]).boxed();
    t.vault
        .seal_blob(&me, "account", &s, "clip", "c1", clip)
        .await
        .unwrap();
    t.vault
        .grant_consent(&me, &s, "panel.receipts")
        .await
        .unwrap();
    let (archive, summary) = t.vault.export(&me, &s).await.unwrap();
    assert_eq!((summary.records, summary.media), (1, 1));
    let mut files = std::collections::BTreeMap::new();
    let mut tar = tar::Archive::new(archive.as_slice());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        files.insert(entry.path().unwrap().to_string_lossy().into_owned(), bytes);
    }
    let record: serde_json::Value = serde_json::from_slice(&files["records/note/n.json"]).unwrap();
    assert_eq!(record["body"]["hello"], "world");
    assert_eq!(files["media/clip/c1"], vec![42u8; 200_000]);
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let size = manifest["checkpoint"]["size"].as_u64().unwrap();
    let root: [u8; 32] = hex::decode(manifest["checkpoint"]["root"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&files["audit/events.json"]).unwrap();
    assert!(events.len() >= 4);
    for e in events {
        let leaf: [u8; 32] = hex::decode(e["leaf_hash"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let proof: Vec<[u8; 32]> = e["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                hex::decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        let sealed = hex::decode(e["sealed"].as_str().unwrap()).unwrap();
        let at = e["at"].as_i64().unwrap();
        assert_eq!(
            merkle::leaf_hash(&seuil_vault::audit::leaf_input(&s, at, &sealed)),
            leaf
        );
        merkle::verify_inclusion(&leaf, e["index"].as_u64().unwrap(), size, &proof, &root).unwrap();
    }
    assert!(
        files["consents.json"]
            .windows(14)
            .any(|w| w == b"panel.receipts")
    );
}

#[tokio::test]
async fn retention_sweeps_expired_records_and_keeps_pinned_ones() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    for id in ["old", "pinned"] {
        let w = Write {
            kind: "delivery.footage",
            id,
            subject: &s,
            index: IndexFields::default(),
            body: b"f",
        };
        t.vault.seal(&me, "account", w).await.unwrap();
    }
    t.vault
        .pin(&me, "delivery.footage", "pinned", true)
        .await
        .unwrap();
    t.clock.advance(71 * 3_600_000);
    assert_eq!(t.vault.sweep().await.unwrap().expired_removed, 0);
    t.clock.advance(2 * 3_600_000);
    assert_eq!(t.vault.sweep().await.unwrap().expired_removed, 1);
    assert!(
        t.vault
            .open(&me, "account", "delivery.footage", "pinned")
            .await
            .is_ok()
    );
    assert!(
        t.vault
            .open(&me, "account", "delivery.footage", "old")
            .await
            .is_err()
    );
    let log = t.vault.access_log(&s).await.unwrap();
    assert!(
        log.iter()
            .any(|e| matches!(&e.event, Some(ev) if ev.purpose == "retention" && ev.id == "old"))
    );
}

#[tokio::test]
async fn a_wrong_kek_refuses_to_start_and_rotation_keeps_data_readable() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    t.vault
        .seal(&me, "account", write(&s, "n", b"kept"))
        .await
        .unwrap();
    let store = t.vault.store().clone();
    drop(t.vault);
    let kek_path = t.dir.path().join("kek");
    let old = std::fs::read_to_string(&kek_path).unwrap();
    std::fs::write(&kek_path, "11".repeat(32)).unwrap();
    let err = vault_in(t.dir.path(), t.clock.clone())
        .await
        .err()
        .expect("wrong KEK must fail");
    assert!(matches!(err, VaultError::WrongKek { .. }), "{err}");
    assert!(err.to_string().contains("Refusing to start"));
    // Rotate from the real key to a new one; the data stays readable under the new key only.
    let parse = |h: &str| {
        seuil_vault::aead::Kek::from_bytes(hex::decode(h.trim()).unwrap().try_into().unwrap())
    };
    let new_hex = "22".repeat(32);
    let mut rng = rand::rngs::OsRng;
    let n = seuil_vault::keys::rotate_kek(store.as_ref(), &parse(&old), &parse(&new_hex), &mut rng)
        .await
        .unwrap();
    assert!(n >= 4);
    drop(store);
    std::fs::write(&kek_path, &new_hex).unwrap();
    let v = vault_in(t.dir.path(), t.clock.clone()).await.unwrap();
    assert_eq!(
        &v.open(&me, "account", "note", "n").await.unwrap().body[..],
        b"kept"
    );
    let _ = T0;
}

#[tokio::test]
async fn concurrent_opens_are_each_audited_with_consistent_proofs() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    t.vault
        .seal(&me, "account", write(&s, "n", b"x"))
        .await
        .unwrap();
    let vault = std::sync::Arc::new(t.vault);
    let first = vault.checkpoint().await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (v, me) = (vault.clone(), me.clone());
            tokio::spawn(async move { v.open(&me, "account", "note", "n").await.map(drop) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let cp = vault.checkpoint().await.unwrap();
    assert_eq!(cp.size, first.size + 64);
    assert!(seuil_vault::audit::verify_checkpoint(
        &cp,
        &vault.log_public_key()
    ));
    let proof = vault.consistency_proof(first.size, cp.size).await.unwrap();
    merkle::verify_consistency(first.size, cp.size, &first.root, &cp.root, &proof).unwrap();
    let log = vault.access_log(&s).await.unwrap();
    let mut indexes: Vec<_> = log.iter().map(|e| e.index).collect();
    indexes.dedup();
    assert_eq!(indexes.len(), 65, "one seal and 64 opens");
    for e in &log {
        let proof = vault.inclusion_proof(e.index, cp.size).await.unwrap();
        merkle::verify_inclusion(&e.leaf_hash, e.index, cp.size, &proof, &cp.root).unwrap();
    }
    vault.verify_audit(&|_, _| {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_over_one_store_keep_one_tree() {
    let t = vault().await;
    // A second kernel over the same store, as a second `seuil serve` would be.
    let kek = seuil_vault::FileKek::new(t.dir.path().join("kek"));
    let config = seuil_vault::VaultConfig {
        clock: t.clock.clone(),
        ..Default::default()
    };
    let other = seuil_vault::Vault::new(
        t.vault.store().clone(),
        t.vault.blobs().clone(),
        &kek,
        config,
    )
    .await
    .unwrap();
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    t.vault
        .seal(&me, "account", write(&s, "n", b"x"))
        .await
        .unwrap();
    let (a, b) = (std::sync::Arc::new(t.vault), std::sync::Arc::new(other));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (v, me) = (if i % 2 == 0 { a.clone() } else { b.clone() }, me.clone());
        tasks.push(tokio::spawn(async move {
            v.open(&me, "account", "note", "n").await.map(drop)
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let log = a.access_log(&s).await.unwrap();
    let indexes: std::collections::BTreeSet<_> = log.iter().map(|e| e.index).collect();
    assert_eq!(indexes.len(), 201, "every event has its own leaf");
    let report = b.verify_audit(&|_, _| {}).await.unwrap();
    assert_eq!(report.leaves, 201);
    let cp = a.checkpoint().await.unwrap();
    for e in &log {
        let proof = b.inclusion_proof(e.index, cp.size).await.unwrap();
        merkle::verify_inclusion(&e.leaf_hash, e.index, cp.size, &proof, &cp.root).unwrap();
    }
}

#[tokio::test]
async fn the_sweeper_finishes_a_purge_that_never_ran() {
    let t = vault().await;
    let s = t.vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    for id in ["a", "b", "c"] {
        t.vault
            .seal(&me, "account", write(&s, id, b"x"))
            .await
            .unwrap();
    }
    t.vault.erase(&me, &s).await.unwrap();
    // As if the process died before the background purge.
    assert_eq!(t.vault.store().subject_records(&s).await.unwrap().len(), 3);
    assert_eq!(t.vault.sweep().await.unwrap().erased_records_removed, 3);
    assert!(
        t.vault
            .store()
            .subject_records(&s)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(t.vault.sweep().await.unwrap().erased_records_removed, 0);
}
