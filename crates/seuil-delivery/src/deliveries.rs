//! Deliveries: created by the operator, approved by the customer, walked through by the
//! courier and reported by the lock.
//!
//! Each delivery is one record sealed under the customer's key (kind [`DELIVERY`], purpose
//! `delivery.access`), holding the order, the window, the courier, the customer's approval,
//! the visit's steps, the grant issued, the alarms raised and the tamper events found. Every
//! change goes through [`modify`], a read-check-write with a version check, so two instances
//! (or a courier and a lock reporting at once) never overwrite each other.
//!
//! Indexes carry nothing personal: the visit's step (`status`), the window's start (`at`)
//! and the assigned courier's account id (`scope`), so a courier's deliveries are found
//! without opening anyone else's.

use crate::alarms::{Alarm, unlock_reported};
use crate::camera::{FOOTAGE, STREAM};
use crate::footage::Event;
use crate::grants::{self, Approval, GrantFor, Issuer, Refused, Request};
use crate::home::{self, Home};
use crate::visit::{RECORDING_MARGIN_MS, Step, StepError, Visit};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use seuil_proto::{Grant, LockSync, Permissions, SyncInfo};
use seuil_store::{IndexFields, Query, Record, StoreError};
use seuil_vault::{Actor, Vault, VaultError, Write};
use sha2::{Digest, Sha256};

pub const DELIVERY: &str = "delivery";
/// Letting a courier in for an approved order rests on the contract, not on consent; the
/// footage has its own purpose (`delivery.video`), which does need consent.
pub const PURPOSE: &str = "delivery.access";
/// The purpose an operator reviews footage under, only inside a dispute the customer opened.
pub const DISPUTE_PURPOSE: &str = "delivery.dispute";
/// The service secret the grant issuer's key is made from.
const ISSUER_SECRET: &str = "_system.delivery-issuer";
/// How often a change is tried again when someone else changed the delivery meanwhile.
const ATTEMPTS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    Door,
    Garage,
    Fridge,
}

impl Place {
    fn permission(self) -> Permissions {
        match self {
            Place::Door => Permissions::DOOR,
            Place::Garage => Permissions::GARAGE,
            Place::Fridge => Permissions::FRIDGE,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedGrant {
    /// Hex of the grant's 16-byte id, which the lock's reports and the camera's segments name.
    pub grant_id: String,
    pub sequence: u64,
    pub issued_at: i64,
    /// Hex of the courier app's key for this delivery.
    pub courier_key: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Raised {
    pub at: i64,
    #[serde(flatten)]
    pub alarm: Alarm,
}

/// What the customer decided about the visit's footage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clip {
    /// Kept past the 72-hour retention until unpinned.
    pub pinned: bool,
    /// The customer opened a dispute: the footage is kept, and an operator may view it.
    pub disputed_at: Option<i64>,
    /// The customer deleted the footage.
    pub deleted_at: Option<i64>,
    /// The footage analysis ran (its findings are in `tamper`).
    pub analysed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub customer: String,
    /// The order as the operator names it ("2 bags of groceries").
    pub order: String,
    /// Unix milliseconds.
    pub window: (i64, i64),
    pub places: Vec<Place>,
    pub courier: Option<String>,
    pub approval: Approval,
    pub visit: Visit,
    pub grant: Option<IssuedGrant>,
    pub alarms: Vec<Raised>,
    pub tamper: Vec<Event>,
    pub clip: Clip,
    pub created_at: i64,
}

impl Delivery {
    /// The approval in force: this order's, or the home's standing one.
    pub fn approval_with(&self, home: &Home) -> Approval {
        match (self.approval, home.standing_approval) {
            (Approval::None, Some(_)) => Approval::Standing,
            (a, _) => a,
        }
    }

    /// The span of footage that belongs to the visit, once the door was unlocked.
    pub fn recording_span(&self, now: i64) -> Option<(i64, i64)> {
        let unlocked = self.visit.unlocked_at?;
        let end = match self.visit.relocked_at {
            Some(relocked) => relocked + RECORDING_MARGIN_MS,
            None => self.visit.ended_at.unwrap_or(now) + RECORDING_MARGIN_MS,
        };
        Some((unlocked - RECORDING_MARGIN_MS, end.min(now.max(unlocked))))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no such delivery")]
    NotFound,
    #[error("pair a lock and a camera first")]
    NoHome,
    #[error("grant refused: {0}")]
    Refused(#[from] Refused),
    #[error(transparent)]
    Step(#[from] StepError),
    #[error("{0}")]
    Invalid(String),
    /// Not for this caller, though the delivery is theirs to see.
    #[error("{0}")]
    Forbidden(String),
    /// The request does not fit the delivery's current state.
    #[error("{0}")]
    Conflict(String),
    #[error("unreadable delivery data: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What the operator asks for.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub customer: String,
    pub order: String,
    pub window: (i64, i64),
    pub places: Vec<Place>,
    pub courier: Option<String>,
}

fn index(d: &Delivery) -> IndexFields {
    IndexFields {
        status: Some(d.visit.step.as_str().into()),
        at: Some(d.window.0),
        scope: d.courier.clone(),
    }
}

fn decode(body: &[u8]) -> Result<Delivery, DeliveryError> {
    serde_json::from_slice(body).map_err(|e| DeliveryError::Corrupt(format!("delivery: {e}")))
}

fn new_id() -> String {
    format!("dlv_{}", hex::encode(rand::random::<[u8; 12]>()))
}

/// Creates a delivery for a customer who has paired a home.
pub async fn create(
    vault: &Vault,
    actor: &Actor,
    new: NewDelivery,
) -> Result<Delivery, DeliveryError> {
    let order = new.order.trim();
    if order.is_empty() || order.chars().count() > 200 || order.chars().any(char::is_control) {
        return Err(DeliveryError::Invalid(
            "`order` must be 1 to 200 printable characters".into(),
        ));
    }
    if new.window.0 >= new.window.1 {
        return Err(DeliveryError::Invalid(
            "the window must end after it starts".into(),
        ));
    }
    if new.places.is_empty() {
        return Err(DeliveryError::Invalid(
            "name at least one place: door, garage or fridge".into(),
        ));
    }
    if home::load(vault, actor, &new.customer).await?.is_none() {
        return Err(DeliveryError::NoHome);
    }
    let d = Delivery {
        id: new_id(),
        customer: new.customer,
        order: order.to_owned(),
        window: new.window,
        places: new.places,
        courier: new.courier,
        approval: Approval::None,
        visit: Visit::default(),
        grant: None,
        alarms: Vec::new(),
        tamper: Vec::new(),
        clip: Clip::default(),
        created_at: vault.now(),
    };
    let body = serde_json::to_vec(&d).map_err(|e| DeliveryError::Corrupt(e.to_string()))?;
    vault
        .seal(
            actor,
            PURPOSE,
            Write {
                kind: DELIVERY,
                id: &d.id,
                subject: &d.customer,
                index: index(&d),
                body: &body,
            },
        )
        .await?;
    Ok(d)
}

/// Opens a delivery as `actor` sees it: a customer only their own, a courier only the ones
/// assigned to them. Anything else is "no such delivery".
pub async fn load(
    vault: &Vault,
    actor: &Actor,
    id: &str,
) -> Result<(Delivery, u64), DeliveryError> {
    let opened = match vault.open(actor, PURPOSE, DELIVERY, id).await {
        Ok(o) => o,
        Err(VaultError::NotFound { .. }) => return Err(DeliveryError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let d = decode(&opened.body)?;
    let allowed = match actor {
        Actor::Subject(s) => *s == d.customer,
        Actor::Courier(c) => d.courier.as_deref() == Some(c.as_str()),
        Actor::Operator(_) | Actor::System(_) | Actor::Device(_) => true,
    };
    if !allowed {
        return Err(DeliveryError::NotFound);
    }
    Ok((d, opened.version))
}

/// Applies `change` to the delivery and stores it, trying again on a concurrent change. The
/// change sees the newest version each time, so it re-checks whatever it depends on.
pub async fn modify<T>(
    vault: &Vault,
    actor: &Actor,
    id: &str,
    mut change: impl FnMut(&mut Delivery) -> Result<T, DeliveryError>,
) -> Result<(Delivery, T), DeliveryError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (mut d, version) = load(vault, actor, id).await?;
        let out = change(&mut d)?;
        let body = serde_json::to_vec(&d).map_err(|e| DeliveryError::Corrupt(e.to_string()))?;
        let w = Write {
            kind: DELIVERY,
            id,
            subject: &d.customer,
            index: index(&d),
            body: &body,
        };
        match vault.update(actor, PURPOSE, w, version).await {
            Ok(_) => return Ok((d, out)),
            Err(VaultError::Store(StoreError::VersionConflict { .. })) if attempt < ATTEMPTS => {}
            Err(e) => return Err(e.into()),
        }
    }
}

async fn open_all(vault: &Vault, actor: &Actor, q: &Query) -> Result<Vec<Delivery>, DeliveryError> {
    let opened = vault.open_all(actor, PURPOSE, q).await?;
    opened.iter().map(|o| decode(&o.body)).collect()
}

/// The customer's deliveries, by window.
pub async fn for_customer(vault: &Vault, customer: &str) -> Result<Vec<Delivery>, DeliveryError> {
    let q = Query {
        kind: DELIVERY.into(),
        subject: Some(customer.into()),
        ..Query::default()
    };
    open_all(vault, &Actor::Subject(customer.into()), &q).await
}

/// The deliveries assigned to a courier, by window.
pub async fn for_courier(vault: &Vault, courier: &str) -> Result<Vec<Delivery>, DeliveryError> {
    let q = Query {
        kind: DELIVERY.into(),
        scope: Some(courier.into()),
        ..Query::default()
    };
    let all = open_all(vault, &Actor::Courier(courier.into()), &q).await?;
    Ok(all
        .into_iter()
        .filter(|d| d.courier.as_deref() == Some(courier))
        .collect())
}

/// Deliveries at a step, across customers: what the watchdog picks up after a restart.
pub async fn at_step(
    vault: &Vault,
    actor: &Actor,
    step: Step,
) -> Result<Vec<Delivery>, DeliveryError> {
    let q = Query {
        kind: DELIVERY.into(),
        status: Some(step.as_str().into()),
        ..Query::default()
    };
    open_all(vault, actor, &q).await
}

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

/// When the camera's newest verified footage ended, read from the stream's index alone (no
/// footage is opened, so the check costs nothing in the customer's access log).
pub async fn camera_newest_end(vault: &Vault, home: &Home) -> Result<Option<i64>, DeliveryError> {
    stream_newest_end(vault, &home.camera_stream()).await
}

/// [`camera_newest_end`] by the camera's stream id.
pub async fn stream_newest_end(vault: &Vault, stream: &str) -> Result<Option<i64>, DeliveryError> {
    let q = Query {
        kind: STREAM.into(),
        scope: Some(stream.into()),
        limit: Some(1),
        ..Query::default()
    };
    let found: Vec<Record> = vault.store().query(&q).await.map_err(VaultError::from)?;
    Ok(found.first().and_then(|r| r.index.at))
}

/// The grant signer: its key is a service secret wrapped under the KEK. Sequence numbers are
/// taken from the clock (1024 per millisecond, the low bits random), so several instances
/// can issue without sharing a counter and a lock still sees them rise.
pub async fn issuer(vault: &Vault) -> Result<Issuer, DeliveryError> {
    let seed = vault.service_secret(ISSUER_SECRET).await?;
    let key = SigningKey::from_bytes(&seed);
    let digest = Sha256::digest(key.verifying_key().as_bytes());
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&digest[..8]);
    let now = u64::try_from(vault.now()).unwrap_or(0);
    Ok(Issuer {
        key,
        key_id,
        next_sequence: now * 1024 + u64::from(rand::random::<u16>() % 1024),
    })
}

/// Issues the courier's grant, if every condition holds now. The courier must have arrived;
/// `courier_key` is their app's key for this delivery only.
pub async fn issue_grant(
    vault: &Vault,
    courier: &str,
    id: &str,
    courier_key: [u8; 32],
) -> Result<(Delivery, Grant), DeliveryError> {
    let actor = Actor::Courier(courier.into());
    let (d, _) = load(vault, &actor, id).await?;
    let (home, _) = home::load(vault, &actor, &d.customer)
        .await?
        .ok_or(DeliveryError::NoHome)?;
    let newest = camera_newest_end(vault, &home).await?;
    let mut issuer = issuer(vault).await?;
    let now = vault.now();
    let grant_id: [u8; 16] = rand::random();
    modify(vault, &actor, id, |d| {
        grants::may_issue(&Request {
            approval: d.approval_with(&home),
            window: d.window,
            assigned_courier: d.courier.as_deref(),
            courier,
            camera_newest_end: newest,
            now,
        })?;
        if d.visit.step != Step::Arrived {
            return Err(DeliveryError::Conflict(format!(
                "a grant is issued at the door: the visit is {}, not arrived",
                d.visit.step.as_str()
            )));
        }
        let places = d
            .places
            .iter()
            .map(|place| place.permission())
            .reduce(|a, b| a | b)
            .ok_or_else(|| DeliveryError::Corrupt("a delivery with no place".into()))?;
        let grant = issuer.issue(&GrantFor {
            lock_id: home.lock_id(),
            grant_id,
            courier_key,
            window: d.window,
            epoch: home.epoch,
            places,
            camera_key: home.camera_key(),
        });
        d.grant = Some(IssuedGrant {
            grant_id: hex::encode(grant_id),
            sequence: grant.body.sequence,
            issued_at: now,
            courier_key: hex::encode(courier_key),
        });
        Ok(grant)
    })
    .await
}

/// The signed time and epoch floor for the home's lock.
pub async fn lock_sync(vault: &Vault, home: &Home) -> Result<LockSync, DeliveryError> {
    let issuer = issuer(vault).await?;
    Ok(SyncInfo {
        lock_id: home.lock_id(),
        time: vault.now(),
        epoch_floor: home.epoch,
        issuer_key_id: issuer.key_id,
    }
    .sign(&issuer.key))
}

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
pub async fn record_alarm(
    vault: &Vault,
    actor: &Actor,
    id: &str,
    alarm: Alarm,
) -> Result<Delivery, DeliveryError> {
    let at = vault.now();
    let (d, ()) = modify(vault, actor, id, |d| {
        d.alarms.push(Raised { at, alarm });
        Ok(())
    })
    .await?;
    Ok(d)
}

/// The records of the visit's footage segments, in order.
pub async fn visit_segments(
    vault: &Vault,
    home: &Home,
    d: &Delivery,
) -> Result<Vec<Record>, DeliveryError> {
    let Some((from, to)) = d.recording_span(vault.now()) else {
        return Ok(Vec::new());
    };
    let q = Query {
        kind: FOOTAGE.into(),
        subject: Some(d.customer.clone()),
        scope: Some(home.camera_stream()),
        at_from: Some(from - 1_000),
        at_to: Some(to),
        ..Query::default()
    };
    Ok(vault.store().query(&q).await.map_err(VaultError::from)?)
}
