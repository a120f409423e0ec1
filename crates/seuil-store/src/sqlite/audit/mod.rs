//! The audit log: runs of leaves with the Merkle nodes they complete, the subject index, and
//! signed checkpoints.
//!
//! Each append stores its leaves as one row of `audit_runs` per [`RUN_MAX`] leaves (see
//! migration 0002 and [`run`] for the format), so a group commit of a hundred audited reads
//! writes one row, not two hundred. The index from subject to leaves is filled in bulk every
//! [`INDEX_EVERY`] leaves, one row per subject and pass ([`postings`]), and reads by subject
//! scan the short unindexed tail of the log.

mod legacy;
mod postings;
mod run;

pub(super) use legacy::{has_row_log, pack_row_log};

use super::convert::{get_u64, to_i64};
use crate::{AuditLeaf, Checkpoint, LeafPage, NodeId, Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

/// Most leaves in one run. Reading one leaf decodes its whole run, so runs stay small enough
/// (tens of KiB) for a page of the access log, which reads one leaf from each of up to
/// hundreds of runs.
pub(super) const RUN_MAX: usize = 256;

/// The size of the log and the hash of its last leaf, from the last run.
fn tip(c: &Connection) -> Result<(u64, Option<[u8; 32]>)> {
    let last = c
        .prepare_cached(
            "SELECT first, count, hashes FROM audit.audit_runs ORDER BY first DESC LIMIT 1",
        )?
        .query_row([], |r| {
            Ok((get_u64(r, 0)?, get_u64(r, 1)?, r.get::<_, Vec<u8>>(2)?))
        })
        .optional()?;
    let Some((first, count, hashes)) = last else {
        return Ok((0, None));
    };
    let size = first
        .checked_add(count)
        .ok_or_else(|| StoreError::invalid("audit log", "a run ends past the largest index"))?;
    let hash = run::leaf_hash(first, &hashes, count.saturating_sub(1))?;
    Ok((size, hash))
}

/// The number of leaves, read from the last run (runs are contiguous from 0, which `append`
/// enforces).
pub(super) fn size(c: &Connection) -> Result<u64> {
    Ok(tip(c)?.0)
}

/// An append checked and encoded on the caller's thread, so that the one writer thread only
/// inserts finished rows.
pub(super) struct Prepared {
    expected_size: u64,
    runs: Vec<run::Encoded>,
}

/// Checks an append (see [`check_append`]) and encodes its runs of at most [`RUN_MAX`] leaves,
/// each with the nodes its leaves complete.
pub(super) fn prepare(
    expected_size: u64,
    leaves: &[AuditLeaf],
    nodes: &[(NodeId, [u8; 32])],
) -> Result<Prepared> {
    check_append(expected_size, leaves, nodes)?;
    Ok(Prepared {
        expected_size,
        runs: encode_runs(leaves, nodes),
    })
}

/// Leaves (consecutive) as runs of at most [`RUN_MAX`], each with the nodes it completes.
fn encode_runs(leaves: &[AuditLeaf], nodes: &[(NodeId, [u8; 32])]) -> Vec<run::Encoded> {
    leaves
        .chunks(RUN_MAX)
        .map(|chunk| {
            let (first, count) = (chunk[0].index, chunk.len() as u64);
            let own: Vec<(NodeId, [u8; 32])> = nodes
                .iter()
                .filter(|(id, _)| id.completed_by(first, count))
                .copied()
                .collect();
            run::encode(chunk, &own)
        })
        .collect()
}

/// Checks what can be checked without the database: leaves numbered `expected_size..` in
/// order, fields that fit the stored format, and nodes these leaves complete. Done before
/// queueing, so a malformed append never reaches the writer.
fn check_append(
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
        if leaf.subject.len() > run::MAX_FIELD || leaf.details.len() > run::MAX_FIELD {
            return Err(StoreError::invalid(
                "audit append",
                format!("leaf {} has a subject or details over 4 GiB", leaf.index),
            ));
        }
    }
    NodeId::check_stored(nodes, expected_size, leaves.len() as u64)
}

/// Leaves waiting for the subject index before an append copies them in. Bounds the tail
/// that a read by subject scans.
pub(super) const INDEX_EVERY: u64 = 4096;

/// Appends if the log is still `expected_size` long (and ends with `after`, if given); on a
/// mismatch nothing is written (the check comes first, and the writer's savepoint undoes a
/// failure halfway).
pub(super) fn append(
    c: &Connection,
    index_every: u64,
    after: Option<[u8; 32]>,
    prepared: &Prepared,
) -> Result<()> {
    let expected_size = prepared.expected_size;
    let (actual, last) = tip(c)?;
    // Same size, other leaves: another writer's batch landed where ours was expected.
    let diverged = after.is_some() && expected_size > 0 && last != after;
    if actual != expected_size || diverged {
        return Err(StoreError::LogSizeMismatch {
            expected: expected_size,
            actual,
        });
    }
    insert_runs(c, &prepared.runs)?;
    let size = prepared
        .runs
        .last()
        .map_or(expected_size, |run| run.first + run.count);
    let upto = indexed_upto(c)?;
    if size.saturating_sub(upto) >= index_every {
        index_subjects(c, upto, size)?;
    }
    Ok(())
}

fn insert_runs(c: &Connection, runs: &[run::Encoded]) -> Result<()> {
    let mut stmt = c.prepare_cached(
        "INSERT INTO audit.audit_runs (first, count, hashes, nodes, leaves) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for run in runs {
        stmt.execute(params![
            to_i64(run.first, "audit leaf index")?,
            to_i64(run.count, "audit run length")?,
            run.hashes,
            run.nodes,
            run.leaves
        ])?;
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

/// Adds leaves `from..to` to the subject index.
fn index_subjects(c: &Connection, from: u64, to: u64) -> Result<()> {
    let leaves = leaves(c, from, to)?;
    postings::add(
        c,
        leaves.into_iter().map(|l| (l.subject, l.index)).collect(),
    )?;
    c.prepare_cached("UPDATE audit.audit_indexed SET upto = ?1")?
        .execute([to_i64(to, "audit index")?])?;
    Ok(())
}

/// Reads runs and hands out their leaves, decoding each run once however many of its leaves
/// are asked for in a row.
struct RunReader<'c> {
    c: &'c Connection,
    /// The run decoded last: its first index and its leaves.
    current: Option<(u64, Vec<AuditLeaf>)>,
}

impl<'c> RunReader<'c> {
    fn new(c: &'c Connection) -> Self {
        Self { c, current: None }
    }

    fn leaf(&mut self, index: u64) -> Result<Option<AuditLeaf>> {
        let held = |current: &Option<(u64, Vec<AuditLeaf>)>| {
            current.as_ref().and_then(|(first, leaves)| {
                let offset = usize::try_from(index.checked_sub(*first)?).ok()?;
                leaves.get(offset).cloned()
            })
        };
        if let Some(leaf) = held(&self.current) {
            return Ok(Some(leaf));
        }
        let Ok(at) = i64::try_from(index) else {
            return Ok(None);
        };
        let row = self
            .c
            .prepare_cached(
                "SELECT first, hashes, leaves FROM audit.audit_runs WHERE first <= ?1 ORDER BY first DESC LIMIT 1",
            )?
            .query_row([at], |r| Ok((get_u64(r, 0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?)))
            .optional()?;
        let Some((first, hashes, packed)) = row else {
            return Ok(None);
        };
        self.current = Some((first, run::leaves(first, &hashes, &packed)?));
        Ok(held(&self.current))
    }
}

pub(super) fn leaves(c: &Connection, from: u64, to: u64) -> Result<Vec<AuditLeaf>> {
    if from >= to {
        return Ok(Vec::new());
    }
    // Bounds past i64::MAX cannot match any stored index: clamp rather than fail.
    let (from_i, to_i) = (
        i64::try_from(from).unwrap_or(i64::MAX),
        i64::try_from(to).unwrap_or(i64::MAX),
    );
    // The run holding `from` (it may start before it), then every run starting before `to`.
    let mut stmt = c.prepare_cached(
        "SELECT first, hashes, leaves FROM audit.audit_runs
          WHERE first >= coalesce((SELECT first FROM audit.audit_runs WHERE first <= ?1 ORDER BY first DESC LIMIT 1), 0)
            AND first < ?2
          ORDER BY first",
    )?;
    let mut rows = stmt.query(params![from_i, to_i])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let first = get_u64(r, 0)?;
        let hashes: Vec<u8> = r.get(1)?;
        let packed: Vec<u8> = r.get(2)?;
        out.extend(
            run::leaves(first, &hashes, &packed)?
                .into_iter()
                .filter(|l| l.index >= from && l.index < to),
        );
    }
    Ok(out)
}

/// The newest `page.limit` leaves of `subject` below `page.before`, in log order.
pub(super) fn leaves_of(c: &Connection, subject: &str, page: LeafPage) -> Result<Vec<AuditLeaf>> {
    // One read transaction, so the index, its watermark and the tail come from one snapshot.
    let tx = c.unchecked_transaction()?;
    let before = page.before.unwrap_or(u64::MAX);
    let limit = page.limit;
    let upto = indexed_upto(&tx)?;
    // The unindexed tail first: it holds the newest leaves.
    let mut tail: Vec<AuditLeaf> = leaves(&tx, upto, before)?
        .into_iter()
        .filter(|l| l.subject == subject)
        .collect();
    if tail.len() >= limit {
        return Ok(tail.split_off(tail.len() - limit));
    }
    // Then the index, newest first, for what the page still has room for.
    let indexed = postings::newest(&tx, subject, upto.min(before), limit - tail.len())?;
    let mut runs = RunReader::new(&tx);
    let mut out = Vec::with_capacity(indexed.len() + tail.len());
    for &idx in indexed.iter().rev() {
        let leaf = runs.leaf(idx)?.ok_or_else(|| StoreError::Backend {
            backend: "sqlite",
            detail: format!(
                "the audit log is damaged: the subject index names leaf {idx}, which no run holds"
            ),
        })?;
        out.push(leaf);
    }
    out.append(&mut tail);
    Ok(out)
}

/// One lookup per node, inside one read transaction so that every hash comes from the same
/// snapshot. A node is stored with the run of its last leaf, a leaf hash with its leaf.
pub(super) fn nodes(c: &Connection, ids: &[NodeId]) -> Result<Vec<[u8; 32]>> {
    let tx = c.unchecked_transaction()?;
    let mut of_leaf = tx.prepare_cached(
        "SELECT first, hashes FROM audit.audit_runs WHERE first <= ?1 ORDER BY first DESC LIMIT 1",
    )?;
    let mut of_node = tx.prepare_cached(
        "SELECT first, nodes FROM audit.audit_runs WHERE first <= ?1 ORDER BY first DESC LIMIT 1",
    )?;
    let mut hashes = Vec::with_capacity(ids.len());
    for id in ids {
        let leaf = if id.level == 0 {
            Some(id.index)
        } else {
            id.last_leaf()
        };
        let hash = match leaf.map(i64::try_from) {
            Some(Ok(at)) => {
                let stmt = if id.level == 0 {
                    &mut of_leaf
                } else {
                    &mut of_node
                };
                let row = stmt
                    .query_row([at], |r| Ok((get_u64(r, 0)?, r.get::<_, Vec<u8>>(1)?)))
                    .optional()?;
                match row {
                    Some((first, bytes)) if id.level == 0 => {
                        run::leaf_hash(first, &bytes, id.index - first)?
                    }
                    Some((first, bytes)) => run::node(first, &bytes, *id)?,
                    None => None,
                }
            }
            _ => None,
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
