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

mod issuing;
mod lock_reports;
mod steps;

pub use issuing::{
    camera_newest_end, issue_grant, issuer, lock_sync, lock_synced, stream_newest_end,
};
pub use lock_reports::{LockEvent, Reported, lock_reported};
pub use steps::{
    abort, approve, arrive, assign, courier_relocked, record_alarm, revoke_all, revoke_live_grants,
    set_standing,
};

use crate::alarms::Alarm;
use crate::camera::FOOTAGE;
use crate::footage::Event;
use crate::grants::{Approval, LOCK_SKEW_MS, Refused, Rules};
use crate::home::{self, Home};
use crate::visit::{Step, StepError, Visit};
use serde::{Deserialize, Serialize};
use seuil_proto::Permissions;
use seuil_store::{IndexFields, Query, Record, StoreError};
use seuil_vault::{Actor, Vault, VaultError, Write};

pub const DELIVERY: &str = "delivery";
/// Letting a courier in for an approved order rests on the contract, not on consent; the
/// footage has its own purpose (`delivery.video`), which does need consent.
pub const PURPOSE: &str = "delivery.access";
/// The purpose an operator reviews footage under, only inside a dispute the customer opened.
pub const DISPUTE_PURPOSE: &str = "delivery.dispute";
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
    /// The end of the grant's validity, by the issuer's clock (the lock allows its skew).
    #[serde(default)]
    pub not_after: i64,
    /// The lock epoch the grant was signed for (`None` for grants issued before it was kept);
    /// the lock refuses it once its floor is above.
    #[serde(default)]
    pub epoch: Option<u32>,
    /// When the grant was revoked (the visit called off, the courier changed, the approval
    /// withdrawn). It stops opening the lock at the lock's next sync.
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

/// Where a grant stands, as the customer is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// It may open the lock now.
    Live,
    /// It opened the lock.
    Used,
    /// Revoked, but the lock has not synced since: until it does, the grant still opens it.
    RevocationPending,
    /// Revoked, and the lock knows.
    Revoked,
    /// Its time is over.
    Expired,
}

impl IssuedGrant {
    /// Until when the lock accepts the grant, by the issuer's clock.
    pub fn lock_accepts_until(&self) -> i64 {
        self.not_after.saturating_add(LOCK_SKEW_MS)
    }

    /// Where the grant stands at `now`. It is revoked once the home's epoch rose above the
    /// grant's (for this delivery or any other reason), and the lock refuses it once the
    /// floor it reported is above too.
    pub fn state(&self, visit: &Visit, home: &Home, now: i64) -> GrantState {
        let below = |floor: u32| self.epoch.is_some_and(|e| floor > e);
        if visit.unlocked_at.is_some() {
            GrantState::Used
        } else if now > self.lock_accepts_until() {
            GrantState::Expired
        } else if below(home.lock_epoch_floor) {
            GrantState::Revoked
        } else if self.revoked_at.is_some() || below(home.epoch) {
            GrantState::RevocationPending
        } else {
            GrantState::Live
        }
    }

    /// Whether the grant may still open the lock at `now` (live, or revoked and not yet known
    /// to the lock).
    pub fn opens_lock(&self, visit: &Visit, home: &Home, now: i64) -> bool {
        matches!(
            self.state(visit, home, now),
            GrantState::Live | GrantState::RevocationPending
        )
    }

    /// Whether the grant was revoked, whether the lock knows yet or not.
    pub fn revoked(&self, home: &Home) -> bool {
        self.revoked_at.is_some() || self.epoch.is_some_and(|e| home.epoch > e)
    }
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
    /// The camera stream that recorded the visit (hex of its id), fixed at the grant: footage
    /// stays the visit's after the home is paired with another camera.
    #[serde(default)]
    pub camera_stream: Option<String>,
}

impl Delivery {
    /// The approval in force: this order's, or the home's standing one. A decline of this
    /// order overrides a standing approval.
    pub fn approval_with(&self, home: &Home) -> Approval {
        match (self.approval, home.standing_approval) {
            (Approval::None, Some(_)) => Approval::Standing,
            (a, _) => a,
        }
    }

    /// The span of footage that belongs to the visit (from before the first grant), up to
    /// `now`; `None` before any grant.
    pub fn recording_span(&self, now: i64) -> Option<(i64, i64)> {
        let (from, until) = self.visit.recording_window()?;
        Some((from, until.min(now.max(from))))
    }

    /// The camera stream the visit's footage comes from.
    pub fn camera_stream_in(&self, home: &Home) -> String {
        self.camera_stream
            .clone()
            .unwrap_or_else(|| home.camera_stream())
    }

    /// The grant that may still open the lock at `now`, if any.
    pub fn live_grant(&self, home: &Home, now: i64) -> Option<&IssuedGrant> {
        self.grant
            .as_ref()
            .filter(|g| g.opens_lock(&self.visit, home, now))
    }

    /// Marks the grant revoked at `now` if it may still open the lock; says whether it did.
    /// (The home's epoch must rise too, for the lock to refuse it.)
    fn revoke_grant(&mut self, home: &Home, now: i64) -> bool {
        if self.live_grant(home, now).is_none() {
            return false;
        }
        if let Some(g) = &mut self.grant {
            g.revoked_at.get_or_insert(now);
        }
        true
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
    let mut d: Delivery = serde_json::from_slice(body)
        .map_err(|e| DeliveryError::Corrupt(format!("delivery: {e}")))?;
    // A grant issued before grants had their own end was valid for the whole window.
    if let Some(g) = &mut d.grant
        && g.not_after == 0
    {
        g.not_after = d.window.1;
    }
    Ok(d)
}

fn new_id() -> String {
    format!("dlv_{}", hex::encode(rand::random::<[u8; 12]>()))
}

/// Creates a delivery for a customer who has paired a home.
pub async fn create(
    vault: &Vault,
    rules: &Rules,
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
    if new.window.1.saturating_sub(new.window.0) > rules.max_window_ms {
        return Err(DeliveryError::Invalid(format!(
            "the window may last at most {} minutes",
            rules.max_window_ms / 60_000
        )));
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
        camera_stream: None,
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
///
/// Who may see it is decided from the index before anything is decrypted, so a probe of
/// someone else's delivery (a courier's of another courier's, say) is never opened: it goes
/// in the customer's access log as a refusal, with the caller named.
pub async fn load(
    vault: &Vault,
    actor: &Actor,
    id: &str,
) -> Result<(Delivery, u64), DeliveryError> {
    let indexed = vault
        .store()
        .get(DELIVERY, id)
        .await
        .map_err(VaultError::from)?
        .ok_or(DeliveryError::NotFound)?;
    let may_see = match actor {
        Actor::Subject(s) => *s == indexed.subject,
        Actor::Courier(c) => indexed.index.scope.as_deref() == Some(c.as_str()),
        Actor::Operator(_) | Actor::System(_) | Actor::Device(_) => true,
    };
    if !may_see {
        vault
            .refused(actor, PURPOSE, &indexed.subject, DELIVERY, id)
            .await?;
        return Err(DeliveryError::NotFound);
    }
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
        scope: Some(d.camera_stream_in(home)),
        at_from: Some(from - 1_000),
        at_to: Some(to),
        ..Query::default()
    };
    Ok(vault.store().query(&q).await.map_err(VaultError::from)?)
}
