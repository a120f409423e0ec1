//! Large bodies (footage, exports). Blobs arrive already sealed by the vault (chunked AEAD), so
//! no backend ever holds plaintext.

mod local;
mod s3;

pub use local::LocalBlobs;
pub use s3::{S3Blobs, S3Config};

use crate::Result;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

/// A stream of blob bytes, in chunks of any size.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// A flat namespace of immutable blobs. Keys are `/`-separated ASCII paths such as
/// `subject/kind/id`; a backend rejects keys with `..`, empty parts or other characters.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    fn backend(&self) -> &'static str;
    /// Writes a blob from a stream; it becomes visible only once complete, replacing any blob
    /// of the same key. Returns the number of bytes written.
    async fn put(&self, key: &str, body: ByteStream) -> Result<u64>;
    /// Reads a blob as a stream, or `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<ByteStream>>;
    async fn delete(&self, key: &str) -> Result<bool>;
    /// Every key that starts with `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes every blob under `prefix`; returns how many went.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let mut n = 0;
        for key in self.list(prefix).await? {
            if self.delete(&key).await? {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Checks a blob key: ASCII letters, digits, `-_.:`, parts separated by `/`, no `..`.
pub fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(crate::StoreError::invalid(
            "blob key",
            format!("{key:?} must be `/`-separated parts of letters, digits and -_.:"),
        ))
    }
}
