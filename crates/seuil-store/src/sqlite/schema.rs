//! Connections and schema: how each connection is opened and configured, and the migrations,
//! tracked by `PRAGMA user_version`.
//!
//! A store is two files: the records, keys and consents in `seuil.db`, and the audit log in
//! `seuil-audit.db` beside it, attached to every connection as `audit` (why: see
//! `migrations/sqlite-audit/0001_init.sql`). Each file has its own migrations and version.

use super::audit;
use super::convert::sqlite_err;
use crate::{Result, StoreError};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a connection waits for a lock held by another connection (a reader blocking a
/// TRUNCATE checkpoint, another process writing) before it reports the database busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations of one file, in order; migration `i` brings it to version `i + 1`. To add one,
/// add `migrations/<dir>/NNNN_name.sql` and a line here; never edit one that has shipped.
type Migrations = &'static [(&'static str, &'static str)];

/// The main file. Version 1 also created the audit tables; they now live in the audit file,
/// and [`move_legacy_audit_log`] moves a version 1 log there.
const MAIN: Migrations = &[(
    "init",
    include_str!("../../migrations/sqlite/0001_init.sql"),
)];

/// The audit file. Its statements name the `audit` schema, so they cannot touch the main file.
const AUDIT: Migrations = &[
    (
        "init",
        include_str!("../../migrations/sqlite-audit/0001_init.sql"),
    ),
    (
        "runs",
        include_str!("../../migrations/sqlite-audit/0002_runs.sql"),
    ),
    (
        "postings",
        include_str!("../../migrations/sqlite-audit/0003_postings.sql"),
    ),
];

/// The schema versions this build writes: (main file, audit file).
fn latest_versions() -> (i64, i64) {
    (MAIN.len() as i64, AUDIT.len() as i64)
}

/// The audit log's file for the database at `path`: `seuil.db` → `seuil-audit.db`.
pub(super) fn audit_path(path: &Path) -> PathBuf {
    let mut name = path.file_stem().map(OsString::from).unwrap_or_default();
    name.push("-audit");
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// The page size of a new audit file, in bytes.
const AUDIT_PAGE_SIZE: u32 = 16384;

/// Opens the connection that writes: creates the files if needed, switches them to WAL and
/// brings both schemas up to date.
pub(super) fn open_writer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(path, &e))?;
    configure(&conn).map_err(|e| open_err(path, &e))?;
    let audit = audit_path(path);
    // A database that already has a log elsewhere than in its own tables must find it: never
    // start a new, empty log beside records that were audited.
    let version = user_version(&conn, "main").map_err(|e| open_err(path, &e))?;
    if version > 0
        && !audit::has_row_log(&conn, "main").map_err(|e| in_file(path, e))?
        && !audit.exists()
    {
        return Err(StoreError::invalid(
            "SQLite audit log",
            format!(
                "{} is missing but {} has records: restore both files from the same backup",
                audit.display(),
                path.display()
            ),
        ));
    }
    attach_audit(&conn, &audit)?;
    // Empty, not missing: attaching creates the file, and a crash before the first write
    // leaves it empty.
    let pages: i64 = conn
        .query_row("PRAGMA audit.page_count", [], |r| r.get(0))
        .map_err(|e| open_err(&audit, &e))?;
    if pages == 0 {
        // Large pages for the log: an append is one run of tens of KiB, which on 4 KiB pages
        // is a chain of overflow pages, each a WAL frame of its own (two writes) and copied
        // again by the checkpoint. In `bench vault` 16 KiB pages cut the writer's CPU per
        // audited open by about a quarter and the checkpointer's by half. Only an empty file
        // takes a page size, so an existing log keeps its own.
        conn.execute_batch(&format!("PRAGMA audit.page_size = {AUDIT_PAGE_SIZE};"))
            .map_err(|e| open_err(&audit, &e))?;
    }
    for schema in ["main", "audit"] {
        wal(&conn, schema, path)?;
    }
    // FULL: a commit is on disk (the WAL is fsynced) before it is acknowledged.
    // secure_delete: deleted content (a shredded key) is overwritten with zeros, not just
    // unlinked. It is a setting of the connection, and only this connection writes.
    // cache_size: 32 MiB keeps the index pages the writer touches in memory.
    // temp_store: each job runs in a savepoint, whose undo journal would otherwise be a
    // temporary file written (and unlinked) on every commit.
    // wal_autocheckpoint: only a backstop; the checkpointer thread does the copying.
    conn.execute_batch(&format!(
        "PRAGMA main.synchronous = FULL; PRAGMA audit.synchronous = FULL;
         PRAGMA main.secure_delete = ON; PRAGMA main.cache_size = -32768;
         PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = {};",
        super::checkpointer::BACKSTOP_PAGES
    ))
    .map_err(|e| open_err(path, &e))?;
    migrate(&mut conn, "main", MAIN).map_err(|e| in_file(path, e))?;
    migrate(&mut conn, "audit", AUDIT).map_err(|e| in_file(&audit, e))?;
    pack_audit_rows(&mut conn).map_err(|e| in_file(&audit, e))?;
    move_legacy_audit_log(&mut conn).map_err(|e| in_file(path, e))?;
    Ok(conn)
}

/// Switches one file of the connection to write-ahead logging: readers never block the writer
/// nor the writer them, and a commit is one append and one fsync. The mode is stored in the
/// file, so read-only connections find it set.
fn wal(conn: &Connection, schema: &str, path: &Path) -> Result<()> {
    let mode: String = conn
        .query_row(&format!("PRAGMA {schema}.journal_mode = WAL"), [], |r| {
            r.get(0)
        })
        .map_err(|e| open_err(path, &e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend {
            backend: "sqlite",
            detail: format!(
                "{} cannot use write-ahead logging (journal mode of {schema} stays {mode}); \
                 put the database on a local file system",
                path.display()
            ),
        });
    }
    Ok(())
}

/// Attaches the audit file as `audit`, with the connection's access (a read-only connection
/// attaches it read-only and never creates it).
fn attach_audit(conn: &Connection, audit: &Path) -> Result<()> {
    let name = audit.to_str().ok_or_else(|| {
        StoreError::invalid(
            "SQLite audit log path",
            format!("{} is not valid UTF-8", audit.display()),
        )
    })?;
    conn.execute("ATTACH DATABASE ?1 AS audit", [name])
        .map_err(|e| open_err(audit, &e))?;
    // No memory map for the log: it changes with every audited read, and a changed file is
    // unmapped by every connection at its next read.
    conn.execute_batch("PRAGMA audit.mmap_size = 0;")
        .map_err(|e| open_err(audit, &e))?;
    Ok(())
}

/// Opens the connection of the checkpointer thread, once the writer has set the files up.
pub(super) fn open_checkpointer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(path, &e))?;
    configure(&conn).map_err(|e| open_err(path, &e))?;
    attach_audit(&conn, &audit_path(path))?;
    // A checkpoint fsyncs the database file according to this setting before the log may be
    // reused: it must not be OFF.
    conn.execute_batch("PRAGMA main.synchronous = FULL; PRAGMA audit.synchronous = FULL;")
        .map_err(|e| open_err(path, &e))?;
    Ok(conn)
}

/// Opens a connection that only reads. Both files must exist and be at the schema versions
/// of this build.
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_err(path, &e))?;
    configure(&conn).map_err(|e| open_err(path, &e))?;
    let audit = audit_path(path);
    attach_audit(&conn, &audit)?;
    let (main_latest, audit_latest) = latest_versions();
    let main = user_version(&conn, "main").map_err(|e| open_err(path, &e))?;
    if main != main_latest {
        return Err(in_file(path, version_err(main, main_latest)));
    }
    let version = user_version(&conn, "audit").map_err(|e| open_err(&audit, &e))?;
    if version != audit_latest {
        return Err(in_file(&audit, version_err(version, audit_latest)));
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

fn user_version(conn: &Connection, schema: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA {schema}.user_version"), [], |r| r.get(0))
}

/// Applies the migrations one file lacks, all in one transaction.
fn migrate(conn: &mut Connection, schema: &str, migrations: Migrations) -> Result<()> {
    let latest = migrations.len() as i64;
    // IMMEDIATE: two processes opening a fresh file at once migrate one after the other, and
    // the second sees the first's version.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version = user_version(&tx, schema)?;
    if version > latest || version < 0 {
        return Err(version_err(version, latest));
    }
    for (i, (name, sql)) in migrations.iter().enumerate().skip(version as usize) {
        tracing::info!(schema, version = i + 1, name, "applying SQLite migration");
        tx.execute_batch(sql)?;
        // PRAGMA takes no parameters; the value is a number we computed.
        tx.execute_batch(&format!("PRAGMA {schema}.user_version = {}", i + 1))?;
    }
    tx.commit()?;
    Ok(())
}

/// Packs a version 1 audit file's rows into runs and drops them, in one transaction of that
/// file alone (so a crash leaves either the rows or the runs).
fn pack_audit_rows(conn: &mut Connection) -> Result<()> {
    if !audit::has_row_log(conn, "audit")? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    audit::pack_row_log(&tx, "audit")?;
    tx.execute_batch("DROP TABLE audit.audit_leaves; DROP TABLE audit.audit_nodes;")?;
    tx.commit()?;
    Ok(())
}

/// Moves a log kept in the main file (schema version 1, and every fresh file right after its
/// first migration) into the audit file.
///
/// Two transactions, because a transaction over two files in WAL mode commits each file on its
/// own: first the copy, which writes only the audit file; then the drop, which writes only the
/// main file. A crash between them leaves both copies, and the next start finds the runs
/// already written (which changes nothing) before dropping.
fn move_legacy_audit_log(conn: &mut Connection) -> Result<()> {
    if !audit::has_row_log(conn, "main")? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    audit::pack_row_log(&tx, "main")?;
    let size = audit::size(&tx)?;
    tx.execute_batch(
        "INSERT OR IGNORE INTO audit.audit_postings (subject, first, idxs)
             SELECT subject, min(idx), unhex(group_concat(printf('%016x', idx), '' ORDER BY idx))
               FROM main.audit_leaves GROUP BY subject, idx / 4096;
         INSERT OR IGNORE INTO audit.checkpoints (size, root, at, signature)
             SELECT size, root, at, signature FROM main.checkpoints;",
    )?;
    tx.execute(
        "UPDATE audit.audit_indexed SET upto = ?1",
        [i64::try_from(size).unwrap_or(i64::MAX)],
    )?;
    tx.commit()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "DROP TABLE main.audit_leaves; DROP TABLE main.audit_nodes; DROP TABLE main.checkpoints;",
    )?;
    tx.commit()?;
    Ok(())
}

fn version_err(version: i64, latest: i64) -> StoreError {
    let why = if version > latest {
        format!(
            "it is at version {version} but this build knows only up to {latest}; run a newer seuil"
        )
    } else {
        format!(
            "it is at version {version}, this build needs {latest}; open it read-write once to migrate it"
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
        for (name, sql) in MAIN.iter().chain(AUDIT) {
            assert!(!sql.trim().is_empty(), "migration {name} is empty");
        }
    }
}
