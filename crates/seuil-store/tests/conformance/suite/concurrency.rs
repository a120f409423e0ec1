//! Many writers at once: every acknowledged write lands, one winner per race.

use super::*;

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
