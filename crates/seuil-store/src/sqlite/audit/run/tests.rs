use super::*;
use proptest::prelude::*;

fn arb_leaves(first: u64) -> impl Strategy<Value = Vec<AuditLeaf>> {
    prop::collection::vec(
        (
            "\\PC{0,12}",
            any::<i64>(),
            prop::collection::vec(any::<u8>(), 0..64),
            any::<[u8; 32]>(),
        ),
        0..20,
    )
    .prop_map(move |fields| {
        fields
            .into_iter()
            .enumerate()
            .map(|(i, (subject, at, details, leaf_hash))| AuditLeaf {
                index: first + i as u64,
                subject,
                at,
                details,
                leaf_hash,
            })
            .collect()
    })
}

fn arb_nodes() -> impl Strategy<Value = Vec<(NodeId, [u8; 32])>> {
    prop::collection::vec(
        (1u8..64, any::<u64>(), any::<[u8; 32]>())
            .prop_map(|(level, index, hash)| (NodeId { level, index }, hash)),
        0..10,
    )
}

proptest! {
    #[test]
    fn a_run_reads_back_as_written(
        first in 0u64..1 << 40,
        leaves in arb_leaves(0),
        nodes in arb_nodes(),
    ) {
        let leaves: Vec<AuditLeaf> = leaves
            .into_iter()
            .enumerate()
            .map(|(i, l)| AuditLeaf { index: first + i as u64, ..l })
            .collect();
        // A run holds each node once.
        let unique: std::collections::BTreeMap<(u8, u64), [u8; 32]> =
            nodes.iter().map(|(id, h)| ((id.level, id.index), *h)).collect();
        let nodes: Vec<(NodeId, [u8; 32])> = unique
            .iter()
            .map(|(&(level, index), h)| (NodeId { level, index }, *h))
            .collect();
        let run = encode(&leaves, &nodes);
        prop_assert_eq!(super::leaves(first, &run.hashes, &run.leaves)?, leaves.clone());
        for (i, leaf) in leaves.iter().enumerate() {
            prop_assert_eq!(leaf_hash(first, &run.hashes, i as u64)?, Some(leaf.leaf_hash));
        }
        prop_assert_eq!(leaf_hash(first, &run.hashes, leaves.len() as u64)?, None);
        for (id, hash) in &nodes {
            prop_assert_eq!(node(first, &run.nodes, *id)?, Some(*hash));
        }
        let absent = NodeId { level: 0, index: 0 };
        prop_assert_eq!(node(first, &run.nodes, absent)?, None);
    }

    /// Damaged bytes give an error or other leaves, never a panic.
    #[test]
    fn damaged_runs_never_panic(
        first in any::<u64>(),
        hashes in prop::collection::vec(any::<u8>(), 0..200),
        packed in prop::collection::vec(any::<u8>(), 0..400),
        nodes in prop::collection::vec(any::<u8>(), 0..200),
        offset in any::<u64>(),
    ) {
        let _ = super::leaves(first, &hashes, &packed);
        let _ = leaf_hash(first, &hashes, offset);
        let _ = node(first, &nodes, NodeId { level: 1, index: offset });
    }

    /// A run cut short anywhere is refused as damaged.
    #[test]
    fn a_truncated_run_is_refused(leaves in arb_leaves(7), cut in any::<prop::sample::Index>()) {
        let run = encode(&leaves, &[]);
        prop_assume!(!run.leaves.is_empty());
        let cut = cut.index(run.leaves.len());
        let err = super::leaves(7, &run.hashes, &run.leaves[..cut]).expect_err("cut short");
        prop_assert!(err.to_string().contains("the run starting at leaf 7"), "{}", err);
    }
}

#[test]
fn lengths_that_do_not_divide_are_refused() {
    assert!(leaf_hash(0, &[0; 33], 0).is_err());
    assert!(node(0, &[0; NODE_LEN + 1], NodeId { level: 1, index: 0 }).is_err());
    let one = encode(
        &[AuditLeaf {
            index: 0,
            subject: "alice".into(),
            at: 1,
            details: vec![1, 2],
            leaf_hash: [3; 32],
        }],
        &[],
    );
    let mut trailing = one.leaves.clone();
    trailing.push(0);
    assert!(super::leaves(0, &one.hashes, &trailing).is_err());
    assert!(super::leaves(u64::MAX, &[0; 64], &[0; 32]).is_err());
}
