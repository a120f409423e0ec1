//! Persistence for Seuil: one [`Store`] trait for records, keys, consent, the audit log and the
//! outbox, with an embedded SQLite backend and a PostgreSQL backend; and one [`BlobStore`]
//! trait for large bodies, with a local directory and S3-compatible object storage.
//!
//! The store never sees plaintext personal data: the vault seals bodies before they arrive.
//! Every backend passes the same conformance suite (`tests/conformance/`).

mod blob;
mod error;
mod model;
pub mod postgres;
pub mod sqlite;

pub use blob::{BlobStore, ByteStream, LocalBlobs, S3Blobs, S3Config, check_key};
pub use error::StoreError;
pub use model::*;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use std::sync::Arc;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything Seuil keeps except large blobs. Implementations must be safe to share between
/// several processes (PostgreSQL) or several tasks of one process (SQLite).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short name for logs and errors: `sqlite`, `postgres`.
    fn backend(&self) -> &'static str;

    // ---- records ----------------------------------------------------------------------

    /// Inserts a record at version 1. Fails with [`StoreError::Conflict`] if `(kind, id)` exists.
    async fn insert(&self, rec: &NewRecord) -> Result<()>;
    /// Replaces a record if its version is still `expected_version`; returns the new version.
    /// Fails with [`StoreError::VersionConflict`] otherwise, or [`StoreError::NotFound`].
    async fn update(&self, rec: &NewRecord, expected_version: u64) -> Result<u64>;
    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>>;
    /// The record, its subject's wrapped key and, when a `purpose` is given, the subject's
    /// consent for it, in one read. (Purposes that need no consent are not looked up.)
    async fn get_for_open(
        &self,
        kind: &str,
        id: &str,
        purpose: Option<&str>,
    ) -> Result<Option<OpenRow>>;
    /// Sets only a record's `retain_until` (pinning keeps it past its rule); the version and
    /// body are untouched. Returns whether the record exists.
    async fn set_retention(
        &self,
        kind: &str,
        id: &str,
        retain_until: Option<Millis>,
    ) -> Result<bool>;
    /// Deletes one record; returns whether it existed.
    async fn delete(&self, kind: &str, id: &str) -> Result<bool>;
    /// Records matching every filter that is set, ordered by `(at, id)`; records without `at`
    /// come first (they never match a range on `at`).
    async fn query(&self, q: &Query) -> Result<Vec<Record>>;
    /// Every record of a subject, of every kind, ordered by `(kind, id)`.
    async fn subject_records(&self, subject: &str) -> Result<Vec<Record>>;
    /// Up to `limit` records whose `retain_until` is before `now`.
    async fn expired(&self, now: Millis, limit: u32) -> Result<Vec<RecordKey>>;
    /// Deletes every record of a subject; returns how many went.
    async fn delete_subject_records(&self, subject: &str) -> Result<u64>;

    // ---- keys -------------------------------------------------------------------------

    /// Stores a new subject key. Fails with [`StoreError::Conflict`] if the subject has one, so
    /// two instances racing to create a key agree on one. Durable before it returns.
    async fn put_key(&self, key: &WrappedKey) -> Result<()>;
    async fn get_key(&self, subject: &str) -> Result<Option<WrappedKey>>;
    async fn all_keys(&self) -> Result<Vec<WrappedKey>>;
    /// Replaces the wrapping of many keys in one transaction (KEK rotation).
    /// Keys of subjects that have none (shredded meanwhile) are skipped, never created; each
    /// key keeps its `created_at`.
    async fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<()>;
    /// Destroys a subject's key and appends to the shred ledger, in one durable transaction:
    /// from its return no read finds the key. Copies of the key's old bytes in free pages or a
    /// write-ahead log are scrubbed right after, before any later write of this store
    /// completes. Returns whether a key existed.
    async fn shred_key(&self, subject: &str, at: Millis) -> Result<bool>;
    /// Every shred, oldest first. A shred that found no key destroyed nothing and is not listed.
    async fn shred_ledger(&self) -> Result<Vec<ShredEntry>>;

    // ---- small named values (KEK check value, schema facts) --------------------------

    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Sets a value only if it is not set yet; returns the value in force afterwards.
    async fn init_meta(&self, name: &str, value: &[u8]) -> Result<Vec<u8>>;
    async fn set_meta(&self, name: &str, value: &[u8]) -> Result<()>;

    // ---- consent ----------------------------------------------------------------------

    async fn add_consent(&self, entry: &ConsentEntry) -> Result<()>;
    /// Every decision of a subject, oldest first.
    /// Decisions are ordered by `at`, then by the order they were recorded; the same order
    /// decides which decision is in force in [`Store::get_for_open`].
    async fn consent_history(&self, subject: &str) -> Result<Vec<ConsentEntry>>;
    async fn delete_subject_consents(&self, subject: &str) -> Result<u64>;

    // ---- audit log --------------------------------------------------------------------

    /// Appends leaves `expected_size..` and the perfect-subtree nodes of level 1 and up that
    /// they complete, atomically and durably. Level 0 is the leaves' own hashes, kept with the
    /// leaves; a level-0 node in `nodes` is refused as invalid. Fails with [`StoreError::LogSizeMismatch`] if the log is no longer
    /// `expected_size` long (another writer won), in which case nothing is written.
    ///
    /// With `after`, the append also requires leaf `expected_size - 1` to have that hash, and
    /// fails with [`StoreError::LogSizeMismatch`] otherwise: a writer that builds a batch on
    /// top of its own batch still in flight is then sure to land on the tree it built on.
    async fn audit_append(
        &self,
        expected_size: u64,
        after: Option<[u8; 32]>,
        leaves: &[AuditLeaf],
        nodes: &[(NodeId, [u8; 32])],
    ) -> Result<()>;
    async fn audit_size(&self) -> Result<u64>;
    /// Leaves with `from <= index < to`, in order.
    async fn audit_leaves(&self, from: u64, to: u64) -> Result<Vec<AuditLeaf>>;
    /// The subject's leaves that `page` selects, in index order.
    async fn audit_leaves_of(&self, subject: &str, page: LeafPage) -> Result<Vec<AuditLeaf>>;
    /// The hashes of the given nodes, in the order asked (level 0 from the leaves); fails with
    /// [`StoreError::NotFound`] if one is missing.
    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<Vec<[u8; 32]>>;
    /// Storing a checkpoint of a size already stored keeps the first one: a published tree head
    /// never changes.
    async fn put_checkpoint(&self, cp: &Checkpoint) -> Result<()>;
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>>;
    async fn checkpoint_at(&self, size: u64) -> Result<Option<Checkpoint>>;
    /// Every checkpoint, by size (for `seuil admin verify-audit`).
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>>;

    // ---- outbox -----------------------------------------------------------------------

    async fn outbox_push(&self, msg: &NewOutboxMessage) -> Result<u64>;
    /// Messages due at `now`, claimed for `lease` ms so another instance does not send them too.
    async fn outbox_claim(
        &self,
        now: Millis,
        lease: Millis,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>>;
    /// Deletes a sent message. A message already gone is not an error.
    async fn outbox_done(&self, id: u64) -> Result<()>;
    /// Counts a failed attempt, records the error, releases the lease and schedules the message
    /// again at `next_at`. A message already gone is not an error.
    async fn outbox_retry(&self, id: u64, next_at: Millis, error: &str) -> Result<()>;
    async fn outbox_pending(&self) -> Result<u64>;
    async fn delete_subject_outbox(&self, subject: &str) -> Result<u64>;
}

pub type DynStore = Arc<dyn Store>;
pub type DynBlobs = Arc<dyn BlobStore>;
