//! Erasure: shred the subject's key first (everything sealed under it becomes unreadable at
//! once), then remove their records and media in the background, and hand them a signed
//! certificate that ties the erasure to a checkpoint of the audit log.

use crate::audit::{AuditEvent, Outcome};
use crate::keys::SYSTEM_PREFIX;
use crate::{Actor, Result, Vault, VaultError};
use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use seuil_store::Millis;

/// Signed proof that a subject's key was destroyed, referencing the audit checkpoint that was
/// current right after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureCertificate {
    pub subject: String,
    pub shredded_at: Millis,
    pub checkpoint_size: u64,
    #[serde(with = "hex::serde")]
    pub checkpoint_root: [u8; 32],
    #[serde(with = "hex::serde")]
    pub log_public_key: [u8; 32],
    #[serde(with = "hex::serde")]
    pub signature: Vec<u8>,
}

impl ErasureCertificate {
    /// The bytes the signature covers.
    pub fn message(&self) -> Vec<u8> {
        let mut out = b"seuil.erasure.v1\n".to_vec();
        out.extend_from_slice(&(self.subject.len() as u32).to_be_bytes());
        out.extend_from_slice(self.subject.as_bytes());
        out.extend_from_slice(&self.shredded_at.to_be_bytes());
        out.extend_from_slice(&self.checkpoint_size.to_be_bytes());
        out.extend_from_slice(&self.checkpoint_root);
        out
    }

    /// Checks the signature against the key the certificate names. Compare that key with the
    /// log key the operator publishes.
    pub fn verify(&self) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.log_public_key) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&self.signature) else {
            return false;
        };
        key.verify(&self.message(), &sig).is_ok()
    }
}

fn certificate_meta(subject: &str) -> String {
    format!("erasure-certificate:{subject}")
}

impl Vault {
    /// Erases a subject: audits the request, shreds their key durably and returns the signed
    /// certificate. Call [`Vault::purge_erased`] afterwards (in the background) to remove the
    /// now unreadable records; the sweeper does it too.
    pub async fn erase(&self, actor: &Actor, subject: &str) -> Result<ErasureCertificate> {
        if subject.starts_with(SYSTEM_PREFIX) {
            return Err(VaultError::invalid(
                "subject",
                "system keys cannot be erased",
            ));
        }
        if let Actor::Subject(s) = actor
            && s != subject
        {
            return Err(VaultError::not_found(format!("subject {subject}")));
        }
        if let Some(cert) = self.erasure_certificate(subject).await? {
            // An earlier attempt certified but may not have got to the shred: finish it.
            self.store.shred_key(subject, cert.shredded_at).await?;
            self.key_cache.forget(subject);
            return Ok(cert);
        }
        let key = self.keys().get(subject).await?;
        let event = AuditEvent {
            actor: actor.clone(),
            action: "erase".into(),
            purpose: "account".into(),
            kind: "subject".into(),
            id: subject.into(),
            outcome: Outcome::Ok,
        };
        self.audit_with(&key, subject, &event).await?;
        drop(key);
        // Certify first, shred last: the shred is the step that cannot be undone, and the
        // store scrubs its log right after it, which later writes of this call would wait for.
        let cp = self.checkpoint().await?;
        let mut cert = ErasureCertificate {
            subject: subject.into(),
            shredded_at: self.now(),
            checkpoint_size: cp.size,
            checkpoint_root: cp.root,
            log_public_key: self.log_public_key().to_bytes(),
            signature: Vec::new(),
        };
        cert.signature = self.log_key.sign(&cert.message()).to_bytes().to_vec();
        let json = serde_json::to_vec(&cert)
            .map_err(|e| VaultError::invalid("certificate", e.to_string()))?;
        self.store
            .set_meta(&certificate_meta(subject), &json)
            .await?;
        self.store.shred_key(subject, cert.shredded_at).await?;
        self.key_cache.forget(subject);
        Ok(cert)
    }

    /// The certificate of an erased subject, if they were erased.
    pub async fn erasure_certificate(&self, subject: &str) -> Result<Option<ErasureCertificate>> {
        let Some(json) = self.store.get_meta(&certificate_meta(subject)).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| VaultError::invalid("stored erasure certificate", e.to_string()))
    }

    /// Removes what is left of a shredded subject: records, consents, queued notifications and
    /// media. Refuses subjects whose key still exists. Returns how many records went.
    pub async fn purge_erased(&self, subject: &str) -> Result<u64> {
        if self.store.get_key(subject).await?.is_some() {
            return Err(VaultError::invalid(
                "purge",
                format!("subject {subject} is not erased"),
            ));
        }
        let n = self.store.delete_subject_records(subject).await?;
        self.store.delete_subject_consents(subject).await?;
        self.store.delete_subject_outbox(subject).await?;
        self.blobs.delete_prefix(&format!("{subject}/")).await?;
        Ok(n)
    }
}
