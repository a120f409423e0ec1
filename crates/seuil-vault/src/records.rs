//! Sealing, opening and deleting records and blobs: the audited data path.

use crate::aead::{self, DataKey};
use crate::audit::{AuditEvent, Outcome};
use crate::{Actor, Result, Vault, VaultError, stream};
use seuil_store::{IndexFields, Millis, NewRecord, OpenRow, Record};
use zeroize::Zeroizing;

/// A record to seal.
#[derive(Clone, Debug)]
pub struct Write<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub subject: &'a str,
    pub index: IndexFields,
    pub body: &'a [u8],
}

/// An opened record: its index fields and its plaintext body, wiped from memory on drop.
#[derive(Debug)]
pub struct Opened {
    pub kind: String,
    pub id: String,
    pub subject: String,
    pub index: IndexFields,
    pub version: u64,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub retain_until: Option<Millis>,
    pub body: Zeroizing<Vec<u8>>,
}

fn event(
    actor: &Actor,
    action: &str,
    purpose: &str,
    kind: &str,
    id: &str,
    outcome: Outcome,
) -> AuditEvent {
    AuditEvent {
        actor: actor.clone(),
        action: action.into(),
        purpose: purpose.into(),
        kind: kind.into(),
        id: id.into(),
        outcome,
    }
}

impl Vault {
    /// Seals a new record under its subject's key, stores it and audits the write.
    pub async fn seal(&self, actor: &Actor, purpose: &str, w: Write<'_>) -> Result<()> {
        let until = self.retention.until(w.kind, self.now());
        self.seal_until(actor, purpose, w, until).await
    }

    /// [`Vault::seal`], kept until `retain_until` instead of its kind's rule (footage buffered
    /// before anyone knows whether a visit will claim it).
    pub async fn seal_until(
        &self,
        actor: &Actor,
        purpose: &str,
        w: Write<'_>,
        retain_until: Option<Millis>,
    ) -> Result<()> {
        let key = self.authorize_write(actor, purpose, w.subject).await?;
        let mut rec = self.sealed_record(&key, &w, 1, self.now())?;
        rec.retain_until = retain_until;
        self.store.insert(&rec).await?;
        self.audit_with(
            &key,
            w.subject,
            &event(actor, "seal", purpose, w.kind, w.id, Outcome::Ok),
        )
        .await?;
        Ok(())
    }

    /// Replaces a record's body and index fields if it is still at `expected_version`;
    /// returns the new version. Another writer in between makes this fail, not overwrite.
    pub async fn update(
        &self,
        actor: &Actor,
        purpose: &str,
        w: Write<'_>,
        expected_version: u64,
    ) -> Result<u64> {
        let key = self.authorize_write(actor, purpose, w.subject).await?;
        match self.store.get(w.kind, w.id).await? {
            Some(r) if r.subject == w.subject => {}
            _ => return Err(VaultError::not_found(format!("{} {}", w.kind, w.id))),
        }
        let rec = self.sealed_record(&key, &w, expected_version + 1, self.now())?;
        let version = self.store.update(&rec, expected_version).await?;
        self.audit_with(
            &key,
            w.subject,
            &event(actor, "update", purpose, w.kind, w.id, Outcome::Ok),
        )
        .await?;
        Ok(version)
    }

    /// Opens a record for `purpose`. A subject only ever reaches their own records: anyone
    /// else's look exactly like missing ones. Consent is checked for everyone else, and the
    /// access is durably audited before the body is returned.
    pub async fn open(&self, actor: &Actor, purpose: &str, kind: &str, id: &str) -> Result<Opened> {
        let purpose_def = self.purposes.get(purpose)?;
        let missing = || VaultError::not_found(format!("{kind} {id}"));
        let OpenRow {
            mut record,
            wrapped_key,
            consent,
        } = self
            .store
            .get_for_open(kind, id, purpose_def.needs_consent().then_some(purpose))
            .await?
            .ok_or_else(missing)?;
        if matches!(actor, Actor::Subject(s) if *s != record.subject) {
            return Err(missing());
        }
        let key = self.keys().unwrap_key(&wrapped_key.ok_or_else(missing)?)?;
        let subject = record.subject.clone();
        if purpose_def.needs_consent() && !actor.is_subject(&subject) && consent != Some(true) {
            self.audit_with(
                &key,
                &subject,
                &event(actor, "open", purpose, kind, id, Outcome::Denied),
            )
            .await?;
            return Err(VaultError::ConsentRequired {
                purpose: purpose.into(),
            });
        }
        let aad = aead::record_aad(kind, id, &subject, record.version);
        match aead::open_owned(&key, &aad, std::mem::take(&mut record.body)) {
            Ok(body) => {
                self.audit_with(
                    &key,
                    &subject,
                    &event(actor, "open", purpose, kind, id, Outcome::Ok),
                )
                .await?;
                Ok(opened(record, body))
            }
            Err(_) => {
                self.audit_with(
                    &key,
                    &subject,
                    &event(actor, "open", purpose, kind, id, Outcome::IntegrityError),
                )
                .await?;
                Err(VaultError::Integrity {
                    what: format!("{kind} {id}"),
                })
            }
        }
    }

    /// Puts on record, in the subject's log, that `actor` asked for a record of theirs and was
    /// refused before anything was opened (not theirs to see, not assigned to them).
    pub async fn refused(
        &self,
        actor: &Actor,
        purpose: &str,
        subject: &str,
        kind: &str,
        id: &str,
    ) -> Result<()> {
        // An erased subject has no key left to seal the event under, nor data to protect.
        let Ok(key) = self.keys().get(subject).await else {
            return Ok(());
        };
        self.audit_with(
            &key,
            subject,
            &event(actor, "open", purpose, kind, id, Outcome::Refused),
        )
        .await?;
        Ok(())
    }

    /// Opens every record of a query (each one checked and audited like [`Vault::open`]).
    /// Records the actor may not see are left out.
    pub async fn open_all(
        &self,
        actor: &Actor,
        purpose: &str,
        q: &seuil_store::Query,
    ) -> Result<Vec<Opened>> {
        let mut out = Vec::new();
        for rec in self.store.query(q).await? {
            match self.open(actor, purpose, &rec.kind, &rec.id).await {
                Ok(o) => out.push(o),
                Err(VaultError::NotFound { .. } | VaultError::ConsentRequired { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Deletes a record the actor may reach, media first; audited.
    ///
    /// Media goes before its record (and is written after it, see [`Vault::seal_blob`]), so a
    /// crash part way leaves a record that deleting again finishes, never sealed media that
    /// nothing can find.
    pub async fn delete(&self, actor: &Actor, purpose: &str, kind: &str, id: &str) -> Result<()> {
        self.purposes.get(purpose)?;
        let missing = || VaultError::not_found(format!("{kind} {id}"));
        let rec = self.store.get(kind, id).await?.ok_or_else(missing)?;
        if matches!(actor, Actor::Subject(s) if *s != rec.subject) {
            return Err(missing());
        }
        self.blobs
            .delete_prefix(&blob_key(&rec.subject, kind, id))
            .await?;
        self.store.delete(kind, id).await?;
        if let Ok(key) = self.keys().get(&rec.subject).await {
            self.audit_with(
                &key,
                &rec.subject,
                &event(actor, "delete", purpose, kind, id, Outcome::Ok),
            )
            .await?;
        }
        Ok(())
    }

    /// Keeps a record past its retention rule (a disputed delivery, a pinned clip) or, with
    /// `false`, lets the rule apply again from now.
    pub async fn pin(&self, actor: &Actor, kind: &str, id: &str, pinned: bool) -> Result<()> {
        let missing = || VaultError::not_found(format!("{kind} {id}"));
        let rec = self.store.get(kind, id).await?.ok_or_else(missing)?;
        if matches!(actor, Actor::Subject(s) if *s != rec.subject) {
            return Err(missing());
        }
        let retain_until = if pinned {
            None
        } else {
            self.retention.until(kind, self.now())
        };
        // Only the retention column changes, so the sealed body and its version stay valid.
        self.store.set_retention(kind, id, retain_until).await?;
        Ok(())
    }

    // ---- blobs ------------------------------------------------------------------------

    /// Seals a stream under the subject's key (chunked AEAD) as the blob of `(kind, id)`.
    /// Returns the number of sealed bytes stored.
    ///
    /// Write the record `(kind, id)` first: media without its record is what
    /// [`Vault::sweep_orphan_media`] removes.
    pub async fn seal_blob(
        &self,
        actor: &Actor,
        purpose: &str,
        subject: &str,
        kind: &str,
        id: &str,
        body: futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>,
    ) -> Result<u64> {
        let key = self.authorize_write(actor, purpose, subject).await?;
        let aad = aead::blob_aad(kind, id, subject);
        let sealed = stream::seal_stream(key.clone(), aad, body, &mut *self.rng());
        let n = self.blobs.put(&blob_key(subject, kind, id), sealed).await?;
        self.audit_with(
            &key,
            subject,
            &event(actor, "seal", purpose, kind, id, Outcome::Ok),
        )
        .await?;
        Ok(n)
    }

    /// Opens the blob of `(kind, id)` as a plaintext stream; audited like [`Vault::open`].
    pub async fn open_blob(
        &self,
        actor: &Actor,
        purpose: &str,
        subject: &str,
        kind: &str,
        id: &str,
    ) -> Result<futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>> {
        let purpose_def = self.purposes.get(purpose)?;
        let missing = || VaultError::not_found(format!("{kind} {id} media"));
        if matches!(actor, Actor::Subject(s) if s != subject) {
            return Err(missing());
        }
        let key = self.keys().get(subject).await.map_err(|_| missing())?;
        if purpose_def.needs_consent()
            && !actor.is_subject(subject)
            && !self.has_consent(subject, purpose).await?
        {
            self.audit_with(
                &key,
                subject,
                &event(actor, "open", purpose, kind, id, Outcome::Denied),
            )
            .await?;
            return Err(VaultError::ConsentRequired {
                purpose: purpose.into(),
            });
        }
        let sealed = self
            .blobs
            .get(&blob_key(subject, kind, id))
            .await?
            .ok_or_else(missing)?;
        self.audit_with(
            &key,
            subject,
            &event(actor, "open", purpose, kind, id, Outcome::Ok),
        )
        .await?;
        Ok(stream::open_stream(
            key,
            aead::blob_aad(kind, id, subject),
            sealed,
        ))
    }

    /// Removes sealed media that no record accounts for; returns how many blobs went. Media is
    /// written after its record and deleted before it, so such media is what a crash left
    /// behind (or a version that wrote media first): nothing else would ever find it.
    pub async fn sweep_orphan_media(&self) -> Result<u64> {
        let mut removed = 0;
        for key in self.blobs.list("").await? {
            let mut parts = key.splitn(3, '/');
            let (Some(subject), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if matches!(self.store.get(kind, id).await?, Some(r) if r.subject == subject) {
                continue;
            }
            if self.blobs.delete(&key).await? {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed sealed media that no record accounts for");
        }
        Ok(removed)
    }

    // ---- helpers ----------------------------------------------------------------------

    /// The subject's key, once the actor is known to be allowed to write for `purpose`.
    async fn authorize_write(
        &self,
        actor: &Actor,
        purpose: &str,
        subject: &str,
    ) -> Result<DataKey> {
        let purpose_def = self.purposes.get(purpose)?;
        if matches!(actor, Actor::Subject(s) if s != subject) {
            return Err(VaultError::not_found(format!("subject {subject}")));
        }
        let key = self.keys().get(subject).await?;
        if purpose_def.needs_consent()
            && !actor.is_subject(subject)
            && !self.has_consent(subject, purpose).await?
        {
            return Err(VaultError::ConsentRequired {
                purpose: purpose.into(),
            });
        }
        Ok(key)
    }

    fn sealed_record(
        &self,
        key: &DataKey,
        w: &Write<'_>,
        version: u64,
        now: Millis,
    ) -> Result<NewRecord> {
        let aad = aead::record_aad(w.kind, w.id, w.subject, version);
        let body = aead::seal(key, &aad, w.body, &mut *self.rng())
            .map_err(|e| VaultError::invalid(format!("{} {}", w.kind, w.id), e.to_string()))?;
        Ok(NewRecord {
            kind: w.kind.into(),
            id: w.id.into(),
            subject: w.subject.into(),
            index: w.index.clone(),
            body,
            retain_until: self.retention.until(w.kind, now),
        })
    }
}

/// Where a record's blob lives: under its subject, so erasure can remove a subject's prefix.
pub(crate) fn blob_key(subject: &str, kind: &str, id: &str) -> String {
    format!("{subject}/{kind}/{id}")
}

fn opened(r: Record, body: Zeroizing<Vec<u8>>) -> Opened {
    Opened {
        kind: r.kind,
        id: r.id,
        subject: r.subject,
        index: r.index,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        retain_until: r.retain_until,
        body,
    }
}

impl Vault {
    /// Seals bytes that live outside a record (a queued notification's payload), bound to the
    /// subject and a context label. Not audited: nothing is read.
    pub async fn seal_detached(
        &self,
        subject: &str,
        context: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let key = self.keys().get(subject).await?;
        aead::seal(
            &key,
            &aead::record_aad("detached", context, subject, 0),
            plaintext,
            &mut *self.rng(),
        )
        .map_err(|e| VaultError::invalid(context.to_owned(), e.to_string()))
    }

    /// Opens what [`Vault::seal_detached`] sealed, for `purpose`; audited like [`Vault::open`].
    pub async fn open_detached(
        &self,
        actor: &Actor,
        purpose: &str,
        subject: &str,
        context: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.purposes.get(purpose)?;
        let missing = || VaultError::not_found(format!("{context} of subject {subject}"));
        if matches!(actor, Actor::Subject(s) if s != subject) {
            return Err(missing());
        }
        let key = self.keys().get(subject).await.map_err(|_| missing())?;
        let (outcome, result) = match aead::open(
            &key,
            &aead::record_aad("detached", context, subject, 0),
            sealed,
        ) {
            Ok(plain) => (Outcome::Ok, Ok(plain)),
            Err(_) => (
                Outcome::IntegrityError,
                Err(VaultError::Integrity {
                    what: context.to_owned(),
                }),
            ),
        };
        self.audit_with(
            &key,
            subject,
            &event(actor, "open", purpose, "detached", context, outcome),
        )
        .await?;
        result
    }
}
