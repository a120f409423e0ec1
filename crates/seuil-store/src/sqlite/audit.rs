//! The audit log: leaves, the stored nodes of the Merkle tree, and signed checkpoints.
//!
//! Appends only extend tables in key order, so a batch dirties a handful of pages. The index
//! from subject to leaves is filled in bulk every [`INDEX_EVERY`] leaves (see migration
//! 0002), and reads by subject scan the short unindexed tail of the log.

use super::convert::{get_u64, to_i64};
use crate::{AuditLeaf, Checkpoint, LeafPage, NodeId, Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::sync::LazyLock;

/// The number of leaves: the last index plus one, read from the end of the rowid b-tree
/// (leaves are contiguous from 0, which `append` enforces).
pub(super) fn size(c: &Connection) -> Result<u64> {
    let last: Option<i64> = c
        .prepare_cached("SELECT max(idx) FROM audit.audit_leaves")?
        .query_row([], |r| r.get(0))?;
    // Indexes are checked to be >= 0 on the way in (and by the table's CHECK).
    Ok(last.map_or(0, |i| i as u64 + 1))
}

/// Checks what can be checked without the database: leaves numbered `expected_size..` in
/// order. Done before queueing, so a malformed append never reaches the writer.
pub(super) fn check_append(
    expected_size: u64,
    leaves: &[AuditLeaf],
    nodes: &[(NodeId, [u8; 32])],
) -> Result<()> {
    for (i, leaf) in leaves.iter().enumerate() {
        let want = expected_size.checked_add(i as u64);
        if want != Some(leaf.index) {
            return Err(StoreError::invalid(
                "audit append",
                format!(
                    "leaf {i} has index {}, expected {}",
                    leaf.index,
                    expected_size.saturating_add(i as u64)
                ),
            ));
        }
        to_i64(leaf.index, "audit leaf index")?;
    }
    NodeId::check_stored(nodes)?;
    for (id, _) in nodes {
        to_i64(id.index, "audit node index")?;
    }
    Ok(())
}

/// Leaves waiting for the subject index before an append copies them in. Bounds the tail
/// that a read by subject scans.
pub(super) const INDEX_EVERY: u64 = 4096;

/// Appends if the log is still `expected_size` long; on a mismatch nothing is written (the
/// size check comes first, and the writer's savepoint undoes a failure halfway).
pub(super) fn append(
    c: &Connection,
    index_every: u64,
    expected_size: u64,
    after: Option<[u8; 32]>,
    leaves: &[AuditLeaf],
    nodes: &[(NodeId, [u8; 32])],
) -> Result<()> {
    let actual = size(c)?;
    if actual != expected_size {
        return Err(StoreError::LogSizeMismatch {
            expected: expected_size,
            actual,
        });
    }
    if let (Some(after), Some(last)) = (after, expected_size.checked_sub(1)) {
        let hash: Option<[u8; 32]> = c
            .prepare_cached("SELECT leaf_hash FROM audit.audit_leaves WHERE idx = ?1")?
            .query_row([to_i64(last, "audit leaf index")?], |r| r.get(0))
            .optional()?;
        if hash != Some(after) {
            // Same size, other leaves: another writer's batch landed where ours was expected.
            return Err(StoreError::LogSizeMismatch {
                expected: expected_size,
                actual,
            });
        }
    }
    insert_leaves(c, leaves)?;
    insert_nodes(c, nodes)?;
    let size = expected_size + leaves.len() as u64;
    let upto = indexed_upto(c)?;
    if size.saturating_sub(upto) >= index_every {
        index_subjects(c, upto, size)?;
    }
    Ok(())
}

/// Rows per multi-row INSERT: one statement step for this many rows instead of one each.
const ROWS_PER_INSERT: usize = 16;

/// A statement for one row and one for [`ROWS_PER_INSERT`] rows, each built once.
type Statements = (&'static LazyLock<String>, &'static LazyLock<String>);

/// `{insert}{row}` and `{insert}{row}, {row}, ...`, as [`Statements`].
macro_rules! insert_statements {
    ($insert:expr, $row:expr) => {{
        static ONE: LazyLock<String> = LazyLock::new(|| format!("{}{}", $insert, $row));
        static MANY: LazyLock<String> =
            LazyLock::new(|| format!("{}{}", $insert, [$row; ROWS_PER_INSERT].join(", ")));
        (&ONE, &MANY)
    }};
}

/// Inserts `items` in statements of [`ROWS_PER_INSERT`] rows of `columns` columns each,
/// binding an item's columns with `bind(stmt, first, item)`. Returns the rows inserted.
fn insert_rows<T>(
    c: &Connection,
    (one, many): Statements,
    columns: usize,
    items: &[T],
    bind: impl Fn(&mut rusqlite::Statement<'_>, usize, &T) -> Result<()>,
) -> Result<usize> {
    let mut inserted = 0;
    let mut chunks = items.chunks_exact(ROWS_PER_INSERT);
    if chunks.len() > 0 {
        let mut stmt = c.prepare_cached(many)?;
        for chunk in &mut chunks {
            for (i, item) in chunk.iter().enumerate() {
                bind(&mut stmt, i * columns + 1, item)?;
            }
            inserted += stmt.raw_execute()?;
        }
    }
    let mut stmt = c.prepare_cached(one)?;
    for item in chunks.remainder() {
        bind(&mut stmt, 1, item)?;
        inserted += stmt.raw_execute()?;
    }
    Ok(inserted)
}

fn insert_leaves(c: &Connection, leaves: &[AuditLeaf]) -> Result<()> {
    const ROW: &str = "(?, ?, ?, ?, ?)";
    const INSERT: &str =
        "INSERT INTO audit.audit_leaves (idx, subject, at, details, leaf_hash) VALUES ";
    let bind = |stmt: &mut rusqlite::Statement<'_>, first: usize, leaf: &AuditLeaf| {
        stmt.raw_bind_parameter(first, to_i64(leaf.index, "audit leaf index")?)?;
        stmt.raw_bind_parameter(first + 1, &leaf.subject)?;
        stmt.raw_bind_parameter(first + 2, leaf.at)?;
        stmt.raw_bind_parameter(first + 3, &leaf.details)?;
        stmt.raw_bind_parameter(first + 4, leaf.leaf_hash)?;
        Ok(())
    };
    insert_rows(c, insert_statements!(INSERT, ROW), 5, leaves, bind)?;
    Ok(())
}

fn insert_nodes(c: &Connection, nodes: &[(NodeId, [u8; 32])]) -> Result<()> {
    const ROW: &str = "(?, ?, ?)";
    // `OR IGNORE`: a clash is counted below instead of failing the statement halfway.
    const INSERT: &str = "INSERT OR IGNORE INTO audit.audit_nodes (level, idx, hash) VALUES ";
    let bind = |stmt: &mut rusqlite::Statement<'_>, first: usize, node: &(NodeId, [u8; 32])| {
        stmt.raw_bind_parameter(first, node.0.level)?;
        stmt.raw_bind_parameter(first + 1, to_i64(node.0.index, "audit node index")?)?;
        stmt.raw_bind_parameter(first + 2, node.1)?;
        Ok(())
    };
    let inserted = insert_rows(c, insert_statements!(INSERT, ROW), 3, nodes, bind)?;
    if inserted != nodes.len() {
        // A node covers leaves that already existed: the caller's tree is not ours.
        return Err(StoreError::invalid(
            "audit append",
            format!(
                "{} of {} nodes are already stored",
                nodes.len() - inserted,
                nodes.len()
            ),
        ));
    }
    Ok(())
}

fn indexed_upto(c: &Connection) -> Result<u64> {
    let upto: i64 = c
        .prepare_cached("SELECT upto FROM audit.audit_indexed")?
        .query_row([], |r| r.get(0))?;
    // The table's CHECK keeps it >= 0.
    Ok(upto as u64)
}

/// Copies leaves `from..to` into the subject index, in the index's order so that each page
/// is written once.
fn index_subjects(c: &Connection, from: u64, to: u64) -> Result<()> {
    let (from, to) = (to_i64(from, "audit index")?, to_i64(to, "audit index")?);
    c.prepare_cached(
        "INSERT INTO audit.audit_subjects (subject, idx)
         SELECT subject, idx FROM audit.audit_leaves WHERE idx >= ?1 AND idx < ?2 ORDER BY subject, idx",
    )?
    .execute([from, to])?;
    c.prepare_cached("UPDATE audit.audit_indexed SET upto = ?1")?
        .execute([to])?;
    Ok(())
}

fn leaf(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditLeaf> {
    Ok(AuditLeaf {
        index: get_u64(r, 0)?,
        subject: r.get(1)?,
        at: r.get(2)?,
        details: r.get(3)?,
        leaf_hash: r.get(4)?,
    })
}

pub(super) fn leaves(c: &Connection, from: u64, to: u64) -> Result<Vec<AuditLeaf>> {
    // Bounds past i64::MAX cannot match any stored index: clamp rather than fail.
    let (from, to) = (
        i64::try_from(from).unwrap_or(i64::MAX),
        i64::try_from(to).unwrap_or(i64::MAX),
    );
    let mut stmt = c.prepare_cached(
        "SELECT idx, subject, at, details, leaf_hash FROM audit.audit_leaves WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
    )?;
    Ok(stmt
        .query_map([from, to], leaf)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn leaves_of(c: &Connection, subject: &str, page: LeafPage) -> Result<Vec<AuditLeaf>> {
    let before = page
        .before
        .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
    // One statement, so the index, its watermark and the tail come from one snapshot. Both
    // arms are read newest first (the index by (subject, idx), the tail by rowid) and merged,
    // so a page stops after its own rows: 1 ms for 500 of a subject's 100,000 events, where
    // sorting them all took 240. The first column must be `s.idx`, not the equal `l.idx`, for
    // SQLite to see that the index already gives the order.
    let mut stmt = c.prepare_cached(
        "SELECT * FROM (
           SELECT s.idx, l.subject, l.at, l.details, l.leaf_hash
             FROM audit.audit_subjects s JOIN audit.audit_leaves l ON l.idx = s.idx
            WHERE s.subject = ?1 AND s.idx < ?2
           UNION ALL
           SELECT idx, subject, at, details, leaf_hash FROM audit.audit_leaves
            WHERE idx >= (SELECT upto FROM audit.audit_indexed) AND idx < ?2 AND subject = ?1
           ORDER BY 1 DESC LIMIT ?3
         ) ORDER BY 1",
    )?;
    Ok(stmt
        .query_map(params![subject, before, limit], leaf)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One probe per node on one cached statement, inside one read transaction so that every
/// hash comes from the same snapshot.
pub(super) fn nodes(c: &Connection, ids: &[NodeId]) -> Result<Vec<[u8; 32]>> {
    let tx = c.unchecked_transaction()?;
    let mut node =
        tx.prepare_cached("SELECT hash FROM audit.audit_nodes WHERE level = ?1 AND idx = ?2")?;
    let mut leaf = tx.prepare_cached("SELECT leaf_hash FROM audit.audit_leaves WHERE idx = ?1")?;
    let mut hashes = Vec::with_capacity(ids.len());
    for id in ids {
        let hash = match i64::try_from(id.index) {
            Ok(idx) if id.level == 0 => leaf.query_row([idx], |r| r.get(0)).optional()?,
            Ok(idx) => node
                .query_row(params![id.level, idx], |r| r.get(0))
                .optional()?,
            Err(_) => None,
        };
        hashes.push(hash.ok_or_else(|| {
            StoreError::not_found(format!("audit node ({}, {})", id.level, id.index))
        })?);
    }
    Ok(hashes)
}

fn checkpoint(r: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        size: get_u64(r, 0)?,
        root: r.get(1)?,
        at: r.get(2)?,
        signature: r.get(3)?,
    })
}

/// Keeps the first checkpoint of a size (a second instance signing the same tree adds
/// nothing): a published tree head never changes.
pub(super) fn put_checkpoint(c: &Connection, cp: &Checkpoint) -> Result<()> {
    let size = to_i64(cp.size, "checkpoint size")?;
    c.prepare_cached(
        "INSERT INTO audit.checkpoints (size, root, at, signature) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (size) DO NOTHING",
    )?
    .execute(params![size, cp.root, cp.at, cp.signature])?;
    Ok(())
}

pub(super) fn latest_checkpoint(c: &Connection) -> Result<Option<Checkpoint>> {
    let mut stmt = c.prepare_cached(
        "SELECT size, root, at, signature FROM audit.checkpoints ORDER BY size DESC LIMIT 1",
    )?;
    Ok(stmt.query_row([], checkpoint).optional()?)
}

pub(super) fn checkpoint_at(c: &Connection, size: u64) -> Result<Option<Checkpoint>> {
    let Ok(size) = i64::try_from(size) else {
        return Ok(None);
    };
    let mut stmt = c.prepare_cached(
        "SELECT size, root, at, signature FROM audit.checkpoints WHERE size = ?1",
    )?;
    Ok(stmt.query_row([size], checkpoint).optional()?)
}

pub(super) fn checkpoints(c: &Connection) -> Result<Vec<Checkpoint>> {
    let mut stmt =
        c.prepare_cached("SELECT size, root, at, signature FROM audit.checkpoints ORDER BY size")?;
    Ok(stmt
        .query_map([], checkpoint)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}
