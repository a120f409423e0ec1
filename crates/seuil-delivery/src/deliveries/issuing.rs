//! The grant issuer: when a grant may be issued, and the lock's signed sync.

use super::{Delivery, DeliveryError, IssuedGrant, load, modify};
use crate::camera::STREAM;
use crate::grants::{self, GrantFor, Issuer, Request, Rules};
use crate::home::{self, Home};
use crate::visit::Step;
use ed25519_dalek::SigningKey;
use seuil_proto::{Grant, LockSync, SyncInfo};
use seuil_store::{Query, Record};
use seuil_vault::{Actor, Vault, VaultError};
use sha2::{Digest, Sha256};

/// The service secret the grant issuer's key is made from.
const ISSUER_SECRET: &str = "_system.delivery-issuer";

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
/// `courier_key` is their app's key for this delivery only. A delivery has at most one grant
/// that may open the lock: a second is refused while the first is live, or revoked and not
/// yet known to the lock. The grant opens the lock for the grant lifetime from now, within
/// the window; from now on the visit is watched and its footage kept.
pub async fn issue_grant(
    vault: &Vault,
    rules: &Rules,
    courier: &str,
    id: &str,
    courier_key: [u8; 32],
) -> Result<(Delivery, Grant), DeliveryError> {
    // The lock trusts the courier key the issuer signs without checking it again.
    if seuil_proto::public_key(&courier_key).is_none() {
        return Err(DeliveryError::Invalid(
            "the courier key is not a usable Ed25519 public key".into(),
        ));
    }
    let actor = Actor::Courier(courier.into());
    let (d, _) = load(vault, &actor, id).await?;
    let (home, _) = home::load(vault, &actor, &d.customer)
        .await?
        .ok_or(DeliveryError::NoHome)?;
    let newest = camera_newest_end(vault, &home).await?;
    let mut issuer = issuer(vault).await?;
    let now = vault.now();
    let grant_id: [u8; 16] = rand::random();
    let d = modify(vault, &actor, id, |d| {
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
        if let Some(g) = d.live_grant(&home, now) {
            return Err(DeliveryError::Conflict(format!(
                "this delivery has a grant already, which the lock accepts until {} (Unix ms); \
                 use it, or wait until then",
                g.lock_accepts_until()
            )));
        }
        let valid = (now, now.saturating_add(rules.grant_ttl_ms).min(d.window.1));
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
            valid,
            epoch: home.epoch,
            places,
            camera_key: home.camera_key(),
        });
        let issued = IssuedGrant {
            grant_id: hex::encode(grant_id),
            sequence: grant.body.sequence,
            issued_at: now,
            courier_key: hex::encode(courier_key),
            not_after: valid.1,
            epoch: Some(home.epoch),
            revoked_at: None,
        };
        d.visit.granted(now, issued.lock_accepts_until())?;
        d.camera_stream.get_or_insert_with(|| home.camera_stream());
        d.grant = Some(issued);
        Ok(grant)
    })
    .await?;
    // The customer may have withdrawn what allowed the grant while it was being issued (the
    // home was read before): then it is revoked at once, and the courier told.
    let (now_home, _) = home::load(vault, &actor, &d.0.customer)
        .await?
        .ok_or(DeliveryError::NoHome)?;
    let relied_on_standing = d.0.approval == crate::grants::Approval::None;
    if now_home.epoch != home.epoch || (relied_on_standing && now_home.standing_approval.is_none())
    {
        super::steps::raise_epoch(vault, &actor, &d.0.customer).await?;
        modify(vault, &actor, id, |d| {
            if let Some(g) = &mut d.grant {
                g.revoked_at.get_or_insert(now);
            }
            Ok(())
        })
        .await?;
        return Err(DeliveryError::Conflict(
            "the customer changed their approval or revoked grants meanwhile: the grant was \
             revoked"
                .into(),
        ));
    }
    // The footage buffered before the grant is the visit's now.
    crate::clips::claim_recording(vault, &d.0.camera_stream_in(&home), &d.0.customer, now).await?;
    Ok(d)
}

/// The lock said, in a sync, which epoch floor it holds: revocations up to it are done.
pub async fn lock_synced(
    vault: &Vault,
    lock: &Actor,
    customer: &str,
    home: &Home,
    epoch_floor: u32,
) -> Result<(), DeliveryError> {
    // The floor only rises, and the home is written only when it does.
    if epoch_floor <= home.lock_epoch_floor || epoch_floor > home.epoch {
        return Ok(());
    }
    home::update(vault, lock, customer, |h| {
        h.lock_epoch_floor = h.lock_epoch_floor.max(epoch_floor.min(h.epoch));
    })
    .await
    .map(drop)
}

/// The signed time and epoch floor for the home's lock.
pub fn lock_sync(issuer: &Issuer, home: &Home, now: i64) -> LockSync {
    SyncInfo {
        lock_id: home.lock_id(),
        time: now,
        epoch_floor: home.epoch,
        issuer_key_id: issuer.key_id,
    }
    .sign(&issuer.key)
}
