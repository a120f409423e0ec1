//! The audit log: appends, races, leaves, nodes and checkpoints.

use super::*;

pub async fn audit_append_and_read(store: &DynStore) {
    assert_eq!(store.audit_size().await.expect("size"), 0);
    assert!(store.audit_leaves(0, 10).await.expect("leaves").is_empty());

    let first = [leaf(0, "alice"), leaf(1, "bob"), leaf(2, "alice")];
    let nodes = [(node(1, 0), hash(1, 0))];
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
        store
            .audit_leaves_of("alice", LeafPage::ALL)
            .await
            .expect("of alice"),
        [leaf(0, "alice"), leaf(2, "alice")]
    );
    assert!(
        store
            .audit_leaves_of("carol", LeafPage::ALL)
            .await
            .expect("of carol")
            .is_empty()
    );

    // In the order asked, repeats included; level 0 is the leaves' hashes.
    let asked = [node(1, 0), node(0, 1), node(0, 0), node(1, 0)];
    let got = store.audit_nodes(&asked).await.expect("nodes");
    assert_eq!(
        got,
        [
            hash(1, 0),
            leaf(1, "").leaf_hash,
            leaf(0, "").leaf_hash,
            hash(1, 0)
        ]
    );
    assert!(store.audit_nodes(&[]).await.expect("no nodes").is_empty());
    let missing = store.audit_nodes(&[node(0, 0), node(2, 0)]).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let missing = store.audit_nodes(&[node(0, 3)]).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    store
        .audit_append(
            3,
            None,
            &[leaf(3, "carol")],
            &[(node(1, 1), hash(1, 1)), (node(2, 0), hash(2, 0))],
        )
        .await
        .expect("append more");
    assert_eq!(store.audit_size().await.expect("size"), 4);
    assert_eq!(
        store.audit_nodes(&[node(2, 0)]).await.expect("root node"),
        [hash(2, 0)]
    );
    // An empty append is fine too.
    store
        .audit_append(4, None, &[], &[])
        .await
        .expect("empty append");
    assert_eq!(store.audit_size().await.expect("size"), 4);
}

/// Reads by subject stay complete on a log long enough for a backend to index it in bulk
/// (SQLite does every few thousand leaves): nothing is lost between index and tail.
pub async fn audit_leaves_of_a_long_log(store: &DynStore) {
    const LEAVES: u64 = 10_000;
    const SUBJECTS: u64 = 7;
    let subject = |i: u64| format!("s{}", i % SUBJECTS);
    for start in (0..LEAVES).step_by(1_000) {
        let batch: Vec<_> = (start..start + 1_000)
            .map(|i| leaf(i, &subject(i)))
            .collect();
        store
            .audit_append(start, None, &batch, &[])
            .await
            .expect("append a batch");
        let of = store
            .audit_leaves_of("s3", LeafPage::ALL)
            .await
            .expect("leaves of s3");
        let want: Vec<u64> = (0..start + 1_000).filter(|i| i % SUBJECTS == 3).collect();
        let got: Vec<u64> = of.iter().map(|l| l.index).collect();
        assert_eq!(got, want, "after {} leaves", start + 1_000);
        assert!(
            of.iter()
                .all(|l| l.subject == "s3" && *l == leaf(l.index, "s3"))
        );
        // Read a page at a time, newest first, the same leaves come back, across the
        // boundary between what a backend has indexed and the tail it has not.
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .audit_leaves_of("s3", LeafPage { before, limit: 97 })
                .await
                .expect("a page of s3");
            assert!(page.len() <= 97);
            assert!(page.windows(2).all(|w| w[0].index < w[1].index), "in order");
            let Some(first) = page.first() else { break };
            assert!(before.is_none_or(|b| page.iter().all(|l| l.index < b)));
            before = Some(first.index);
            paged.splice(0..0, page.iter().map(|l| l.index));
        }
        assert_eq!(paged, want, "paged, after {} leaves", start + 1_000);
    }
    let newest = store
        .audit_leaves_of("s3", LeafPage::newest(2))
        .await
        .expect("the newest two");
    let want: Vec<u64> = (0..LEAVES).filter(|i| i % SUBJECTS == 3).collect();
    assert_eq!(
        newest.iter().map(|l| l.index).collect::<Vec<_>>(),
        want[want.len() - 2..]
    );
    assert!(
        store
            .audit_leaves_of(
                "s3",
                LeafPage {
                    before: Some(3),
                    limit: 10
                }
            )
            .await
            .expect("below the first")
            .is_empty()
    );
}

pub async fn audit_size_mismatch_writes_nothing(store: &DynStore) {
    store
        .audit_append(0, None, &[leaf(0, "alice"), leaf(1, "alice")], &[])
        .await
        .expect("append");

    let stale = store
        .audit_append(1, None, &[leaf(1, "bob")], &[(node(1, 0), hash(9, 9))])
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
        .audit_append(5, None, &[leaf(5, "bob")], &[(node(1, 2), hash(1, 2))])
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
    let not_written = store.audit_nodes(&[node(1, 2)]).await;
    assert!(
        matches!(not_written, Err(StoreError::NotFound { .. })),
        "{not_written:?}"
    );

    // Level 0 is the leaves' own hashes, never a separate node.
    let level0 = store
        .audit_append(2, None, &[leaf(2, "bob")], &[(node(0, 2), hash(0, 2))])
        .await;
    assert!(
        matches!(level0, Err(StoreError::Invalid { .. })),
        "{level0:?}"
    );

    // A node must be one the appended leaves complete: its last leaf is among them.
    for stray in [node(1, 0), node(1, 2), node(2, 0), node(63, 1)] {
        let refused = store
            .audit_append(2, None, &[leaf(2, "bob")], &[(stray, hash(7, 7))])
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid { .. })),
            "{stray:?}: {refused:?}"
        );
    }
    assert!(
        store.audit_nodes(&[node(1, 0)]).await.is_err(),
        "nothing was written"
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
