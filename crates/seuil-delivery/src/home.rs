//! A customer's home as deliveries see it: the lock and the camera they paired, how long a
//! courier may leave the door unlocked, the lock's grant epoch, and a standing approval.
//!
//! One sealed record per customer, under their own key, updated with a version check.

use crate::deliveries::{DeliveryError, PURPOSE};
use serde::{Deserialize, Serialize};
use seuil_proto::camera_id;
use seuil_store::{IndexFields, StoreError};
use seuil_vault::{Actor, Vault, VaultError, Write};

/// The record kind; its id is the customer's subject id.
pub const HOME: &str = "delivery.home";

/// How long the door may stay unlocked when the customer has not said.
pub const DEFAULT_RELOCK_WITHIN_S: u32 = 300;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Home {
    pub lock_device: String,
    /// The lock's Ed25519 public key, hex.
    pub lock_key: String,
    pub camera_device: String,
    /// The camera's Ed25519 public key, hex.
    pub camera_key: String,
    pub relock_within_s: u32,
    /// Grants of a lower epoch are revoked; raised by "revoke every grant".
    pub epoch: u32,
    /// Since when every order may be delivered inside without asking, if at all.
    pub standing_approval: Option<i64>,
    /// The epoch floor the lock last reported holding: grants below it no longer open it.
    /// A revocation (a raised `epoch`) is pending until this catches up.
    #[serde(default)]
    pub lock_epoch_floor: u32,
}

fn key(hex_key: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    // Keys are checked when the home is paired; a record that does not hold one is corrupt
    // and names no device (all zeros match nothing).
    let _ = hex::decode_to_slice(hex_key, &mut out);
    out
}

impl Home {
    pub fn lock_key(&self) -> [u8; 32] {
        key(&self.lock_key)
    }

    pub fn camera_key(&self) -> [u8; 32] {
        key(&self.camera_key)
    }

    /// The id grants and syncs name the lock by: derived from its key, like a camera's.
    pub fn lock_id(&self) -> [u8; 16] {
        camera_id(&self.lock_key())
    }

    pub fn camera_id(&self) -> [u8; 16] {
        camera_id(&self.camera_key())
    }

    /// The camera's stream id, as ingestion names it.
    pub fn camera_stream(&self) -> String {
        hex::encode(self.camera_id())
    }
}

/// The customer's home and its record version, or `None` before pairing.
pub async fn load(
    vault: &Vault,
    actor: &Actor,
    customer: &str,
) -> Result<Option<(Home, u64)>, DeliveryError> {
    match vault.open(actor, PURPOSE, HOME, customer).await {
        Ok(opened) => {
            let home = serde_json::from_slice(&opened.body)
                .map_err(|e| DeliveryError::Corrupt(format!("home record: {e}")))?;
            Ok(Some((home, opened.version)))
        }
        Err(VaultError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Changes the customer's home and stores it, trying again if it changed meanwhile.
pub async fn update(
    vault: &Vault,
    actor: &Actor,
    customer: &str,
    mut change: impl FnMut(&mut Home),
) -> Result<Home, DeliveryError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (mut home, version) = load(vault, actor, customer)
            .await?
            .ok_or(DeliveryError::NoHome)?;
        change(&mut home);
        match save(vault, actor, customer, &home, Some(version)).await {
            Err(DeliveryError::Vault(VaultError::Store(StoreError::VersionConflict {
                ..
            }))) if attempt < 5 => {}
            other => return other.map(|()| home),
        }
    }
}

/// Stores the home: a new one when `version` is `None`, else an update of that version.
pub async fn save(
    vault: &Vault,
    actor: &Actor,
    customer: &str,
    home: &Home,
    version: Option<u64>,
) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(home).map_err(|e| DeliveryError::Corrupt(e.to_string()))?;
    let w = Write {
        kind: HOME,
        id: customer,
        subject: customer,
        index: IndexFields {
            status: None,
            at: None,
            scope: Some(hex::encode(home.lock_id())),
        },
        body: &body,
    };
    match version {
        Some(v) => vault.update(actor, PURPOSE, w, v).await.map(drop)?,
        None => vault.seal(actor, PURPOSE, w).await?,
    }
    Ok(())
}
