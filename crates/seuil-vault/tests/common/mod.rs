#![allow(dead_code)] // each test binary uses a different part
//! A vault over a real SQLite store and a local blob folder in a temporary directory.

use seuil_store::{LocalBlobs, SqliteStore};
use seuil_vault::{FileKek, ManualClock, Vault, VaultConfig};
use std::sync::Arc;

pub struct TestVault {
    pub vault: Vault,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
}

pub const T0: i64 = 1_790_000_000_000;

pub async fn vault() -> TestVault {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(T0));
    let vault = vault_in(dir.path(), clock.clone())
        .await
        .expect("vault opens");
    TestVault { vault, clock, dir }
}

pub async fn vault_in(
    dir: &std::path::Path,
    clock: Arc<ManualClock>,
) -> seuil_vault::Result<Vault> {
    let store = Arc::new(SqliteStore::open(&dir.join("seuil.db"))?);
    let blobs = Arc::new(LocalBlobs::new(dir.join("blobs"))?);
    let config = VaultConfig {
        clock,
        rng_seed: Some([7; 32]),
        ..VaultConfig::default()
    };
    Vault::new(store, blobs, &FileKek::new(dir.join("kek")), config).await
}
