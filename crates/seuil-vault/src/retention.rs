//! Retention rules per kind, and the sweeper that enforces them.

use crate::audit::{AuditEvent, Outcome};
use crate::records::blob_key;
use crate::{Actor, Result, Vault};
use serde::Serialize;
use seuil_store::Millis;
use std::collections::BTreeMap;

const HOUR: Millis = 3_600_000;
/// Every erasure before this time (big-endian millis) has been purged.
const PURGE_WATERMARK: &str = "purge-watermark";
const DAY: Millis = 24 * HOUR;

/// How long records of each kind are kept after their last write. Kinds without a rule are
/// kept until deleted or erased.
#[derive(Clone, Debug)]
pub struct Retention(BTreeMap<String, Millis>);

impl Default for Retention {
    fn default() -> Self {
        Self::none()
            .with("delivery.footage", 72 * HOUR)
            .with("panel.receipt", 365 * DAY)
            .with("walkout.track", 30 * DAY)
            .with("palm.template", 730 * DAY)
    }
}

impl Retention {
    pub fn none() -> Self {
        Self(BTreeMap::new())
    }

    pub fn with(mut self, kind: &str, keep_for: Millis) -> Self {
        self.0.insert(kind.into(), keep_for);
        self
    }

    /// When a record of `kind` written at `now` may be removed.
    pub fn until(&self, kind: &str, now: Millis) -> Option<Millis> {
        self.0.get(kind).map(|keep| now.saturating_add(*keep))
    }

    pub fn rules(&self) -> impl Iterator<Item = (&str, Millis)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// What one sweep removed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SweepReport {
    pub expired_removed: u64,
    pub erased_records_removed: u64,
}

impl Vault {
    /// Removes every record past its retention, with its media, auditing each removal; then
    /// finishes cleaning up after erased subjects.
    pub async fn sweep(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        let actor = Actor::system("retention");
        loop {
            let batch = self.store.expired(self.now(), 500).await?;
            if batch.is_empty() {
                break;
            }
            for key in batch {
                // Media first, as in `Vault::delete`: a crash between leaves the record, which
                // the next sweep finds again.
                self.blobs
                    .delete_prefix(&blob_key(&key.subject, &key.kind, &key.id))
                    .await?;
                self.store.delete(&key.kind, &key.id).await?;
                report.expired_removed += 1;
                // Only kinds under a retention rule hold personal data worth an event; other
                // expiring rows (sessions) just lapse. A shredded subject has no key left to
                // seal an event under, and nothing of theirs is readable anyway.
                if self.retention.until(&key.kind, 0).is_none() {
                    continue;
                }
                let event = AuditEvent {
                    actor: actor.clone(),
                    action: "delete".into(),
                    purpose: "retention".into(),
                    kind: key.kind,
                    id: key.id,
                    outcome: Outcome::Ok,
                };
                if let Ok(data_key) = self.keys().get(&key.subject).await {
                    self.audit_with(&data_key, &key.subject, &event).await?;
                }
            }
        }
        // Erasure purges in the background; this is the backstop for a purge a crash cut
        // short. Entries up to the watermark are known to be clean, so each sweep only looks
        // at erasures since.
        let watermark = match self.store.get_meta(PURGE_WATERMARK).await? {
            Some(bytes) => {
                <[u8; 8]>::try_from(bytes.as_slice()).map_or(Millis::MIN, Millis::from_be_bytes)
            }
            None => Millis::MIN,
        };
        let mut ledger = self.store.shred_ledger().await?;
        ledger.retain(|e| e.at >= watermark);
        ledger.sort_by_key(|e| e.at);
        for entry in &ledger {
            report.erased_records_removed += self.purge_erased(&entry.subject).await?;
        }
        if let Some(last) = ledger.last() {
            self.store
                .set_meta(PURGE_WATERMARK, &last.at.to_be_bytes())
                .await?;
        }
        Ok(report)
    }
}
