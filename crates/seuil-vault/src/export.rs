//! Export: one archive (tar) holding everything kept about a subject, machine-readable: their
//! records as JSON, their media, their consents, and their audit events with inclusion proofs
//! against a signed checkpoint.
//!
//! The archive is written as a stream, entry by entry, and media chunk by chunk, so a subject
//! with gigabytes of footage is exported in the memory of a few chunks. A tar header states
//! its entry's size first: each medium is read twice, once to learn its plaintext size (and
//! check every chunk), once to send it.

use crate::audit::{AuditEvent, Outcome};
use crate::{Actor, Result, Vault, VaultError, aead, stream};
use base64::Engine;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

#[derive(Clone, Debug, Default, Serialize)]
pub struct ExportSummary {
    pub records: usize,
    pub media: usize,
    pub events: usize,
    pub bytes: usize,
}

impl Vault {
    /// Builds the subject's export archive in memory. Only the subject (or an operator acting
    /// on their request) may export; the export itself is audited.
    pub async fn export(&self, actor: &Actor, subject: &str) -> Result<(Vec<u8>, ExportSummary)> {
        self.export_with(actor, subject, &|_, _| {}).await
    }

    /// [`Vault::export`], with `omit` taking out of each record's body (given its kind) what
    /// is the service's own and no use to the subject: a password hash, say, which in an
    /// export that leaks would be an offline guessing target.
    pub async fn export_with(
        &self,
        actor: &Actor,
        subject: &str,
        omit: &(dyn Fn(&str, &mut Value) + Sync),
    ) -> Result<(Vec<u8>, ExportSummary)> {
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let produce = async move {
            let summary = self.export_into(actor, subject, omit, &tx).await;
            drop(tx);
            summary
        };
        let collect = async {
            let mut out = Vec::new();
            while let Some(chunk) = rx.recv().await {
                out.extend_from_slice(&chunk);
            }
            out
        };
        let (summary, bytes) = tokio::join!(produce, collect);
        Ok((bytes, summary?))
    }

    /// Writes the subject's export archive into `out`, a chunk at a time (see the module).
    /// Fails when the receiver goes away (a download cancelled).
    pub async fn export_into(
        &self,
        actor: &Actor,
        subject: &str,
        omit: &(dyn Fn(&str, &mut Value) + Sync),
        out: &tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<ExportSummary> {
        if let Actor::Subject(s) = actor
            && s != subject
        {
            return Err(VaultError::not_found(format!("subject {subject}")));
        }
        let key = self.keys().get(subject).await?;
        let event = AuditEvent {
            actor: actor.clone(),
            action: "export".into(),
            purpose: "account".into(),
            kind: "subject".into(),
            id: subject.into(),
            outcome: Outcome::Ok,
        };
        self.audit_with(&key, subject, &event).await?;

        let mut tar = TarOut { out, bytes: 0 };
        let mut summary = ExportSummary::default();

        for rec in self.store.subject_records(subject).await? {
            let aad = aead::record_aad(&rec.kind, &rec.id, subject, rec.version);
            let body = match aead::open(&key, &aad, &rec.body) {
                Ok(plain) => match serde_json::from_slice::<Value>(&plain) {
                    Ok(mut doc) => {
                        omit(&rec.kind, &mut doc);
                        doc
                    }
                    Err(_) => json!({
                        "base64": base64::engine::general_purpose::STANDARD.encode(&*plain)
                    }),
                },
                Err(_) if rec.body.is_empty() => Value::Null,
                Err(_) => json!({ "error": "integrity check failed: this body was altered" }),
            };
            let doc = json!({
                "kind": rec.kind, "id": rec.id, "version": rec.version,
                "created_at": rec.created_at, "updated_at": rec.updated_at,
                "retain_until": rec.retain_until, "index": {
                    "status": rec.index.status, "at": rec.index.at, "scope": rec.index.scope,
                },
                "body": body,
            });
            tar.json(&format!("records/{}/{}.json", rec.kind, rec.id), &doc)
                .await?;
            summary.records += 1;
        }

        let prefix = format!("{subject}/");
        for blob in self.blobs.list(&prefix).await? {
            let Some((kind, id)) = blob[prefix.len()..].split_once('/') else {
                continue;
            };
            let aad = aead::blob_aad(kind, id, subject);
            let integrity = |e: std::io::Error| VaultError::Integrity {
                what: format!("media {kind}/{id}: {e}"),
            };
            // First pass: the plaintext size, which the tar header states before the bytes.
            let Some(sealed) = self.blobs.get(&blob).await? else {
                continue;
            };
            let mut size = 0u64;
            let mut plain = stream::open_stream(key.clone(), aad.clone(), sealed);
            while let Some(chunk) = plain.next().await {
                size += chunk.map_err(integrity)?.len() as u64;
            }
            // Second pass: the bytes.
            let Some(sealed) = self.blobs.get(&blob).await? else {
                continue;
            };
            tar.header(&format!("media/{kind}/{id}"), size).await?;
            let mut sent = 0u64;
            let mut plain = stream::open_stream(key.clone(), aad, sealed);
            while let Some(chunk) = plain.next().await {
                let chunk = chunk.map_err(integrity)?;
                sent += chunk.len() as u64;
                tar.send(chunk).await?;
            }
            if sent != size {
                return Err(VaultError::Integrity {
                    what: format!("media {kind}/{id} changed while it was exported"),
                });
            }
            tar.pad(size).await?;
            summary.media += 1;
        }

        tar.json(
            "consents.json",
            &serde_json::to_value(self.consents(subject).await?).unwrap_or_default(),
        )
        .await?;

        let checkpoint = self.checkpoint().await?;
        let mut events = Vec::new();
        for logged in self.access_log(subject).await? {
            let proof = if logged.index < checkpoint.size {
                self.inclusion_proof(logged.index, checkpoint.size).await?
            } else {
                Vec::new()
            };
            events.push(json!({
                "index": logged.index, "at": logged.at, "event": logged.event,
                "leaf_hash": hex::encode(logged.leaf_hash), "sealed": hex::encode(&logged.sealed),
                "inclusion_proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
            }));
        }
        summary.events = events.len();
        tar.json("audit/events.json", &Value::Array(events)).await?;
        tar.json("manifest.json", &json!({
            "format": "seuil-export-v1",
            "subject": subject,
            "exported_at": self.now(),
            "log_public_key": hex::encode(self.log_public_key().to_bytes()),
            "checkpoint": {
                "size": checkpoint.size, "root": hex::encode(checkpoint.root), "at": checkpoint.at,
                "signature": hex::encode(&checkpoint.signature),
            },
            "summary": { "records": summary.records, "media": summary.media, "events": summary.events },
        }))
        .await?;
        tar.finish().await?;
        summary.bytes = usize::try_from(tar.bytes).unwrap_or(usize::MAX);
        Ok(summary)
    }
}

/// A tar archive written entry by entry into a channel.
struct TarOut<'a> {
    out: &'a tokio::sync::mpsc::Sender<bytes::Bytes>,
    bytes: u64,
}

const BLOCK: u64 = 512;

impl TarOut<'_> {
    async fn send(&mut self, chunk: bytes::Bytes) -> Result<()> {
        self.bytes += chunk.len() as u64;
        self.out
            .send(chunk)
            .await
            .map_err(|_| VaultError::invalid("export", "the download was cancelled"))
    }

    /// The header of an entry of `size` bytes (with the long-name entries tar needs for a
    /// path beyond 100 bytes); its bytes follow, then [`TarOut::pad`].
    async fn header(&mut self, path: &str, size: u64) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o600);
        header.set_cksum();
        let mut builder = tar::Builder::new(Vec::new());
        // No data: only the header (and any long-name entry) is written, with the size set.
        builder
            .append_data(&mut header, path, std::io::empty())
            .map_err(|e| VaultError::invalid("export archive", e.to_string()))?;
        let bytes = std::mem::take(builder.get_mut());
        self.send(bytes.into()).await
    }

    async fn pad(&mut self, size: u64) -> Result<()> {
        let rem = size % BLOCK;
        if rem == 0 {
            return Ok(());
        }
        self.send(vec![0u8; (BLOCK - rem) as usize].into()).await
    }

    async fn json(&mut self, path: &str, value: &Value) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| VaultError::invalid("export", e.to_string()))?;
        let size = bytes.len() as u64;
        self.header(path, size).await?;
        self.send(bytes.into()).await?;
        self.pad(size).await
    }

    /// The end of the archive: two zero blocks.
    async fn finish(&mut self) -> Result<()> {
        self.send(vec![0u8; 2 * BLOCK as usize].into()).await
    }
}
