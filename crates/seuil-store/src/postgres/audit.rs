//! The audit log: leaves, the stored nodes of the Merkle tree, and signed checkpoints. Appends
//! from several instances are serialised by a transaction-scoped advisory lock.

use super::convert::{col, hash32, saturating_i64, to_i64, to_u64};
use super::error::backend_err;
use super::{PgStore as Pg, lock_class};
use crate::{AuditLeaf, Checkpoint, LeafPage, NodeId, Result, StoreError};
use tokio_postgres::Row;

/// Waits for, then holds until the transaction ends, the advisory lock `($1, $2)`.
const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock($1, $2)";

/// The log's size: leaves are numbered from 0 without gaps, so the highest index plus one.
/// Reads one entry of the primary key index instead of counting every leaf.
const AUDIT_SIZE_SQL: &str = "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves";

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

pub(super) async fn append(
    pg: &Pg,
    expected_size: u64,
    after: Option<[u8; 32]>,
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
    NodeId::check_stored(nodes, expected_size, leaves.len() as u64)?;
    let mut levels = Vec::with_capacity(nodes.len());
    let mut node_idx = Vec::with_capacity(nodes.len());
    for (id, _) in nodes {
        levels.push(i16::from(id.level));
        node_idx.push(to_i64(id.index, "audit node index")?);
    }
    let node_hashes: Vec<&[u8]> = nodes.iter().map(|(_, h)| h.as_slice()).collect();

    let mut client = pg.client().await?;
    let tx = client.transaction().await.map_err(|e| pg.err(e, what))?;
    let lock = tx
        .prepare_cached(LOCK_SQL)
        .await
        .map_err(|e| pg.err(e, what))?;
    tx.execute(&lock, &[&lock_class::AUDIT, &pg.lock_key])
        .await
        .map_err(|e| pg.err(e, what))?;
    let size_stmt = tx
        .prepare_cached(AUDIT_SIZE_SQL)
        .await
        .map_err(|e| pg.err(e, what))?;
    let actual: i64 = tx
        .query_one(&size_stmt, &[])
        .await
        .map_err(|e| pg.err(e, what))?
        .try_get(0)
        .map_err(|e| backend_err(format!("reading the audit log size: {e}")))?;
    if actual != expected {
        // Dropping the transaction rolls it back: nothing was written.
        return Err(StoreError::LogSizeMismatch {
            expected: expected_size,
            actual: to_u64(actual, "audit log size")?,
        });
    }
    if let (Some(after), Some(last)) = (after, expected.checked_sub(1)) {
        let row = tx
            .query_opt(
                "SELECT leaf_hash FROM audit_leaves WHERE idx = $1",
                &[&last],
            )
            .await
            .map_err(|e| pg.err(e, what))?;
        let hash: Option<Vec<u8>> = match row {
            Some(r) => Some(
                r.try_get(0)
                    .map_err(|e| backend_err(format!("reading a leaf hash: {e}")))?,
            ),
            None => None,
        };
        if hash.as_deref() != Some(after.as_slice()) {
            // Same size, other leaves: another writer's batch landed where ours was expected.
            return Err(StoreError::LogSizeMismatch {
                expected: expected_size,
                actual: expected_size,
            });
        }
    }
    if !leaves.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO audit_leaves (idx, subject, at, details, leaf_hash)
                 SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::bytea[], $5::bytea[])",
            )
            .await
            .map_err(|e| pg.err(e, what))?;
        tx.execute(&stmt, &[&idx, &subjects, &ats, &details, &hashes])
            .await
            .map_err(|e| pg.err(e, "audit leaves"))?;
    }
    if !nodes.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO audit_nodes (level, idx, hash)
                 SELECT * FROM UNNEST($1::int2[], $2::int8[], $3::bytea[])",
            )
            .await
            .map_err(|e| pg.err(e, what))?;
        tx.execute(&stmt, &[&levels, &node_idx, &node_hashes])
            .await
            .map_err(|e| pg.err(e, "audit nodes"))?;
    }
    tx.commit().await.map_err(|e| pg.err(e, what))?;
    Ok(())
}

pub(super) async fn size(pg: &Pg) -> Result<u64> {
    pg.count(AUDIT_SIZE_SQL, &[], "the audit log size").await
}

pub(super) async fn leaves(pg: &Pg, from: u64, to: u64) -> Result<Vec<AuditLeaf>> {
    if from >= to {
        return Ok(Vec::new());
    }
    let rows = pg
        .rows(
            "SELECT idx, subject, at, details, leaf_hash FROM audit_leaves
             WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[&saturating_i64(from), &saturating_i64(to)],
            "audit leaves",
        )
        .await?;
    rows.iter().map(leaf_from_row).collect()
}

pub(super) async fn leaves_of(pg: &Pg, subject: &str, page: LeafPage) -> Result<Vec<AuditLeaf>> {
    let before = page.before.map_or(i64::MAX, saturating_i64);
    let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
    // Newest first along the (subject, idx) index, so a page reads only its own rows.
    let rows = pg
        .rows(
            "SELECT idx, subject, at, details, leaf_hash FROM audit_leaves
             WHERE subject = $1 AND idx < $2 ORDER BY idx DESC LIMIT $3",
            &[&subject, &before, &limit],
            "audit leaves of a subject",
        )
        .await?;
    let mut leaves = rows.iter().map(leaf_from_row).collect::<Result<Vec<_>>>()?;
    leaves.reverse();
    Ok(leaves)
}

pub(super) async fn nodes(pg: &Pg, ids: &[NodeId]) -> Result<Vec<[u8; 32]>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let levels: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
    // An index beyond i64 cannot be stored, so asking for it finds nothing.
    let idx: Vec<i64> = ids.iter().map(|id| saturating_i64(id.index)).collect();
    let rows = pg
        .rows(
            "SELECT COALESCE(n.hash, l.leaf_hash)
               FROM UNNEST($1::int2[], $2::int8[]) WITH ORDINALITY AS q(level, idx, ord)
               LEFT JOIN audit_nodes n ON q.level > 0 AND n.level = q.level AND n.idx = q.idx
               LEFT JOIN audit_leaves l ON q.level = 0 AND l.idx = q.idx
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

pub(super) async fn put_checkpoint(pg: &Pg, cp: &Checkpoint) -> Result<()> {
    // The first checkpoint signed for a size stays: a published tree head never changes.
    pg.exec(
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

pub(super) async fn latest_checkpoint(pg: &Pg) -> Result<Option<Checkpoint>> {
    let row = pg
        .row(
            "SELECT size, root, at, signature FROM checkpoints ORDER BY size DESC LIMIT 1",
            &[],
            "the latest checkpoint",
        )
        .await?;
    row.as_ref().map(checkpoint_from_row).transpose()
}

pub(super) async fn checkpoint_at(pg: &Pg, size: u64) -> Result<Option<Checkpoint>> {
    let Ok(size) = i64::try_from(size) else {
        return Ok(None);
    };
    let row = pg
        .row(
            "SELECT size, root, at, signature FROM checkpoints WHERE size = $1",
            &[&size],
            "a checkpoint",
        )
        .await?;
    row.as_ref().map(checkpoint_from_row).transpose()
}

pub(super) async fn checkpoints(pg: &Pg) -> Result<Vec<Checkpoint>> {
    let rows = pg
        .rows(
            "SELECT size, root, at, signature FROM checkpoints ORDER BY size",
            &[],
            "checkpoints",
        )
        .await?;
    rows.iter().map(checkpoint_from_row).collect()
}
