//! Consent per subject and purpose: granted and withdrawn with one call each, effective at once.

use crate::audit::{AuditEvent, Outcome};
use crate::{Actor, Purpose, Result, Vault, VaultError};
use serde::Serialize;
use seuil_store::{ConsentEntry, Millis};

/// Where a subject stands on one purpose that needs consent.
#[derive(Clone, Debug, Serialize)]
pub struct ConsentState {
    pub purpose: Purpose,
    pub granted: bool,
    /// When the decision in force was made, and which notice it was made on.
    pub at: Option<Millis>,
    pub notice_version: Option<String>,
}

impl Vault {
    pub async fn grant_consent(&self, actor: &Actor, subject: &str, purpose: &str) -> Result<()> {
        self.decide(actor, subject, purpose, true).await
    }

    pub async fn withdraw_consent(
        &self,
        actor: &Actor,
        subject: &str,
        purpose: &str,
    ) -> Result<()> {
        self.decide(actor, subject, purpose, false).await
    }

    /// Every purpose that needs consent, with the subject's decision in force.
    pub async fn consents(&self, subject: &str) -> Result<Vec<ConsentState>> {
        let history = self.store.consent_history(subject).await?;
        Ok(self
            .purposes
            .iter()
            .filter(|p| p.needs_consent())
            .map(|p| {
                let newest = history.iter().rev().find(|e| e.purpose == p.name);
                ConsentState {
                    purpose: p.clone(),
                    granted: newest.is_some_and(|e| e.granted),
                    at: newest.map(|e| e.at),
                    notice_version: newest.map(|e| e.notice_version.clone()),
                }
            })
            .collect())
    }

    /// Whether `subject` consents to `purpose` now (read from the store each time, so a
    /// withdrawal counts from the very next call on every instance).
    pub async fn has_consent(&self, subject: &str, purpose: &str) -> Result<bool> {
        let history = self.store.consent_history(subject).await?;
        Ok(history
            .iter()
            .rev()
            .find(|e| e.purpose == purpose)
            .is_some_and(|e| e.granted))
    }

    async fn decide(
        &self,
        actor: &Actor,
        subject: &str,
        purpose: &str,
        granted: bool,
    ) -> Result<()> {
        let p = self.purposes.get(purpose)?;
        if !p.needs_consent() {
            return Err(VaultError::invalid(
                "consent",
                format!("purpose `{purpose}` rests on {:?}, not on consent", p.basis),
            ));
        }
        // Consent is the subject's own decision; nobody decides it for them.
        if !actor.is_subject(subject) {
            return Err(VaultError::not_found(format!("subject {subject}")));
        }
        let key = self.keys().get(subject).await?;
        self.store
            .add_consent(&ConsentEntry {
                subject: subject.into(),
                purpose: purpose.into(),
                granted,
                notice_version: p.notice_version.clone(),
                at: self.now(),
            })
            .await?;
        let action = if granted {
            "consent.grant"
        } else {
            "consent.withdraw"
        };
        let event = AuditEvent {
            actor: actor.clone(),
            action: action.into(),
            purpose: purpose.into(),
            kind: "consent".into(),
            id: purpose.into(),
            outcome: Outcome::Ok,
        };
        self.audit_with(&key, subject, &event).await?;
        Ok(())
    }
}
