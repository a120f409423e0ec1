//! A subject's export through the real binary, with a gigabyte of footage: the archive is
//! streamed, so the server's memory stays small whatever the size of the data.

mod common;

use common::{Server, sign_up};
use futures_util::StreamExt;
use seuil_store::{IndexFields, LocalBlobs, SqliteStore};
use seuil_vault::{Actor, FileKek, Vault, VaultConfig, Write};
use std::sync::Arc;

const MIB: usize = 1 << 20;
/// 64 media of 16 MiB: a gigabyte.
const MEDIA: usize = 64;
const MEDIUM: usize = 16 * MIB;

/// The process's peak resident memory so far, from `/proc` (Linux).
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_export_is_streamed_in_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let client = sign_up(&server, "big@seuil.example", "a big export password", "Big").await;
    let me: serde_json::Value = client
        .get(server.api("/api/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subject = me["subject"].as_str().unwrap().to_owned();
    drop(server);

    // A gigabyte of media under the subject's key, as the server would have sealed it.
    {
        let vault = Vault::new(
            Arc::new(SqliteStore::open(&data.join("seuil.db")).unwrap()),
            Arc::new(LocalBlobs::new(data.join("blobs")).unwrap()),
            &FileKek::new(data.join("kek.key")),
            VaultConfig::default(),
        )
        .await
        .unwrap();
        let me = Actor::Subject(subject.clone());
        for i in 0..MEDIA {
            let id = format!("clip-{i:03}");
            let w = Write {
                kind: "clip",
                id: &id,
                subject: &subject,
                index: IndexFields::default(),
                body: b"{}",
            };
            vault.seal(&me, "account", w).await.unwrap();
            let chunks = (0..MEDIUM / MIB)
                .map(move |c| Ok(bytes::Bytes::from(vec![(i * 7 + c) as u8; MIB])));
            vault
                .seal_blob(
                    &me,
                    "account",
                    &subject,
                    "clip",
                    &id,
                    Box::pin(futures_util::stream::iter(chunks)),
                )
                .await
                .unwrap();
        }
    }

    let server = Server::start(&data);
    let client = server.client();
    let res = client
        .post(server.api("/api/sessions"))
        .json(&serde_json::json!({ "email": "big@seuil.example", "password": "a big export password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let baseline = peak_rss_mib(server.child.id());
    let res = client
        .get(server.api("/api/me/export"))
        .timeout(std::time::Duration::from_secs(600))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let mut total = 0usize;
    let mut head = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("the download is not broken");
        if head.len() < 512 {
            head.extend_from_slice(&chunk[..chunk.len().min(512)]);
        }
        total += chunk.len();
    }
    assert!(
        total > MEDIA * MEDIUM,
        "the archive holds the media: {total} bytes"
    );
    assert!(
        head.starts_with(b"records/"),
        "a tar archive of the records"
    );
    let Some(peak) = peak_rss_mib(server.child.id()) else {
        eprintln!("skipped: no /proc/PID/status here to read the peak memory from");
        return;
    };
    eprintln!(
        "export of {} MiB: server peak RSS {peak:.0} MiB (before the export {:.0} MiB)",
        total / MIB,
        baseline.unwrap_or_default()
    );
    assert!(
        peak < 200.0,
        "the server's peak RSS reached {peak:.0} MiB for a {} MiB export",
        total / MIB
    );
}
