//! Property tests of the kernel over a real SQLite store: each case builds a fresh vault.

mod common;

use proptest::prelude::*;
use seuil_store::{IndexFields, NewRecord};
use seuil_vault::{Actor, VaultError, Write, merkle};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 16,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn seal_open_round_trips(bodies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..2048), 1..8),
                             id in "[a-z0-9-]{1,24}") {
        runtime().block_on(async {
            let t = common::vault().await;
            let s = t.vault.create_subject().await.unwrap();
            let me = Actor::Subject(s.clone());
            for (i, body) in bodies.iter().enumerate() {
                let id = format!("{id}.{i}");
                t.vault.seal(&me, "account", Write { kind: "k", id: &id, subject: &s, index: IndexFields::default(), body }).await.unwrap();
            }
            for (i, body) in bodies.iter().enumerate() {
                let opened = t.vault.open(&me, "account", "k", &format!("{id}.{i}")).await.unwrap();
                prop_assert_eq!(&opened.body[..], &body[..]);
            }
            Ok(())
        })?;
    }

    /// A body under any other associated data (record, subject or version) fails to open.
    #[test]
    fn a_body_under_wrong_associated_data_fails(which in 0usize..3, len in 0usize..512) {
        runtime().block_on(async {
            let t = common::vault().await;
            let a = t.vault.create_subject().await.unwrap();
            let b = t.vault.create_subject().await.unwrap();
            let body = vec![9u8; len];
            for (s, id) in [(&a, "x"), (&a, "y"), (&b, "z")] {
                let me = Actor::Subject(s.clone());
                t.vault.seal(&me, "account", Write { kind: "k", id, subject: s, index: IndexFields::default(), body: &body }).await.unwrap();
            }
            let store = t.vault.store();
            let x = store.get("k", "x").await.unwrap().unwrap();
            // Put x's sealed body where the associated data differs in one component.
            let (target, expected_version) = match which {
                0 => (store.get("k", "y").await.unwrap().unwrap(), 1), // another id
                1 => (store.get("k", "z").await.unwrap().unwrap(), 1), // another subject (and id)
                _ => (x.clone(), 1), // same record, next version
            };
            let moved = NewRecord { kind: target.kind.clone(), id: target.id.clone(), subject: target.subject.clone(), index: target.index.clone(), body: x.body.clone(), retain_until: None };
            store.update(&moved, expected_version).await.unwrap();
            let owner = Actor::Subject(target.subject.clone());
            let err = t.vault.open(&owner, "account", "k", &target.id).await.unwrap_err();
            prop_assert!(matches!(err, VaultError::Integrity { .. }), "{}", err);
            Ok(())
        })?;
    }

    #[test]
    fn after_a_shred_every_open_is_not_found(n in 1usize..12, pick in any::<prop::sample::Index>()) {
        runtime().block_on(async {
            let t = common::vault().await;
            let s = t.vault.create_subject().await.unwrap();
            let me = Actor::Subject(s.clone());
            for i in 0..n {
                t.vault.seal(&me, "account", Write { kind: "k", id: &i.to_string(), subject: &s, index: IndexFields::default(), body: b"b" }).await.unwrap();
            }
            t.vault.erase(&me, &s).await.unwrap();
            let id = pick.index(n).to_string();
            for actor in [me.clone(), Actor::Operator("op".into()), Actor::system("x")] {
                let err = t.vault.open(&actor, "account", "k", &id).await.unwrap_err();
                prop_assert!(matches!(err, VaultError::NotFound { .. }), "{}", err);
            }
            Ok(())
        })?;
    }

    /// Whatever sequence of appends and checkpoints happens, every event's inclusion proof and
    /// every pair of checkpoints' consistency proof verify.
    #[test]
    fn proofs_verify_after_any_sequence_of_appends(steps in prop::collection::vec((0u8..3, 1usize..6), 1..12)) {
        runtime().block_on(async {
            let t = common::vault().await;
            let s = t.vault.create_subject().await.unwrap();
            let me = Actor::Subject(s.clone());
            t.vault.seal(&me, "account", Write { kind: "k", id: "r", subject: &s, index: IndexFields::default(), body: b"b" }).await.unwrap();
            let mut checkpoints = vec![t.vault.checkpoint().await.unwrap()];
            for (op, count) in steps {
                for _ in 0..count {
                    match op {
                        0 => drop(t.vault.open(&me, "account", "k", "r").await.unwrap()),
                        1 => t.vault.grant_consent(&me, &s, "panel.receipts").await.unwrap(),
                        _ => drop(t.vault.open(&Actor::Operator("o".into()), "panel.receipts", "k", "r").await),
                    }
                }
                checkpoints.push(t.vault.checkpoint().await.unwrap());
            }
            let log_key = t.vault.log_public_key();
            for pair in checkpoints.windows(2) {
                let (old, new) = (&pair[0], &pair[1]);
                prop_assert!(seuil_vault::audit::verify_checkpoint(new, &log_key));
                let proof = t.vault.consistency_proof(old.size, new.size).await.unwrap();
                prop_assert!(merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof).is_ok());
            }
            let last = checkpoints.last().unwrap();
            for e in t.vault.access_log(&s).await.unwrap() {
                let proof = t.vault.inclusion_proof(e.index, last.size).await.unwrap();
                prop_assert!(merkle::verify_inclusion(&e.leaf_hash, e.index, last.size, &proof, &last.root).is_ok());
            }
            t.vault.verify_audit(&|_, _| {}).await.unwrap();
            Ok(())
        })?;
    }
}
