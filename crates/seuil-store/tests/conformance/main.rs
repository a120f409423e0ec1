//! The storage conformance suite: every check of `suite/` (one file per area), run against every backend.
//!
//! To add a backend: write `async fn make() -> Option<(Box<dyn Store>, Guard)>` returning a
//! fresh, empty store (or `None` when the backend is not available here, e.g. no server
//! configured), and add one `conformance_tests!` line below. Tests are named
//! `<backend>::<check>`, e.g. `cargo test -p seuil-store --test conformance sqlite::`.

mod suite;

use seuil_store::Store;
use seuil_store::sqlite::SqliteStore;

/// Whatever must live as long as the store and be dropped after it (a temporary directory,
/// a schema to drop).
pub type Guard = Box<dyn std::any::Any + Send>;

/// `conformance_tests!(name, constructor)` or `conformance_tests!(name, constructor, "why it
/// may be skipped")`: one `#[tokio::test]` per check, in a module `name`.
macro_rules! conformance_tests {
    ($backend:ident, $make:path $(, $skip:literal)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            conformance_tests!(@checks $backend, $make, concat!("" $(, $skip)?);
                records_insert_get,
                records_update,
                records_set_retention,
                records_delete,
                records_query,
                records_of_subject_and_expiry,
                keys_put_get_rewrap,
                keys_shred,
                open_row,
                meta_values,
                consent_history,
                audit_append_and_read,
                audit_leaves_of_a_long_log,
                audit_size_mismatch_writes_nothing,
                audit_checkpoints,
                outbox_lease_retry_done,
                outbox_subject_delete,
                concurrent_inserts,
                concurrent_updates_one_winner,
                concurrent_appends_and_keys_one_winner,
            );
        }
    };
    (@checks $backend:ident, $make:path, $skip:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some((store, guard)) = $make().await else {
                    let why: &str = $skip;
                    let why = if why.is_empty() { "backend not available" } else { why };
                    eprintln!("skipping {}::{}: {why}", stringify!($backend), stringify!($check));
                    return;
                };
                let store: seuil_store::DynStore = std::sync::Arc::from(store);
                crate::suite::$check(&store).await;
                // The store first, then what it lives in.
                drop(store);
                drop(guard);
            }
        )+
    };
}

conformance_tests!(sqlite, make_sqlite);

async fn make_sqlite() -> Option<(Box<dyn Store>, Guard)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(&dir.path().join("seuil.db")).expect("open a SQLite store");
    Some((Box::new(store), Box::new(dir)))
}

// PostgreSQL: a fresh schema per test in the database named by SEUIL_TEST_POSTGRES_URL.
mod postgres_backend;
conformance_tests!(
    postgres,
    postgres_backend::make,
    "SEUIL_TEST_POSTGRES_URL not set"
);
