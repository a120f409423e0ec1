//! What only the SQLite backend promises: a file that survives reopening, erasure that leaves
//! no byte of a shredded key in any of the database's files, and clear errors when the file
//! cannot be written.

use seuil_store::sqlite::SqliteStore;
use seuil_store::{
    AuditLeaf, ConsentEntry, LeafPage, NewOutboxMessage, NewRecord, NodeId, Store, StoreError,
    WrappedKey,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn record(id: &str, subject: &str, body: Vec<u8>) -> NewRecord {
    NewRecord {
        kind: "visit".into(),
        id: id.into(),
        subject: subject.into(),
        index: Default::default(),
        body,
        retain_until: None,
    }
}

/// Bytes that look like a wrapped key and occur nowhere by chance (xorshift from `seed`).
fn key_bytes(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..48)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn wrapped(subject: &str, bytes: Vec<u8>) -> WrappedKey {
    WrappedKey {
        subject: subject.into(),
        kek_id: "kek1".into(),
        wrapped: bytes,
        created_at: 1,
    }
}

/// The database file and its companions, whichever exist.
fn db_files(db: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", db.display())))
        .filter(|p| p.exists())
        .collect()
}

/// The files among `db_files` that hold `needle` somewhere in their raw bytes.
fn files_holding(db: &Path, needle: &[u8]) -> Vec<PathBuf> {
    db_files(db)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).expect("read a database file");
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/dirs/seuil.db");
    {
        let store = SqliteStore::open(&path).expect("open creates the parent directories");
        store
            .insert(&record("v1", "alice", b"sealed".to_vec()))
            .await
            .expect("insert");
        store
            .put_key(&wrapped("alice", key_bytes(1)))
            .await
            .expect("key");
        store.set_meta("kek.check", b"check").await.expect("meta");
        let consent = ConsentEntry {
            subject: "alice".into(),
            purpose: "delivery.video".into(),
            granted: true,
            notice_version: "v1".into(),
            at: 5,
        };
        store.add_consent(&consent).await.expect("consent");
        let leaf = AuditLeaf {
            index: 0,
            subject: "alice".into(),
            at: 6,
            details: vec![1],
            leaf_hash: [7; 32],
        };
        store
            .audit_append(0, None, &[leaf], &[])
            .await
            .expect("audit");
        let msg = NewOutboxMessage {
            subject: "alice".into(),
            target: "hook".into(),
            payload: vec![2],
            next_at: 0,
        };
        store.outbox_push(&msg).await.expect("outbox");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    let row = store
        .get_for_open("visit", "v1", Some("delivery.video"))
        .await
        .expect("open")
        .expect("row");
    assert_eq!(row.record.body, b"sealed");
    assert_eq!(row.wrapped_key.map(|k| k.wrapped), Some(key_bytes(1)));
    assert_eq!(row.consent, Some(true));
    assert_eq!(
        store.get_meta("kek.check").await.expect("meta"),
        Some(b"check".to_vec())
    );
    assert_eq!(store.audit_size().await.expect("size"), 1);
    assert_eq!(
        store
            .audit_nodes(&[NodeId { level: 0, index: 0 }])
            .await
            .expect("node"),
        [[7; 32]]
    );
    assert_eq!(store.outbox_pending().await.expect("pending"), 1);
    drop(store);

    // The schema version is recorded in the file, and a third open migrates nothing.
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, 1, "the latest schema version");
    let audit = rusqlite::Connection::open(SqliteStore::audit_path(&path)).expect("raw open");
    let version: i64 = audit
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, 3, "the audit file's latest schema version");
    let page_size: i64 = audit
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .expect("page size");
    assert_eq!(
        page_size, 16384,
        "a new log's pages hold a run with few overflow pages"
    );
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shredded_key_is_nowhere_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("seuil.db");
    let store = SqliteStore::open(&path).expect("open");

    // Enough keys to fill several pages, so the victim sits among others, and records of the
    // victim that are not erased by the shred (their bodies are sealed under the key).
    for i in 0..400u64 {
        store
            .put_key(&wrapped(&format!("subject{i:03}"), key_bytes(i)))
            .await
            .expect("put key");
    }
    let victim = "subject200";
    for i in 0..50 {
        store
            .insert(&record(&format!("r{i:02}"), victim, vec![0xee; 200]))
            .await
            .expect("insert");
    }
    // A KEK rotation rewraps the victim's key: the old wrapping must vanish too.
    let rotated = key_bytes(10_200);
    store
        .rewrap_keys(&[wrapped(victim, rotated.clone())])
        .await
        .expect("rewrap");

    let (old, neighbour) = (key_bytes(200), key_bytes(201));
    assert!(
        !files_holding(&path, &rotated).is_empty(),
        "control: the key is on disk before the shred"
    );

    let started = Instant::now();
    assert!(store.shred_key(victim, 99).await.expect("shred"));
    let took = started.elapsed();
    eprintln!("shred_key took {took:?}");
    assert!(
        took < Duration::from_secs(2),
        "a shred must stay fast, took {took:?}"
    );

    // The scrub follows the shred's answer and precedes any later write: one write is the
    // barrier. Checked while the store is still open: the store, not closing the file, must
    // have removed every copy.
    store
        .set_meta("barrier", b"after the shred")
        .await
        .expect("barrier write");
    assert_eq!(
        files_holding(&path, &rotated),
        Vec::<PathBuf>::new(),
        "the wrapped key survived"
    );
    assert_eq!(
        files_holding(&path, &old),
        Vec::<PathBuf>::new(),
        "the pre-rotation wrapping survived"
    );
    assert!(
        !files_holding(&path, &neighbour).is_empty(),
        "control: other keys are still found"
    );
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    // Truncated by the scrub, then holding only the barrier write (a page or two).
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        wal_len <= 3 * 4096 + 32,
        "the WAL was truncated: it is {wal_len} bytes"
    );

    // The store goes on working, and the records outlive the key.
    assert_eq!(
        store.subject_records(victim).await.expect("records").len(),
        50
    );
    store
        .insert(&record("after", "someone", vec![1]))
        .await
        .expect("insert after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_a_read_only_database_fail_clearly() {
    // chmod does not stop root, so the database is opened read-only instead: SQLite itself
    // then refuses every write with SQLITE_READONLY, which is what a read-only file, directory
    // or mount produces too.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("seuil.db");
    {
        let store = SqliteStore::open(&path).expect("open");
        store
            .insert(&record("v1", "alice", b"sealed".to_vec()))
            .await
            .expect("insert");
    }
    let before = std::fs::read(&path).expect("read the file");
    let store = SqliteStore::open_read_only(&path).expect("open read-only");
    assert!(store.get("visit", "v1").await.expect("read").is_some());

    let checks: Vec<(&str, seuil_store::Result<()>)> = vec![
        (
            "insert",
            store.insert(&record("v2", "alice", vec![1])).await,
        ),
        (
            "put_key",
            store.put_key(&wrapped("bob", key_bytes(3))).await,
        ),
        ("shred_key", store.shred_key("alice", 1).await.map(|_| ())),
        ("set_meta", store.set_meta("x", b"y").await),
    ];
    for (what, outcome) in checks {
        match outcome {
            Err(StoreError::Backend {
                backend: "sqlite",
                detail,
            }) => {
                assert!(detail.contains("read-only"), "{what}: {detail}")
            }
            other => panic!("{what}: expected a read-only error, got {other:?}"),
        }
    }
    // Nothing changed, and reads still work after the failed writes.
    assert!(store.get("visit", "v2").await.expect("read").is_none());
    assert!(store.get("visit", "v1").await.expect("read").is_some());
    drop(store);
    assert_eq!(std::fs::read(&path).expect("read the file"), before);
}

#[test]
fn unusable_paths_fail_with_the_path_in_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory where the file should be.
    let err = SqliteStore::open(dir.path()).expect_err("a directory is not a database");
    let shown = err.to_string();
    assert!(shown.contains(&dir.path().display().to_string()), "{shown}");
    assert!(shown.contains("cannot open"), "{shown}");

    // A file where a parent directory should be.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let err = SqliteStore::open(&file.join("seuil.db")).expect_err("a file is not a directory");
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");

    // A file that is not a database.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a; 8192]).expect("write");
    let err = SqliteStore::open(&junk).expect_err("junk is not a database");
    assert!(err.to_string().contains("not a SQLite database"), "{err}");

    // Read-only opening never creates a file.
    let missing = dir.path().join("missing.db");
    assert!(SqliteStore::open_read_only(&missing).is_err());
    assert!(!missing.exists());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("seuil.db");
    drop(SqliteStore::open(&path).expect("open"));
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute_batch("PRAGMA user_version = 99")
        .expect("set version");
    drop(conn);
    let err = SqliteStore::open(&path).expect_err("version 99 is from the future");
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("run a newer seuil"), "{err}");
}

/// A log written before the subject index moved off the append path (schema version 1) is
/// indexed by the migration: every leaf stays reachable by subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_a_version_1_log_keeps_every_leaf_reachable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("seuil.db");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute_batch(include_str!("../migrations/sqlite/0001_init.sql"))
        .expect("version 1 schema");
    conn.execute_batch("PRAGMA user_version = 1")
        .expect("set version");
    for i in 0..10i64 {
        let subject = if i % 2 == 0 { "alice" } else { "bob" };
        conn.execute(
            "INSERT INTO audit_leaves (idx, subject, at, details, leaf_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![i, subject, 1_000 + i, vec![i as u8; 8], [i as u8; 32]],
        )
        .expect("old leaf");
    }
    drop(conn);

    let store = SqliteStore::open(&path).expect("open and migrate");
    let of = |leaves: Vec<AuditLeaf>| leaves.iter().map(|l| l.index).collect::<Vec<_>>();
    let alice = store
        .audit_leaves_of("alice", LeafPage::ALL)
        .await
        .expect("alice");
    assert_eq!(of(alice), [0, 2, 4, 6, 8]);
    let new = AuditLeaf {
        index: 10,
        subject: "alice".into(),
        at: 2_000,
        details: vec![1; 8],
        leaf_hash: [10; 32],
    };
    store
        .audit_append(10, None, std::slice::from_ref(&new), &[])
        .await
        .expect("append after migrating");
    let alice = store
        .audit_leaves_of("alice", LeafPage::ALL)
        .await
        .expect("alice");
    assert_eq!(of(alice), [0, 2, 4, 6, 8, 10]);
    assert_eq!(
        of(store
            .audit_leaves_of("bob", LeafPage::ALL)
            .await
            .expect("bob")),
        [1, 3, 5, 7, 9]
    );
}

/// A version 1 audit file kept a row per leaf and per node; opening it packs them into runs,
/// and every leaf, node and subject read gives what it gave before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_a_version_1_audit_file_packs_its_rows_into_runs() {
    const LEAVES: i64 = 600;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("seuil.db");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute_batch(include_str!("../migrations/sqlite/0001_init.sql"))
        .expect("main schema");
    conn.execute_batch(
        "PRAGMA user_version = 1;
         DROP TABLE audit_leaves; DROP TABLE audit_nodes; DROP TABLE checkpoints;",
    )
    .expect("main file as it is once its log has moved");
    let audit = SqliteStore::audit_path(&path);
    conn.execute(
        "ATTACH DATABASE ?1 AS audit",
        [audit.to_str().expect("utf-8")],
    )
    .expect("attach");
    conn.execute_batch(include_str!("../migrations/sqlite-audit/0001_init.sql"))
        .expect("version 1 audit schema");
    conn.execute_batch("PRAGMA audit.user_version = 1")
        .expect("set version");
    let subject = |i: i64| ["alice", "bob", "carol"][(i % 3) as usize];
    for i in 0..LEAVES {
        conn.execute(
            "INSERT INTO audit.audit_leaves (idx, subject, at, details, leaf_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![i, subject(i), 1_000 + i, vec![i as u8; 8], [i as u8; 32]],
        )
        .expect("old leaf");
    }
    // Every node the leaves complete, as version 1 stored them.
    let mut nodes = Vec::new();
    for level in 1..10u8 {
        for index in 0..(LEAVES as u64 >> level) {
            let hash = [level ^ index as u8; 32];
            conn.execute(
                "INSERT INTO audit.audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                rusqlite::params![level, index as i64, hash],
            )
            .expect("old node");
            nodes.push((NodeId { level, index }, hash));
        }
    }
    drop(conn);

    let store = SqliteStore::open(&path).expect("open and pack");
    assert_eq!(store.audit_size().await.expect("size"), LEAVES as u64);
    let leaves = store.audit_leaves(0, LEAVES as u64).await.expect("leaves");
    assert_eq!(leaves.len(), LEAVES as usize);
    for (i, leaf) in leaves.iter().enumerate() {
        let i = i as i64;
        assert_eq!(
            (leaf.index, leaf.subject.as_str(), leaf.at, leaf.leaf_hash),
            (i as u64, subject(i), 1_000 + i, [i as u8; 32])
        );
        assert_eq!(leaf.details, vec![i as u8; 8]);
    }
    let ids: Vec<NodeId> = nodes.iter().map(|(id, _)| *id).collect();
    let hashes: Vec<[u8; 32]> = nodes.iter().map(|(_, h)| *h).collect();
    assert_eq!(store.audit_nodes(&ids).await.expect("nodes"), hashes);
    let bob = store
        .audit_leaves_of("bob", LeafPage::ALL)
        .await
        .expect("bob");
    let want: Vec<u64> = (0..LEAVES as u64).filter(|i| i % 3 == 1).collect();
    assert_eq!(bob.iter().map(|l| l.index).collect::<Vec<_>>(), want);
    drop(store);

    // The rows are gone, and a second open changes nothing.
    let raw = rusqlite::Connection::open(&audit).expect("raw open");
    let tables: i64 = raw
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('audit_leaves', 'audit_nodes')",
            [],
            |r| r.get(0),
        )
        .expect("tables");
    assert_eq!(tables, 0);
    drop(raw);
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(store.audit_size().await.expect("size"), LEAVES as u64);
}

/// A subject index of version 2 kept a row per leaf; opening the file groups them into one
/// row per subject and block of leaves, and every read by subject, whole or a page at a time,
/// gives what it gave before, across the blocks and the unindexed tail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_a_version_2_subject_index_keeps_every_leaf_reachable() {
    const LEAVES: u64 = 9_000;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("seuil.db");
    let subject = |i: u64| ["alice", "bob", "carol"][(i % 3) as usize];
    let store = SqliteStore::open(&path).expect("open");
    for start in (0..LEAVES).step_by(1_000) {
        let batch: Vec<_> = (start..start + 1_000)
            .map(|i| AuditLeaf {
                index: i,
                subject: subject(i).into(),
                at: 1_000 + i as i64,
                details: vec![i as u8; 8],
                leaf_hash: [i as u8; 32],
            })
            .collect();
        store
            .audit_append(start, None, &batch, &[])
            .await
            .expect("append");
    }
    drop(store);

    // Turn the file back into version 2: a row per indexed leaf.
    let mut raw = rusqlite::Connection::open(SqliteStore::audit_path(&path)).expect("raw open");
    let tx = raw.transaction().expect("transaction");
    tx.execute_batch(
        "CREATE TABLE audit_subjects (subject TEXT NOT NULL, idx INTEGER NOT NULL,
             PRIMARY KEY (subject, idx)) WITHOUT ROWID;",
    )
    .expect("version 2 index");
    let postings: Vec<(String, Vec<u8>)> = tx
        .prepare("SELECT subject, idxs FROM audit_postings")
        .expect("postings")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    let mut indexed = 0;
    for (subject, idxs) in postings {
        for entry in idxs.chunks_exact(8) {
            let idx = u64::from_be_bytes(entry.try_into().expect("8 bytes"));
            tx.execute(
                "INSERT INTO audit_subjects (subject, idx) VALUES (?1, ?2)",
                rusqlite::params![subject, idx as i64],
            )
            .expect("version 2 row");
            indexed += 1;
        }
    }
    assert!(indexed > 4_096, "the log was indexed in more than one pass");
    tx.execute_batch("DROP TABLE audit_postings; PRAGMA user_version = 2;")
        .expect("back to version 2");
    tx.commit().expect("commit");
    drop(raw);

    let store = SqliteStore::open(&path).expect("open and migrate");
    for name in ["alice", "bob", "carol"] {
        let want: Vec<u64> = (0..LEAVES).filter(|&i| subject(i) == name).collect();
        let all = store
            .audit_leaves_of(name, LeafPage::ALL)
            .await
            .expect("all leaves");
        assert_eq!(all.iter().map(|l| l.index).collect::<Vec<_>>(), want);
        assert!(all.iter().all(|l| l.details == vec![l.index as u8; 8]));
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .audit_leaves_of(name, LeafPage { before, limit: 250 })
                .await
                .expect("a page");
            let Some(first) = page.first() else { break };
            before = Some(first.index);
            paged.splice(0..0, page.iter().map(|l| l.index));
        }
        assert_eq!(paged, want, "paged, {name}");
    }
    drop(store);
    let raw = rusqlite::Connection::open(SqliteStore::audit_path(&path)).expect("raw open");
    let (version, old): (i64, i64) = raw
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version),
                    (SELECT count(*) FROM sqlite_schema WHERE name = 'audit_subjects')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("version");
    assert_eq!(
        (version, old),
        (3, 0),
        "migrated, and the old rows are gone"
    );
}

/// Records without their audit log are refused: a new, empty log must never replace one
/// that audited them.
#[test]
fn a_missing_audit_log_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("seuil.db");
    drop(SqliteStore::open(&path).expect("open"));
    let log = SqliteStore::audit_path(&path);
    assert_eq!(log, dir.path().join("seuil-audit.db"));
    assert!(SqliteStore::files(&path).contains(&log));
    std::fs::remove_file(&log).expect("remove the log");
    let err = SqliteStore::open(&path).expect_err("the log is missing");
    assert!(matches!(err, StoreError::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string().contains("seuil-audit.db is missing"),
        "{err}"
    );
    assert!(!log.exists(), "refusing must not create an empty log");
}

/// Throughput on this machine, shaped like `seuil bench vault`'s plain baselines (1 KiB bodies,
/// 100 subjects, `SEUIL_BENCH_TASKS` requests in flight, 64 by default):
/// `cargo test -p seuil-store --release --test sqlite -- --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn throughput() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("seuil.db")).expect("open"));
    let tasks: usize = std::env::var("SEUIL_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let total = 40_000usize;
    let per_task = total.div_ceil(tasks);
    for i in 0..100 {
        store
            .put_key(&wrapped(&format!("s{i}"), key_bytes(i)))
            .await
            .expect("key");
    }
    let id = move |t: usize, i: usize| format!("r{}", (i * tasks + t) * 7919 % 1_000_003);

    let started = Instant::now();
    let writers: Vec<_> = (0..tasks)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    let rec = record(&id(t, i), &format!("s{}", (t + i) % 100), vec![0xab; 1024]);
                    store.insert(&rec).await.expect("insert");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let writes = (tasks * per_task) as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let readers: Vec<_> = (0..tasks)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    let row = store
                        .get_for_open("visit", &id(t, i), Some("delivery.video"))
                        .await;
                    assert!(row.expect("open").is_some());
                }
            })
        })
        .collect();
    for r in readers {
        r.await.expect("reader");
    }
    let reads = (tasks * per_task) as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "sqlite: {writes:.0} durable inserts/s, {reads:.0} get_for_open/s ({tasks} in flight, 1 KiB bodies)"
    );
}
