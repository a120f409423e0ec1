//! One set of blob checks, run against every blob backend: a local directory always, S3 when
//! `SEUIL_TEST_S3_ENDPOINT` is set (e.g. `moto_server -H 127.0.0.1 -p 59000` and
//! `SEUIL_TEST_S3_ENDPOINT=http://127.0.0.1:59000`; bucket `SEUIL_TEST_S3_BUCKET`, default
//! `seuil-test`; credentials `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, default `test`).

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use seuil_store::{BlobStore, LocalBlobs, S3Blobs, S3Config, StoreError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The stream type blobs are written from (`seuil_store`'s `ByteStream`).
type ByteStream = BoxStream<'static, io::Result<Bytes>>;

const MIB: usize = 1024 * 1024;

// ---- helpers ------------------------------------------------------------------------------

fn chunks(parts: &[&[u8]]) -> ByteStream {
    let parts: Vec<io::Result<Bytes>> = parts
        .iter()
        .map(|p| Ok(Bytes::copy_from_slice(p)))
        .collect();
    stream::iter(parts).boxed()
}

/// The byte at `i` of the test pattern (not periodic at any part size).
fn pattern(i: u64) -> u8 {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 37) as u8 ^ (i >> 20) as u8
}

/// `len` bytes of the pattern in chunks of uneven sizes, made as they are read.
fn pattern_stream(len: u64) -> ByteStream {
    stream::unfold(0u64, move |at| async move {
        if at >= len {
            return None;
        }
        let n = (65_537 + (at % 7) * 1000).min(len - at);
        let chunk: Vec<u8> = (at..at + n).map(pattern).collect();
        Some((Ok(Bytes::from(chunk)), at + n))
    })
    .boxed()
}

/// `good` bytes of the pattern, then an error.
fn failing_stream(good: u64) -> ByteStream {
    pattern_stream(good)
        .chain(stream::once(async {
            Err(io::Error::other("camera went away"))
        }))
        .boxed()
}

async fn read_all(s: ByteStream) -> Vec<u8> {
    s.try_fold(Vec::new(), |mut acc, chunk| async move {
        acc.extend_from_slice(&chunk);
        Ok(acc)
    })
    .await
    .expect("blob stream")
}

async fn get_bytes(b: &dyn BlobStore, key: &str) -> Option<Vec<u8>> {
    match b.get(key).await.expect("get") {
        Some(s) => Some(read_all(s).await),
        None => None,
    }
}

async fn put_bytes(b: &dyn BlobStore, key: &str, data: &[u8]) {
    let n = b.put(key, chunks(&[data])).await.expect("put");
    assert_eq!(n, data.len() as u64);
}

fn keys(p: &str, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("{p}{n}")).collect()
}

fn is_invalid(r: &Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(r, Err(StoreError::Invalid { .. }))
}

// ---- the checks every backend passes --------------------------------------------------------
// Each gets a backend and a key prefix of its own (`...name/`), and uses only keys under it.

async fn roundtrip(b: &dyn BlobStore, p: &str) {
    let key = format!("{p}subject-1/footage/seg:0001");
    let n = b
        .put(
            &key,
            chunks(&[b"sealed ", b"", b"chunk one; ", b"chunk two"]),
        )
        .await
        .unwrap();
    assert_eq!(n, 27);
    assert_eq!(
        get_bytes(b, &key).await.unwrap(),
        b"sealed chunk one; chunk two"
    );
    // An empty blob is a blob.
    let empty = format!("{p}empty");
    assert_eq!(b.put(&empty, chunks(&[])).await.unwrap(), 0);
    assert_eq!(get_bytes(b, &empty).await, Some(Vec::new()));
    // A key may hold the characters check_key allows, parts starting with a dot included.
    let odd = format!("{p}A-z_0.9:x/.hidden/...");
    put_bytes(b, &odd, b"odd").await;
    assert_eq!(get_bytes(b, &odd).await.unwrap(), b"odd");
}

async fn replace(b: &dyn BlobStore, p: &str) {
    let key = format!("{p}r/blob");
    put_bytes(b, &key, b"first version, rather long").await;
    put_bytes(b, &key, b"second").await;
    assert_eq!(get_bytes(b, &key).await.unwrap(), b"second");
    assert_eq!(b.list(p).await.unwrap(), vec![key]);
}

async fn missing(b: &dyn BlobStore, p: &str) {
    assert!(b.get(&format!("{p}nothing/here")).await.unwrap().is_none());
    assert!(!b.delete(&format!("{p}nothing/here")).await.unwrap());
    assert!(b.list(&format!("{p}nothing/")).await.unwrap().is_empty());
    assert_eq!(b.delete_prefix(&format!("{p}nothing/")).await.unwrap(), 0);
}

async fn list_sorted_with_prefix(b: &dyn BlobStore, p: &str) {
    // Put out of order; `s/a` is both a blob and a prefix of others (a flat namespace).
    for name in [
        "s/b", "s/a/z", "t/x", "s/a", "s/c.d", "s2/y", "s/a-c", "s/a/y/1",
    ] {
        put_bytes(b, &format!("{p}{name}"), name.as_bytes()).await;
    }
    assert_eq!(
        b.list(&format!("{p}s/")).await.unwrap(),
        keys(p, &["s/a", "s/a-c", "s/a/y/1", "s/a/z", "s/b", "s/c.d"])
    );
    assert_eq!(
        b.list(&format!("{p}s/a")).await.unwrap(),
        keys(p, &["s/a", "s/a-c", "s/a/y/1", "s/a/z"])
    );
    assert_eq!(
        b.list(&format!("{p}s/a/")).await.unwrap(),
        keys(p, &["s/a/y/1", "s/a/z"])
    );
    assert_eq!(
        b.list(&format!("{p}s/a/y/1")).await.unwrap(),
        keys(p, &["s/a/y/1"])
    );
    assert_eq!(
        b.list(&format!("{p}s")).await.unwrap(),
        keys(
            p,
            &["s/a", "s/a-c", "s/a/y/1", "s/a/z", "s/b", "s/c.d", "s2/y"]
        )
    );
    assert_eq!(
        b.list(p).await.unwrap(),
        keys(
            p,
            &[
                "s/a", "s/a-c", "s/a/y/1", "s/a/z", "s/b", "s/c.d", "s2/y", "t/x"
            ]
        )
    );
    assert!(b.list(&format!("{p}u")).await.unwrap().is_empty());
    // Prefixes no valid key can start with find nothing (and cannot escape a directory).
    for bad in ["../", "s//", "s/../", "s b", "s/a@"] {
        assert!(
            b.list(&format!("{p}{bad}")).await.unwrap().is_empty(),
            "{bad}"
        );
    }
    for name in ["s/a", "s/a/z", "s/a-c"] {
        assert_eq!(
            get_bytes(b, &format!("{p}{name}")).await.unwrap(),
            name.as_bytes()
        );
    }
}

async fn delete(b: &dyn BlobStore, p: &str) {
    let (a, c) = (format!("{p}x/a"), format!("{p}x/c"));
    put_bytes(b, &a, b"a").await;
    put_bytes(b, &c, b"c").await;
    assert!(b.delete(&a).await.unwrap());
    assert!(!b.delete(&a).await.unwrap());
    assert!(b.get(&a).await.unwrap().is_none());
    assert_eq!(b.list(p).await.unwrap(), vec![c.clone()]);
    assert!(b.delete(&c).await.unwrap());
    assert!(b.list(p).await.unwrap().is_empty());
    // A deleted key can be written again.
    put_bytes(b, &a, b"again").await;
    assert_eq!(get_bytes(b, &a).await.unwrap(), b"again");
}

async fn delete_prefix(b: &dyn BlobStore, p: &str) {
    for name in ["d/1", "d/2/x", "d/2/y", "d", "dd/3", "e/4"] {
        put_bytes(b, &format!("{p}{name}"), name.as_bytes()).await;
    }
    assert_eq!(b.delete_prefix(&format!("{p}d/")).await.unwrap(), 3);
    assert_eq!(b.list(p).await.unwrap(), keys(p, &["d", "dd/3", "e/4"]));
    assert_eq!(b.delete_prefix(&format!("{p}d/")).await.unwrap(), 0);
    // Not at a part boundary: `d` and `dd/3` both start with `d`.
    assert_eq!(b.delete_prefix(&format!("{p}d")).await.unwrap(), 2);
    assert_eq!(b.list(p).await.unwrap(), keys(p, &["e/4"]));
    assert_eq!(get_bytes(b, &format!("{p}e/4")).await.unwrap(), b"e/4");
    // A subject's blobs written again after an erasure.
    put_bytes(b, &format!("{p}d/2/x"), b"new").await;
    assert_eq!(get_bytes(b, &format!("{p}d/2/x")).await.unwrap(), b"new");
}

async fn invalid_keys(b: &dyn BlobStore, p: &str) {
    let long = "k".repeat(513);
    let mut bad: Vec<String> = [
        "..", "../x", "x/../y", "x/..", ".", "x/./y", "x//y", "x/", "x y", " x", "x\ty", "ä",
        "x\\y", "x?y", "x#y", "x%2F", "x@blob", "x*",
    ]
    .iter()
    .map(|k| format!("{p}{k}"))
    .collect();
    bad.extend(["".to_string(), "/x".to_string(), "/".to_string(), long]);
    for key in &bad {
        assert!(
            is_invalid(&b.put(key, chunks(&[b"x"])).await),
            "put {key:?}"
        );
        assert!(
            is_invalid(&b.get(key).await.map(|s| s.is_some())),
            "get {key:?}"
        );
        assert!(is_invalid(&b.delete(key).await), "delete {key:?}");
    }
    assert!(b.list(p).await.unwrap().is_empty());
}

async fn large_streamed(b: &dyn BlobStore, p: &str) {
    let key = format!("{p}footage/large");
    let len = 20 * MIB as u64 + 12_345;
    assert_eq!(b.put(&key, pattern_stream(len)).await.unwrap(), len);
    let mut s = b.get(&key).await.unwrap().expect("the blob");
    let (mut at, mut pieces) = (0u64, 0);
    while let Some(chunk) = s.next().await {
        let chunk = chunk.unwrap();
        for (j, byte) in chunk.iter().enumerate() {
            assert_eq!(*byte, pattern(at + j as u64), "byte {}", at + j as u64);
        }
        at += chunk.len() as u64;
        pieces += 1;
    }
    assert_eq!(at, len);
    assert!(
        pieces > 1,
        "a 20 MiB blob should come back in pieces, not in one buffer"
    );
    assert_eq!(b.list(p).await.unwrap(), vec![key.clone()]);
    assert!(b.delete(&key).await.unwrap());
}

async fn failed_stream_leaves_nothing(b: &dyn BlobStore, p: &str) {
    // Small (one S3 PUT, never sent), past one part (the stream fails before the multipart
    // upload starts) and past two parts (a multipart upload started, then aborted).
    for (name, good) in [
        ("small", 100_000),
        ("medium", 12 * MIB as u64),
        ("large", 20 * MIB as u64),
    ] {
        let key = format!("{p}f/{name}");
        let err = b
            .put(&key, failing_stream(good))
            .await
            .expect_err("a failing body must fail the put");
        assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("camera went away"), "{err}");
        assert!(
            b.get(&key).await.unwrap().is_none(),
            "{name}: a half-written blob is visible"
        );
    }
    assert!(b.list(p).await.unwrap().is_empty());
    // A failed replace keeps the blob in place.
    let key = format!("{p}f/kept");
    put_bytes(b, &key, b"complete").await;
    assert!(b.put(&key, failing_stream(20 * MIB as u64)).await.is_err());
    assert_eq!(get_bytes(b, &key).await.unwrap(), b"complete");
    assert_eq!(b.list(p).await.unwrap(), vec![key]);
}

async fn concurrent_puts(b: &dyn BlobStore, p: &str) {
    // Several writers of one key: the blob is one of their bodies, whole.
    let key = format!("{p}same");
    let bodies: Vec<Vec<u8>> = (0..6u8)
        .map(|i| vec![i; 50_000 + usize::from(i) * 1000])
        .collect();
    let puts = bodies
        .iter()
        .map(|body| b.put(&key, chunks(&[&body[..25_000], &body[25_000..]])));
    for r in futures_util::future::join_all(puts).await {
        r.unwrap();
    }
    let got = get_bytes(b, &key).await.unwrap();
    assert!(
        bodies.contains(&got),
        "a blob mixed from several writers ({} bytes)",
        got.len()
    );
    // And writers of many keys in one directory.
    let puts = (0..20).map(|i| {
        let key = format!("{p}many/{i:02}");
        async move { b.put(&key, chunks(&[key.as_bytes()])).await }
    });
    for r in futures_util::future::join_all(puts).await {
        r.unwrap();
    }
    assert_eq!(b.list(&format!("{p}many/")).await.unwrap().len(), 20);
}

async fn list_many(b: &dyn BlobStore, p: &str) {
    // More than one page of an S3 listing (1,000) and one DeleteObjects batch.
    let names: Vec<String> = (0..1105).map(|i| format!("{p}m/{i:05}")).collect();
    stream::iter(&names)
        .map(|key| async move { b.put(key, chunks(&[b"m"])).await })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(b.list(&format!("{p}m/")).await.unwrap(), names);
    assert_eq!(
        b.list(&format!("{p}m/0100")).await.unwrap(),
        names[1000..1010].to_vec()
    );
    assert_eq!(b.delete_prefix(&format!("{p}m/")).await.unwrap(), 1105);
    assert!(b.list(p).await.unwrap().is_empty());
}

// ---- backends -----------------------------------------------------------------------------

/// A directory removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "seuil-blobs-{}-{}-{name}",
            std::process::id(),
            run_id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Unique for this run of the tests.
fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{}-{nanos:x}", std::process::id())
    })
}

fn local(name: &str) -> (TempDir, LocalBlobs) {
    let dir = TempDir::new(name);
    let blobs = LocalBlobs::new(dir.0.join("blobs")).expect("a local blob directory");
    (dir, blobs)
}

fn s3_config() -> Option<S3Config> {
    let endpoint = std::env::var("SEUIL_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    let var = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or(default.into())
    };
    Some(S3Config {
        endpoint: endpoint.parse().expect("SEUIL_TEST_S3_ENDPOINT is a URL"),
        bucket: var("SEUIL_TEST_S3_BUCKET", "seuil-test"),
        region: var("SEUIL_TEST_S3_REGION", "us-east-1"),
        access_key: var("AWS_ACCESS_KEY_ID", "test"),
        secret_key: var("AWS_SECRET_ACCESS_KEY", "test"),
        path_style: true,
    })
}

/// The test bucket, created if needed, or `None` (with a message) when S3 is not configured.
async fn s3() -> Option<S3Blobs> {
    let Some(cfg) = s3_config() else {
        skip_s3();
        return None;
    };
    let blobs = S3Blobs::new(cfg)
        .await
        .expect("the S3 test service (SEUIL_TEST_S3_ENDPOINT)");
    blobs
        .create_bucket_if_missing()
        .await
        .expect("the S3 test bucket");
    Some(blobs)
}

macro_rules! blob_checks {
    ($($check:ident),* $(,)?) => {
        mod local_dir {
            $(
                #[tokio::test]
                async fn $check() {
                    let (_dir, blobs) = super::local(stringify!($check));
                    super::$check(&blobs, "").await;
                    // Nested under a prefix, as on a shared bucket.
                    super::$check(&blobs, "nested/run/").await;
                }
            )*
        }

        mod s3 {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(blobs) = super::s3().await else { return };
                    let prefix = format!("test-{}/{}/", super::run_id(), stringify!($check));
                    super::$check(&blobs, &prefix).await;
                    seuil_store::BlobStore::delete_prefix(&blobs, &prefix).await.unwrap();
                    assert!(seuil_store::BlobStore::list(&blobs, &prefix).await.unwrap().is_empty());
                }
            )*
        }
    };
}

blob_checks!(
    roundtrip,
    replace,
    missing,
    list_sorted_with_prefix,
    delete,
    delete_prefix,
    invalid_keys,
    large_streamed,
    failed_stream_leaves_nothing,
    concurrent_puts,
    list_many,
);

// ---- the local directory only ---------------------------------------------------------------

/// Every file and directory under `dir`, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if path.is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn local_new_creates_the_directory_and_reports_io_errors() {
    let dir = TempDir::new("new");
    let root = dir.0.join("a/b/blobs");
    let blobs = LocalBlobs::new(root.clone()).unwrap();
    assert!(root.is_dir());
    assert_eq!(blobs.root(), root);
    // Opening the same directory again is fine.
    LocalBlobs::new(root.clone()).unwrap();
    // A root that is a file, or below one, is an I/O error naming the path.
    std::fs::write(dir.0.join("file"), b"x").unwrap();
    for bad in [dir.0.join("file"), dir.0.join("file/blobs")] {
        match LocalBlobs::new(bad.clone()) {
            Err(StoreError::Io { path, .. }) => assert!(path.contains("file"), "{path}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn local_io_errors_are_errors_not_panics() {
    let (dir, blobs) = local("io");
    let root = dir.0.join("blobs");
    // Something that is not a directory where a blob directory should go.
    std::fs::write(root.join("x"), b"not a directory").unwrap();
    match blobs.put("x/y", chunks(&[b"data"])).await {
        Err(e @ StoreError::Io { .. }) => assert!(e.to_string().contains("blobs"), "{e}"),
        other => panic!("{other:?}"),
    }
    // The root removed under a running store.
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::write(&root, b"not a directory").unwrap();
    assert!(matches!(
        blobs.put("a", chunks(&[b"data"])).await,
        Err(StoreError::Io { .. })
    ));
    assert!(matches!(blobs.list("").await, Err(StoreError::Io { .. })));
    assert!(blobs.get("a").await.is_err());
    std::fs::remove_file(&root).unwrap();
}

#[tokio::test]
async fn local_leaves_no_temporary_files_or_empty_directories() {
    let (dir, blobs) = local("tidy");
    let root = dir.0.join("blobs");
    // A failed put removes its temporary file and the directories it made.
    assert!(
        blobs
            .put("s/k/failed", failing_stream(300_000))
            .await
            .is_err()
    );
    assert!(tree(&root).is_empty(), "{:?}", tree(&root));
    // A put cancelled midway (the body stalls, the caller gives up) too.
    let stalled = pattern_stream(100_000)
        .chain(stream::pending::<io::Result<Bytes>>())
        .boxed();
    let put = blobs.put("s/k/cancelled", stalled);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), put)
            .await
            .is_err()
    );
    assert!(tree(&root).is_empty(), "{:?}", tree(&root));
    // Deleting the last blob of a directory removes the directories left empty.
    put_bytes(&blobs, "s/k/v/1", b"1").await;
    put_bytes(&blobs, "s/other", b"2").await;
    assert!(blobs.delete("s/k/v/1").await.unwrap());
    assert_eq!(tree(&root), vec!["s", "s/other@blob"]);
    put_bytes(&blobs, "s/k/v/1", b"1").await;
    assert_eq!(blobs.delete_prefix("s/k/").await.unwrap(), 1);
    assert_eq!(tree(&root), vec!["s", "s/other@blob"]);
    assert_eq!(blobs.delete_prefix("").await.unwrap(), 1);
    assert!(tree(&root).is_empty(), "{:?}", tree(&root));
}

#[tokio::test]
async fn local_ignores_files_that_are_not_blobs() {
    let (dir, blobs) = local("foreign");
    let root = dir.0.join("blobs");
    put_bytes(&blobs, "s/a", b"a").await;
    // An upload in flight, one left by a crash two hours ago, and files put there by hand.
    std::fs::write(root.join("s/@tmp-1-2-3"), b"in flight").unwrap();
    std::fs::create_dir_all(root.join("s/old")).unwrap();
    let crashed = std::fs::File::create(root.join("s/old/@tmp-4-5-6")).unwrap();
    crashed
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    drop(crashed);
    std::fs::write(root.join("s/notes.txt"), b"hand").unwrap();
    std::fs::create_dir_all(root.join("s/odd dir")).unwrap();
    std::fs::write(root.join("s/odd dir/c@blob"), b"c").unwrap();
    assert_eq!(blobs.list("").await.unwrap(), vec!["s/a"]);
    assert_eq!(blobs.delete_prefix("s/").await.unwrap(), 1);
    assert_eq!(
        tree(&root),
        vec![
            "s",
            "s/@tmp-1-2-3",
            "s/notes.txt",
            "s/odd dir",
            "s/odd dir/c@blob"
        ]
    );
}

// ---- S3 only --------------------------------------------------------------------------------

#[tokio::test]
async fn s3_unreachable_endpoint_is_unavailable() {
    let cfg = S3Config {
        endpoint: "http://127.0.0.1:9".parse().unwrap(),
        bucket: "seuil-test".into(),
        region: "us-east-1".into(),
        access_key: "test".into(),
        secret_key: "test".into(),
        path_style: true,
    };
    match S3Blobs::new(cfg).await {
        Err(e @ StoreError::Unavailable { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("127.0.0.1:9"), "{msg}");
            assert!(
                !msg.contains("X-Amz-Signature"),
                "a presigned URL leaked: {msg}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn s3_missing_bucket_is_an_error_not_a_missing_blob() {
    let Some(mut cfg) = s3_config() else {
        skip_s3();
        return;
    };
    cfg.bucket = format!("seuil-missing-{}", run_id());
    let blobs = S3Blobs::new(cfg).await.unwrap();
    assert!(!blobs.bucket_exists().await.unwrap());
    match blobs.get("a/b").await {
        Err(StoreError::Backend { backend, detail }) => {
            assert_eq!(backend, "s3");
            assert!(
                detail.contains("404") && detail.contains("NoSuchBucket"),
                "{detail}"
            );
        }
        other => panic!("{:?}", other.map(|s| s.is_some())),
    }
    assert!(matches!(
        blobs.put("a/b", chunks(&[b"x"])).await,
        Err(StoreError::Backend { .. })
    ));
    assert!(blobs.create_bucket_if_missing().await.unwrap());
    assert!(!blobs.create_bucket_if_missing().await.unwrap());
    put_bytes(&blobs, "a/b", b"x").await;
    assert_eq!(blobs.delete_prefix("").await.unwrap(), 1);
}

/// Skips an S3 test with a message, or fails it in CI, where `SEUIL_REQUIRE_BACKENDS` is set.
fn skip_s3() {
    assert!(
        std::env::var_os("SEUIL_REQUIRE_BACKENDS").is_none(),
        "SEUIL_REQUIRE_BACKENDS is set but SEUIL_TEST_S3_ENDPOINT is not: the S3 suite must run"
    );
    eprintln!("skipping: SEUIL_TEST_S3_ENDPOINT not set");
}
