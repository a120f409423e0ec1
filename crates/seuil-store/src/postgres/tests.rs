//! Unit tests of the PostgreSQL backend. Those that need a server read SEUIL_TEST_POSTGRES_URL
//! and skip without it; the checks every backend shares are in tests/conformance.

use super::*;

#[test]
fn schema_names() {
    for ok in [
        "seuil",
        "t_1",
        "_x",
        "a234567890123456789012345678901234567890123456789012345678901",
    ] {
        assert!(check_schema_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "1a",
        "A",
        "a-b",
        "a b",
        "pg_x",
        "a\"; drop",
        &"a".repeat(64),
    ] {
        assert!(check_schema_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn target_hides_password() {
    let cfg: tokio_postgres::Config = "postgres://u:secret@db.example:6543/seuil"
        .parse()
        .expect("valid url");
    let t = describe_target(&cfg);
    assert_eq!(t, "postgres://u@db.example:6543/seuil");
}

#[test]
fn lock_keys_differ_per_schema() {
    assert_ne!(lock_key("a"), lock_key("b"));
    assert_eq!(lock_key("a"), lock_key("a"));
}

#[tokio::test]
async fn refused_connection_is_unavailable_and_says_where() {
    // Port 1 on loopback: nothing listens there.
    let err = PgStore::connect("postgres://u:secret@127.0.0.1:1/x", None)
        .await
        .expect_err("nothing listens on port 1");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(
        matches!(
            err,
            StoreError::Unavailable {
                backend: "postgres",
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("127.0.0.1:1"), "{msg}");
    assert!(!msg.contains("secret"), "{msg}");
}

#[tokio::test]
async fn wrong_database_is_unavailable_and_says_what_to_check() {
    let Some(url) = live_url() else { return };
    let mut url = url::Url::parse(&url).expect("valid url");
    url.set_path("/seuil_no_such_database");
    let err = PgStore::connect(url.as_str(), None)
        .await
        .expect_err("no such database");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{msg}");
    assert!(msg.contains("database name"), "{msg}");
}

#[tokio::test]
async fn bad_url_and_schema_are_invalid() {
    let err = PgStore::connect("not a url", None)
        .await
        .expect_err("bad url");
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
    let err = PgStore::connect("postgres://u@127.0.0.1:1/x", Some("Bad-Name"))
        .await
        .expect_err("bad schema");
    assert!(matches!(err, StoreError::Invalid { .. }), "{err}");
}

// ---- against a live server: what only several instances sharing one database show ----

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

fn live_url() -> Option<String> {
    let url = std::env::var("SEUIL_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("SEUIL_TEST_POSTGRES_URL is not set: skipping a PostgreSQL test");
    }
    url
}

fn fresh_schema() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "seuil_unit_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn drop_schema(url: &str, schema: &str) {
    if let Ok((client, conn)) = tokio_postgres::connect(url, NoTls).await {
        let task = tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await;
        drop(client);
        let _ = task.await;
    }
}

fn leaf(index: u64) -> AuditLeaf {
    AuditLeaf {
        index,
        subject: format!("s{}", index % 7),
        at: i64::try_from(index).unwrap_or(0),
        details: vec![1, 2, 3],
        leaf_hash: [u8::try_from(index % 251).unwrap_or(0); 32],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_migrate_once() {
    let Some(url) = live_url() else { return };
    let schema = fresh_schema();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (url, schema) = (url.clone(), schema.clone());
        tasks.push(tokio::spawn(async move {
            PgStore::connect(&url, Some(&schema)).await
        }));
    }
    for t in tasks {
        let store = t.await.expect("task").expect("connect");
        assert_eq!(store.audit_size().await.expect("size"), 0);
    }
    let store = PgStore::connect(&url, Some(&schema))
        .await
        .expect("connect");
    let client = store.client().await.expect("client");
    let n: i64 = client
        .query_one("SELECT count(*) FROM seuil_migrations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, migrate::latest_version());
    drop(client);
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_audit_appends_have_one_winner_and_big_batches_fit() {
    let Some(url) = live_url() else { return };
    let schema = fresh_schema();
    let a = Arc::new(
        PgStore::connect(&url, Some(&schema))
            .await
            .expect("connect"),
    );
    let b = Arc::new(
        PgStore::connect(&url, Some(&schema))
            .await
            .expect("connect"),
    );
    // A batch of 600 leaves and the level-1 nodes they complete.
    let leaves: Vec<AuditLeaf> = (0..600).map(leaf).collect();
    let nodes: Vec<(NodeId, [u8; 32])> = (0..300)
        .map(|i| (NodeId { level: 1, index: i }, [7u8; 32]))
        .collect();
    a.audit_append(0, None, &leaves, &nodes)
        .await
        .expect("first batch");
    assert_eq!(b.audit_size().await.expect("size"), 600);
    let got = b.audit_leaves(598, 700).await.expect("leaves");
    assert_eq!(got, leaves[598..].to_vec());
    // 20 rounds: both append at the same size; exactly one wins each round.
    let mut size = 600;
    for _ in 0..20 {
        let (x, y) = (a.clone(), b.clone());
        let one = vec![leaf(size)];
        let two = one.clone();
        let ta = tokio::spawn(async move { x.audit_append(size, None, &one, &[]).await });
        let tb = tokio::spawn(async move { y.audit_append(size, None, &two, &[]).await });
        let results = [ta.await.expect("task"), tb.await.expect("task")];
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{results:?}");
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, StoreError::LogSizeMismatch { expected, actual }
                        if *expected == size && *actual == size + 1),
                    "{e:?}"
                );
            }
        }
        size += 1;
    }
    assert_eq!(a.audit_size().await.expect("size"), size);
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_never_claim_the_same_message() {
    let Some(url) = live_url() else { return };
    let schema = fresh_schema();
    let a = Arc::new(
        PgStore::connect(&url, Some(&schema))
            .await
            .expect("connect"),
    );
    let b = Arc::new(
        PgStore::connect(&url, Some(&schema))
            .await
            .expect("connect"),
    );
    for i in 0..200 {
        a.outbox_push(&NewOutboxMessage {
            subject: "s".into(),
            target: "t".into(),
            payload: vec![i],
            next_at: 10,
        })
        .await
        .expect("push");
    }
    let mut tasks = Vec::new();
    for store in [a.clone(), b.clone(), a.clone(), b.clone()] {
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = store.outbox_claim(100, 60_000, 7).await.expect("claim");
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got.into_iter().map(|m| m.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        (n, all.len()),
        (200, 200),
        "a message was claimed twice or never"
    );
    // Within the lease nothing is claimed again; after it, everything is.
    assert!(
        a.outbox_claim(60_099, 1_000, 500)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        b.outbox_claim(60_100, 1_000, 500)
            .await
            .expect("claim")
            .len(),
        200
    );
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_are_unavailable_then_replaced() {
    let Some(url) = live_url() else { return };
    let schema = fresh_schema();
    let app = format!("seuil_kill_{schema}");
    let mut app_url = url::Url::parse(&url).expect("valid url");
    app_url
        .query_pairs_mut()
        .append_pair("application_name", &app);
    let store = PgStore::connect(app_url.as_str(), Some(&schema))
        .await
        .expect("connect");
    store.set_meta("m", b"1").await.expect("set");
    // What a server restart or a failover does to every open connection.
    let (admin, conn) = tokio_postgres::connect(&url, NoTls).await.expect("admin");
    let task = tokio::spawn(conn);
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .expect("terminate");
    drop(admin);
    let _ = task.await;
    for _ in 0..POOL_SIZE + 1 {
        match store.get_meta("m").await {
            Ok(v) => assert_eq!(v.as_deref(), Some(&b"1"[..])),
            Err(e) => {
                eprintln!("after a kill: {e}");
                assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
            }
        }
    }
    assert_eq!(
        store.get_meta("m").await.expect("reconnected"),
        Some(b"1".to_vec())
    );
    drop(store);
    drop_schema(&url, &schema).await;
}
