//! PostgreSQL backend: for several `seuil serve` instances sharing one database.
//!
//! - A [deadpool](deadpool_postgres) pool of plain (non-TLS) connections. When a schema is
//!   named, it is created if missing and every connection gets it as `search_path`, so one
//!   database can hold several isolated stores (tests use a fresh schema each).
//! - Migrations are embedded SQL files, applied under an advisory lock (see [`migrate`]).
//! - Writes that must not interleave across instances take a transaction-scoped advisory lock
//!   (the audit log) or row locks (`FOR UPDATE SKIP LOCKED` for the outbox); records use
//!   optimistic versions.
//!
//! Limits: a shredded key's row is deleted in one transaction, but PostgreSQL keeps the dead
//! tuple until vacuum (the migration makes autovacuum visit `subject_keys` early) and in its
//! write-ahead log and archives; the key is wrapped under the KEK, so what lingers is only
//! readable with the KEK. TLS is not supported yet: use `sslmode=disable` or `prefer` on a
//! trusted network, or a local socket proxy.

mod audit;
mod convert;
mod error;
mod keys;
mod migrate;
mod outbox;
mod records;

use crate::{
    AuditLeaf, Checkpoint, ConsentEntry, LeafPage, Millis, NewOutboxMessage, NewRecord, NodeId,
    OpenRow, OutboxMessage, Query, Record, RecordKey, Result, ShredEntry, Store, StoreError,
    WrappedKey,
};
use async_trait::async_trait;
use convert::{col, to_u64};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Statement};

const BACKEND: &str = "postgres";

/// Connections per instance.
const POOL_SIZE: usize = 16;
/// How long a task waits for a free connection before giving up.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening one connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first key of the two-key advisory locks this backend takes; the second is derived from
/// the schema name, so stores in different schemas of one database do not wait for each other.
mod lock_class {
    /// Held while migrating ("SeMi").
    pub(super) const MIGRATE: i32 = 0x5365_4d69;
    /// Held while appending to the audit log ("SeAu").
    pub(super) const AUDIT: i32 = 0x5365_4175;
}

type Param<'a> = &'a (dyn ToSql + Sync);

/// A [`Store`] on PostgreSQL. Cheap to share behind an `Arc`; safe to run in several processes
/// against one database.
pub struct PgStore {
    pool: Pool,
    schema: Option<String>,
    /// Second key of this store's advisory locks (see [`lock_class`]).
    lock_key: i32,
    /// Where the server is, without the password, for error messages.
    target: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?options]`), checks
    /// that the server answers, and migrates the schema.
    ///
    /// With `schema`, the store lives in that schema (created if missing; a lowercase
    /// identifier: `a-z`, `0-9`, `_`, not starting with a digit or `pg_`), set as `search_path`
    /// on every connection. Without, it uses the connection's default `search_path`.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<PgStore> {
        let mut cfg: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::invalid(
                "PostgreSQL URL",
                format!("{e}; expected postgres://user[:password]@host[:port]/database"),
            )
        })?;
        if cfg.get_hosts().is_empty() {
            return Err(StoreError::invalid(
                "PostgreSQL URL",
                "it names no host; expected postgres://user[:password]@host[:port]/database",
            ));
        }
        let schema = match schema {
            Some(s) => {
                check_schema_name(s)?;
                Some(s.to_owned())
            }
            None => None,
        };
        if let Some(s) = &schema {
            let opt = format!("-c search_path={s}");
            let options = match cfg.get_options() {
                Some(o) if !o.trim().is_empty() => format!("{o} {opt}"),
                _ => opt,
            };
            cfg.options(options);
        }
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(CONNECT_TIMEOUT);
        }
        if cfg.get_application_name().is_none() {
            cfg.application_name("seuil");
        }
        let target = describe_target(&cfg);
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(WAIT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Backend {
                backend: BACKEND,
                detail: format!("building the connection pool: {e}"),
            })?;
        let lock_key = lock_key(schema.as_deref().unwrap_or(""));
        let store = PgStore {
            pool,
            schema,
            lock_key,
            target,
        };
        migrate::migrate(&store).await?;
        Ok(store)
    }

    /// The schema this store lives in, if one was named.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// A pooled connection.
    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(|e| self.pool_err(e))
    }

    /// A pooled connection and `sql` prepared on it (cached per connection).
    async fn prepared(&self, sql: &str, what: &str) -> Result<(Object, Statement)> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.err(e, what))?;
        Ok((client, stmt))
    }

    /// Runs one statement; returns the number of rows it touched.
    async fn exec(&self, sql: &str, params: &[Param<'_>], what: &str) -> Result<u64> {
        let (client, stmt) = self.prepared(sql, what).await?;
        let touched = client.execute(&stmt, params).await;
        touched.map_err(|e| self.err(e, what))
    }

    async fn rows(&self, sql: &str, params: &[Param<'_>], what: &str) -> Result<Vec<Row>> {
        let (client, stmt) = self.prepared(sql, what).await?;
        let rows = client.query(&stmt, params).await;
        rows.map_err(|e| self.err(e, what))
    }

    async fn row(&self, sql: &str, params: &[Param<'_>], what: &str) -> Result<Option<Row>> {
        let (client, stmt) = self.prepared(sql, what).await?;
        let row = client.query_opt(&stmt, params).await;
        row.map_err(|e| self.err(e, what))
    }

    async fn count(&self, sql: &str, params: &[Param<'_>], what: &str) -> Result<u64> {
        match self.row(sql, params, what).await? {
            Some(row) => to_u64(col::<i64>(&row, 0)?, what),
            None => Ok(0),
        }
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    // ---- records --------------------------------------------------------------------------

    async fn insert(&self, rec: &NewRecord) -> Result<()> {
        records::insert(self, rec).await
    }

    async fn update(&self, rec: &NewRecord, expected_version: u64) -> Result<u64> {
        records::update(self, rec, expected_version).await
    }

    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>> {
        records::get(self, kind, id).await
    }

    async fn get_for_open(
        &self,
        kind: &str,
        id: &str,
        purpose: Option<&str>,
    ) -> Result<Option<OpenRow>> {
        records::get_for_open(self, kind, id, purpose).await
    }

    async fn set_retention(
        &self,
        kind: &str,
        id: &str,
        retain_until: Option<Millis>,
    ) -> Result<bool> {
        records::set_retention(self, kind, id, retain_until).await
    }

    async fn delete(&self, kind: &str, id: &str) -> Result<bool> {
        records::delete(self, kind, id).await
    }

    async fn query(&self, q: &Query) -> Result<Vec<Record>> {
        records::query(self, q).await
    }

    async fn subject_records(&self, subject: &str) -> Result<Vec<Record>> {
        records::subject_records(self, subject).await
    }

    async fn expired(&self, now: Millis, limit: u32) -> Result<Vec<RecordKey>> {
        records::expired(self, now, limit).await
    }

    async fn delete_subject_records(&self, subject: &str) -> Result<u64> {
        records::delete_subject_records(self, subject).await
    }

    // ---- keys -----------------------------------------------------------------------------

    async fn put_key(&self, key: &WrappedKey) -> Result<()> {
        keys::put_key(self, key).await
    }

    async fn get_key(&self, subject: &str) -> Result<Option<WrappedKey>> {
        keys::get_key(self, subject).await
    }

    async fn all_keys(&self) -> Result<Vec<WrappedKey>> {
        keys::all_keys(self).await
    }

    async fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<()> {
        keys::rewrap_keys(self, keys).await
    }

    async fn shred_key(&self, subject: &str, at: Millis) -> Result<bool> {
        keys::shred_key(self, subject, at).await
    }

    async fn shred_ledger(&self) -> Result<Vec<ShredEntry>> {
        keys::shred_ledger(self).await
    }

    // ---- meta -----------------------------------------------------------------------------

    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        keys::get_meta(self, name).await
    }

    async fn init_meta(&self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        keys::init_meta(self, name, value).await
    }

    async fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        keys::set_meta(self, name, value).await
    }

    // ---- consent --------------------------------------------------------------------------

    async fn add_consent(&self, entry: &ConsentEntry) -> Result<()> {
        keys::add_consent(self, entry).await
    }

    async fn consent_history(&self, subject: &str) -> Result<Vec<ConsentEntry>> {
        keys::consent_history(self, subject).await
    }

    async fn delete_subject_consents(&self, subject: &str) -> Result<u64> {
        keys::delete_subject_consents(self, subject).await
    }

    // ---- audit log ------------------------------------------------------------------------

    async fn audit_append(
        &self,
        expected_size: u64,
        after: Option<[u8; 32]>,
        leaves: &[AuditLeaf],
        nodes: &[(NodeId, [u8; 32])],
    ) -> Result<()> {
        audit::append(self, expected_size, after, leaves, nodes).await
    }

    async fn audit_size(&self) -> Result<u64> {
        audit::size(self).await
    }

    async fn audit_leaves(&self, from: u64, to: u64) -> Result<Vec<AuditLeaf>> {
        audit::leaves(self, from, to).await
    }

    async fn audit_leaves_of(&self, subject: &str, page: LeafPage) -> Result<Vec<AuditLeaf>> {
        audit::leaves_of(self, subject, page).await
    }

    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<Vec<[u8; 32]>> {
        audit::nodes(self, ids).await
    }

    async fn put_checkpoint(&self, cp: &Checkpoint) -> Result<()> {
        audit::put_checkpoint(self, cp).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>> {
        audit::latest_checkpoint(self).await
    }

    async fn checkpoint_at(&self, size: u64) -> Result<Option<Checkpoint>> {
        audit::checkpoint_at(self, size).await
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        audit::checkpoints(self).await
    }

    // ---- outbox ---------------------------------------------------------------------------

    async fn outbox_push(&self, msg: &NewOutboxMessage) -> Result<u64> {
        outbox::push(self, msg).await
    }

    async fn outbox_claim(
        &self,
        now: Millis,
        lease: Millis,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        outbox::claim(self, now, lease, limit).await
    }

    async fn outbox_done(&self, id: u64) -> Result<()> {
        outbox::done(self, id).await
    }

    async fn outbox_retry(&self, id: u64, next_at: Millis, error: &str) -> Result<()> {
        outbox::retry(self, id, next_at, error).await
    }

    async fn outbox_pending(&self) -> Result<u64> {
        outbox::pending(self).await
    }

    async fn delete_subject_outbox(&self, subject: &str) -> Result<u64> {
        outbox::delete_subject(self, subject).await
    }
}

// ---- connecting -------------------------------------------------------------------------------

/// Accepts plain lowercase identifiers only, so the name can go into `search_path` and
/// `CREATE SCHEMA` without quoting rules getting in the way.
fn check_schema_name(s: &str) -> Result<()> {
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let first_ok = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
    if !ok_chars || !first_ok || s.len() > 63 || s.starts_with("pg_") {
        return Err(StoreError::invalid(
            "PostgreSQL schema name",
            format!("{s:?}: use 1 to 63 of a-z, 0-9 and _, not starting with a digit or pg_"),
        ));
    }
    Ok(())
}

/// FNV-1a of the schema name: the second key of this store's advisory locks.
fn lock_key(schema: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in schema.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// `postgres://user@host:port/db`, never with the password.
fn describe_target(cfg: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = cfg
                .get_ports()
                .get(i)
                .or(cfg.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let user = cfg.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = cfg.get_dbname().unwrap_or("");
    format!("postgres://{user}{}/{db}", hosts.join(","))
}

#[cfg(test)]
mod tests;
