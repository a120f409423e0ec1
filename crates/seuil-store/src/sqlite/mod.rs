//! The embedded SQLite backend, the default for one process.
//!
//! - Two files: records, keys and consents in the database file, and the audit log in a
//!   companion file beside it ([`SqliteStore::audit_path`]), so that audit appends never
//!   invalidate what readers have cached of the records.
//! - Every write goes to one writer thread that commits in groups (`writer`): one fsync is
//!   shared by every write that arrived meanwhile, and a call returns once its write is on
//!   disk (`synchronous = FULL`).
//! - Reads use a small pool of read-only connections (`readers`); in WAL mode they never wait
//!   for the writer and always see every acknowledged write.
//! - The audit log keeps one row per append of up to 256 leaves, with the Merkle nodes they
//!   complete (`audit`): a group commit of a hundred audited reads writes one row.
//! - Erasure: `secure_delete` zeroes deleted bytes, and right after a shred is answered the
//!   writer truncates the WAL, before any later write, so no copy of a destroyed key is left
//!   in any of the database's files (unless a reader pins the old log past the busy timeout;
//!   then the next write tries again).
//!
//! Safe to share between the tasks of one process. Several processes may open one file (SQLite
//! locks it), but each then runs its own writer and they take turns.

#[macro_use]
mod convert;
mod audit;
mod backup;
mod checkpointer;
mod keys;
mod outbox;
mod readers;
mod records;
mod schema;
mod writer;

use crate::{
    AuditLeaf, Checkpoint, ConsentEntry, LeafPage, Millis, NewOutboxMessage, NewRecord, NodeId,
    OpenRow, OutboxMessage, Query, Record, RecordKey, Result, ShredEntry, Store, StoreError,
    WrappedKey,
};
use async_trait::async_trait;
use checkpointer::Checkpointer;
use readers::Readers;
use rusqlite::{Connection, Transaction};
use std::path::{Path, PathBuf};
use writer::{After, Writer};

/// Read connections: enough to keep two to four cores busy; SQLite reads are short.
const READERS: usize = 4;

/// A [`Store`] in one SQLite file and its audit log's file (plus their `-wal` and `-shm`
/// companions).
pub struct SqliteStore {
    path: PathBuf,
    // Field order matters on drop: the readers close before the writer, whose connection is
    // then the last and checkpoints the WAL into the file as it closes.
    readers: Readers,
    writer: Writer,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it (and its parent directories) if missing, and
    /// brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::io(dir.display().to_string(), e))?;
        }
        let writer = schema::open_writer(path)?;
        let checkpointer = Checkpointer::start(schema::open_checkpointer(path)?)?;
        Self::start(path, writer, Some(checkpointer))
    }

    /// Opens an existing database without ever writing to it (inspecting a copy or a backup).
    /// Every write fails with a `read-only` [`StoreError::Backend`] error.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore> {
        let writer = schema::open_reader(path)?;
        Self::start(path, writer, None)
    }

    fn start(
        path: &Path,
        writer: Connection,
        checkpointer: Option<Checkpointer>,
    ) -> Result<SqliteStore> {
        // The writer connection opened first: it created the file and switched it to WAL,
        // which read-only connections need to find done.
        let readers = Readers::open(path, READERS)?;
        let writer = Writer::start(writer, checkpointer)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            readers,
            writer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file holding the audit log of the database at `path`: `seuil.db` → `seuil-audit.db`.
    pub fn audit_path(path: &Path) -> PathBuf {
        schema::audit_path(path)
    }

    /// Every file of the store at `path` that exists, write-ahead logs included: what must be
    /// moved or copied together.
    pub fn files(path: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for db in [path.to_path_buf(), schema::audit_path(path)] {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = db.clone().into_os_string();
                name.push(suffix);
                files.push(PathBuf::from(name));
            }
        }
        files.retain(|f| f.exists());
        files
    }

    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.writer.write(After::Nothing, work).await
    }

    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.readers.read(work).await
    }

    /// A read of a few rows by key: see [`Readers::read_now`].
    async fn read_now<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.readers.read_now(work).await
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    // ---- records ----------------------------------------------------------------------

    async fn insert(&self, rec: &NewRecord) -> Result<()> {
        let rec = rec.clone();
        self.write(move |tx| records::insert(tx, &rec)).await
    }

    async fn update(&self, rec: &NewRecord, expected_version: u64) -> Result<u64> {
        let rec = rec.clone();
        self.write(move |tx| records::update(tx, &rec, expected_version))
            .await
    }

    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.read_now(move |c| records::get(c, &kind, &id)).await
    }

    async fn get_for_open(
        &self,
        kind: &str,
        id: &str,
        purpose: Option<&str>,
    ) -> Result<Option<OpenRow>> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        let purpose = purpose.map(str::to_owned);
        self.read_now(move |c| records::get_for_open(c, &kind, &id, purpose.as_deref()))
            .await
    }

    async fn set_retention(
        &self,
        kind: &str,
        id: &str,
        retain_until: Option<Millis>,
    ) -> Result<bool> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.write(move |tx| records::set_retention(tx, &kind, &id, retain_until))
            .await
    }

    async fn delete(&self, kind: &str, id: &str) -> Result<bool> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.write(move |tx| records::delete(tx, &kind, &id)).await
    }

    async fn query(&self, q: &Query) -> Result<Vec<Record>> {
        let q = q.clone();
        self.read(move |c| records::query(c, &q)).await
    }

    async fn subject_records(&self, subject: &str) -> Result<Vec<Record>> {
        let subject = subject.to_owned();
        self.read(move |c| records::subject_records(c, &subject))
            .await
    }

    async fn expired(&self, now: Millis, limit: u32) -> Result<Vec<RecordKey>> {
        self.read(move |c| records::expired(c, now, limit)).await
    }

    async fn delete_subject_records(&self, subject: &str) -> Result<u64> {
        let subject = subject.to_owned();
        self.write(move |tx| records::delete_subject_records(tx, &subject))
            .await
    }

    // ---- keys -------------------------------------------------------------------------

    async fn put_key(&self, key: &WrappedKey) -> Result<()> {
        let key = key.clone();
        self.write(move |tx| keys::put_key(tx, &key)).await
    }

    async fn get_key(&self, subject: &str) -> Result<Option<WrappedKey>> {
        let subject = subject.to_owned();
        self.read_now(move |c| keys::get_key(c, &subject)).await
    }

    async fn all_keys(&self) -> Result<Vec<WrappedKey>> {
        self.read(keys::all_keys).await
    }

    async fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<()> {
        let keys = keys.to_vec();
        self.write(move |tx| keys::rewrap_keys(tx, &keys)).await
    }

    async fn shred_key(&self, subject: &str, at: Millis) -> Result<bool> {
        let subject = subject.to_owned();
        self.writer
            .write(After::TruncateWal, move |tx| {
                keys::shred_key(tx, &subject, at)
            })
            .await
    }

    async fn shred_ledger(&self) -> Result<Vec<ShredEntry>> {
        self.read(keys::shred_ledger).await
    }

    // ---- small named values -----------------------------------------------------------

    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let name = name.to_owned();
        self.read_now(move |c| keys::get_meta(c, &name)).await
    }

    async fn init_meta(&self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.write(move |tx| keys::init_meta(tx, &name, &value))
            .await
    }

    async fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.write(move |tx| keys::set_meta(tx, &name, &value))
            .await
    }

    // ---- consent ----------------------------------------------------------------------

    async fn add_consent(&self, entry: &ConsentEntry) -> Result<()> {
        let entry = entry.clone();
        self.write(move |tx| keys::add_consent(tx, &entry)).await
    }

    async fn consent_history(&self, subject: &str) -> Result<Vec<ConsentEntry>> {
        let subject = subject.to_owned();
        self.read(move |c| keys::consent_history(c, &subject)).await
    }

    async fn delete_subject_consents(&self, subject: &str) -> Result<u64> {
        let subject = subject.to_owned();
        self.write(move |tx| keys::delete_subject_consents(tx, &subject))
            .await
    }

    // ---- audit log --------------------------------------------------------------------

    async fn audit_append(
        &self,
        expected_size: u64,
        after: Option<[u8; 32]>,
        leaves: &[AuditLeaf],
        nodes: &[(NodeId, [u8; 32])],
    ) -> Result<()> {
        let prepared = audit::prepare(expected_size, leaves, nodes)?;
        self.write(move |tx| audit::append(tx, audit::INDEX_EVERY, after, &prepared))
            .await
    }

    async fn audit_size(&self) -> Result<u64> {
        self.read_now(audit::size).await
    }

    async fn audit_leaves(&self, from: u64, to: u64) -> Result<Vec<AuditLeaf>> {
        self.read(move |c| audit::leaves(c, from, to)).await
    }

    async fn audit_leaves_of(&self, subject: &str, page: LeafPage) -> Result<Vec<AuditLeaf>> {
        let subject = subject.to_owned();
        self.read(move |c| audit::leaves_of(c, &subject, page))
            .await
    }

    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<Vec<[u8; 32]>> {
        let ids = ids.to_vec();
        self.read_now(move |c| audit::nodes(c, &ids)).await
    }

    async fn put_checkpoint(&self, cp: &Checkpoint) -> Result<()> {
        let cp = cp.clone();
        self.write(move |tx| audit::put_checkpoint(tx, &cp)).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>> {
        self.read_now(audit::latest_checkpoint).await
    }

    async fn checkpoint_at(&self, size: u64) -> Result<Option<Checkpoint>> {
        self.read_now(move |c| audit::checkpoint_at(c, size)).await
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        self.read(audit::checkpoints).await
    }

    // ---- outbox -----------------------------------------------------------------------

    async fn outbox_push(&self, msg: &NewOutboxMessage) -> Result<u64> {
        let msg = msg.clone();
        self.write(move |tx| outbox::push(tx, &msg)).await
    }

    async fn outbox_claim(
        &self,
        now: Millis,
        lease: Millis,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        self.write(move |tx| outbox::claim(tx, now, lease, limit))
            .await
    }

    async fn outbox_done(&self, id: u64) -> Result<()> {
        self.write(move |tx| outbox::done(tx, id)).await
    }

    async fn outbox_retry(&self, id: u64, next_at: Millis, error: &str) -> Result<()> {
        let error = error.to_owned();
        self.write(move |tx| outbox::retry(tx, id, next_at, &error))
            .await
    }

    async fn outbox_pending(&self) -> Result<u64> {
        self.read(outbox::pending).await
    }

    async fn delete_subject_outbox(&self, subject: &str) -> Result<u64> {
        let subject = subject.to_owned();
        self.write(move |tx| outbox::delete_subject(tx, &subject))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, body: usize) -> NewRecord {
        NewRecord {
            kind: "visit".into(),
            id: id.into(),
            subject: "alice".into(),
            index: Default::default(),
            body: vec![0x5a; body],
            retain_until: None,
        }
    }

    /// A full disk, simulated with a page limit on the writer's connection (a real full disk
    /// needs a small file system, which tests cannot mount): the write fails with a clear error,
    /// the rest of its group commit is reported lost, and the store recovers once there is room.
    #[tokio::test]
    async fn a_full_disk_fails_clearly_and_the_store_recovers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("seuil.db")).expect("open");
        store.insert(&record("small", 10)).await.expect("insert");
        let pages = |limit: i64| {
            move |tx: &Transaction<'_>| -> Result<i64> {
                Ok(
                    tx.query_row(&format!("PRAGMA max_page_count = {limit}"), [], |r| {
                        r.get(0)
                    })?,
                )
            }
        };
        let used: i64 = store
            .writer
            .write(After::Nothing, pages(1))
            .await
            .expect("limit");

        let (big, other) = (record("big", 1 << 20), record("other", 10));
        let (big, other) = tokio::join!(store.insert(&big), store.insert(&other));
        match big {
            Err(StoreError::Backend {
                backend: "sqlite",
                detail,
            }) => assert!(detail.contains("disk is full"), "{detail}"),
            other => panic!("expected a disk-full error, got {other:?}"),
        }
        assert!(
            other.is_ok() || matches!(other, Err(StoreError::Backend { .. })),
            "{other:?}"
        );
        assert!(store.get("visit", "big").await.expect("read").is_none());
        assert!(
            store.get("visit", "small").await.expect("read").is_some(),
            "earlier data is intact"
        );

        store
            .writer
            .write(After::Nothing, pages(used + 10_000))
            .await
            .expect("room again");
        store
            .insert(&record("big", 1 << 20))
            .await
            .expect("insert once there is room");
    }
}
