//! Logs written one row per leaf and per node (the audit file before version 2, and the main
//! file before the log had its own file), packed into runs.

use super::{RUN_MAX, encode_runs, insert_runs, size};
use crate::sqlite::convert::get_u64;
use crate::{AuditLeaf, NodeId, Result, StoreError};
use rusqlite::Connection;

/// Whether `schema` still holds a log of rows.
pub(in crate::sqlite) fn has_row_log(c: &Connection, schema: &str) -> Result<bool> {
    Ok(c.query_row(
        &format!(
            "SELECT count(*) FROM {schema}.sqlite_schema WHERE type = 'table' AND name = 'audit_leaves'"
        ),
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?)
}

/// Copies the rows of `schema.audit_leaves` and `schema.audit_nodes` into runs, unless the runs
/// already hold them (a copy that committed before a crash). Run inside the caller's
/// transaction, which also decides what happens to the rows.
pub(in crate::sqlite) fn pack_row_log(c: &Connection, schema: &str) -> Result<()> {
    let rows: u64 = c.query_row(
        &format!("SELECT coalesce(max(idx) + 1, 0) FROM {schema}.audit_leaves"),
        [],
        |r| get_u64(r, 0),
    )?;
    if rows == 0 {
        return Ok(());
    }
    match size(c)? {
        0 => {}
        packed if packed == rows => return Ok(()),
        packed => {
            return Err(StoreError::invalid(
                "SQLite audit log",
                format!(
                    "{schema} holds {rows} leaves as rows and the log {packed} as runs; \
                     restore both files from the same backup"
                ),
            ));
        }
    }
    let mut leaves = c.prepare(&format!(
        "SELECT idx, subject, at, details, leaf_hash FROM {schema}.audit_leaves ORDER BY idx"
    ))?;
    // Each node goes with the run of the leaf that completed it.
    let mut nodes = c.prepare(&format!(
        "SELECT level, idx, hash FROM {schema}.audit_nodes WHERE level > 0
          ORDER BY ((idx + 1) << level) - 1, level"
    ))?;
    let mut nodes = nodes
        .query_map([], |r| {
            Ok((
                NodeId {
                    level: r.get(0)?,
                    index: get_u64(r, 1)?,
                },
                r.get::<_, [u8; 32]>(2)?,
            ))
        })?
        .peekable();
    let mut leaves = leaves.query_map([], |r| {
        Ok(AuditLeaf {
            index: get_u64(r, 0)?,
            subject: r.get(1)?,
            at: r.get(2)?,
            details: r.get(3)?,
            leaf_hash: r.get(4)?,
        })
    })?;
    let mut next = 0u64;
    loop {
        let mut run = Vec::with_capacity(RUN_MAX);
        for leaf in leaves.by_ref().take(RUN_MAX) {
            let leaf = leaf?;
            if leaf.index != next {
                return Err(StoreError::invalid(
                    "SQLite audit log",
                    format!("{schema} has leaf {} where {next} was expected", leaf.index),
                ));
            }
            next += 1;
            run.push(leaf);
        }
        if run.is_empty() {
            break;
        }
        let mut own = Vec::new();
        while let Some(Ok((id, _))) = nodes.peek() {
            if id.last_leaf().is_none_or(|last| last >= next) {
                break;
            }
            if let Some(node) = nodes.next() {
                own.push(node?);
            }
        }
        insert_runs(c, &encode_runs(&run, &own))?;
    }
    if let Some(node) = nodes.next() {
        let (id, _) = node?;
        return Err(StoreError::invalid(
            "SQLite audit log",
            format!(
                "{schema} has node ({}, {}), which covers leaves past the last one ({next})",
                id.level, id.index
            ),
        ));
    }
    Ok(())
}
