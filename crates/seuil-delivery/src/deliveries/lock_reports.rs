//! What the lock's event log says happened at the door.

use super::{DELIVERY, Delivery, DeliveryError, load, modify};
use crate::alarms::{Alarm, unlock_reported};
use crate::visit::Step;
use seuil_store::{Query, Record};
use seuil_vault::{Actor, Vault, VaultError};

/// What a lock reports from its event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockEvent {
    Unlocked {
        grant_id: [u8; 16],
        at: i64,
    },
    /// The door sensor saw the door open during the visit: the courier went in.
    Opened {
        grant_id: [u8; 16],
        at: i64,
    },
    Relocked {
        grant_id: [u8; 16],
        at: i64,
    },
}

/// What a lock's report changed.
#[derive(Clone, Debug, PartialEq)]
pub enum Reported {
    /// The visit of this delivery moved on.
    Visit(Box<Delivery>),
    /// An unlock no visit accounts for: an alarm for the customer.
    Alarm(Alarm),
    /// Already known (a lock reports its log again until the server acknowledges it).
    Nothing,
}

/// Applies one event from the lock of `customer`'s home.
pub async fn lock_reported(
    vault: &Vault,
    lock: &Actor,
    customer: &str,
    event: LockEvent,
) -> Result<Reported, DeliveryError> {
    let (grant_id, at) = match event {
        LockEvent::Unlocked { grant_id, at }
        | LockEvent::Opened { grant_id, at }
        | LockEvent::Relocked { grant_id, at } => (hex::encode(grant_id), at),
    };
    let q = Query {
        kind: DELIVERY.into(),
        subject: Some(customer.into()),
        ..Query::default()
    };
    let candidates: Vec<Record> = vault.store().query(&q).await.map_err(VaultError::from)?;
    let mut found = None;
    for rec in candidates.iter().rev() {
        let step = rec.index.status.as_deref().unwrap_or_default();
        if matches!(step, "done" | "aborted" | "scheduled") {
            continue;
        }
        let (d, _) = load(vault, lock, &rec.id).await?;
        if d.grant.as_ref().is_some_and(|g| g.grant_id == grant_id) {
            found = Some(d);
            break;
        }
    }
    let Some(d) = found else {
        return Ok(match event {
            LockEvent::Unlocked { at, .. } => unlock_reported(None, at)
                .map(Reported::Alarm)
                .unwrap_or(Reported::Nothing),
            LockEvent::Opened { .. } | LockEvent::Relocked { .. } => Reported::Nothing,
        });
    };
    let (d, changed) = modify(vault, lock, &d.id, |d| {
        Ok(match event {
            LockEvent::Unlocked { .. } if d.visit.step == Step::Arrived => {
                d.visit.unlocked(at)?;
                true
            }
            LockEvent::Opened { .. } if d.visit.step == Step::Unlocked => {
                d.visit.entered()?;
                true
            }
            LockEvent::Relocked { .. } if d.visit.step.door_open() => {
                d.visit.relocked(at)?;
                d.visit.finish(at)?;
                true
            }
            LockEvent::Relocked { .. } if d.visit.step == Step::Relocked => {
                // The courier said so first; the lock confirms.
                d.visit.finish(at)?;
                true
            }
            _ => false,
        })
    })
    .await?;
    if changed && let LockEvent::Unlocked { at, .. } = event {
        crate::clips::claim_recording(vault, customer, at).await?;
    }
    Ok(if changed {
        Reported::Visit(Box::new(d))
    } else {
        Reported::Nothing
    })
}
