//! The customer's and the courier's steps, and alarms put on record.

use super::{Delivery, DeliveryError, Raised, modify};
use crate::alarms::Alarm;
use crate::grants::Approval;
use crate::visit::Step;
use seuil_vault::{Actor, Vault};

/// The customer approves (or declines) letting the courier in for this order.
pub async fn approve(
    vault: &Vault,
    customer: &str,
    id: &str,
    yes: bool,
) -> Result<Delivery, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    let (d, ()) = modify(vault, &actor, id, |d| {
        if d.visit.step != Step::Scheduled {
            return Err(DeliveryError::Conflict(format!(
                "the visit is already {}; approval can only change before the courier arrives",
                d.visit.step.as_str()
            )));
        }
        d.approval = if yes {
            Approval::ThisOrder
        } else {
            Approval::None
        };
        Ok(())
    })
    .await?;
    Ok(d)
}

/// The courier says they are at the door.
pub async fn arrive(vault: &Vault, courier: &str, id: &str) -> Result<Delivery, DeliveryError> {
    let now = vault.now();
    let (d, ()) = modify(vault, &Actor::Courier(courier.into()), id, |d| {
        d.visit.arrive(now)?;
        Ok(())
    })
    .await?;
    Ok(d)
}

/// The courier says the door is locked again. The lock's own report finishes the visit.
pub async fn courier_relocked(
    vault: &Vault,
    courier: &str,
    id: &str,
) -> Result<Delivery, DeliveryError> {
    let now = vault.now();
    let (d, ()) = modify(vault, &Actor::Courier(courier.into()), id, |d| {
        if d.visit.step == Step::Relocked || d.visit.step == Step::Done {
            return Ok(());
        }
        d.visit.relocked(now)?;
        Ok(())
    })
    .await?;
    Ok(d)
}

/// Records an alarm on the delivery (the watchdog's or the analysis').
///
/// Returns `false` when the same alarm was on record already (several instances may watch
/// one visit: the customer hears of it once).
pub async fn record_alarm(
    vault: &Vault,
    actor: &Actor,
    id: &str,
    alarm: Alarm,
) -> Result<bool, DeliveryError> {
    let at = vault.now();
    let (_, new) = modify(vault, actor, id, |d| {
        if d.alarms.iter().any(|r| r.alarm == alarm) {
            return Ok(false);
        }
        d.alarms.push(Raised { at, alarm });
        Ok(true)
    })
    .await?;
    Ok(new)
}

/// The operator assigns (or reassigns) the courier, before anyone has arrived.
pub async fn assign(
    vault: &Vault,
    operator: &str,
    id: &str,
    courier: &str,
) -> Result<Delivery, DeliveryError> {
    let (d, ()) = modify(vault, &Actor::Operator(operator.into()), id, |d| {
        if d.visit.step != Step::Scheduled {
            return Err(DeliveryError::Conflict(format!(
                "the visit is already {}; the courier can only change before arrival",
                d.visit.step.as_str()
            )));
        }
        d.courier = Some(courier.to_owned());
        Ok(())
    })
    .await?;
    Ok(d)
}

/// Calls the visit off. A courier may only before the door is unlocked (an abort must not
/// silence the watch on an open door); the operator may at any step before done.
pub async fn abort(vault: &Vault, actor: &Actor, id: &str) -> Result<Delivery, DeliveryError> {
    let now = vault.now();
    let courier = matches!(actor, Actor::Courier(_));
    let (d, ()) = modify(vault, actor, id, |d| {
        if courier && !matches!(d.visit.step, Step::Scheduled | Step::Arrived) {
            return Err(DeliveryError::Conflict(format!(
                "the visit is {}: lock the door again (the lock reports it) rather than abort",
                d.visit.step.as_str()
            )));
        }
        d.visit.abort(now)?;
        Ok(())
    })
    .await?;
    Ok(d)
}
