//! Subject keys and shredding, the one-read open row, meta values and consent.

use super::*;

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
            .get_for_open("visit", "v1", Some("delivery.video"))
            .await
            .expect("open")
            .is_none()
    );
    store
        .insert(&rec("visit", "v1", "alice"))
        .await
        .expect("insert");

    let row = store
        .get_for_open("visit", "v1", Some("delivery.video"))
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
            .get_for_open("visit", "v1", Some(purpose))
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
        .get_for_open("visit", "v1", Some("palm.identify"))
        .await
        .expect("open")
        .expect("row");
    assert_eq!(other.consent, None);
    // Without a purpose, no consent is looked up; the record and its key still come.
    let bare = store
        .get_for_open("visit", "v1", None)
        .await
        .expect("open")
        .expect("row");
    assert_eq!(
        (bare.record.id.as_str(), bare.wrapped_key, bare.consent),
        ("v1", Some(key("alice", "kek1", 7)), None)
    );

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
