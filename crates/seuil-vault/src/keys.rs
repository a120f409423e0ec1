//! Subject data keys: one random key per subject, wrapped under the KEK. Shredding a subject
//! destroys their wrapped key, which makes everything sealed under it unreadable.

use crate::aead::{self, DataKey, Kek};
use crate::kek::kek_id;
use crate::key_cache::KeyCache;
use crate::{Result, VaultError};
use seuil_store::{Millis, Store, StoreError, WrappedKey};
use zeroize::Zeroizing;

/// Subjects whose names start with this are Seuil's own secrets, kept like subject keys so
/// that KEK rotation and backups treat them the same way. They can never be shredded.
pub const SYSTEM_PREFIX: &str = "_system.";
/// Its key exists only to prove at start-up that the KEK is the one the data was sealed with.
pub(crate) const KEK_CHECK: &str = "_system.kek-check";
pub(crate) const AUDIT_LOG_KEY: &str = "_system.audit-log";
pub(crate) const BLIND_INDEX_KEY: &str = "_system.blind-index";

pub(crate) struct Keys<'a> {
    pub store: &'a dyn Store,
    pub kek: &'a Kek,
    pub cache: Option<&'a KeyCache>,
}

impl Keys<'_> {
    /// Creates a key for `subject`, or returns the one another writer created first.
    pub async fn create(
        &self,
        subject: &str,
        now: Millis,
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Result<DataKey> {
        let key = DataKey::generate(rng);
        let wrapped = WrappedKey {
            subject: subject.to_owned(),
            kek_id: kek_id(self.kek),
            wrapped: aead::wrap(self.kek, subject, &key, rng),
            created_at: now,
        };
        match self.store.put_key(&wrapped).await {
            Ok(()) => Ok(key),
            Err(StoreError::Conflict { .. }) => self.get(subject).await,
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, subject: &str) -> Result<DataKey> {
        let wrapped = self
            .store
            .get_key(subject)
            .await?
            .ok_or_else(|| VaultError::not_found(format!("subject {subject}")))?;
        self.unwrap_key(&wrapped)
    }

    /// The data key inside `wrapped`, which must have just been read from the store.
    pub fn unwrap_key(&self, wrapped: &WrappedKey) -> Result<DataKey> {
        if let Some(key) = self
            .cache
            .and_then(|c| c.get(&wrapped.subject, &wrapped.wrapped))
        {
            return Ok(key);
        }
        let key = aead::unwrap(self.kek, &wrapped.subject, &wrapped.wrapped).map_err(|_| {
            VaultError::Integrity {
                what: format!("the data key of subject {}", wrapped.subject),
            }
        })?;
        if let Some(cache) = self.cache {
            cache.put(&wrapped.subject, &wrapped.wrapped, &key);
        }
        Ok(key)
    }

    /// A 32-byte system secret, created on first use.
    pub async fn system_secret(
        &self,
        name: &str,
        now: Millis,
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Result<Zeroizing<[u8; 32]>> {
        let key = match self.store.get_key(name).await? {
            Some(wrapped) => self.unwrap_key(&wrapped)?,
            None => self.create(name, now, rng).await?,
        };
        Ok(Zeroizing::new(*key.as_bytes()))
    }

    /// Fails with [`VaultError::WrongKek`] unless the KEK opens the check key (created on the
    /// first start of an empty store).
    pub async fn check_kek(
        &self,
        now: Millis,
        rng: &mut (impl rand::RngCore + rand::CryptoRng),
    ) -> Result<()> {
        let wrapped = match self.store.get_key(KEK_CHECK).await? {
            Some(w) => w,
            None => {
                self.create(KEK_CHECK, now, rng).await?;
                return Ok(());
            }
        };
        aead::unwrap(self.kek, KEK_CHECK, &wrapped.wrapped)
            .map(drop)
            .map_err(|_| VaultError::WrongKek {
                detail: format!(
                    "(id {}) is not the one this data was sealed with (id {})",
                    kek_id(self.kek),
                    wrapped.kek_id
                ),
            })
    }
}

/// Rewraps every data key from `old` to `new` in one transaction. Data bodies are untouched.
pub async fn rotate_kek(
    store: &dyn Store,
    old: &Kek,
    new: &Kek,
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<usize> {
    let keys = Keys {
        store,
        kek: old,
        cache: None,
    };
    keys.check_kek(0, rng).await?;
    let new_id = kek_id(new);
    let mut rewrapped = Vec::new();
    for wrapped in store.all_keys().await? {
        let key = keys.unwrap_key(&wrapped)?;
        rewrapped.push(WrappedKey {
            wrapped: aead::wrap(new, &wrapped.subject, &key, rng),
            kek_id: new_id.clone(),
            ..wrapped
        });
    }
    store.rewrap_keys(&rewrapped).await?;
    Ok(rewrapped.len())
}
