//! The subject index: per subject and indexing pass, one row listing the subject's leaves of
//! that pass (migration 0003).
//!
//! `idxs` holds leaf indexes in ascending order, 8 bytes each, big-endian: the form SQL
//! builds with `unhex(printf('%016x', idx))`, so a migration can write rows too. It is read
//! from the file like any other outside input: a damaged row gives an error that names it.

use super::super::convert::{get_u64, to_i64};
use crate::{Result, StoreError};
use rusqlite::{Connection, params};

/// Adds one row per subject for the leaves `(subject, index)` of one pass.
pub(super) fn add(c: &Connection, mut leaves: Vec<(String, u64)>) -> Result<()> {
    leaves.sort_unstable();
    let mut insert = c.prepare_cached(
        "INSERT INTO audit.audit_postings (subject, first, idxs) VALUES (?1, ?2, ?3)",
    )?;
    for group in leaves.chunk_by(|a, b| a.0 == b.0) {
        let idxs: Vec<u64> = group.iter().map(|(_, i)| *i).collect();
        let first = to_i64(idxs[0], "audit leaf index")?;
        insert.execute(params![group[0].0, first, encode(&idxs)])?;
    }
    Ok(())
}

/// The newest `limit` leaf indexes of `subject` below `before`, newest first.
pub(super) fn newest(c: &Connection, subject: &str, before: u64, limit: usize) -> Result<Vec<u64>> {
    let mut rows = c.prepare_cached(
        "SELECT first, idxs FROM audit.audit_postings
          WHERE subject = ?1 AND first < ?2 ORDER BY first DESC",
    )?;
    let below = i64::try_from(before).unwrap_or(i64::MAX);
    let mut rows = rows.query(params![subject, below])?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        let first = get_u64(row, 0)?;
        let idxs = decode(subject, first, &row.get::<_, Vec<u8>>(1)?)?;
        let room = limit - out.len();
        out.extend(idxs.into_iter().rev().filter(|&i| i < before).take(room));
    }
    Ok(out)
}

fn encode(idxs: &[u64]) -> Vec<u8> {
    idxs.iter().flat_map(|i| i.to_be_bytes()).collect()
}

/// The indexes of one row, checked: whole entries, ascending, none below `first`.
fn decode(subject: &str, first: u64, idxs: &[u8]) -> Result<Vec<u64>> {
    let damaged = |why: &str| StoreError::Backend {
        backend: "sqlite",
        detail: format!(
            "the audit log is damaged: the subject index row of {subject:?} from leaf {first}: {why}"
        ),
    };
    let (entries, rest) = idxs.as_chunks::<8>();
    if !rest.is_empty() || entries.is_empty() {
        return Err(damaged("its leaf list is not whole 8-byte entries"));
    }
    let out: Vec<u64> = entries.iter().map(|e| u64::from_be_bytes(*e)).collect();
    if out[0] != first || !out.is_sorted_by(|a, b| a < b) {
        return Err(damaged(
            "its leaves are not in ascending order from its first",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
