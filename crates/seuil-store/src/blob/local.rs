//! Blobs in a local directory.
//!
//! Layout: the blob `a/b/c` is the file `<root>/a/b/c@blob`. Directories are named after key
//! parts, blob files carry the `@blob` suffix and in-flight uploads are `@tmp-...` files; `@` is
//! never part of a key, so `a` and `a/b` can both be blobs (the namespace is flat, as on S3),
//! and a temporary file can never be mistaken for a blob. A key part must fit a file name
//! (250 bytes on most file systems); longer ones fail with an I/O error.
//!
//! A process killed mid-`put` may leave an `@tmp-...` file behind: it is never listed nor read,
//! and `delete_prefix` removes those untouched for an hour in the directories it empties.
//!
//! A `put` writes a temporary file in the blob's directory, forces it to disk, renames it into
//! place and forces the directory, so a crash leaves either the old blob or the new one, never
//! half of one. Safe to share between tasks and between processes on one machine.

use super::{ByteStream, check_key};
use crate::{BlobStore, Result, StoreError};
use async_trait::async_trait;
use futures_util::{StreamExt, TryStreamExt};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

/// Suffix of a blob file.
const BLOB_SUFFIX: &str = "@blob";
/// Marker in the name of a temporary file.
const TMP_MARKER: &str = "@tmp-";
/// Read and write buffer size.
const IO_BUF: usize = 256 * 1024;

/// A [`BlobStore`] in a local directory.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Opens (and creates, if needed) a blob directory.
    pub fn new(root: PathBuf) -> Result<Self> {
        fs::create_dir_all(&root).map_err(|e| StoreError::io(root.display().to_string(), e))?;
        let meta =
            fs::metadata(&root).map_err(|e| StoreError::io(root.display().to_string(), e))?;
        if !meta.is_dir() {
            return Err(StoreError::io(
                root.display().to_string(),
                io::Error::new(
                    io::ErrorKind::NotADirectory,
                    "the blob root is not a directory",
                ),
            ));
        }
        Ok(Self { root })
    }

    /// The directory the blobs are in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a (checked) key.
    fn blob_path(&self, key: &str) -> PathBuf {
        let mut p = self.root.join(key);
        p.as_mut_os_string().push(BLOB_SUFFIX);
        p
    }
}

fn io_err(path: &Path, e: io::Error) -> StoreError {
    StoreError::io(path.display().to_string(), e)
}

/// Runs blocking file system work off the async threads.
async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend {
            backend: "local",
            detail: format!("a file system task failed: {e}"),
        })?
}

fn is_part(name: &str) -> bool {
    !name.contains('/') && check_key(name).is_ok()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Creates `dir` (under `root`) and its missing parents, forcing each new entry to disk.
fn ensure_dir(root: &Path, dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let rel = dir.strip_prefix(root).map_err(|_| {
        io_err(
            dir,
            io::Error::other("blob directory outside the blob root"),
        )
    })?;
    let mut cur = root.to_path_buf();
    for part in rel.components() {
        let parent = cur.clone();
        cur.push(part);
        match fs::create_dir(&cur) {
            Ok(()) => sync_dir(&parent).map_err(|e| io_err(&parent, e))?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && cur.is_dir() => {}
            Err(e) => return Err(io_err(&cur, e)),
        }
    }
    Ok(())
}

/// Removes `dir` and its parents up to (not including) `root` while they are empty.
fn remove_empty_dirs(root: &Path, dir: &Path) {
    let mut cur = dir;
    while cur != root && cur.starts_with(root) {
        if fs::remove_dir(cur).is_err() {
            break;
        }
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
}

/// Splits a list prefix into the directory of its complete parts (`a/b/` for `a/b/c`) and the
/// partial last part (`c`). `None` if no valid key can start with the prefix.
fn split_prefix(prefix: &str) -> Option<(&str, &str)> {
    if !prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
    {
        return None;
    }
    let (dir, rest) = match prefix.rfind('/') {
        Some(i) => (&prefix[..=i], &prefix[i + 1..]),
        None => ("", prefix),
    };
    if !dir.is_empty() && !dir[..dir.len() - 1].split('/').all(is_part) {
        return None;
    }
    Some((dir, rest))
}

/// What a walk found: blobs as `(key, file)`, the directories below the start (children before
/// parents) and the temporary files in them left by a crash.
#[derive(Default)]
struct Walk {
    blobs: Vec<(String, PathBuf)>,
    dirs: Vec<PathBuf>,
    stale: Vec<PathBuf>,
}

/// A temporary file untouched for this long is left over from a crash.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

fn is_stale(entry: &fs::DirEntry) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_AFTER)
}

/// Collects the blobs under `dir` (whose keys start with `key_base`) whose next part starts
/// with `filter`.
fn walk(dir: &Path, key_base: &str, filter: &str, out: &mut Walk) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let file_type = entry.file_type().map_err(|e| io_err(&entry.path(), e))?;
        if file_type.is_dir() {
            if is_part(&name) && name.starts_with(filter) {
                let path = entry.path();
                walk(&path, &format!("{key_base}{name}/"), "", out)?;
                out.dirs.push(path);
            }
        } else if file_type.is_file()
            && let Some(part) = name.strip_suffix(BLOB_SUFFIX)
            && is_part(part)
            && part.starts_with(filter)
        {
            out.blobs.push((format!("{key_base}{part}"), entry.path()));
        } else if file_type.is_file()
            && filter.is_empty()
            && name.starts_with(TMP_MARKER)
            && is_stale(&entry)
        {
            out.stale.push(entry.path());
        }
    }
    Ok(())
}

/// Deletes a temporary file, and the directories left empty, unless the upload completed
/// (also when a `put` is cancelled).
struct TempFile {
    root: PathBuf,
    path: Option<PathBuf>,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_file(&path);
            if let Some(dir) = path.parent() {
                remove_empty_dirs(&self.root, dir);
            }
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file name: starts with `@`, so it is never a key part, and stays short whatever
/// the length of the key.
fn tmp_name() -> String {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{TMP_MARKER}{}-{n}-{nanos:08x}", std::process::id())
}

/// Creates a new temporary file for `path` in its directory, creating the directory if needed.
async fn create_temp(root: &Path, path: &Path) -> Result<(tokio::fs::File, TempFile)> {
    let dir = path.parent().unwrap_or(root).to_path_buf();
    let mut last_err = None;
    // A concurrent delete may remove the (empty) directory between its creation and the
    // creation of the file; and a name may be taken: retry a few times.
    for _ in 0..8 {
        let (root2, dir2) = (root.to_path_buf(), dir.clone());
        blocking(move || ensure_dir(&root2, &dir2)).await?;
        let tmp = dir.join(tmp_name());
        match tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .await
        {
            Ok(file) => {
                return Ok((
                    file,
                    TempFile {
                        root: root.to_path_buf(),
                        path: Some(tmp),
                    },
                ));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists
                ) =>
            {
                last_err = Some(io_err(&tmp, e));
            }
            Err(e) => return Err(io_err(&tmp, e)),
        }
    }
    Err(last_err
        .unwrap_or_else(|| io_err(&dir, io::Error::other("cannot create a temporary file"))))
}

#[async_trait]
impl BlobStore for LocalBlobs {
    fn backend(&self) -> &'static str {
        "local"
    }

    async fn put(&self, key: &str, mut body: ByteStream) -> Result<u64> {
        check_key(key)?;
        let path = self.blob_path(key);
        let (file, mut temp) = create_temp(&self.root, &path).await?;
        let tmp_path = temp.path.clone().unwrap_or_default();
        let mut out = tokio::io::BufWriter::with_capacity(IO_BUF, file);
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::io(format!("the body of blob {key}"), e))?;
            out.write_all(&chunk)
                .await
                .map_err(|e| io_err(&tmp_path, e))?;
            written += chunk.len() as u64;
        }
        // `flush` reports errors of earlier background writes; `sync_all` forces the data.
        out.flush().await.map_err(|e| io_err(&tmp_path, e))?;
        let file = out.into_inner();
        file.sync_all().await.map_err(|e| io_err(&tmp_path, e))?;
        drop(file);
        tokio::fs::rename(&tmp_path, &path)
            .await
            .map_err(|e| io_err(&path, e))?;
        temp.path = None;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        blocking(move || sync_dir(&dir).map_err(|e| io_err(&dir, e))).await?;
        Ok(written)
    }

    async fn get(&self, key: &str) -> Result<Option<ByteStream>> {
        check_key(key)?;
        let path = self.blob_path(key);
        match tokio::fs::File::open(&path).await {
            Ok(file) => {
                let stream = tokio_util::io::ReaderStream::with_capacity(file, IO_BUF);
                let shown = path.display().to_string();
                let stream = stream
                    .map_err(move |e| io::Error::new(e.kind(), format!("reading {shown}: {e}")));
                Ok(Some(stream.boxed()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let path = self.blob_path(key);
        let root = self.root.clone();
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    remove_empty_dirs(&root, dir);
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err(&path, e)),
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let Some((dir, rest)) = split_prefix(prefix) else {
            return Ok(Vec::new());
        };
        let (start, dir, rest) = (self.root.join(dir), dir.to_string(), rest.to_string());
        blocking(move || {
            let mut found = Walk::default();
            walk(&start, &dir, &rest, &mut found)?;
            let mut keys: Vec<String> = found.blobs.into_iter().map(|(k, _)| k).collect();
            keys.sort_unstable();
            Ok(keys)
        })
        .await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let Some((dir, rest)) = split_prefix(prefix) else {
            return Ok(0);
        };
        let (root, start, dir, rest) = (
            self.root.clone(),
            self.root.join(dir),
            dir.to_string(),
            rest.to_string(),
        );
        blocking(move || {
            let mut found = Walk::default();
            walk(&start, &dir, &rest, &mut found)?;
            let mut n = 0;
            for (_, path) in &found.blobs {
                match fs::remove_file(path) {
                    Ok(()) => n += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(path, e)),
                }
            }
            for path in &found.stale {
                let _ = fs::remove_file(path);
            }
            // Children come before their parents; a directory still holding an upload in
            // flight stays.
            for d in &found.dirs {
                let _ = fs::remove_dir(d);
            }
            remove_empty_dirs(&root, &start);
            Ok(n)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_split_at_the_last_slash() {
        assert_eq!(split_prefix(""), Some(("", "")));
        assert_eq!(split_prefix("ab"), Some(("", "ab")));
        assert_eq!(split_prefix("a/b/"), Some(("a/b/", "")));
        assert_eq!(split_prefix("a/b/c."), Some(("a/b/", "c.")));
        assert_eq!(split_prefix("../"), None);
        assert_eq!(split_prefix("a//b"), None);
        assert_eq!(split_prefix("/a"), None);
        assert_eq!(split_prefix("a b"), None);
        assert_eq!(split_prefix("a@"), None);
    }
}
