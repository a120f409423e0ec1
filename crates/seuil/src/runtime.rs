//! Builds the parts every command needs from the configuration: store, blobs, key, vault.

use crate::config::Config;
use anyhow::Context;
use seuil_store::{DynBlobs, DynStore, LocalBlobs, PgStore, S3Blobs, SqliteStore};
use seuil_vault::{EnvKek, FileKek, KekProvider, Vault, VaultConfig};
use std::sync::Arc;

pub async fn store(config: &Config) -> anyhow::Result<DynStore> {
    if config.uses_sqlite() {
        let path = config.sqlite_path();
        let store = SqliteStore::open(&path)
            .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
        Ok(Arc::new(store))
    } else {
        let url = config.store.postgres_url.as_deref().unwrap_or_default();
        let store = PgStore::connect(url, None)
            .await
            .context("cannot connect to PostgreSQL")?;
        Ok(Arc::new(store))
    }
}

pub async fn blobs(config: &Config) -> anyhow::Result<DynBlobs> {
    if config.uses_local_blobs() {
        let dir = config.blob_dir();
        let blobs = LocalBlobs::new(dir.clone())
            .with_context(|| format!("cannot use the blob folder {}", dir.display()))?;
        Ok(Arc::new(blobs))
    } else {
        let s3 = config.s3(|name| std::env::var(name).ok()).context(
            "blob backend `s3` needs blobs.s3_endpoint and blobs.s3_bucket (or SEUIL_S3_ENDPOINT \
             and SEUIL_S3_BUCKET) and credentials (SEUIL_S3_ACCESS_KEY and SEUIL_S3_SECRET_KEY)",
        )?;
        Ok(Arc::new(
            S3Blobs::new(s3)
                .await
                .context("cannot reach the S3 bucket")?,
        ))
    }
}

pub fn kek_provider(config: &Config) -> Box<dyn KekProvider> {
    match config.kek.provider.as_deref() {
        Some("env") => Box::new(EnvKek::new(
            config.kek.env.clone().unwrap_or_else(|| "SEUIL_KEK".into()),
        )),
        _ => Box::new(FileKek::new(config.kek_file())),
    }
}

pub async fn vault(config: &Config) -> anyhow::Result<Arc<Vault>> {
    let store = store(config).await?;
    let blobs = blobs(config).await?;
    let kek = kek_provider(config);
    let vault = Vault::new(store, blobs, kek.as_ref(), VaultConfig::default()).await?;
    Ok(Arc::new(vault))
}
