//! The audit log's Merkle tree: RFC 6962 hashing over stored perfect subtrees.
//!
//! The log stores every *perfect* subtree it completes, as [`NodeId`]s: the node at
//! `(level, index)` covers leaves `index << level .. (index + 1) << level`. Every hash a proof
//! or a root needs is then either one stored node or, for a subtree that ends at the right edge
//! of the tree and is not perfect, the right-fold of the perfect nodes of its binary
//! decomposition. So a proof in a log of a million leaves needs a few dozen stored nodes and
//! never rehashes a leaf.
//!
//! Because nodes live in an async store, building a proof is split in two: a [`Plan`] names
//! the nodes needed ([`inclusion_plan`], [`consistency_plan`], [`root_plan`]); the caller
//! fetches them in that order and [`Plan::assemble`] turns them into the RFC 6962 proof.
//! Verification ([`verify_inclusion`], [`verify_consistency`]) follows the iterative algorithms
//! of RFC 9162 §2.1.3.2 and §2.1.4.2 and shares no code with generation.
//!
//! The appending side keeps a [`Frontier`]: the perfect-subtree roots along the right edge.

use seuil_store::NodeId;
use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, a node hash or a root.
pub type Hash = [u8; 32];

/// Why a proof could not be planned, assembled or verified.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not in a tree of size {size}; ask for an index below the size")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error(
        "cannot prove consistency from size {old} to the smaller size {new}; the old size must not exceed the new one"
    )]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error(
        "expected {expected} stored node hashes, got {got}; fetch exactly the nodes the plan names, in order"
    )]
    NodeCount { expected: usize, got: usize },
    #[error("the proof has the wrong number of hashes for these tree sizes")]
    WrongLength,
    #[error("the proof does not lead to the expected root hash")]
    RootMismatch,
}

/// The hash of a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an inner node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The perfect nodes whose right-fold is the RFC 6962 hash of leaves `[lo, hi)`, largest first.
///
/// `[lo, hi)` must be a subtree of the RFC 6962 recursion: `lo` a multiple of the largest power
/// of two not above `hi - lo`. Every subtree met while proving is of that shape.
fn decompose(lo: u64, hi: u64, out: &mut Vec<NodeId>) {
    let mut pos = lo;
    let mut rest = hi - lo;
    while rest != 0 {
        let level = 63 - rest.leading_zeros();
        out.push(NodeId {
            // `level` is below 64.
            level: level as u8,
            index: pos >> level,
        });
        pos += 1 << level;
        rest &= !(1u64 << level);
    }
}

/// The largest power of two strictly below `n`, for `n >= 2`: RFC 6962's split point `k`.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Right-fold: `h0 ⊕ (h1 ⊕ (... ⊕ hn))` with `⊕` = [`node_hash`]; the empty fold is the
/// empty-tree root.
fn fold_right(hashes: &[Hash]) -> Hash {
    let Some((last, rest)) = hashes.split_last() else {
        return empty_root();
    };
    rest.iter()
        .rev()
        .fold(*last, |acc, left| node_hash(left, &acc))
}

/// The right edge of a tree: the roots of its perfect subtrees, one per binary digit of the
/// size, largest first. Enough to append leaves and to compute the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// One hash per set bit of `size`, from the highest bit to the lowest.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored nodes that make up the frontier of a tree of `size` leaves, largest first:
    /// fetch them and pass the hashes to [`Frontier::from_nodes`].
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        let mut ids = Vec::with_capacity(size.count_ones() as usize);
        decompose(0, size, &mut ids);
        ids
    }

    /// Rebuilds the frontier of a tree of `size` leaves from the hashes of
    /// [`Frontier::node_ids`]`(size)`, in that order.
    pub fn from_nodes(size: u64, hashes: Vec<Hash>) -> Result<Self, ProofError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(ProofError::NodeCount {
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self {
            size,
            nodes: hashes,
        })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf and returns every perfect node of level 1 and up that it completes, to
    /// be stored (the leaf itself, level 0, is stored as the leaf's hash).
    pub fn append(&mut self, leaf_hash: Hash) -> Vec<(NodeId, Hash)> {
        let mut hash = leaf_hash;
        let mut id = NodeId {
            level: 0,
            index: self.size,
        };
        let mut completed = Vec::new();
        // While the new node is a right child, its left sibling is the smallest frontier node.
        while id.index & 1 == 1 {
            let Some(left) = self.nodes.pop() else {
                // Unreachable: there is one frontier node per set bit of `size`.
                debug_assert!(false, "frontier shorter than its size");
                break;
            };
            hash = node_hash(&left, &hash);
            id = NodeId {
                level: id.level + 1,
                index: id.index >> 1,
            };
            completed.push((id, hash));
        }
        self.nodes.push(hash);
        self.size += 1;
        completed
    }

    /// The RFC 6962 root of the whole tree.
    pub fn root(&self) -> Hash {
        fold_right(&self.nodes)
    }
}

/// Which stored nodes a proof or a root needs, and how to combine them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The stored nodes to fetch, in this order.
    pub needed: Vec<NodeId>,
    /// For each output hash, how many consecutive entries of `needed` it right-folds.
    spans: Vec<usize>,
}

impl Plan {
    /// Adds one output hash: the RFC 6962 hash of leaves `[lo, hi)`.
    fn push_subtree(&mut self, lo: u64, hi: u64) {
        let before = self.needed.len();
        decompose(lo, hi, &mut self.needed);
        self.spans.push(self.needed.len() - before);
    }

    /// Combines the hashes of [`Plan::needed`], fetched in that order, into the proof (or, for
    /// a [`root_plan`], the one-element list holding the root).
    pub fn assemble(&self, hashes: &[Hash]) -> Result<Vec<Hash>, ProofError> {
        if hashes.len() != self.needed.len() {
            return Err(ProofError::NodeCount {
                expected: self.needed.len(),
                got: hashes.len(),
            });
        }
        let mut out = Vec::with_capacity(self.spans.len());
        let mut rest = hashes;
        for &span in &self.spans {
            let (these, tail) = rest.split_at(span);
            out.push(fold_right(these));
            rest = tail;
        }
        Ok(out)
    }
}

/// Plans the audit path of leaf `index` in a tree of `size` leaves (RFC 6962 §2.1.1 `PATH`).
pub fn inclusion_plan(index: u64, size: u64) -> Result<Plan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    /// `PATH(m, D[lo:hi])`, siblings from the leaf up.
    fn path(m: u64, lo: u64, hi: u64, plan: &mut Plan) {
        if hi - lo <= 1 {
            return;
        }
        let mid = lo + split(hi - lo);
        if m < mid {
            path(m, lo, mid, plan);
            plan.push_subtree(mid, hi);
        } else {
            path(m, mid, hi, plan);
            plan.push_subtree(lo, mid);
        }
    }
    let mut plan = Plan::default();
    path(index, 0, size, &mut plan);
    Ok(plan)
}

/// Plans the consistency proof from a tree of `old` leaves to one of `new` leaves
/// (RFC 6962 §2.1.2 `PROOF`). Empty when `old == new` or `old == 0`.
pub fn consistency_plan(old: u64, new: u64) -> Result<Plan, ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    /// `SUBPROOF(m, D[lo:hi], b)` with `m` an absolute leaf count.
    fn subproof(m: u64, lo: u64, hi: u64, complete: bool, plan: &mut Plan) {
        if m == hi {
            if !complete {
                plan.push_subtree(lo, hi);
            }
            return;
        }
        let mid = lo + split(hi - lo);
        if m <= mid {
            subproof(m, lo, mid, complete, plan);
            plan.push_subtree(mid, hi);
        } else {
            subproof(m, mid, hi, false, plan);
            plan.push_subtree(lo, mid);
        }
    }
    let mut plan = Plan::default();
    if old != 0 && old != new {
        subproof(old, 0, new, true, &mut plan);
    }
    Ok(plan)
}

/// Plans the root of a tree of `size` leaves; [`Plan::assemble`] yields exactly one hash
/// ([`empty_root`] for size 0).
pub fn root_plan(size: u64) -> Plan {
    let mut plan = Plan::default();
    plan.push_subtree(0, size);
    plan
}

/// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2). Equal sizes need equal roots
/// and an empty proof; the empty old tree (with [`empty_root`]) is consistent with any tree.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        let expected_old = if old_size == 0 {
            empty_root()
        } else {
            *new_root
        };
        if *old_root != expected_old {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    // 1-2: a non-empty path, prefixed with the old root when the old tree is perfect.
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let (first, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some(split) => split,
            None => return Err(ProofError::WrongLength),
        }
    };
    // 3-4.
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // 5-6.
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // 7.
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
