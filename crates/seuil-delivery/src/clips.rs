//! A visit's footage: claimed at the grant, read by the customer, pinned, deleted, disputed,
//! shown to an operator only inside a dispute, and checked for tampering.
//!
//! The footage of a visit is the camera's segments from 30 s before the first grant to 30 s
//! after the relock. Segments arrive before anyone knows a visit will start, so they are kept
//! as a 30 s buffer ([`crate::camera::Keep::Until`]); the grant claims the buffered 30 s for
//! the visit, which puts them under the 72-hour rule. An unlock that matches no visit pins
//! the footage around it instead. Footage is only ever opened to show it to the customer, to
//! an operator in a dispute, or to look for tampering: there is no other reader.
//!
//! While a dispute is open the footage is on hold: it cannot be deleted or unpinned until the
//! customer withdraws the dispute.

use crate::camera::{FOOTAGE, PURPOSE as VIDEO};
use crate::deliveries::{self, DISPUTE_PURPOSE, Delivery, DeliveryError};
use crate::footage::{self, Event};
use crate::home;
use crate::visit::RECORDING_MARGIN_MS;
use futures_util::TryStreamExt;
use seuil_store::{Query, Record};
use seuil_vault::{Actor, Vault, VaultError};

/// The footage of camera `stream` from the margin before `at` on.
async fn buffered_since(
    vault: &Vault,
    stream: &str,
    customer: &str,
    at: i64,
) -> Result<Vec<Record>, DeliveryError> {
    let q = Query {
        kind: FOOTAGE.into(),
        subject: Some(customer.into()),
        scope: Some(stream.into()),
        at_from: Some(at - RECORDING_MARGIN_MS - 1_000),
        ..Query::default()
    };
    Ok(vault.store().query(&q).await.map_err(VaultError::from)?)
}

/// Puts the footage of camera `stream` buffered before a grant (or unlock) at `at` under the
/// footage retention rule.
pub async fn claim_recording(
    vault: &Vault,
    stream: &str,
    customer: &str,
    at: i64,
) -> Result<(), DeliveryError> {
    let actor = Actor::system("recording");
    for rec in buffered_since(vault, stream, customer, at).await? {
        // Footage pinned already (an incident) stays pinned.
        if rec.retain_until.is_some() {
            vault.pin(&actor, FOOTAGE, &rec.id, false).await?;
        }
    }
    Ok(())
}

/// Keeps the footage of camera `stream` from the margin before an unexplained unlock at `at`
/// until the customer deletes it.
pub async fn pin_incident(
    vault: &Vault,
    stream: &str,
    customer: &str,
    at: i64,
) -> Result<(), DeliveryError> {
    let actor = Actor::system("recording");
    for rec in buffered_since(vault, stream, customer, at).await? {
        vault.pin(&actor, FOOTAGE, &rec.id, true).await?;
    }
    Ok(())
}

async fn segments(
    vault: &Vault,
    actor: &Actor,
    d: &Delivery,
) -> Result<Vec<Record>, DeliveryError> {
    let Some((h, _)) = home::load(vault, actor, &d.customer).await? else {
        return Ok(Vec::new());
    };
    deliveries::visit_segments(vault, &h, d).await
}

/// The visit's footage as one raw H.264 stream (each segment starts with its parameter
/// sets, so the concatenation decodes as it is). Every segment read is audited.
async fn read(
    vault: &Vault,
    actor: &Actor,
    purpose: &str,
    d: &Delivery,
) -> Result<Vec<u8>, DeliveryError> {
    let mut out = Vec::new();
    for rec in segments(vault, actor, d).await? {
        let body = match vault
            .open_blob(actor, purpose, &d.customer, FOOTAGE, &rec.id)
            .await
        {
            Ok(body) => body,
            // A segment's record is written before its footage: this one is still arriving
            // (or being deleted).
            Err(VaultError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let chunks: Vec<bytes::Bytes> = body
            .try_collect()
            .await
            .map_err(|e| DeliveryError::Corrupt(format!("footage {}: {e}", rec.id)))?;
        for c in chunks {
            out.extend_from_slice(&c);
        }
    }
    Ok(out)
}

/// The customer watches their visit.
pub async fn customer_clip(
    vault: &Vault,
    customer: &str,
    id: &str,
) -> Result<Vec<u8>, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    let (d, _) = deliveries::load(vault, &actor, id).await?;
    read(vault, &actor, VIDEO, &d).await
}

/// An operator watches a visit, only inside a dispute the customer opened.
pub async fn operator_clip(
    vault: &Vault,
    operator: &str,
    id: &str,
) -> Result<Vec<u8>, DeliveryError> {
    let actor = Actor::Operator(operator.into());
    let (d, _) = deliveries::load(vault, &actor, id).await?;
    if d.clip.disputed_at.is_none() {
        return Err(DeliveryError::Forbidden(
            "footage is shown to an operator only inside a dispute the customer opened".into(),
        ));
    }
    read(vault, &actor, DISPUTE_PURPOSE, &d).await
}

async fn pin_all(
    vault: &Vault,
    actor: &Actor,
    d: &Delivery,
    pinned: bool,
) -> Result<(), DeliveryError> {
    for rec in segments(vault, actor, d).await? {
        vault.pin(actor, FOOTAGE, &rec.id, pinned).await?;
    }
    Ok(())
}

/// Keeps the footage past 72 hours, or lets the rule apply again from now.
pub async fn pin(
    vault: &Vault,
    customer: &str,
    id: &str,
    pinned: bool,
) -> Result<Delivery, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    let (d, ()) = deliveries::modify(vault, &actor, id, |d| {
        if !pinned && d.clip.disputed_at.is_some() {
            return Err(DeliveryError::Conflict(
                "the footage of a disputed visit stays kept until the dispute is closed".into(),
            ));
        }
        d.clip.pinned = pinned;
        Ok(())
    })
    .await?;
    pin_all(vault, &actor, &d, pinned).await?;
    Ok(d)
}

/// Opens a dispute: the footage is kept, and an operator may now view it (audited).
pub async fn dispute(vault: &Vault, customer: &str, id: &str) -> Result<Delivery, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    let now = vault.now();
    let (d, ()) = deliveries::modify(vault, &actor, id, |d| {
        if d.clip.deleted_at.is_some() {
            return Err(DeliveryError::Conflict(
                "the footage of this visit was deleted".into(),
            ));
        }
        d.clip.disputed_at.get_or_insert(now);
        Ok(())
    })
    .await?;
    pin_all(vault, &actor, &d, true).await?;
    Ok(d)
}

/// Withdraws the customer's dispute: operators may no longer view the footage, and it may be
/// deleted or unpinned again. It stays pinned until the customer says otherwise.
pub async fn withdraw_dispute(
    vault: &Vault,
    customer: &str,
    id: &str,
) -> Result<Delivery, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    let (d, ()) = deliveries::modify(vault, &actor, id, |d| {
        if d.clip.disputed_at.is_none() {
            return Err(DeliveryError::Conflict(
                "there is no open dispute on this visit".into(),
            ));
        }
        d.clip.disputed_at = None;
        Ok(())
    })
    .await?;
    Ok(d)
}

/// Deletes the visit's footage for good (records and sealed media). Refused while a dispute
/// is open: the footage is on hold until the customer withdraws it.
///
/// The deletion is put on the delivery first, so a dispute opened meanwhile is refused
/// rather than left holding nothing; deleting again finishes a deletion a crash cut short.
pub async fn delete(vault: &Vault, customer: &str, id: &str) -> Result<Delivery, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    let now = vault.now();
    let (d, ()) = deliveries::modify(vault, &actor, id, |d| {
        if d.clip.disputed_at.is_some() {
            return Err(DeliveryError::Conflict(
                "the footage of a disputed visit is on hold: withdraw the dispute first, then \
                 delete"
                    .into(),
            ));
        }
        d.clip.deleted_at.get_or_insert(now);
        d.clip.pinned = false;
        Ok(())
    })
    .await?;
    for rec in segments(vault, &actor, &d).await? {
        match vault.delete(&actor, VIDEO, FOOTAGE, &rec.id).await {
            Ok(()) | Err(VaultError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(d)
}

/// The visit's footage for the tamper analysis, and how many seconds it spans.
pub async fn for_analysis(vault: &Vault, id: &str) -> Result<(Vec<u8>, f64), DeliveryError> {
    let actor = analysis();
    let (d, _) = deliveries::load(vault, &actor, id).await?;
    if d.clip.deleted_at.is_some() {
        return Ok((Vec::new(), 0.0));
    }
    let recs = segments(vault, &actor, &d).await?;
    let span = match (recs.first(), recs.last()) {
        (Some(a), Some(b)) => b.index.at.unwrap_or(0) - a.index.at.unwrap_or(0) + 1_000,
        _ => 0,
    };
    Ok((read(vault, &actor, VIDEO, &d).await?, span as f64 / 1000.0))
}

fn analysis() -> Actor {
    Actor::system("tamper-analysis")
}

/// Looks for tampering in a visit's footage (CPU-bound: run it off the async threads).
pub fn find_tampering(h264: &[u8], seconds: f64) -> Result<Vec<Event>, DeliveryError> {
    if h264.is_empty() || seconds <= 0.0 {
        return Ok(Vec::new());
    }
    let fps = (footage::count_pictures(h264) as f64 / seconds).clamp(1.0, 120.0);
    footage::analyze_h264(h264, fps)
        .map(|report| report.events)
        .map_err(|e| DeliveryError::Corrupt(format!("the visit's footage: {e}")))
}

/// Records what the analysis found on the delivery.
pub async fn record_tampering(
    vault: &Vault,
    id: &str,
    events: &[Event],
) -> Result<Delivery, DeliveryError> {
    let (d, ()) = deliveries::modify(vault, &analysis(), id, |d| {
        d.tamper = events.to_vec();
        d.clip.analysed = true;
        Ok(())
    })
    .await?;
    Ok(d)
}
