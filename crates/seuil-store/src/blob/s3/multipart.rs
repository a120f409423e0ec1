//! Multipart uploads: part sizes, reading the input one part at a time, aborting on failure.

use super::*;

/// The part size for part `number` (from 1): 8 MiB, one more 8 MiB every 1,000 parts, so the
/// 10,000 parts S3 allows hold 440 GiB.
pub(super) fn part_size(number: u16) -> usize {
    PART_SIZE * (1 + (usize::from(number.max(1)) - 1) / 1000)
}

/// Aborts a multipart upload whose `put` was dropped midway.
pub(super) struct AbortGuard {
    pub(super) inner: Option<Arc<Inner>>,
    pub(super) key: String,
    pub(super) upload_id: String,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let (key, upload_id) = (
            std::mem::take(&mut self.key),
            std::mem::take(&mut self.upload_id),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = inner.abort(&key, &upload_id).await {
                        tracing::warn!("could not abort the multipart upload of blob {key}: {e}");
                    }
                });
            }
            Err(_) => tracing::warn!("multipart upload of blob {key} left incomplete"),
        }
    }
}

/// Cuts a byte stream into parts of a given size.
pub(super) struct PartReader {
    pub(super) stream: ByteStream,
    pub(super) carry: Bytes,
    pub(super) done: bool,
}

impl PartReader {
    pub(super) fn new(stream: ByteStream) -> Self {
        Self {
            stream,
            carry: Bytes::new(),
            done: false,
        }
    }

    /// The next `size` bytes, fewer only at the end of the stream (empty once it is over).
    pub(super) async fn next(&mut self, size: usize) -> io::Result<Bytes> {
        let mut buf = BytesMut::new();
        while buf.len() < size {
            if self.carry.is_empty() {
                if self.done {
                    break;
                }
                match self.stream.next().await {
                    Some(Ok(chunk)) => self.carry = chunk,
                    Some(Err(e)) => return Err(e),
                    None => self.done = true,
                }
                continue;
            }
            let take = (size - buf.len()).min(self.carry.len());
            if buf.is_empty() && take == size {
                // A chunk at least as large as the part: no copy.
                return Ok(self.carry.split_to(take));
            }
            buf.extend_from_slice(&self.carry.split_to(take));
        }
        Ok(buf.freeze())
    }
}
