//! What the delivery tests share: the test footage, and a vault with a consenting customer.
#![allow(dead_code)]

use seuil_store::{DynStore, LocalBlobs, SqliteStore};
use seuil_vault::{Actor, FileKek, ManualClock, Vault, VaultConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A clip of `../shared/data/video`, or `None` (with a message) where the data is absent.
pub fn video(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/video")
        .join(name);
    match std::fs::read(&path) {
        Ok(data) => Some(data),
        Err(_) => {
            eprintln!(
                "skipped: test footage {} is absent (see ../shared/data/README.md)",
                path.display()
            );
            None
        }
    }
}

/// A vault on SQLite and local blobs in `dir`, and a customer who consents to
/// `delivery.video`.
pub async fn vault_with_customer(dir: &Path) -> (Vault, String) {
    vault_with_customer_on(dir, VaultConfig::default()).await
}

/// [`vault_with_customer`] on a clock the test moves.
pub async fn vault_with_customer_at(dir: &Path, clock: Arc<ManualClock>) -> (Vault, String) {
    let config = VaultConfig {
        clock,
        ..VaultConfig::default()
    };
    vault_with_customer_on(dir, config).await
}

async fn vault_with_customer_on(dir: &Path, config: VaultConfig) -> (Vault, String) {
    let store: DynStore = Arc::new(SqliteStore::open(&dir.join("seuil.db")).unwrap());
    let blobs = Arc::new(LocalBlobs::new(dir.join("blobs")).unwrap());
    let vault = Vault::new(store, blobs, &FileKek::new(dir.join("kek.key")), config)
        .await
        .unwrap();
    let customer = vault.create_subject().await.unwrap();
    vault
        .grant_consent(
            &Actor::Subject(customer.clone()),
            &customer,
            "delivery.video",
        )
        .await
        .unwrap();
    (vault, customer)
}
