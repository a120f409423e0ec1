//! Tests of the Merkle log: roots, proofs and the frontier against a direct computation.

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
