//! The customer's and the courier's steps, the operator's changes, and alarms put on record.
//!
//! Whatever takes a courier's grant away (a decline, a reassignment, an abort, a withdrawn
//! standing approval) revokes that grant if it may still open the lock: the home's epoch
//! rises above the grant's, and the lock refuses it from its next sync. Until then the
//! revocation is pending, and the delivery says so.

use super::{Delivery, DeliveryError, Raised, for_customer, modify};
use crate::alarms::Alarm;
use crate::grants::Approval;
use crate::home::{self, Home};
use crate::visit::Step;
use seuil_vault::{Actor, Vault};

/// The home of `customer`, as `actor` reads it.
async fn home_of(vault: &Vault, actor: &Actor, customer: &str) -> Result<Home, DeliveryError> {
    Ok(home::load(vault, actor, customer)
        .await?
        .ok_or(DeliveryError::NoHome)?
        .0)
}

/// Raises the home's epoch, so every grant issued so far stops opening the lock at its next
/// sync. Always above the current epoch, not just above one grant's: a grant issued at the
/// same moment, or one from before epochs were kept, is caught too.
pub(super) async fn raise_epoch(
    vault: &Vault,
    actor: &Actor,
    customer: &str,
) -> Result<Home, DeliveryError> {
    home::update(vault, actor, customer, |h| {
        h.epoch = h.epoch.saturating_add(1)
    })
    .await
}

/// Applies `change` to the delivery; if it says the grant goes, revokes it.
///
/// The epoch is raised before the delivery is marked: a crash between the two leaves a grant
/// the lock will refuse, never one marked revoked that still opens the door.
async fn change_revoking(
    vault: &Vault,
    actor: &Actor,
    id: &str,
    mut change: impl FnMut(&mut Delivery) -> Result<bool, DeliveryError>,
) -> Result<Delivery, DeliveryError> {
    let now = vault.now();
    // The home is read first: whether the lock still accepts the grant depends on it.
    let (current, _) = super::load(vault, actor, id).await?;
    let home = home_of(vault, actor, &current.customer).await?;
    let mut probe = current.clone();
    if change(&mut probe).unwrap_or(false) && current.live_grant(&home, now).is_some() {
        raise_epoch(vault, actor, &current.customer).await?;
    }
    let (d, ()) = modify(vault, actor, id, |d| {
        if change(d)? {
            d.revoke_grant(&home, now);
        }
        Ok(())
    })
    .await?;
    Ok(d)
}

/// The customer approves (or declines) letting the courier in for this order. Until the
/// door is unlocked they may change their mind; a decline revokes a grant already issued.
pub async fn approve(
    vault: &Vault,
    customer: &str,
    id: &str,
    yes: bool,
) -> Result<Delivery, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    change_revoking(vault, &actor, id, |d| {
        if !matches!(d.visit.step, Step::Scheduled | Step::Arrived) {
            return Err(DeliveryError::Conflict(format!(
                "the visit is already {}; approval can only change before the door is unlocked",
                d.visit.step.as_str()
            )));
        }
        d.approval = if yes {
            Approval::ThisOrder
        } else {
            Approval::Declined
        };
        Ok(!yes)
    })
    .await
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

/// The operator assigns (or reassigns) the courier, before the door is unlocked. A courier
/// already at the door loses the visit: it waits for the new one's arrival, and a grant
/// already issued is revoked.
pub async fn assign(
    vault: &Vault,
    operator: &str,
    id: &str,
    courier: &str,
) -> Result<Delivery, DeliveryError> {
    change_revoking(vault, &Actor::Operator(operator.into()), id, |d| {
        if !matches!(d.visit.step, Step::Scheduled | Step::Arrived) {
            return Err(DeliveryError::Conflict(format!(
                "the visit is already {}; the courier can only change before the door is unlocked",
                d.visit.step.as_str()
            )));
        }
        if d.courier.as_deref() == Some(courier) {
            return Ok(false);
        }
        d.courier = Some(courier.to_owned());
        d.visit.reassigned()?;
        Ok(true)
    })
    .await
}

/// Calls the visit off, revoking its grant. Nobody may while the door is open (that would
/// stop the watch on an open door: the lock's relock report ends the visit); a courier only
/// before the door is unlocked.
pub async fn abort(vault: &Vault, actor: &Actor, id: &str) -> Result<Delivery, DeliveryError> {
    let now = vault.now();
    let courier = matches!(actor, Actor::Courier(_));
    change_revoking(vault, actor, id, |d| {
        let open = d.visit.step.door_open();
        if open || (courier && !matches!(d.visit.step, Step::Scheduled | Step::Arrived)) {
            return Err(DeliveryError::Conflict(format!(
                "the visit is {}: {}",
                d.visit.step.as_str(),
                if open {
                    "the door is open; it ends when the lock reports the relock"
                } else {
                    "the lock reports the relock; there is nothing to call off"
                }
            )));
        }
        d.visit.abort(now)?;
        Ok(true)
    })
    .await
}

/// Revokes every grant of `customer`'s deliveries that may still open the lock and that
/// `which` picks, as `actor`; returns the deliveries whose grant was revoked.
pub async fn revoke_live_grants(
    vault: &Vault,
    actor: &Actor,
    customer: &str,
    which: impl Fn(&Delivery) -> bool,
) -> Result<Vec<Delivery>, DeliveryError> {
    let now = vault.now();
    let home = home_of(vault, actor, customer).await?;
    let live: Vec<Delivery> = for_customer(vault, customer)
        .await?
        .into_iter()
        .filter(|d| d.live_grant(&home, now).is_some() && which(d))
        .collect();
    if live.is_empty() {
        return Ok(live);
    }
    // First the lock's side, as in `change_revoking`.
    raise_epoch(vault, actor, customer).await?;
    let mut revoked = Vec::new();
    for d in live {
        let (d, _) = modify(vault, actor, &d.id, |d| Ok(d.revoke_grant(&home, now))).await?;
        revoked.push(d);
    }
    Ok(revoked)
}

/// The customer gives or withdraws their standing approval. Withdrawing it revokes the grants
/// it alone allowed.
pub async fn set_standing(
    vault: &Vault,
    customer: &str,
    approved: bool,
) -> Result<Home, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    let now = vault.now();
    let home = home::update(vault, &actor, customer, |h| {
        h.standing_approval = match (approved, h.standing_approval) {
            (true, Some(since)) => Some(since),
            (true, None) => Some(now),
            (false, _) => None,
        };
    })
    .await?;
    if approved {
        return Ok(home);
    }
    revoke_live_grants(vault, &actor, customer, |d| d.approval == Approval::None).await?;
    home_of(vault, &actor, customer).await
}

/// The customer revokes every grant of their home: the epoch rises, and each grant that may
/// still open the lock is marked revoked on its delivery.
pub async fn revoke_all(vault: &Vault, customer: &str) -> Result<Home, DeliveryError> {
    let actor = Actor::Subject(customer.into());
    if revoke_live_grants(vault, &actor, customer, |_| true)
        .await?
        .is_empty()
    {
        // No delivery's grant is live: still, whatever was issued stops opening the lock.
        return raise_epoch(vault, &actor, customer).await;
    }
    home_of(vault, &actor, customer).await
}
