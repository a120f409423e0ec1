//! Records: insert, update, retention, delete, queries and expiry.

use super::*;

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
