//! What the lock's event log says happened at the door.

use super::{DELIVERY, Delivery, DeliveryError, load, modify};
use crate::alarms::Alarm;
use crate::home::Home;
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
    /// An unlock no visit accounts for: an alarm for the customer, to record on the delivery
    /// whose grant opened the door when there is one (a revoked grant used on a lock that had
    /// not synced yet). The footage before it is pinned; keep what follows too.
    Alarm {
        delivery: Option<Box<Delivery>>,
        alarm: Alarm,
    },
    /// Already known (a lock reports its log again until the server acknowledges it).
    Nothing,
}

/// The delivery of `customer` whose grant is `grant_id`, among those at `steps`.
async fn with_grant(
    vault: &Vault,
    lock: &Actor,
    customer: &str,
    grant_id: &str,
    steps: &[&str],
) -> Result<Option<Delivery>, DeliveryError> {
    let q = Query {
        kind: DELIVERY.into(),
        subject: Some(customer.into()),
        ..Query::default()
    };
    let candidates: Vec<Record> = vault.store().query(&q).await.map_err(VaultError::from)?;
    for rec in candidates.iter().rev() {
        let step = rec.index.status.as_deref().unwrap_or_default();
        if !steps.contains(&step) {
            continue;
        }
        let (d, _) = load(vault, lock, &rec.id).await?;
        if d.grant.as_ref().is_some_and(|g| g.grant_id == grant_id) {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// Applies one event from the lock of `customer`'s home.
pub async fn lock_reported(
    vault: &Vault,
    lock: &Actor,
    customer: &str,
    home: &Home,
    event: LockEvent,
) -> Result<Reported, DeliveryError> {
    let (grant_id, at) = match event {
        LockEvent::Unlocked { grant_id, at }
        | LockEvent::Opened { grant_id, at }
        | LockEvent::Relocked { grant_id, at } => (hex::encode(grant_id), at),
    };
    const OPEN: [&str; 4] = ["arrived", "unlocked", "inside", "relocked"];
    let Some(d) = with_grant(vault, lock, customer, &grant_id, &OPEN).await? else {
        let LockEvent::Unlocked { at, .. } = event else {
            return Ok(Reported::Nothing);
        };
        // A grant no open visit holds opened the door: one revoked (the visit called off,
        // the courier changed) but still accepted by a lock that had not synced since.
        let called_off =
            with_grant(vault, lock, customer, &grant_id, &["aborted", "scheduled"]).await?;
        let alarm = match &called_off {
            Some(_) => Alarm::RevokedGrantUsed { at },
            None => Alarm::UnlockOutsideVisit { at },
        };
        let stream = called_off
            .as_ref()
            .map_or_else(|| home.camera_stream(), |d| d.camera_stream_in(home));
        crate::clips::pin_incident(vault, &stream, customer, at).await?;
        return Ok(Reported::Alarm {
            delivery: called_off.map(Box::new),
            alarm,
        });
    };
    // A grant revoked while the courier stayed at the door (a decline, a change of courier)
    // opened it on a lock that had not synced since: the door is followed as any open door,
    // and the customer alarmed.
    let revoked_used = matches!(event, LockEvent::Unlocked { .. })
        && d.visit.step == Step::Arrived
        && d.grant.as_ref().is_some_and(|g| g.revoked(home));
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
            LockEvent::Relocked { .. } if d.visit.step == Step::Relocked => {
                // The courier said so first; the lock confirms.
                d.visit.finish(at)?;
                true
            }
            LockEvent::Relocked { .. } if d.visit.step.door_open() => {
                d.visit.relocked(at)?;
                d.visit.finish(at)?;
                true
            }
            _ => false,
        })
    })
    .await?;
    if changed && let LockEvent::Unlocked { at, .. } = event {
        // Claimed at the grant already; an instance that buffered meanwhile is caught up.
        crate::clips::claim_recording(vault, &d.camera_stream_in(home), customer, at).await?;
        if revoked_used {
            crate::clips::pin_incident(vault, &d.camera_stream_in(home), customer, at).await?;
            return Ok(Reported::Alarm {
                delivery: Some(Box::new(d)),
                alarm: Alarm::RevokedGrantUsed { at },
            });
        }
    }
    Ok(if changed {
        Reported::Visit(Box::new(d))
    } else {
        Reported::Nothing
    })
}
