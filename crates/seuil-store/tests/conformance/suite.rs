//! The checks every [`Store`] backend must pass. Each takes a fresh, empty store.
//!
//! Text ids are plain lowercase ASCII so that ordering is the same under any collation.

use seuil_store::{
    AuditLeaf, Checkpoint, ConsentEntry, DynStore, IndexFields, NewOutboxMessage, NewRecord,
    NodeId, Query, RecordKey, ShredEntry, StoreError, WrappedKey,
};

// ---- helpers ------------------------------------------------------------------------------

fn rec(kind: &str, id: &str, subject: &str) -> NewRecord {
    NewRecord {
        kind: kind.into(),
        id: id.into(),
        subject: subject.into(),
        index: IndexFields::default(),
        body: format!("sealed {kind}/{id}").into_bytes(),
        retain_until: None,
    }
}

fn indexed(
    kind: &str,
    id: &str,
    subject: &str,
    status: &str,
    scope: &str,
    at: Option<i64>,
) -> NewRecord {
    NewRecord {
        index: IndexFields {
            status: Some(status.into()),
            at,
            scope: Some(scope.into()),
        },
        ..rec(kind, id, subject)
    }
}

fn key(subject: &str, kek: &str, byte: u8) -> WrappedKey {
    WrappedKey {
        subject: subject.into(),
        kek_id: kek.into(),
        wrapped: vec![byte; 40],
        created_at: 1_000,
    }
}

fn consent(subject: &str, purpose: &str, granted: bool, at: i64) -> ConsentEntry {
    ConsentEntry {
        subject: subject.into(),
        purpose: purpose.into(),
        granted,
        notice_version: "v1".into(),
        at,
    }
}

fn leaf(index: u64, subject: &str) -> AuditLeaf {
    AuditLeaf {
        index,
        subject: subject.into(),
        at: 10_000 + index as i64,
        details: format!("sealed event {index}").into_bytes(),
        leaf_hash: [index as u8; 32],
    }
}

fn node(level: u8, index: u64) -> NodeId {
    NodeId { level, index }
}

fn hash(level: u8, index: u64) -> [u8; 32] {
    let mut h = [0xa0 ^ level; 32];
    h[0] = index as u8;
    h
}

fn message(subject: &str, target: &str, next_at: i64) -> NewOutboxMessage {
    NewOutboxMessage {
        subject: subject.into(),
        target: target.into(),
        payload: format!("sealed for {target}").into_bytes(),
        next_at,
    }
}

fn ids(records: &[seuil_store::Record]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

// ---- records ------------------------------------------------------------------------------

pub async fn records_insert_get(store: &DynStore) {
    let r = NewRecord {
        index: IndexFields {
            status: Some("open".into()),
            at: Some(42),
            scope: Some("store7".into()),
        },
        retain_until: Some(9_000),
        ..rec("visit", "v1", "alice")
    };
    store.insert(&r).await.expect("insert");
    let got = store
        .get("visit", "v1")
        .await
        .expect("get")
        .expect("record present");
    assert_eq!(
        (
            &got.kind,
            &got.id,
            &got.subject,
            &got.index,
            &got.body,
            got.retain_until
        ),
        (
            &r.kind,
            &r.id,
            &r.subject,
            &r.index,
            &r.body,
            r.retain_until
        )
    );
    assert_eq!(got.version, 1);
    assert!(got.created_at > 0, "created_at is the system clock in ms");
    assert_eq!(got.created_at, got.updated_at);

    let again = store.insert(&rec("visit", "v1", "bob")).await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "{again:?}"
    );
    assert_eq!(
        store
            .get("visit", "v1")
            .await
            .expect("get")
            .expect("kept")
            .subject,
        "alice"
    );

    assert!(store.get("visit", "v2").await.expect("get").is_none());
    assert!(store.get("other", "v1").await.expect("get").is_none());
    // An empty body is allowed (a record of index fields only).
    store
        .insert(&NewRecord {
            body: Vec::new(),
            ..rec("visit", "v3", "alice")
        })
        .await
        .expect("empty body");
    assert_eq!(
        store
            .get("visit", "v3")
            .await
            .expect("get")
            .expect("present")
            .body,
        Vec::<u8>::new()
    );
}

pub async fn records_update(store: &DynStore) {
    store
        .insert(&rec("visit", "v1", "alice"))
        .await
        .expect("insert");
    let created = store
        .get("visit", "v1")
        .await
        .expect("get")
        .expect("present")
        .created_at;

    let changed = NewRecord {
        body: b"sealed v2".to_vec(),
        index: IndexFields {
            status: Some("done".into()),
            at: Some(7),
            scope: None,
        },
        retain_until: Some(5),
        ..rec("visit", "v1", "alice")
    };
    assert_eq!(store.update(&changed, 1).await.expect("update"), 2);
    let got = store
        .get("visit", "v1")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        (got.version, &got.body, &got.index, got.retain_until),
        (2, &changed.body, &changed.index, Some(5))
    );
    assert_eq!(got.created_at, created, "created_at never changes");
    assert!(got.updated_at >= created);

    let stale = store.update(&rec("visit", "v1", "alice"), 1).await;
    assert!(
        matches!(stale, Err(StoreError::VersionConflict { expected: 1, .. })),
        "{stale:?}"
    );
    assert_eq!(
        store
            .get("visit", "v1")
            .await
            .expect("get")
            .expect("present")
            .body,
        changed.body
    );
    assert_eq!(
        store
            .update(&rec("visit", "v1", "alice"), 2)
            .await
            .expect("update"),
        3
    );

    let missing = store.update(&rec("visit", "nope", "alice"), 1).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
}

pub async fn records_set_retention(store: &DynStore) {
    store
        .insert(&NewRecord {
            retain_until: Some(100),
            ..rec("clip", "c1", "alice")
        })
        .await
        .expect("insert");
    assert!(store.set_retention("clip", "c1", None).await.expect("pin"));
    let got = store
        .get("clip", "c1")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        (got.retain_until, got.version),
        (None, 1),
        "the version is untouched"
    );
    assert!(store.expired(1_000, 10).await.expect("expired").is_empty());
    assert!(
        store
            .set_retention("clip", "c1", Some(200))
            .await
            .expect("unpin")
    );
    assert_eq!(store.expired(1_000, 10).await.expect("expired").len(), 1);
    assert!(
        !store
            .set_retention("clip", "nope", Some(1))
            .await
            .expect("missing")
    );
}

pub async fn records_delete(store: &DynStore) {
    store
        .insert(&rec("visit", "v1", "alice"))
        .await
        .expect("insert");
    store
        .insert(&rec("visit", "v2", "alice"))
        .await
        .expect("insert");
    assert!(store.delete("visit", "v1").await.expect("delete"));
    assert!(!store.delete("visit", "v1").await.expect("delete again"));
    assert!(store.get("visit", "v1").await.expect("get").is_none());
    assert!(store.get("visit", "v2").await.expect("get").is_some());
    // The id is free again.
    store
        .insert(&rec("visit", "v1", "bob"))
        .await
        .expect("insert again");
    assert_eq!(
        store
            .get("visit", "v1")
            .await
            .expect("get")
            .expect("present")
            .version,
        1
    );
}

pub async fn records_query(store: &DynStore) {
    for r in [
        indexed("visit", "a05", "alice", "open", "s1", Some(50)),
        indexed("visit", "a01", "bob", "open", "s1", Some(10)),
        indexed("visit", "a03", "alice", "done", "s1", Some(30)),
        indexed("visit", "a02", "alice", "open", "s2", Some(30)),
        indexed("visit", "a04", "carol", "open", "s1", None),
        indexed("other", "a00", "alice", "open", "s1", Some(20)),
    ] {
        store.insert(&r).await.expect("insert");
    }
    let q = |f: fn(&mut Query)| {
        let mut q = Query {
            kind: "visit".into(),
            ..Query::default()
        };
        f(&mut q);
        q
    };
    let run = |q: Query| async move { store.query(&q).await.expect("query") };

    // Ordered by (at, id); a record without `at` comes first.
    assert_eq!(
        ids(&run(q(|_| {})).await),
        ["a04", "a01", "a02", "a03", "a05"]
    );
    assert_eq!(
        ids(&run(q(|q| q.status = Some("open".into()))).await),
        ["a04", "a01", "a02", "a05"]
    );
    assert_eq!(
        ids(&run(q(|q| q.scope = Some("s1".into()))).await),
        ["a04", "a01", "a03", "a05"]
    );
    assert_eq!(
        ids(&run(q(|q| q.subject = Some("alice".into()))).await),
        ["a02", "a03", "a05"]
    );
    assert_eq!(
        ids(&run(q(|q| {
            q.status = Some("open".into());
            q.scope = Some("s1".into());
        }))
        .await),
        ["a04", "a01", "a05"]
    );
    // `at_from` inclusive, `at_to` exclusive; a range leaves out records without `at`.
    assert_eq!(
        ids(&run(q(|q| {
            q.at_from = Some(30);
            q.at_to = Some(50);
        }))
        .await),
        ["a02", "a03"]
    );
    assert_eq!(
        ids(&run(q(|q| q.at_from = Some(30))).await),
        ["a02", "a03", "a05"]
    );
    assert_eq!(ids(&run(q(|q| q.at_to = Some(30))).await), ["a01"]);
    assert_eq!(ids(&run(q(|q| q.limit = Some(2))).await), ["a04", "a01"]);
    assert_eq!(
        ids(&run(q(|q| {
            q.subject = Some("alice".into());
            q.limit = Some(1);
        }))
        .await),
        ["a02"]
    );
    assert!(run(q(|q| q.limit = Some(0))).await.is_empty());
    assert!(run(q(|q| q.status = Some("nope".into()))).await.is_empty());
    assert!(
        run(Query {
            kind: "none".into(),
            ..Query::default()
        })
        .await
        .is_empty()
    );
    // Records come back whole.
    let full = run(q(|q| q.subject = Some("bob".into()))).await;
    assert_eq!(full.len(), 1);
    assert_eq!(
        (full[0].body.as_slice(), full[0].version),
        (&b"sealed visit/a01"[..], 1)
    );
}

pub async fn records_of_subject_and_expiry(store: &DynStore) {
    for (kind, id, subject, until) in [
        ("visit", "v2", "alice", Some(100)),
        ("clip", "c1", "alice", Some(50)),
        ("visit", "v1", "alice", None),
        ("clip", "c2", "bob", Some(10)),
        ("clip", "c3", "bob", Some(200)),
    ] {
        store
            .insert(&NewRecord {
                retain_until: until,
                ..rec(kind, id, subject)
            })
            .await
            .expect("insert");
    }
    let alice = store
        .subject_records("alice")
        .await
        .expect("subject records");
    let keys: Vec<_> = alice
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .collect();
    assert_eq!(keys, [("clip", "c1"), ("visit", "v1"), ("visit", "v2")]);
    assert!(
        store
            .subject_records("nobody")
            .await
            .expect("none")
            .is_empty()
    );

    // Strictly before `now`; never a record kept without limit.
    let mut due = store.expired(100, 10).await.expect("expired");
    due.sort();
    let key = |kind: &str, id: &str, subject: &str| RecordKey {
        kind: kind.into(),
        id: id.into(),
        subject: subject.into(),
    };
    assert_eq!(due, [key("clip", "c1", "alice"), key("clip", "c2", "bob")]);
    assert_eq!(store.expired(1_000, 2).await.expect("limited").len(), 2);
    assert_eq!(store.expired(1_000, 10).await.expect("all").len(), 4);
    assert!(store.expired(10, 10).await.expect("none yet").is_empty());

    assert_eq!(
        store.delete_subject_records("alice").await.expect("delete"),
        3
    );
    assert!(
        store
            .subject_records("alice")
            .await
            .expect("gone")
            .is_empty()
    );
    assert_eq!(store.subject_records("bob").await.expect("kept").len(), 2);
    assert_eq!(
        store.delete_subject_records("alice").await.expect("again"),
        0
    );
}

// ---- keys -----------------------------------------------------------------------------------

pub async fn keys_put_get_rewrap(store: &DynStore) {
    assert!(store.get_key("alice").await.expect("get").is_none());
    assert!(store.all_keys().await.expect("all").is_empty());
    store.put_key(&key("bob", "kek1", 2)).await.expect("put");
    store.put_key(&key("alice", "kek1", 1)).await.expect("put");
    let dup = store.put_key(&key("alice", "kek1", 9)).await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    assert_eq!(
        store.get_key("alice").await.expect("get"),
        Some(key("alice", "kek1", 1)),
        "the first key stays"
    );

    let mut all = store.all_keys().await.expect("all");
    all.sort_by(|a, b| a.subject.cmp(&b.subject));
    assert_eq!(all, [key("alice", "kek1", 1), key("bob", "kek1", 2)]);

    // Rotation rewraps existing keys only; created_at is kept.
    let rewrapped = [
        WrappedKey {
            created_at: 5,
            ..key("alice", "kek2", 11)
        },
        key("bob", "kek2", 12),
        key("ghost", "kek2", 13),
    ];
    store.rewrap_keys(&rewrapped).await.expect("rewrap");
    assert_eq!(
        store.get_key("alice").await.expect("get"),
        Some(key("alice", "kek2", 11))
    );
    assert_eq!(
        store.get_key("bob").await.expect("get"),
        Some(key("bob", "kek2", 12))
    );
    assert!(
        store.get_key("ghost").await.expect("get").is_none(),
        "rewrap never creates a key"
    );
    store.rewrap_keys(&[]).await.expect("empty rewrap");
}

pub async fn keys_shred(store: &DynStore) {
    store.put_key(&key("alice", "kek1", 1)).await.expect("put");
    store.put_key(&key("bob", "kek1", 2)).await.expect("put");
    assert!(store.shred_ledger().await.expect("ledger").is_empty());

    assert!(store.shred_key("alice", 5_000).await.expect("shred"));
    assert!(store.get_key("alice").await.expect("get").is_none());
    assert!(store.get_key("bob").await.expect("get").is_some());
    let entry = |subject: &str, at| ShredEntry {
        subject: subject.into(),
        at,
    };
    assert_eq!(
        store.shred_ledger().await.expect("ledger"),
        [entry("alice", 5_000)]
    );

    // Shredding what is not there destroys nothing and records nothing.
    assert!(!store.shred_key("alice", 6_000).await.expect("again"));
    assert!(!store.shred_key("nobody", 6_000).await.expect("unknown"));
    assert_eq!(
        store.shred_ledger().await.expect("ledger"),
        [entry("alice", 5_000)]
    );

    assert!(store.shred_key("bob", 7_000).await.expect("shred"));
    assert_eq!(
        store.shred_ledger().await.expect("ledger"),
        [entry("alice", 5_000), entry("bob", 7_000)]
    );
    assert!(store.all_keys().await.expect("all").is_empty());
}

// ---- the open row -----------------------------------------------------------------------------

pub async fn open_row(store: &DynStore) {
    assert!(
        store
            .get_for_open("visit", "v1", "delivery.video")
            .await
            .expect("open")
            .is_none()
    );
    store
        .insert(&rec("visit", "v1", "alice"))
        .await
        .expect("insert");

    let row = store
        .get_for_open("visit", "v1", "delivery.video")
        .await
        .expect("open")
        .expect("row");
    assert_eq!((row.record.id.as_str(), row.record.version), ("v1", 1));
    assert_eq!(
        (row.wrapped_key, row.consent),
        (None, None),
        "no key and no consent yet"
    );

    store
        .put_key(&key("alice", "kek1", 7))
        .await
        .expect("put key");
    let purpose = "delivery.video";
    let open = || async {
        store
            .get_for_open("visit", "v1", purpose)
            .await
            .expect("open")
            .expect("row")
    };
    assert_eq!(open().await.wrapped_key, Some(key("alice", "kek1", 7)));

    store
        .add_consent(&consent("alice", purpose, true, 10))
        .await
        .expect("grant");
    assert_eq!(open().await.consent, Some(true));
    store
        .add_consent(&consent("alice", purpose, false, 20))
        .await
        .expect("withdraw");
    assert_eq!(
        open().await.consent,
        Some(false),
        "the newest decision wins"
    );
    // A decision dated earlier, recorded late, does not override a newer one.
    store
        .add_consent(&consent("alice", purpose, true, 15))
        .await
        .expect("late");
    assert_eq!(open().await.consent, Some(false));
    // Another purpose, or another subject, is not this consent.
    store
        .add_consent(&consent("alice", "panel.insights", true, 30))
        .await
        .expect("other purpose");
    store
        .add_consent(&consent("bob", purpose, true, 30))
        .await
        .expect("other subject");
    assert_eq!(open().await.consent, Some(false));
    // Of two decisions at the same time, the one recorded last wins.
    store
        .add_consent(&consent("alice", purpose, true, 20))
        .await
        .expect("same time");
    assert_eq!(open().await.consent, Some(true));
    let other = store
        .get_for_open("visit", "v1", "palm.identify")
        .await
        .expect("open")
        .expect("row");
    assert_eq!(other.consent, None);

    assert!(store.shred_key("alice", 50).await.expect("shred"));
    let row = open().await;
    assert_eq!(
        (row.wrapped_key, row.consent),
        (None, Some(true)),
        "the record outlives its key"
    );
}

// ---- meta and consent ---------------------------------------------------------------------

pub async fn meta_values(store: &DynStore) {
    assert_eq!(store.get_meta("kek.check").await.expect("get"), None);
    assert_eq!(
        store.init_meta("kek.check", b"first").await.expect("init"),
        b"first"
    );
    assert_eq!(
        store
            .init_meta("kek.check", b"second")
            .await
            .expect("init again"),
        b"first"
    );
    assert_eq!(
        store.get_meta("kek.check").await.expect("get"),
        Some(b"first".to_vec())
    );
    store.set_meta("kek.check", b"third").await.expect("set");
    assert_eq!(
        store.get_meta("kek.check").await.expect("get"),
        Some(b"third".to_vec())
    );
    store.set_meta("other", b"").await.expect("set empty");
    assert_eq!(
        store.get_meta("other").await.expect("get"),
        Some(Vec::new())
    );
    assert_eq!(
        store.get_meta("kek.check").await.expect("get"),
        Some(b"third".to_vec())
    );
}

pub async fn consent_history(store: &DynStore) {
    assert!(
        store
            .consent_history("alice")
            .await
            .expect("empty")
            .is_empty()
    );
    let entries = [
        consent("alice", "panel.receipts", true, 10),
        consent("alice", "delivery.video", true, 20),
        consent("alice", "panel.receipts", false, 30),
    ];
    for e in &entries {
        store.add_consent(e).await.expect("add");
    }
    // Recorded out of time order: history is by time.
    store
        .add_consent(&consent("alice", "palm.identify", true, 5))
        .await
        .expect("add");
    store
        .add_consent(&consent("bob", "panel.receipts", true, 15))
        .await
        .expect("add");

    let history = store.consent_history("alice").await.expect("history");
    let mut want = vec![consent("alice", "palm.identify", true, 5)];
    want.extend(entries.iter().cloned());
    assert_eq!(history, want, "every decision, oldest first");

    assert_eq!(
        store
            .delete_subject_consents("alice")
            .await
            .expect("delete"),
        4
    );
    assert!(
        store
            .consent_history("alice")
            .await
            .expect("gone")
            .is_empty()
    );
    assert_eq!(store.consent_history("bob").await.expect("kept").len(), 1);
}

// ---- audit log ----------------------------------------------------------------------------

pub async fn audit_append_and_read(store: &DynStore) {
    assert_eq!(store.audit_size().await.expect("size"), 0);
    assert!(store.audit_leaves(0, 10).await.expect("leaves").is_empty());

    let first = [leaf(0, "alice"), leaf(1, "bob"), leaf(2, "alice")];
    let nodes = [
        (node(0, 0), hash(0, 0)),
        (node(0, 1), hash(0, 1)),
        (node(1, 0), hash(1, 0)),
    ];
    store
        .audit_append(0, None, &first, &nodes)
        .await
        .expect("append");
    assert_eq!(store.audit_size().await.expect("size"), 3);

    assert_eq!(store.audit_leaves(0, 3).await.expect("all"), first);
    assert_eq!(
        store.audit_leaves(1, 2).await.expect("one"),
        [leaf(1, "bob")]
    );
    assert_eq!(
        store.audit_leaves(2, 100).await.expect("tail"),
        [leaf(2, "alice")]
    );
    assert!(
        store
            .audit_leaves(2, 2)
            .await
            .expect("empty range")
            .is_empty()
    );
    assert!(
        store
            .audit_leaves(5, 9)
            .await
            .expect("past the end")
            .is_empty()
    );
    assert_eq!(
        store.audit_leaves_of("alice").await.expect("of alice"),
        [leaf(0, "alice"), leaf(2, "alice")]
    );
    assert!(
        store
            .audit_leaves_of("carol")
            .await
            .expect("of carol")
            .is_empty()
    );

    // In the order asked, repeats included.
    let asked = [node(1, 0), node(0, 1), node(0, 0), node(1, 0)];
    let got = store.audit_nodes(&asked).await.expect("nodes");
    assert_eq!(got, [hash(1, 0), hash(0, 1), hash(0, 0), hash(1, 0)]);
    assert!(store.audit_nodes(&[]).await.expect("no nodes").is_empty());
    let missing = store.audit_nodes(&[node(0, 0), node(2, 0)]).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    store
        .audit_append(
            3,
            None,
            &[leaf(3, "carol")],
            &[
                (node(0, 2), hash(0, 2)),
                (node(0, 3), hash(0, 3)),
                (node(1, 1), hash(1, 1)),
                (node(2, 0), hash(2, 0)),
            ],
        )
        .await
        .expect("append more");
    assert_eq!(store.audit_size().await.expect("size"), 4);
    assert_eq!(
        store.audit_nodes(&[node(2, 0)]).await.expect("root node"),
        [hash(2, 0)]
    );
    // Nodes alone (no leaves) are fine too.
    store
        .audit_append(4, None, &[], &[])
        .await
        .expect("empty append");
    assert_eq!(store.audit_size().await.expect("size"), 4);
}

pub async fn audit_size_mismatch_writes_nothing(store: &DynStore) {
    store
        .audit_append(0, None, &[leaf(0, "alice"), leaf(1, "alice")], &[])
        .await
        .expect("append");

    let stale = store
        .audit_append(1, None, &[leaf(1, "bob")], &[(node(0, 1), hash(9, 9))])
        .await;
    assert!(
        matches!(
            stale,
            Err(StoreError::LogSizeMismatch {
                expected: 1,
                actual: 2
            })
        ),
        "{stale:?}"
    );
    let ahead = store
        .audit_append(5, None, &[leaf(5, "bob")], &[(node(3, 0), hash(3, 0))])
        .await;
    assert!(
        matches!(
            ahead,
            Err(StoreError::LogSizeMismatch {
                expected: 5,
                actual: 2
            })
        ),
        "{ahead:?}"
    );
    assert_eq!(store.audit_size().await.expect("size"), 2);
    assert_eq!(
        store.audit_leaves(0, 10).await.expect("leaves"),
        [leaf(0, "alice"), leaf(1, "alice")]
    );
    let not_written = store.audit_nodes(&[node(3, 0)]).await;
    assert!(
        matches!(not_written, Err(StoreError::NotFound { .. })),
        "{not_written:?}"
    );

    // Leaves must be numbered from the expected size, in order.
    let gap = store.audit_append(2, None, &[leaf(3, "bob")], &[]).await;
    assert!(matches!(gap, Err(StoreError::Invalid { .. })), "{gap:?}");
    let swapped = store
        .audit_append(2, None, &[leaf(3, "bob"), leaf(2, "bob")], &[])
        .await;
    assert!(
        matches!(swapped, Err(StoreError::Invalid { .. })),
        "{swapped:?}"
    );
    assert_eq!(store.audit_size().await.expect("size"), 2);
    store
        .audit_append(2, None, &[leaf(2, "bob")], &[])
        .await
        .expect("the right size still works");

    // The right size on top of other leaves than the batch was built on fails too.
    let diverged = store
        .audit_append(3, Some([0xEE; 32]), &[leaf(3, "bob")], &[])
        .await;
    assert!(
        matches!(diverged, Err(StoreError::LogSizeMismatch { .. })),
        "{diverged:?}"
    );
    assert_eq!(
        store.audit_size().await.expect("size"),
        3,
        "nothing written"
    );
    store
        .audit_append(3, Some(leaf(2, "bob").leaf_hash), &[leaf(3, "bob")], &[])
        .await
        .expect("built on the leaf that is there");
}

pub async fn audit_checkpoints(store: &DynStore) {
    let cp = |size: u64| Checkpoint {
        size,
        root: [size as u8; 32],
        at: 100 + size as i64,
        signature: vec![size as u8; 64],
    };
    assert!(store.latest_checkpoint().await.expect("latest").is_none());
    assert!(store.checkpoints().await.expect("all").is_empty());
    store.put_checkpoint(&cp(5)).await.expect("put");
    store.put_checkpoint(&cp(3)).await.expect("put");
    store
        .put_checkpoint(&cp(5))
        .await
        .expect("the same checkpoint again");
    let resigned = Checkpoint {
        at: 999,
        signature: vec![9; 64],
        ..cp(5)
    };
    store
        .put_checkpoint(&resigned)
        .await
        .expect("the same tree signed again");
    assert_eq!(
        store.latest_checkpoint().await.expect("latest"),
        Some(cp(5)),
        "the first checkpoint of a size stays"
    );
    assert_eq!(store.checkpoint_at(3).await.expect("at 3"), Some(cp(3)));
    assert_eq!(store.checkpoint_at(4).await.expect("at 4"), None);
    assert_eq!(store.checkpoints().await.expect("all"), [cp(3), cp(5)]);
    store.put_checkpoint(&cp(0)).await.expect("the empty tree");
    assert_eq!(
        store.checkpoints().await.expect("all"),
        [cp(0), cp(3), cp(5)]
    );
}

// ---- outbox -------------------------------------------------------------------------------

pub async fn outbox_lease_retry_done(store: &DynStore) {
    assert_eq!(store.outbox_pending().await.expect("pending"), 0);
    let m1 = store
        .outbox_push(&message("alice", "hook1", 100))
        .await
        .expect("push");
    let m2 = store
        .outbox_push(&message("alice", "hook2", 200))
        .await
        .expect("push");
    let m3 = store
        .outbox_push(&message("bob", "hook3", 100))
        .await
        .expect("push");
    assert!(m1 < m2 && m2 < m3, "ids grow: {m1} {m2} {m3}");
    assert_eq!(store.outbox_pending().await.expect("pending"), 3);

    let claim =
        |now, limit| async move { store.outbox_claim(now, 1_000, limit).await.expect("claim") };
    let ids = |ms: &[seuil_store::OutboxMessage]| ms.iter().map(|m| m.id).collect::<Vec<_>>();

    assert!(claim(50, 10).await.is_empty(), "nothing due yet");
    let first = claim(150, 10).await;
    assert_eq!(ids(&first), [m1, m3], "due messages by (next_at, id)");
    assert_eq!(
        (
            first[0].subject.as_str(),
            first[0].target.as_str(),
            first[0].payload.as_slice()
        ),
        ("alice", "hook1", &b"sealed for hook1"[..])
    );
    assert_eq!(
        (
            first[0].attempts,
            first[0].next_at,
            first[0].last_error.clone()
        ),
        (0, 100, None)
    );
    assert!(
        claim(160, 10).await.is_empty(),
        "leased messages are not claimed twice"
    );
    assert_eq!(
        ids(&claim(250, 10).await),
        [m2],
        "m1 and m3 leased until 1150"
    );

    store.outbox_retry(m1, 300, "timeout").await.expect("retry");
    assert!(
        claim(260, 10).await.is_empty(),
        "a retried message waits for its next_at"
    );
    let retried = claim(300, 10).await;
    assert_eq!(ids(&retried), [m1]);
    assert_eq!((retried[0].attempts, retried[0].next_at), (1, 300));
    assert_eq!(retried[0].last_error.as_deref(), Some("timeout"));

    // m3's lease ran out at 1150: it can be claimed again; m2's runs until 1250, m1's 1300.
    assert_eq!(ids(&claim(1_200, 10).await), [m3]);
    assert_eq!(
        ids(&claim(1_300, 1).await),
        [m2],
        "m1 and m2 are due; the limit holds"
    );
    assert_eq!(ids(&claim(1_300, 1).await), [m1]);

    store.outbox_done(m1).await.expect("done");
    assert_eq!(store.outbox_pending().await.expect("pending"), 2);
    store
        .outbox_done(m1)
        .await
        .expect("done twice is not an error");
    store
        .outbox_retry(m1, 5_000, "late")
        .await
        .expect("retrying a done message is not an error");
    assert_eq!(store.outbox_pending().await.expect("pending"), 2);
    store.outbox_done(m2).await.expect("done");
    store.outbox_done(m3).await.expect("done");
    assert_eq!(store.outbox_pending().await.expect("pending"), 0);
    let m4 = store
        .outbox_push(&message("carol", "hook4", 0))
        .await
        .expect("push");
    assert!(m4 > m3, "ids are never reused");
}

pub async fn outbox_subject_delete(store: &DynStore) {
    store
        .outbox_push(&message("alice", "hook1", 0))
        .await
        .expect("push");
    store
        .outbox_push(&message("alice", "hook2", 0))
        .await
        .expect("push");
    store
        .outbox_push(&message("bob", "hook1", 0))
        .await
        .expect("push");
    assert_eq!(
        store.delete_subject_outbox("alice").await.expect("delete"),
        2
    );
    assert_eq!(store.outbox_pending().await.expect("pending"), 1);
    let left = store.outbox_claim(0, 10, 10).await.expect("claim");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].subject, "bob");
    assert_eq!(
        store.delete_subject_outbox("alice").await.expect("again"),
        0
    );
}

// ---- concurrency --------------------------------------------------------------------------

pub async fn concurrent_inserts(store: &DynStore) {
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .insert(&rec("load", &format!("r{i:03}"), "alice"))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("task")
            .expect("every insert is acknowledged");
    }
    let all = store
        .query(&Query {
            kind: "load".into(),
            ..Query::default()
        })
        .await
        .expect("query");
    assert_eq!(all.len(), 200);
    let mut got = ids(&all);
    got.sort_unstable();
    let want: Vec<String> = (0..200).map(|i| format!("r{i:03}")).collect();
    assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
}

pub async fn concurrent_updates_one_winner(store: &DynStore) {
    for round in 0..20 {
        let id = format!("r{round:02}");
        store
            .insert(&rec("race", &id, "alice"))
            .await
            .expect("insert");
        let tasks: Vec<_> = (0..2)
            .map(|writer| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move {
                    let body = format!("writer {writer}").into_bytes();
                    let outcome = store
                        .update(
                            &NewRecord {
                                body: body.clone(),
                                ..rec("race", &id, "alice")
                            },
                            1,
                        )
                        .await;
                    (outcome, body)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.expect("task") {
                (Ok(version), body) => {
                    assert_eq!(version, 2);
                    winners.push(body);
                }
                (Err(StoreError::VersionConflict { expected: 1, .. }), _) => {}
                (Err(e), _) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer wins");
        let got = store.get("race", &id).await.expect("get").expect("present");
        assert_eq!((got.version, &got.body), (2, &winners[0]));
    }
}

pub async fn concurrent_appends_and_keys_one_winner(store: &DynStore) {
    let appends: Vec<_> = ["alice", "bob"]
        .into_iter()
        .map(|subject| {
            let store = store.clone();
            tokio::spawn(async move { store.audit_append(0, None, &[leaf(0, subject)], &[]).await })
        })
        .collect();
    let keys: Vec<_> = [1u8, 2]
        .into_iter()
        .map(|byte| {
            let store = store.clone();
            tokio::spawn(async move { store.put_key(&key("dave", "kek1", byte)).await })
        })
        .collect();
    let (mut appended, mut put) = (0, 0);
    for task in appends {
        match task.await.expect("task") {
            Ok(()) => appended += 1,
            Err(StoreError::LogSizeMismatch {
                expected: 0,
                actual: 1,
            }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    for task in keys {
        match task.await.expect("task") {
            Ok(()) => put += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((appended, put), (1, 1));
    assert_eq!(store.audit_size().await.expect("size"), 1);
}
