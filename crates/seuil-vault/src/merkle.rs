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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    // ---- reference: RFC 6962 §2.1, straight from the text, over leaf hashes -------------

    fn k_of(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => {
                let k = k_of(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n == 1 {
            return vec![];
        }
        let k = k_of(n);
        if m < k {
            let mut p = ref_path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = ref_path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k_of(n);
        if m <= k {
            let mut p = ref_subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = ref_subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn ref_proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        ref_subproof(m, d, true)
    }

    // ---- helpers --------------------------------------------------------------------

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("event {i}").as_bytes()))
            .collect()
    }

    /// The level-0 node of leaf `index`: its hash, which a store keeps with the leaf.
    fn leaf_node(index: usize, hash: Hash) -> (NodeId, Hash) {
        let index = index as u64;
        (NodeId { level: 0, index }, hash)
    }

    /// Builds a log through a frontier and keeps, like a store, every leaf hash and every node
    /// the frontier says to store.
    fn build(d: &[Hash]) -> (Frontier, HashMap<NodeId, Hash>) {
        let mut f = Frontier::new();
        let mut store = HashMap::new();
        for (i, h) in d.iter().enumerate() {
            store.extend([leaf_node(i, *h)]);
            for (id, node) in f.append(*h) {
                assert!(store.insert(id, node).is_none(), "node {id:?} stored twice");
            }
        }
        (f, store)
    }

    fn fetch(store: &HashMap<NodeId, Hash>, plan: &Plan) -> Vec<Hash> {
        plan.needed
            .iter()
            .map(|id| {
                *store
                    .get(id)
                    .unwrap_or_else(|| panic!("node {id:?} not stored"))
            })
            .collect()
    }

    fn flip(h: &mut Hash, bit: usize) {
        h[(bit / 8) % 32] ^= 1 << (bit % 8);
    }

    // ---- unit tests -----------------------------------------------------------------

    #[test]
    fn rfc_hashes() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // RFC 6962 test vector: the leaf hash of the empty string.
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(Frontier::new().root(), empty_root());
    }

    #[test]
    fn append_reports_completed_nodes() {
        let d = leaves(4);
        let mut f = Frontier::new();
        assert!(f.append(d[0]).is_empty(), "a leaf alone completes no node");
        let n01 = node_hash(&d[0], &d[1]);
        assert_eq!(f.append(d[1]), vec![(NodeId { level: 1, index: 0 }, n01)]);
        assert!(f.append(d[2]).is_empty());
        let done = f.append(d[3]);
        assert_eq!(done.len(), 2);
        assert_eq!(done[1], (NodeId { level: 2, index: 0 }, mth(&d)));
        assert_eq!(Frontier::node_ids(4), vec![NodeId { level: 2, index: 0 }]);
        assert_eq!(
            Frontier::node_ids(13),
            vec![
                NodeId { level: 3, index: 0 },
                NodeId { level: 2, index: 2 },
                NodeId {
                    level: 0,
                    index: 12
                }
            ]
        );
    }

    #[test]
    fn plans_for_a_million_leaves_are_small() {
        let n = 1_000_000;
        let mut worst = 0;
        for index in [
            0, 1, 499_999, 524_287, 524_288, 999_423, 999_935, 999_998, 999_999,
        ] {
            worst = worst.max(inclusion_plan(index, n).expect("in range").needed.len());
        }
        for old in [1, 2, 3, 511_999, 524_288, 524_289, 777_777, 999_999] {
            worst = worst.max(consistency_plan(old, n).expect("ordered").needed.len());
        }
        worst = worst.max(root_plan(n).needed.len());
        // Exhaustively, the worst is 25 (inclusion) and 26 (consistency); 2 log2(n) = 40 bounds both.
        assert!(worst <= 40, "a plan needs {worst} nodes");
        // Nodes are distinct within a plan.
        let plan = consistency_plan(777_777, n).expect("ordered");
        let mut ids = plan.needed.clone();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), plan.needed.len());
    }

    #[test]
    fn errors() {
        assert_eq!(
            inclusion_plan(5, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(consistency_plan(6, 5).is_err());
        assert!(consistency_plan(0, 5).expect("ordered").needed.is_empty());
        assert!(consistency_plan(5, 5).expect("ordered").needed.is_empty());
        let plan = inclusion_plan(2, 5).expect("in range");
        assert!(matches!(
            plan.assemble(&[]),
            Err(ProofError::NodeCount { .. })
        ));
        assert!(Frontier::from_nodes(3, vec![[0; 32]]).is_err());
        let r = mth(&leaves(5));
        assert!(verify_consistency(0, 5, &empty_root(), &r, &[]).is_ok());
        assert!(verify_consistency(0, 5, &r, &r, &[]).is_err());
        assert!(verify_consistency(0, 5, &empty_root(), &r, &[r]).is_err());
        assert!(verify_consistency(5, 5, &r, &r, &[]).is_ok());
        assert!(verify_consistency(5, 5, &r, &r, &[r]).is_err());
        assert!(verify_consistency(6, 5, &r, &r, &[]).is_err());
        assert!(verify_consistency(3, 5, &r, &r, &[]).is_err());
        assert!(verify_inclusion(&r, 0, 0, &[], &r).is_err());
        assert!(verify_inclusion(&r, 0, 1, &[], &r).is_ok());
        assert!(verify_inclusion(&r, 0, 1, &[r], &r).is_err());
    }

    #[test]
    fn root_plan_of_empty_tree() {
        let plan = root_plan(0);
        assert!(plan.needed.is_empty());
        assert_eq!(plan.assemble(&[]), Ok(vec![empty_root()]));
    }

    // ---- properties -----------------------------------------------------------------

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn inclusion_matches_reference(size in 1usize..=300, pick in any::<u64>(), bit in 0usize..256) {
            let d = leaves(size);
            let (f, store) = build(&d);
            let root = mth(&d);
            prop_assert_eq!(f.root(), root);
            prop_assert_eq!(root_plan(size as u64).assemble(&fetch(&store, &root_plan(size as u64))), Ok(vec![root]));

            let index = (pick % size as u64) as usize;
            let plan = inclusion_plan(index as u64, size as u64).expect("in range");
            let proof = plan.assemble(&fetch(&store, &plan)).expect("right count");
            prop_assert_eq!(&proof, &ref_path(index, &d));
            let (i, n) = (index as u64, size as u64);
            prop_assert_eq!(verify_inclusion(&d[index], i, n, &proof, &root), Ok(()));

            // Tampering with anything fails.
            let mut bad_root = root;
            flip(&mut bad_root, bit);
            prop_assert!(verify_inclusion(&d[index], i, n, &proof, &bad_root).is_err());
            let mut bad_leaf = d[index];
            flip(&mut bad_leaf, bit);
            prop_assert!(verify_inclusion(&bad_leaf, i, n, &proof, &root).is_err());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let at = (pick as usize / size) % bad.len();
                flip(&mut bad[at], bit);
                prop_assert!(verify_inclusion(&d[index], i, n, &bad, &root).is_err());
                prop_assert!(verify_inclusion(&d[index], i, n, &proof[..proof.len() - 1], &root).is_err());
            }
            let mut longer = proof.clone();
            longer.push(root);
            prop_assert!(verify_inclusion(&d[index], i, n, &longer, &root).is_err());
            for other in [i.wrapping_sub(1), i + 1, i ^ 2] {
                if other < n && other != i && d[other as usize] != d[index] {
                    prop_assert!(verify_inclusion(&d[index], other, n, &proof, &root).is_err());
                }
            }
        }

        #[test]
        fn consistency_matches_reference(new in 1usize..=300, pick in any::<u64>(), bit in 0usize..256) {
            let d = leaves(new);
            let (_, store) = build(&d);
            let old = 1 + (pick % new as u64) as usize;
            let (old_root, new_root) = (mth(&d[..old]), mth(&d));
            let plan = consistency_plan(old as u64, new as u64).expect("ordered");
            let proof = plan.assemble(&fetch(&store, &plan)).expect("right count");
            prop_assert_eq!(&proof, &ref_proof(old, &d));
            let (m, n) = (old as u64, new as u64);
            prop_assert_eq!(verify_consistency(m, n, &old_root, &new_root, &proof), Ok(()));

            let mut bad_old = old_root;
            flip(&mut bad_old, bit);
            prop_assert!(verify_consistency(m, n, &bad_old, &new_root, &proof).is_err());
            let mut bad_new = new_root;
            flip(&mut bad_new, bit);
            prop_assert!(verify_consistency(m, n, &old_root, &bad_new, &proof).is_err());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let at = (pick as usize / new) % bad.len();
                flip(&mut bad[at], bit);
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &bad).is_err());
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &proof[..proof.len() - 1]).is_err());
            }
            let mut longer = proof.clone();
            longer.push(new_root);
            prop_assert!(verify_consistency(m, n, &old_root, &new_root, &longer).is_err());
            if old > 1 {
                // The proof does not vouch for another old size.
                let other = mth(&d[..old - 1]);
                prop_assert!(verify_consistency(m - 1, n, &other, &new_root, &proof).is_err());
            }
        }

        #[test]
        fn frontier_root_and_reload(size in 0usize..=300, cut in any::<u64>()) {
            let d = leaves(size);
            let mut f = Frontier::new();
            let mut store = HashMap::new();
            for (i, h) in d.iter().enumerate() {
                prop_assert_eq!(f.root(), mth(&d[..i]));
                store.extend([leaf_node(i, *h)]);
                store.extend(f.append(*h));
            }
            prop_assert_eq!(f.size(), size as u64);
            prop_assert_eq!(f.root(), mth(&d));

            // Reload at any size from stored nodes, then keep appending.
            let at = (cut % (size as u64 + 1)) as usize;
            let ids = Frontier::node_ids(at as u64);
            let hashes = ids.iter().map(|id| store[id]).collect();
            let mut g = Frontier::from_nodes(at as u64, hashes).expect("right count");
            prop_assert_eq!(g.root(), mth(&d[..at]));
            for (i, h) in d[at..].iter().enumerate() {
                for (id, node) in g.append(*h) {
                    prop_assert_eq!(store.get(&id), Some(&node), "node {:?} after reload at {}+{}", id, at, i);
                }
            }
            prop_assert_eq!(g, f);
        }
    }
}
