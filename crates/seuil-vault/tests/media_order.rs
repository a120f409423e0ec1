//! Sealed media never outlives the record that finds it: deletion removes the media first,
//! and media left without a record (by a crash, or by a version that wrote media first) is
//! swept. The blob store here is the real local one, with deletes that can be made to fail
//! as a crash or a lost connection would.

use async_trait::async_trait;
use futures_util::StreamExt;
use seuil_store::{BlobStore, ByteStream, IndexFields, LocalBlobs, SqliteStore, StoreError};
use seuil_vault::{Actor, FileKek, ManualClock, Vault, VaultConfig, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

struct CutDeletes {
    inner: LocalBlobs,
    cut: AtomicBool,
}

#[async_trait]
impl BlobStore for CutDeletes {
    fn backend(&self) -> &'static str {
        "local"
    }
    async fn put(&self, key: &str, body: ByteStream) -> seuil_store::Result<u64> {
        self.inner.put(key, body).await
    }
    async fn get(&self, key: &str) -> seuil_store::Result<Option<ByteStream>> {
        self.inner.get(key).await
    }
    async fn delete(&self, key: &str) -> seuil_store::Result<bool> {
        if self.cut.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable {
                backend: "local",
                detail: "the connection was cut".into(),
            });
        }
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> seuil_store::Result<Vec<String>> {
        self.inner.list(prefix).await
    }
}

async fn vault(dir: &std::path::Path) -> (Vault, Arc<CutDeletes>) {
    let blobs = Arc::new(CutDeletes {
        inner: LocalBlobs::new(dir.join("blobs")).unwrap(),
        cut: AtomicBool::new(false),
    });
    let vault = Vault::new(
        Arc::new(SqliteStore::open(&dir.join("seuil.db")).unwrap()),
        blobs.clone(),
        &FileKek::new(dir.join("kek")),
        VaultConfig {
            clock: Arc::new(ManualClock::new(1_790_000_000_000)),
            ..VaultConfig::default()
        },
    )
    .await
    .unwrap();
    (vault, blobs)
}

async fn clip(vault: &Vault, me: &Actor, subject: &str, id: &str, with_record: bool) {
    if with_record {
        let w = Write {
            kind: "clip",
            id,
            subject,
            index: IndexFields::default(),
            body: b"{}",
        };
        vault.seal(me, "account", w).await.unwrap();
    }
    let body = futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"footage"))]).boxed();
    vault
        .seal_blob(me, "account", subject, "clip", id, body)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deletion_cut_short_leaves_the_record_so_deleting_again_removes_the_media() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, blobs) = vault(dir.path()).await;
    let s = vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    clip(&vault, &me, &s, "c1", true).await;

    blobs.cut.store(true, Ordering::SeqCst);
    assert!(vault.delete(&me, "account", "clip", "c1").await.is_err());
    assert!(
        vault.store().get("clip", "c1").await.unwrap().is_some(),
        "the record went before its media: nothing would find the media again"
    );
    blobs.cut.store(false, Ordering::SeqCst);
    vault.delete(&me, "account", "clip", "c1").await.unwrap();
    assert!(vault.store().get("clip", "c1").await.unwrap().is_none());
    assert!(blobs.list("").await.unwrap().is_empty());
}

#[tokio::test]
async fn media_without_its_record_is_swept_and_media_with_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (vault, blobs) = vault(dir.path()).await;
    let s = vault.create_subject().await.unwrap();
    let me = Actor::Subject(s.clone());
    clip(&vault, &me, &s, "kept", true).await;
    // What a crash between media and record left behind in a version that wrote media first.
    clip(&vault, &me, &s, "orphan", false).await;
    assert_eq!(vault.sweep_orphan_media().await.unwrap(), 1);
    assert_eq!(
        blobs.list("").await.unwrap(),
        vec![format!("{s}/clip/kept")]
    );
    assert_eq!(vault.sweep_orphan_media().await.unwrap(), 0);
}
