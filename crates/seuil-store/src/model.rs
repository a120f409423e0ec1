//! The rows a [`Store`](crate::Store) keeps. None of them carries plaintext personal data:
//! bodies arrive sealed by the vault, and index fields are chosen to hold none.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch. Every time in the store is one of these.
pub type Millis = i64;

/// The fields a record can be found by. They must never hold personal data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFields {
    /// A state such as `scheduled` or `open`.
    pub status: Option<String>,
    /// The one time the record is ordered by (a visit window start, a receipt date...).
    pub at: Option<Millis>,
    /// A grouping key that is not personal: a store id, a lock id, a role.
    pub scope: Option<String>,
}

/// A record as written: `(kind, id, subject, index fields, sealed body)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    pub kind: String,
    pub id: String,
    pub subject: String,
    pub index: IndexFields,
    /// Sealed bytes (or empty when the record holds only index fields).
    pub body: Vec<u8>,
    /// When the retention sweeper may remove it; `None` keeps it (pinned, disputed, or no rule).
    pub retain_until: Option<Millis>,
}

/// A record as read back, with its optimistic-concurrency version (1 on insert).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub id: String,
    pub subject: String,
    pub index: IndexFields,
    pub body: Vec<u8>,
    pub retain_until: Option<Millis>,
    pub version: u64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The one row a vault `open` needs, fetched in a single round trip so that a shred or a
/// consent withdrawal made by any instance takes effect on the very next read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenRow {
    pub record: Record,
    /// The subject's wrapped data key; `None` once the subject has been shredded.
    pub wrapped_key: Option<WrappedKey>,
    /// The newest consent decision of the subject for the purpose asked, if any.
    pub consent: Option<bool>,
}

/// Which records a query returns. Every field that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub kind: String,
    pub subject: Option<String>,
    pub status: Option<String>,
    pub scope: Option<String>,
    /// Inclusive lower bound on `index.at`.
    pub at_from: Option<Millis>,
    /// Exclusive upper bound on `index.at`.
    pub at_to: Option<Millis>,
    /// At most this many, ordered by `(at, id)`; `None` means no limit.
    pub limit: Option<u32>,
}

/// Identifies one record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    pub kind: String,
    pub id: String,
    pub subject: String,
}

/// A subject's data key, wrapped under the key-encryption key named by `kek_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub subject: String,
    pub kek_id: String,
    pub wrapped: Vec<u8>,
    pub created_at: Millis,
}

/// One consent decision. The store keeps every decision; the newest per purpose is in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEntry {
    pub subject: String,
    pub purpose: String,
    pub granted: bool,
    /// The version of the notice the subject saw.
    pub notice_version: String,
    pub at: Millis,
}

/// One leaf of the audit log. `details` is sealed under the subject's key; the leaf hash is
/// computed over the sealed bytes, so the tree stays verifiable after a shred.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditLeaf {
    pub index: u64,
    pub subject: String,
    pub at: Millis,
    pub details: Vec<u8>,
    pub leaf_hash: [u8; 32],
}

/// Which of a subject's leaves to read: the newest `limit` of those with an index below
/// `before` (of all of them, without it). A subject whose camera streams all day gathers
/// hundreds of thousands of events, so their access log is read a page at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeafPage {
    pub before: Option<u64>,
    pub limit: usize,
}

impl LeafPage {
    /// Every leaf of the subject (an export).
    pub const ALL: LeafPage = LeafPage {
        before: None,
        limit: usize::MAX,
    };

    /// The newest `limit` leaves.
    pub fn newest(limit: usize) -> LeafPage {
        LeafPage {
            before: None,
            limit,
        }
    }
}

/// A perfect subtree of the audit Merkle tree: `level` 0 are leaf hashes, and the node at
/// `(level, index)` covers leaves `index << level .. (index + 1) << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    /// The last leaf the node covers, the one whose append completes it (`None` past `u64`).
    pub fn last_leaf(&self) -> Option<u64> {
        let end = self
            .index
            .checked_add(1)?
            .checked_shl(u32::from(self.level))?;
        // A shift that pushes bits out is an overflow too.
        (end >> self.level == self.index + 1).then(|| end - 1)
    }

    /// Whether appending the `count` leaves from `first` completes this node: its last leaf
    /// is among them.
    pub fn completed_by(&self, first: u64, count: u64) -> bool {
        self.last_leaf()
            .is_some_and(|last| last >= first && last - first < count)
    }

    /// Checks the nodes of an append of `count` leaves from `first`: each must be one those
    /// leaves complete. Level 0 is refused (a level-0 node is its leaf's hash, which the store
    /// holds with the leaf), and so is a node whose last leaf is elsewhere in the log: the
    /// caller's tree is not the log's.
    pub(crate) fn check_stored(
        nodes: &[(NodeId, [u8; 32])],
        first: u64,
        count: u64,
    ) -> crate::Result<()> {
        for (id, _) in nodes {
            if id.level == 0 {
                return Err(crate::StoreError::invalid(
                    "audit append",
                    format!(
                        "node (0, {}) is a leaf hash: append it as a leaf, not as a node",
                        id.index
                    ),
                ));
            }
            if !id.completed_by(first, count) {
                return Err(crate::StoreError::invalid(
                    "audit append",
                    format!(
                        "node ({}, {}) is not completed by leaves {first}..{}",
                        id.level,
                        id.index,
                        first.saturating_add(count)
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A signed tree head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub size: u64,
    pub root: [u8; 32],
    pub at: Millis,
    /// Ed25519 signature by the log key over the checkpoint's canonical bytes.
    pub signature: Vec<u8>,
}

/// A line of the shred ledger: this subject's key was destroyed at this time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShredEntry {
    pub subject: String,
    pub at: Millis,
}

/// A notification waiting to leave the process. `payload` is sealed by the vault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: u64,
    pub subject: String,
    /// Where it goes, e.g. a webhook subscription id.
    pub target: String,
    pub payload: Vec<u8>,
    pub attempts: u32,
    pub next_at: Millis,
    pub last_error: Option<String>,
}

/// A notification to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxMessage {
    pub subject: String,
    pub target: String,
    pub payload: Vec<u8>,
    pub next_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::NodeId;
    use proptest::prelude::*;

    proptest! {
        /// The last leaf is computed exactly, and `None` exactly when it does not fit a u64.
        #[test]
        fn a_node_ends_at_its_last_leaf(level in 0u8..=255, index in any::<u64>()) {
            let end = (u128::from(index) + 1).checked_shl(u32::from(level));
            let want = end
                .filter(|&e| level < 128 && e >> level == u128::from(index) + 1)
                .and_then(|e| u64::try_from(e - 1).ok());
            prop_assert_eq!(NodeId { level, index }.last_leaf(), want);
        }
    }

    #[test]
    fn small_nodes_end_where_they_should() {
        let last = |level, index| NodeId { level, index }.last_leaf();
        assert_eq!(last(0, 5), Some(5));
        assert_eq!(last(1, 0), Some(1));
        assert_eq!(last(2, 1), Some(7));
        assert_eq!(last(63, 1), None);
        assert_eq!(last(0, u64::MAX), None);
    }
}
