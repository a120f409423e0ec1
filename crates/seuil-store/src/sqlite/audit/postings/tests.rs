use super::*;
use proptest::prelude::*;

fn ascending() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::btree_set(0u64..i64::MAX as u64, 1..50)
        .prop_map(|set| set.into_iter().collect())
}

proptest! {
    #[test]
    fn a_row_reads_back_as_written(idxs in ascending()) {
        prop_assert_eq!(decode("s", idxs[0], &encode(&idxs)).ok(), Some(idxs));
    }

    #[test]
    fn any_bytes_give_indexes_or_an_error(first in any::<u64>(), bytes in prop::collection::vec(any::<u8>(), 0..100)) {
        if let Ok(idxs) = decode("s", first, &bytes) {
            prop_assert_eq!(encode(&idxs), bytes);
            prop_assert_eq!(idxs[0], first);
        }
    }

    #[test]
    fn a_cut_row_is_refused(idxs in ascending(), cut in 1usize..8) {
        let bytes = encode(&idxs);
        prop_assert!(decode("s", idxs[0], &bytes[..bytes.len() - cut]).is_err());
    }
}

#[test]
fn out_of_order_or_empty_rows_are_refused() {
    assert!(decode("s", 5, &encode(&[5, 3])).is_err());
    assert!(decode("s", 5, &encode(&[5, 5])).is_err());
    assert!(
        decode("s", 4, &encode(&[5, 6])).is_err(),
        "first is not its smallest"
    );
    let err = decode("alice", 0, &[]).expect_err("empty");
    assert!(err.to_string().contains("\"alice\" from leaf 0"), "{err}");
}

/// Migration 0003 builds rows in SQL; they must read like the ones this module writes.
#[test]
fn rows_built_in_sql_are_rows_of_this_format() {
    let c = Connection::open_in_memory().expect("memory database");
    let idxs = [0u64, 7, 4095, 1 << 40, i64::MAX as u64];
    let values = idxs
        .iter()
        .map(|i| format!("({i})"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql: Vec<u8> = c
        .query_row(
            &format!(
                "SELECT unhex(group_concat(printf('%016x', idx), '' ORDER BY idx))
                   FROM (SELECT column1 AS idx FROM (VALUES {values}))"
            ),
            [],
            |r| r.get(0),
        )
        .expect("built in SQL");
    assert_eq!(sql, encode(&idxs));
}
