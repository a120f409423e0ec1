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

mod migrate;

use crate::{
    AuditLeaf, Checkpoint, ConsentEntry, Millis, NewOutboxMessage, NewRecord, NodeId, OpenRow,
    OutboxMessage, Query, Record, RecordKey, Result, ShredEntry, Store, StoreError, WrappedKey,
};
use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

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

const RECORD_COLS: &str =
    "kind, id, subject, status, at, scope, body, retain_until, version, created_at, updated_at";

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

    fn pool_err(&self, e: PoolError) -> StoreError {
        let target = &self.target;
        let detail = match e {
            PoolError::Backend(e) => return self.err(e, "connecting"),
            PoolError::Timeout(TimeoutType::Wait) => format!(
                "no free connection to {target} within {} s: all {POOL_SIZE} are busy; look for \
                 slow queries or long transactions",
                WAIT_TIMEOUT.as_secs()
            ),
            PoolError::Timeout(TimeoutType::Create) => format!(
                "connecting to {target} timed out; check that PostgreSQL is running and \
                 reachable there"
            ),
            PoolError::Timeout(TimeoutType::Recycle) => format!(
                "checking a pooled connection to {target} timed out; check the server's load \
                 and the network"
            ),
            PoolError::Closed => "the connection pool is closed".to_owned(),
            other => format!("connection pool for {target}: {other}"),
        };
        StoreError::Unavailable {
            backend: BACKEND,
            detail,
        }
    }

    /// Maps a driver error met while working on `what` (a record, "the audit log"...).
    /// Unique violations become [`StoreError::Conflict`] naming `what`; lost or refused
    /// connections become [`StoreError::Unavailable`] saying what to check.
    fn err(&self, e: tokio_postgres::Error, what: &str) -> StoreError {
        let target = &self.target;
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::UNIQUE_VIOLATION {
                return StoreError::conflict(what);
            }
            if let Some(hint) = unavailable_hint(code.code()) {
                return StoreError::Unavailable {
                    backend: BACKEND,
                    detail: format!(
                        "PostgreSQL at {target} refused {what}: {} ({}); {hint}",
                        db.message(),
                        code.code()
                    ),
                };
            }
            return StoreError::Backend {
                backend: BACKEND,
                detail: format!("{what}: {} ({})", db.message(), code.code()),
            };
        }
        let chain = error_chain(&e);
        if e.is_closed() || has_io_source(&e) {
            let detail = if what == "connecting" {
                format!(
                    "cannot connect to PostgreSQL at {target} ({chain}); check that the server \
                     is running, listens there and accepts this client"
                )
            } else {
                format!(
                    "{what}: lost the connection to PostgreSQL at {target} ({chain}); check \
                     that the server is running and reachable"
                )
            };
            return StoreError::Unavailable {
                backend: BACKEND,
                detail,
            };
        }
        StoreError::Backend {
            backend: BACKEND,
            detail: format!("{what}: {chain}"),
        }
    }

    /// Runs one statement; returns the number of rows it touched.
    async fn exec(&self, sql: &str, params: &[Param<'_>], what: &str) -> Result<u64> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.err(e, what))?;
        client
            .execute(&stmt, params)
            .await
            .map_err(|e| self.err(e, what))
    }

    async fn rows(&self, sql: &str, params: &[Param<'_>], what: &str) -> Result<Vec<Row>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.err(e, what))?;
        client
            .query(&stmt, params)
            .await
            .map_err(|e| self.err(e, what))
    }

    async fn row(&self, sql: &str, params: &[Param<'_>], what: &str) -> Result<Option<Row>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| self.err(e, what))?;
        client
            .query_opt(&stmt, params)
            .await
            .map_err(|e| self.err(e, what))
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
        let now = now_millis();
        self.exec(
            "INSERT INTO records (kind, id, subject, status, at, scope, body, retain_until, \
             version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
            &[
                &rec.kind,
                &rec.id,
                &rec.subject,
                &rec.index.status,
                &rec.index.at,
                &rec.index.scope,
                &rec.body,
                &rec.retain_until,
                &now,
            ],
            &record_what(&rec.kind, &rec.id),
        )
        .await?;
        Ok(())
    }

    async fn update(&self, rec: &NewRecord, expected_version: u64) -> Result<u64> {
        let what = record_what(&rec.kind, &rec.id);
        let Ok(expected) = i64::try_from(expected_version) else {
            // No record reaches such a version: it is either missing or changed.
            return match self.get(&rec.kind, &rec.id).await? {
                Some(_) => Err(StoreError::VersionConflict {
                    what,
                    expected: expected_version,
                }),
                None => Err(StoreError::not_found(what)),
            };
        };
        let now = now_millis();
        // One round trip: try the guarded update, and tell a missing record from a stale
        // version by whether the row exists.
        let row = self
            .row(
                "WITH upd AS (
                     UPDATE records SET subject = $3, status = $4, at = $5, scope = $6,
                         body = $7, retain_until = $8, version = version + 1, updated_at = $9
                     WHERE kind = $1 AND id = $2 AND version = $10
                     RETURNING version)
                 SELECT (SELECT version FROM upd),
                        EXISTS (SELECT 1 FROM records WHERE kind = $1 AND id = $2)",
                &[
                    &rec.kind,
                    &rec.id,
                    &rec.subject,
                    &rec.index.status,
                    &rec.index.at,
                    &rec.index.scope,
                    &rec.body,
                    &rec.retain_until,
                    &now,
                    &expected,
                ],
                &what,
            )
            .await?
            .ok_or_else(|| backend_err(format!("{what}: the update returned no row")))?;
        match (col::<Option<i64>>(&row, 0)?, col::<bool>(&row, 1)?) {
            (Some(v), _) => to_u64(v, "record version"),
            (None, true) => Err(StoreError::VersionConflict {
                what,
                expected: expected_version,
            }),
            (None, false) => Err(StoreError::not_found(what)),
        }
    }

    async fn get(&self, kind: &str, id: &str) -> Result<Option<Record>> {
        let sql = format!("SELECT {RECORD_COLS} FROM records WHERE kind = $1 AND id = $2");
        match self
            .row(&sql, &[&kind, &id], &record_what(kind, id))
            .await?
        {
            Some(row) => Ok(Some(record_from_row(&row)?)),
            None => Ok(None),
        }
    }

    async fn get_for_open(&self, kind: &str, id: &str, purpose: &str) -> Result<Option<OpenRow>> {
        let row = self
            .row(
                "SELECT r.kind, r.id, r.subject, r.status, r.at, r.scope, r.body, r.retain_until,
                        r.version, r.created_at, r.updated_at,
                        k.kek_id, k.wrapped, k.created_at, c.granted
                 FROM records r
                 LEFT JOIN subject_keys k ON k.subject = r.subject
                 LEFT JOIN LATERAL (
                     SELECT granted FROM consents
                     WHERE subject = r.subject AND purpose = $3
                     ORDER BY at DESC, seq DESC
                     LIMIT 1
                 ) c ON true
                 WHERE r.kind = $1 AND r.id = $2",
                &[&kind, &id, &purpose],
                &record_what(kind, id),
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let record = record_from_row(&row)?;
        let wrapped_key = match col::<Option<String>>(&row, 11)? {
            Some(kek_id) => Some(WrappedKey {
                subject: record.subject.clone(),
                kek_id,
                wrapped: col(&row, 12)?,
                created_at: col(&row, 13)?,
            }),
            None => None,
        };
        let consent = col::<Option<bool>>(&row, 14)?;
        Ok(Some(OpenRow {
            record,
            wrapped_key,
            consent,
        }))
    }

    async fn set_retention(
        &self,
        kind: &str,
        id: &str,
        retain_until: Option<Millis>,
    ) -> Result<bool> {
        let n = self
            .exec(
                "UPDATE records SET retain_until = $3 WHERE kind = $1 AND id = $2",
                &[&kind, &id, &retain_until],
                &record_what(kind, id),
            )
            .await?;
        Ok(n > 0)
    }

    async fn delete(&self, kind: &str, id: &str) -> Result<bool> {
        let n = self
            .exec(
                "DELETE FROM records WHERE kind = $1 AND id = $2",
                &[&kind, &id],
                &record_what(kind, id),
            )
            .await?;
        Ok(n > 0)
    }

    async fn query(&self, q: &Query) -> Result<Vec<Record>> {
        let limit = q.limit.map(i64::from);
        let mut sql = format!("SELECT {RECORD_COLS} FROM records WHERE kind = $1");
        let mut params: Vec<Param<'_>> = vec![&q.kind];
        let filters: [(&str, Option<Param<'_>>); 5] = [
            ("subject =", q.subject.as_ref().map(|v| v as Param<'_>)),
            ("status =", q.status.as_ref().map(|v| v as Param<'_>)),
            ("scope =", q.scope.as_ref().map(|v| v as Param<'_>)),
            ("at >=", q.at_from.as_ref().map(|v| v as Param<'_>)),
            ("at <", q.at_to.as_ref().map(|v| v as Param<'_>)),
        ];
        for (cond, value) in filters {
            if let Some(value) = value {
                params.push(value);
                sql.push_str(&format!(" AND {cond} ${}", params.len()));
            }
        }
        // NULLS FIRST: the order SQLite gives, so both backends agree.
        sql.push_str(" ORDER BY at ASC NULLS FIRST, id");
        if let Some(limit) = &limit {
            params.push(limit);
            sql.push_str(&format!(" LIMIT ${}", params.len()));
        }
        let rows = self
            .rows(&sql, &params, &format!("query of {}", q.kind))
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn subject_records(&self, subject: &str) -> Result<Vec<Record>> {
        let sql = format!("SELECT {RECORD_COLS} FROM records WHERE subject = $1 ORDER BY kind, id");
        let rows = self.rows(&sql, &[&subject], "records of a subject").await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn expired(&self, now: Millis, limit: u32) -> Result<Vec<RecordKey>> {
        let rows = self
            .rows(
                "SELECT kind, id, subject FROM records WHERE retain_until < $1
                 ORDER BY retain_until, kind, id LIMIT $2",
                &[&now, &i64::from(limit)],
                "expired records",
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RecordKey {
                    kind: col(r, 0)?,
                    id: col(r, 1)?,
                    subject: col(r, 2)?,
                })
            })
            .collect()
    }

    async fn delete_subject_records(&self, subject: &str) -> Result<u64> {
        self.exec(
            "DELETE FROM records WHERE subject = $1",
            &[&subject],
            "records of a subject",
        )
        .await
    }

    // ---- keys -----------------------------------------------------------------------------

    async fn put_key(&self, key: &WrappedKey) -> Result<()> {
        self.exec(
            "INSERT INTO subject_keys (subject, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4)",
            &[&key.subject, &key.kek_id, &key.wrapped, &key.created_at],
            &format!("the key of subject {}", key.subject),
        )
        .await?;
        Ok(())
    }

    async fn get_key(&self, subject: &str) -> Result<Option<WrappedKey>> {
        let row = self
            .row(
                "SELECT subject, kek_id, wrapped, created_at FROM subject_keys WHERE subject = $1",
                &[&subject],
                "a subject key",
            )
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn all_keys(&self) -> Result<Vec<WrappedKey>> {
        let rows = self
            .rows(
                "SELECT subject, kek_id, wrapped, created_at FROM subject_keys ORDER BY subject",
                &[],
                "subject keys",
            )
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn rewrap_keys(&self, keys: &[WrappedKey]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let subjects: Vec<&str> = keys.iter().map(|k| k.subject.as_str()).collect();
        let kek_ids: Vec<&str> = keys.iter().map(|k| k.kek_id.as_str()).collect();
        let wrapped: Vec<&[u8]> = keys.iter().map(|k| k.wrapped.as_slice()).collect();
        // One statement, so one transaction. A key shredded meanwhile stays shredded: only
        // existing rows are updated.
        self.exec(
            "UPDATE subject_keys AS k SET kek_id = u.kek_id, wrapped = u.wrapped
             FROM UNNEST($1::text[], $2::text[], $3::bytea[]) AS u(subject, kek_id, wrapped)
             WHERE k.subject = u.subject",
            &[&subjects, &kek_ids, &wrapped],
            "rewrapping subject keys",
        )
        .await?;
        Ok(())
    }

    async fn shred_key(&self, subject: &str, at: Millis) -> Result<bool> {
        // One statement, so one transaction: the ledger line is written if and only if a key
        // was deleted. Of two instances shredding at once, the second finds no key (its delete
        // waits for the first to commit) and records nothing.
        let shredded = self
            .exec(
                "WITH gone AS (DELETE FROM subject_keys WHERE subject = $1 RETURNING subject)
                 INSERT INTO shred_ledger (subject, at) SELECT subject, $2 FROM gone",
                &[&subject, &at],
                "shredding a subject key",
            )
            .await?;
        Ok(shredded > 0)
    }

    async fn shred_ledger(&self) -> Result<Vec<ShredEntry>> {
        let rows = self
            .rows(
                "SELECT subject, at FROM shred_ledger ORDER BY seq",
                &[],
                "the shred ledger",
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ShredEntry {
                    subject: col(r, 0)?,
                    at: col(r, 1)?,
                })
            })
            .collect()
    }

    // ---- meta -----------------------------------------------------------------------------

    async fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .row(
                "SELECT value FROM meta WHERE name = $1",
                &[&name],
                &meta_what(name),
            )
            .await?;
        row.map(|r| col(&r, 0)).transpose()
    }

    async fn init_meta(&self, name: &str, value: &[u8]) -> Result<Vec<u8>> {
        let what = meta_what(name);
        // Two statements on purpose: if another instance inserts first, the insert waits for
        // it and does nothing, and the select (a new snapshot) then sees its value.
        let inserted = self
            .exec(
                "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &value],
                &what,
            )
            .await?;
        if inserted > 0 {
            return Ok(value.to_vec());
        }
        self.get_meta(name)
            .await?
            .ok_or_else(|| backend_err(format!("{what} vanished while being initialised")))
    }

    async fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        self.exec(
            "INSERT INTO meta (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            &[&name, &value],
            &meta_what(name),
        )
        .await?;
        Ok(())
    }

    // ---- consent --------------------------------------------------------------------------

    async fn add_consent(&self, entry: &ConsentEntry) -> Result<()> {
        self.exec(
            "INSERT INTO consents (subject, purpose, granted, notice_version, at)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &entry.subject,
                &entry.purpose,
                &entry.granted,
                &entry.notice_version,
                &entry.at,
            ],
            "a consent decision",
        )
        .await?;
        Ok(())
    }

    async fn consent_history(&self, subject: &str) -> Result<Vec<ConsentEntry>> {
        let rows = self
            .rows(
                "SELECT subject, purpose, granted, notice_version, at FROM consents
                 WHERE subject = $1 ORDER BY at, seq",
                &[&subject],
                "consent history",
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ConsentEntry {
                    subject: col(r, 0)?,
                    purpose: col(r, 1)?,
                    granted: col(r, 2)?,
                    notice_version: col(r, 3)?,
                    at: col(r, 4)?,
                })
            })
            .collect()
    }

    async fn delete_subject_consents(&self, subject: &str) -> Result<u64> {
        self.exec(
            "DELETE FROM consents WHERE subject = $1",
            &[&subject],
            "consents of a subject",
        )
        .await
    }

    // ---- audit log ------------------------------------------------------------------------

    async fn audit_append(
        &self,
        expected_size: u64,
        leaves: &[AuditLeaf],
        nodes: &[(NodeId, [u8; 32])],
    ) -> Result<()> {
        let what = "the audit log";
        let expected = to_i64(expected_size, "expected audit log size")?;
        let mut idx = Vec::with_capacity(leaves.len());
        for (i, leaf) in leaves.iter().enumerate() {
            let want = u64::try_from(i)
                .ok()
                .and_then(|i| expected_size.checked_add(i));
            if want != Some(leaf.index) {
                return Err(StoreError::invalid(
                    "audit leaf index",
                    format!(
                        "leaf {i} of the batch has index {}, but appending at size \
                         {expected_size} needs consecutive indexes from {expected_size}",
                        leaf.index
                    ),
                ));
            }
            idx.push(to_i64(leaf.index, "audit leaf index")?);
        }
        let subjects: Vec<&str> = leaves.iter().map(|l| l.subject.as_str()).collect();
        let ats: Vec<i64> = leaves.iter().map(|l| l.at).collect();
        let details: Vec<&[u8]> = leaves.iter().map(|l| l.details.as_slice()).collect();
        let hashes: Vec<&[u8]> = leaves.iter().map(|l| l.leaf_hash.as_slice()).collect();
        let mut levels = Vec::with_capacity(nodes.len());
        let mut node_idx = Vec::with_capacity(nodes.len());
        for (id, _) in nodes {
            levels.push(i16::from(id.level));
            node_idx.push(to_i64(id.index, "audit node index")?);
        }
        let node_hashes: Vec<&[u8]> = nodes.iter().map(|(_, h)| h.as_slice()).collect();

        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.err(e, what))?;
        let lock = tx
            .prepare_cached(LOCK_SQL)
            .await
            .map_err(|e| self.err(e, what))?;
        tx.execute(&lock, &[&lock_class::AUDIT, &self.lock_key])
            .await
            .map_err(|e| self.err(e, what))?;
        let size_stmt = tx
            .prepare_cached(AUDIT_SIZE_SQL)
            .await
            .map_err(|e| self.err(e, what))?;
        let actual: i64 = tx
            .query_one(&size_stmt, &[])
            .await
            .map_err(|e| self.err(e, what))?
            .try_get(0)
            .map_err(|e| backend_err(format!("reading the audit log size: {e}")))?;
        if actual != expected {
            // Dropping the transaction rolls it back: nothing was written.
            return Err(StoreError::LogSizeMismatch {
                expected: expected_size,
                actual: to_u64(actual, "audit log size")?,
            });
        }
        if !leaves.is_empty() {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO audit_leaves (idx, subject, at, details, leaf_hash)
                     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::bytea[], $5::bytea[])",
                )
                .await
                .map_err(|e| self.err(e, what))?;
            tx.execute(&stmt, &[&idx, &subjects, &ats, &details, &hashes])
                .await
                .map_err(|e| self.err(e, "audit leaves"))?;
        }
        if !nodes.is_empty() {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO audit_nodes (level, idx, hash)
                     SELECT * FROM UNNEST($1::int2[], $2::int8[], $3::bytea[])",
                )
                .await
                .map_err(|e| self.err(e, what))?;
            tx.execute(&stmt, &[&levels, &node_idx, &node_hashes])
                .await
                .map_err(|e| self.err(e, "audit nodes"))?;
        }
        tx.commit().await.map_err(|e| self.err(e, what))?;
        Ok(())
    }

    async fn audit_size(&self) -> Result<u64> {
        self.count(AUDIT_SIZE_SQL, &[], "the audit log size").await
    }

    async fn audit_leaves(&self, from: u64, to: u64) -> Result<Vec<AuditLeaf>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let rows = self
            .rows(
                "SELECT idx, subject, at, details, leaf_hash FROM audit_leaves
                 WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[&saturating_i64(from), &saturating_i64(to)],
                "audit leaves",
            )
            .await?;
        rows.iter().map(leaf_from_row).collect()
    }

    async fn audit_leaves_of(&self, subject: &str) -> Result<Vec<AuditLeaf>> {
        let rows = self
            .rows(
                "SELECT idx, subject, at, details, leaf_hash FROM audit_leaves
                 WHERE subject = $1 ORDER BY idx",
                &[&subject],
                "audit leaves of a subject",
            )
            .await?;
        rows.iter().map(leaf_from_row).collect()
    }

    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<Vec<[u8; 32]>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let levels: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
        // An index beyond i64 cannot be stored, so asking for it finds nothing.
        let idx: Vec<i64> = ids.iter().map(|id| saturating_i64(id.index)).collect();
        let rows = self
            .rows(
                "SELECT n.hash FROM UNNEST($1::int2[], $2::int8[]) WITH ORDINALITY AS q(level, idx, ord)
                 LEFT JOIN audit_nodes n ON n.level = q.level AND n.idx = q.idx
                 ORDER BY q.ord",
                &[&levels, &idx],
                "audit nodes",
            )
            .await?;
        if rows.len() != ids.len() {
            return Err(backend_err(format!(
                "asked for {} audit nodes, got {} rows",
                ids.len(),
                rows.len()
            )));
        }
        rows.iter()
            .zip(ids)
            .map(|(row, id)| match col::<Option<Vec<u8>>>(row, 0)? {
                Some(h) => hash32(&h, "audit node hash"),
                None => Err(StoreError::not_found(format!(
                    "audit node (level {}, index {})",
                    id.level, id.index
                ))),
            })
            .collect()
    }

    async fn put_checkpoint(&self, cp: &Checkpoint) -> Result<()> {
        // The first checkpoint signed for a size stays: a published tree head never changes.
        self.exec(
            "INSERT INTO checkpoints (size, root, at, signature) VALUES ($1, $2, $3, $4)
             ON CONFLICT (size) DO NOTHING",
            &[
                &to_i64(cp.size, "checkpoint size")?,
                &cp.root.as_slice(),
                &cp.at,
                &cp.signature,
            ],
            "a checkpoint",
        )
        .await?;
        Ok(())
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let row = self
            .row(
                "SELECT size, root, at, signature FROM checkpoints ORDER BY size DESC LIMIT 1",
                &[],
                "the latest checkpoint",
            )
            .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    async fn checkpoint_at(&self, size: u64) -> Result<Option<Checkpoint>> {
        let Ok(size) = i64::try_from(size) else {
            return Ok(None);
        };
        let row = self
            .row(
                "SELECT size, root, at, signature FROM checkpoints WHERE size = $1",
                &[&size],
                "a checkpoint",
            )
            .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let rows = self
            .rows(
                "SELECT size, root, at, signature FROM checkpoints ORDER BY size",
                &[],
                "checkpoints",
            )
            .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    // ---- outbox ---------------------------------------------------------------------------

    async fn outbox_push(&self, msg: &NewOutboxMessage) -> Result<u64> {
        let row = self
            .row(
                "INSERT INTO outbox (subject, target, payload, next_at) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[&msg.subject, &msg.target, &msg.payload, &msg.next_at],
                "an outbox message",
            )
            .await?
            .ok_or_else(|| backend_err("inserting an outbox message returned no id".to_owned()))?;
        to_u64(col(&row, 0)?, "outbox message id")
    }

    async fn outbox_claim(
        &self,
        now: Millis,
        lease: Millis,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = now.saturating_add(lease.max(0));
        // SKIP LOCKED: rows another instance is claiming right now are passed over, and the
        // lease (lease_until) keeps them from being claimed again until it runs out.
        let rows = self
            .rows(
                "WITH due AS (
                     SELECT id FROM outbox
                     WHERE next_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                     ORDER BY next_at, id
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 UPDATE outbox o SET lease_until = $2
                 FROM due WHERE o.id = due.id
                 RETURNING o.id, o.subject, o.target, o.payload, o.attempts, o.next_at, o.last_error",
                &[&now, &until, &i64::from(limit)],
                "claiming outbox messages",
            )
            .await?;
        let mut out = rows
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|m| (m.next_at, m.id));
        Ok(out)
    }

    async fn outbox_done(&self, id: u64) -> Result<()> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(());
        };
        self.exec(
            "DELETE FROM outbox WHERE id = $1",
            &[&id],
            "an outbox message",
        )
        .await?;
        Ok(())
    }

    async fn outbox_retry(&self, id: u64, next_at: Millis, error: &str) -> Result<()> {
        // A message that is gone (done by a sender whose lease had run out, or erased with its
        // subject) stays gone: retrying it is not an error.
        let Ok(pg_id) = i64::try_from(id) else {
            return Ok(());
        };
        self.exec(
            "UPDATE outbox SET attempts = attempts + 1, next_at = $2, last_error = $3,
                     lease_until = NULL
                 WHERE id = $1",
            &[&pg_id, &next_at, &error],
            &format!("outbox message {id}"),
        )
        .await?;
        Ok(())
    }

    async fn outbox_pending(&self) -> Result<u64> {
        self.count("SELECT count(*) FROM outbox", &[], "the outbox")
            .await
    }

    async fn delete_subject_outbox(&self, subject: &str) -> Result<u64> {
        self.exec(
            "DELETE FROM outbox WHERE subject = $1",
            &[&subject],
            "outbox of a subject",
        )
        .await
    }
}

/// Waits for, then holds until the transaction ends, the advisory lock `($1, $2)`.
const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock($1, $2)";

/// The log's size: leaves are numbered from 0 without gaps, so the highest index plus one.
/// Reads one entry of the primary key index instead of counting every leaf.
const AUDIT_SIZE_SQL: &str = "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves";

// ---- rows -------------------------------------------------------------------------------------

fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(|e| {
        let name = row.columns().get(idx).map_or("?", |c| c.name());
        backend_err(format!("reading column {name}: {e}"))
    })
}

fn record_from_row(row: &Row) -> Result<Record> {
    Ok(Record {
        kind: col(row, 0)?,
        id: col(row, 1)?,
        subject: col(row, 2)?,
        index: crate::IndexFields {
            status: col(row, 3)?,
            at: col(row, 4)?,
            scope: col(row, 5)?,
        },
        body: col(row, 6)?,
        retain_until: col(row, 7)?,
        version: to_u64(col(row, 8)?, "record version")?,
        created_at: col(row, 9)?,
        updated_at: col(row, 10)?,
    })
}

fn key_from_row(row: &Row) -> Result<WrappedKey> {
    Ok(WrappedKey {
        subject: col(row, 0)?,
        kek_id: col(row, 1)?,
        wrapped: col(row, 2)?,
        created_at: col(row, 3)?,
    })
}

fn leaf_from_row(row: &Row) -> Result<AuditLeaf> {
    Ok(AuditLeaf {
        index: to_u64(col(row, 0)?, "audit leaf index")?,
        subject: col(row, 1)?,
        at: col(row, 2)?,
        details: col(row, 3)?,
        leaf_hash: hash32(col(row, 4)?, "audit leaf hash")?,
    })
}

fn checkpoint_from_row(row: &Row) -> Result<Checkpoint> {
    Ok(Checkpoint {
        size: to_u64(col(row, 0)?, "checkpoint size")?,
        root: hash32(col(row, 1)?, "checkpoint root")?,
        at: col(row, 2)?,
        signature: col(row, 3)?,
    })
}

fn outbox_from_row(row: &Row) -> Result<OutboxMessage> {
    let attempts: i32 = col(row, 4)?;
    Ok(OutboxMessage {
        id: to_u64(col(row, 0)?, "outbox message id")?,
        subject: col(row, 1)?,
        target: col(row, 2)?,
        payload: col(row, 3)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| backend_err(format!("stored outbox attempts {attempts} is negative")))?,
        next_at: col(row, 5)?,
        last_error: col(row, 6)?,
    })
}

// ---- helpers ----------------------------------------------------------------------------------

fn backend_err(detail: String) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        detail,
    }
}

fn record_what(kind: &str, id: &str) -> String {
    format!("record {kind}/{id}")
}

fn meta_what(name: &str) -> String {
    format!("meta value {name}")
}

/// A value read from the database that must be non-negative.
fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| backend_err(format!("stored {what} {v} is negative")))
}

/// A value to store as BIGINT; PostgreSQL has no unsigned 64-bit type.
fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| StoreError::invalid(what, format!("{v} is larger than {}", i64::MAX)))
}

/// A range bound: values past `i64::MAX` cannot be stored, so they bound like `i64::MAX`.
fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| backend_err(format!("stored {what} is {} bytes, not 32", bytes.len())))
}

fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

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

/// What to check when the server refuses work with this SQLSTATE, if it means the database
/// cannot be used right now rather than that the request was wrong.
fn unavailable_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "28P01" | "28000" => "check the user and password in the PostgreSQL URL and pg_hba.conf",
        "3D000" => "check the database name in the PostgreSQL URL, or create the database",
        "53300" => "too many connections: raise max_connections or run fewer instances",
        "57P01" | "57P02" => "the server was shut down; check that it is running again",
        "57P03" => "the server is starting up or shutting down; retry in a moment",
        c if c.starts_with("08") => "check that PostgreSQL is running and reachable",
        "53100" => "the server is out of disk space",
        _ => return None,
    })
}

fn has_io_source(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The error and its causes, `a: b: c`.
fn error_chain(e: &tokio_postgres::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests;
