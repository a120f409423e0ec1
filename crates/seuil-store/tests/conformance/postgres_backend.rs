//! The PostgreSQL store under the conformance suite: each test gets a fresh schema in the
//! database named by `SEUIL_TEST_POSTGRES_URL`, dropped when the test ends (passed or failed).
//! Without the variable the tests are skipped, unless `SEUIL_REQUIRE_BACKENDS=1` (as in CI),
//! where a missing server is a failure. `.ci/services.sh` starts one and writes the variable.

use crate::Guard;
use seuil_store::Store;
use seuil_store::postgres::PgStore;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub async fn make() -> Option<(Box<dyn Store>, Guard)> {
    let url = match std::env::var("SEUIL_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            assert!(
                std::env::var("SEUIL_REQUIRE_BACKENDS").as_deref() != Ok("1"),
                "SEUIL_REQUIRE_BACKENDS=1 but SEUIL_TEST_POSTGRES_URL is not set: run \
                 `bash .ci/services.sh && source .ci/services.env`"
            );
            return None;
        }
    };
    let schema = fresh_schema();
    // The guard exists before the store, so a failed connect after the schema was created
    // still drops it.
    let guard = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let store = match PgStore::connect(&url, Some(&schema)).await {
        Ok(store) => store,
        Err(e) => panic!("SEUIL_TEST_POSTGRES_URL is set but the store cannot start: {e}"),
    };
    Some((Box::new(store), Box::new(guard)))
}

/// A name no other test, run or process uses: pid, time and a counter.
fn fresh_schema() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "seuil_conf_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops the test's schema, and everything in it, when the test ends.
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with a
        // runtime of its own does the work and is waited for.
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                let task = tokio::spawn(conn);
                let dropped = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await;
                drop(client);
                let _ = task.await;
                dropped.ok()
            })
        })
        .join();
        if !matches!(done, Ok(Some(()))) {
            eprintln!(
                "could not drop the test schema {}; drop it by hand",
                self.schema
            );
        }
    }
}
