//! Connections and schema: how each connection is opened and configured, and the migrations,
//! tracked by `PRAGMA user_version`.

use super::convert::sqlite_err;
use crate::{Result, StoreError};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// How long a connection waits for a lock held by another connection (a reader blocking a
/// TRUNCATE checkpoint, another process writing) before it reports the database busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every migration, in order; migration `i` brings the schema to version `i + 1`. To add one,
/// add `migrations/sqlite/NNNN_name.sql` and a line here; never edit one that has shipped.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        "audit subject index",
        include_str!("../../migrations/sqlite/0002_audit_subject_index.sql"),
    ),
];

/// The schema version this build writes.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Opens the connection that writes: creates the file if needed, switches it to WAL and
/// brings the schema up to date.
pub(super) fn open_writer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(path, &e))?;
    configure(&conn).map_err(|e| open_err(path, &e))?;
    // WAL: readers never block the writer nor the writer them, and a commit is one append
    // and one fsync. The mode is stored in the file, so read-only connections find it set.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| open_err(path, &e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend {
            backend: "sqlite",
            detail: format!(
                "{} cannot use write-ahead logging (journal mode stays {mode}); \
                 put the database on a local file system",
                path.display()
            ),
        });
    }
    // FULL: a commit is on disk (the WAL is fsynced) before it is acknowledged.
    // secure_delete: deleted content (a shredded key) is overwritten with zeros, not just
    // unlinked. It is a setting of the connection, and only this connection writes.
    // cache_size: 32 MiB keeps the index pages the writer touches in memory.
    // temp_store: each job runs in a savepoint, whose undo journal would otherwise be a
    // temporary file written (and unlinked) on every commit.
    // wal_autocheckpoint: only a backstop; the checkpointer thread does the copying.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; PRAGMA cache_size = -32768;
         PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = {};",
        super::checkpointer::BACKSTOP_PAGES
    ))
    .map_err(|e| open_err(path, &e))?;
    migrate(&mut conn).map_err(|e| in_file(path, e))?;
    Ok(conn)
}

/// Opens the connection of the checkpointer thread, once the writer has set the file up.
pub(super) fn open_checkpointer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(path, &e))?;
    configure(&conn).map_err(|e| open_err(path, &e))?;
    // A checkpoint fsyncs the database file according to this setting before the log may be
    // reused: it must not be OFF.
    conn.execute_batch("PRAGMA synchronous = FULL;")
        .map_err(|e| open_err(path, &e))?;
    Ok(conn)
}

/// Opens a connection that only reads. The database must exist and be at the schema version
/// of this build.
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(path, &e))?;
    configure(&conn).map_err(|e| open_err(path, &e))?;
    let version = user_version(&conn).map_err(|e| open_err(path, &e))?;
    if version != latest_version() {
        return Err(in_file(path, version_err(version)));
    }
    Ok(conn)
}

/// Settings every connection needs; none of them is stored in the file.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Plans that do not depend on bound values. Without it, SQLite marks some statements
    // (the LEFT JOIN of `get_for_open`) as depending on their parameters, and the statement
    // cache's `clear_bindings` then forces a full re-prepare on every use: 10x slower.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Reads through a memory map: in WAL mode a connection drops its page cache whenever
    // another one has committed, which under a steady stream of audit appends is nearly
    // every read; from the map, refetching a page is a lookup instead of a `pread` copy.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA mmap_size = 1073741824;")?;
    // Enough room for every statement of the store, so none is ever prepared twice.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Applies the migrations the file lacks, all in one transaction.
fn migrate(conn: &mut Connection) -> Result<()> {
    // IMMEDIATE: two processes opening a fresh file at once migrate one after the other, and
    // the second sees the first's version.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version = user_version(&tx)?;
    if version > latest_version() || version < 0 {
        return Err(version_err(version));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tracing::info!(version = i + 1, name, "applying SQLite migration");
        tx.execute_batch(sql)?;
        // PRAGMA takes no parameters; the value is a number we computed.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    tx.commit()?;
    Ok(())
}

fn version_err(version: i64) -> StoreError {
    let why = if version > latest_version() {
        format!(
            "it is at version {version} but this build knows only up to {}; run a newer seuil",
            latest_version()
        )
    } else {
        format!(
            "it is at version {version}, this build needs {}; open it read-write once to migrate it",
            latest_version()
        )
    };
    StoreError::invalid("SQLite database schema", why)
}

/// An error while opening, naming the file.
fn open_err(path: &Path, e: &rusqlite::Error) -> StoreError {
    in_file(path, sqlite_err(e))
}

fn in_file(path: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Backend { backend, detail } => StoreError::Backend {
            backend,
            detail: format!("{}: {detail}", path.display()),
        },
        StoreError::Invalid { what, why } => StoreError::Invalid {
            what: format!("{what} of {}", path.display()),
            why,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_not_empty() {
        for (name, sql) in MIGRATIONS {
            assert!(!sql.trim().is_empty(), "migration {name} is empty");
        }
    }
}
