//! The stored form of a run: the leaves one append added, and the nodes they complete, in one
//! row of `audit_runs`.
//!
//! Three columns, read separately so that a proof never loads event details:
//! - `hashes`: the leaf hashes, 32 bytes each, in leaf order;
//! - `nodes`: [`NODE_LEN`]-byte entries, a level byte, the index (u64, little-endian), the hash;
//! - `leaves`: per leaf its time (i64), its subject and its sealed details, each of the two
//!   with a u32 length before it (all little-endian).
//!
//! The file is outside input like any other: decoding checks every length and fails with an
//! error that names the run, never with a panic or a wrong leaf.

use crate::{AuditLeaf, NodeId, Result, StoreError};

/// Bytes of one entry of the `nodes` column.
pub(super) const NODE_LEN: usize = 1 + 8 + 32;

/// A run's row, ready to bind: its key and count, and the three columns.
pub(super) struct Encoded {
    /// The index of its first leaf.
    pub first: u64,
    pub count: u64,
    pub hashes: Vec<u8>,
    pub nodes: Vec<u8>,
    pub leaves: Vec<u8>,
}

pub(super) fn encode(leaves: &[AuditLeaf], nodes: &[(NodeId, [u8; 32])]) -> Encoded {
    let mut hashes = Vec::with_capacity(leaves.len() * 32);
    let size = leaves
        .iter()
        .map(|l| 16 + l.subject.len() + l.details.len())
        .sum();
    let mut packed = Vec::with_capacity(size);
    for leaf in leaves {
        hashes.extend_from_slice(&leaf.leaf_hash);
        packed.extend_from_slice(&leaf.at.to_le_bytes());
        put_bytes(&mut packed, leaf.subject.as_bytes());
        put_bytes(&mut packed, &leaf.details);
    }
    let mut stored = Vec::with_capacity(nodes.len() * NODE_LEN);
    for (id, hash) in nodes {
        stored.push(id.level);
        stored.extend_from_slice(&id.index.to_le_bytes());
        stored.extend_from_slice(hash);
    }
    Encoded {
        first: leaves.first().map_or(0, |l| l.index),
        count: leaves.len() as u64,
        hashes,
        nodes: stored,
        leaves: packed,
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Lengths are checked to fit before a batch is queued (`check_append`).
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The longest subject or details a leaf may have, so that its length fits the format.
pub(super) const MAX_FIELD: usize = u32::MAX as usize;

/// The hash of the run's leaf at `offset`, if it has one.
pub(super) fn leaf_hash(first: u64, hashes: &[u8], offset: u64) -> Result<Option<[u8; 32]>> {
    if !hashes.len().is_multiple_of(32) {
        return Err(malformed(first, "its leaf hashes are not 32 bytes each"));
    }
    let Ok(offset) = usize::try_from(offset) else {
        return Ok(None);
    };
    Ok(hashes.chunks_exact(32).nth(offset).map(hash32))
}

/// The hash of node `id` among the run's nodes, if it is there.
pub(super) fn node(first: u64, nodes: &[u8], id: NodeId) -> Result<Option<[u8; 32]>> {
    if !nodes.len().is_multiple_of(NODE_LEN) {
        return Err(malformed(first, "its nodes are not whole entries"));
    }
    Ok(nodes.chunks_exact(NODE_LEN).find_map(|entry| {
        let (level, rest) = entry.split_first()?;
        let (index, hash) = rest.split_at(8);
        let index = u64::from_le_bytes(array(index));
        (*level == id.level && index == id.index).then(|| hash32(hash))
    }))
}

/// The run's leaves, numbered from `first`.
pub(super) fn leaves(first: u64, hashes: &[u8], packed: &[u8]) -> Result<Vec<AuditLeaf>> {
    if !hashes.len().is_multiple_of(32) {
        return Err(malformed(first, "its leaf hashes are not 32 bytes each"));
    }
    let mut out = Vec::with_capacity(hashes.len() / 32);
    let mut rest = packed;
    for (i, hash) in hashes.chunks_exact(32).enumerate() {
        let at = take(&mut rest, 8).ok_or_else(|| malformed(first, "a leaf is cut short"))?;
        let subject =
            take_bytes(&mut rest).ok_or_else(|| malformed(first, "a subject is cut short"))?;
        let details =
            take_bytes(&mut rest).ok_or_else(|| malformed(first, "details are cut short"))?;
        let subject =
            std::str::from_utf8(subject).map_err(|_| malformed(first, "a subject is not UTF-8"))?;
        out.push(AuditLeaf {
            index: first
                .checked_add(i as u64)
                .ok_or_else(|| malformed(first, "its leaves run past the largest index"))?,
            subject: subject.to_owned(),
            at: i64::from_le_bytes(array(at)),
            details: details.to_vec(),
            leaf_hash: hash32(hash),
        });
    }
    if !rest.is_empty() {
        return Err(malformed(first, "bytes follow its last leaf"));
    }
    Ok(out)
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

fn take_bytes<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = take(rest, 4)?;
    let len = u32::from_le_bytes(array(len));
    take(rest, usize::try_from(len).ok()?)
}

/// The bytes of a slice whose length the caller has already made `N`.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    out
}

fn hash32(bytes: &[u8]) -> [u8; 32] {
    array(bytes)
}

fn malformed(first: u64, why: &str) -> StoreError {
    StoreError::Backend {
        backend: "sqlite",
        detail: format!("the audit log is damaged: the run starting at leaf {first}: {why}"),
    }
}

#[cfg(test)]
mod tests;
