//! Export: one archive (tar) holding everything kept about a subject, machine-readable: their
//! records as JSON, their media, their consents, and their audit events with inclusion proofs
//! against a signed checkpoint.

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
    /// Builds the subject's export archive. Only the subject (or an operator acting on their
    /// request) may export; the export itself is audited.
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

        let mut tar = Archive::default();
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
            tar.json(&format!("records/{}/{}.json", rec.kind, rec.id), &doc)?;
            summary.records += 1;
        }

        let prefix = format!("{subject}/");
        for blob in self.blobs.list(&prefix).await? {
            let Some((kind, id)) = blob[prefix.len()..].split_once('/') else {
                continue;
            };
            let Some(sealed) = self.blobs.get(&blob).await? else {
                continue;
            };
            let mut plain =
                stream::open_stream(key.clone(), aead::blob_aad(kind, id, subject), sealed);
            let mut bytes = Vec::new();
            while let Some(chunk) = plain.next().await {
                let chunk = chunk.map_err(|e| VaultError::Integrity {
                    what: format!("media {kind}/{id}: {e}"),
                })?;
                bytes.extend_from_slice(&chunk);
            }
            tar.file(&format!("media/{kind}/{id}"), &bytes)?;
            summary.media += 1;
        }

        tar.json(
            "consents.json",
            &serde_json::to_value(self.consents(subject).await?).unwrap_or_default(),
        )?;

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
        tar.json("audit/events.json", &Value::Array(events))?;
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
        }))?;
        let bytes = tar.finish()?;
        summary.bytes = bytes.len();
        Ok((bytes, summary))
    }
}

/// A tar archive built in memory.
#[derive(Default)]
struct Archive(Vec<(String, Vec<u8>)>);

impl Archive {
    fn json(&mut self, path: &str, value: &Value) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| VaultError::invalid("export", e.to_string()))?;
        self.file(path, &bytes)
    }

    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.0.push((path.to_owned(), bytes.to_vec()));
        Ok(())
    }

    fn finish(self) -> Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in self.0 {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            builder
                .append_data(&mut header, &path, bytes.as_slice())
                .map_err(|e| VaultError::invalid("export archive", e.to_string()))?;
        }
        builder
            .into_inner()
            .map_err(|e| VaultError::invalid("export archive", e.to_string()))
    }
}
