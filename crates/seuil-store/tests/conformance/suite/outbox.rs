//! The outbox: leases, retries and per-subject deletion.

use super::*;

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
