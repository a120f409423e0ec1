//! The privacy kernel. Every piece of personal data in Seuil is sealed, opened, audited,
//! retained, exported and erased through a [`Vault`]:
//!
//! - **seal** encrypts a body under its subject's data key (XChaCha20-Poly1305), bound to its
//!   kind, id, subject and version, and stores it;
//! - **open** checks that the actor may read it for the purpose named (consent or another
//!   legal basis), decrypts it and appends an audit event before returning a byte;
//! - **shred** destroys the subject's key, so everything sealed under it becomes unreadable at
//!   once, on every instance, in backups and replicas too.

mod actor;
pub mod aead;
pub mod audit;
mod audit_writer;
mod clock;
mod consent;
mod erase;
mod error;
mod export;
pub mod kek;
mod key_cache;
pub mod keys;
pub mod merkle;
mod purpose;
mod records;
mod retention;
pub mod stream;

pub use actor::Actor;
pub use audit::{AuditEvent, Outcome, VerifyReport};
pub use clock::{Clock, ManualClock, SystemClock};
pub use consent::ConsentState;
pub use erase::ErasureCertificate;
pub use error::{Result, VaultError};
pub use export::ExportSummary;
pub use kek::{EnvKek, FileKek, KekProvider};
pub use purpose::{Basis, Purpose, Purposes};
pub use records::{Opened, Write};
pub use retention::{Retention, SweepReport};

use aead::{DataKey, Kek};
use audit::Prover;
use audit_writer::AuditWriter;
use ed25519_dalek::{SigningKey, VerifyingKey};
use key_cache::KeyCache;
use rand::SeedableRng;
use rand::rngs::StdRng;
use seuil_store::{Checkpoint, DynBlobs, DynStore, Millis};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// How a vault is put together. Time and randomness are injected so tests are deterministic.
pub struct VaultConfig {
    pub clock: Arc<dyn Clock>,
    /// Seeds the vault's CSPRNG; `None` seeds it from the operating system.
    pub rng_seed: Option<[u8; 32]>,
    pub purposes: Purposes,
    pub retention: Retention,
}

impl Default for VaultConfig {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            rng_seed: None,
            purposes: Purposes::builtin(),
            retention: Retention::default(),
        }
    }
}

/// The privacy kernel. Cheap to share behind an `Arc`; safe to run in several processes over
/// one store.
pub struct Vault {
    store: DynStore,
    blobs: DynBlobs,
    kek: Kek,
    key_cache: KeyCache,
    clock: Arc<dyn Clock>,
    rng: Mutex<StdRng>,
    purposes: Purposes,
    retention: Retention,
    audit: AuditWriter,
    log_key: SigningKey,
    blind_index_key: Zeroizing<[u8; 32]>,
}

impl Vault {
    /// Opens the vault over a store. Fails with [`VaultError::WrongKek`] if the KEK is not the
    /// one the store's data was sealed with.
    pub async fn new(
        store: DynStore,
        blobs: DynBlobs,
        kek: &dyn KekProvider,
        config: VaultConfig,
    ) -> Result<Self> {
        let kek = kek.load()?;
        let mut rng = match config.rng_seed {
            Some(seed) => StdRng::from_seed(seed),
            None => StdRng::from_entropy(),
        };
        let now = config.clock.now();
        let keys = keys::Keys {
            store: store.as_ref(),
            kek: &kek,
            cache: None,
        };
        keys.check_kek(now, &mut rng).await?;
        let log_seed = keys
            .system_secret(keys::AUDIT_LOG_KEY, now, &mut rng)
            .await?;
        let blind_index_key = keys
            .system_secret(keys::BLIND_INDEX_KEY, now, &mut rng)
            .await?;
        let audit = AuditWriter::start(store.clone()).await?;
        Ok(Self {
            log_key: SigningKey::from_bytes(&log_seed),
            blind_index_key,
            audit,
            store,
            blobs,
            kek,
            key_cache: KeyCache::new(),
            clock: config.clock,
            rng: Mutex::new(rng),
            purposes: config.purposes,
            retention: config.retention,
        })
    }

    /// A 32-byte secret of a Seuil service (a signing key seed), wrapped under the KEK like
    /// every data key and created on first use. `name` must start with `_system.`.
    pub async fn service_secret(&self, name: &str) -> Result<Zeroizing<[u8; 32]>> {
        if !name.starts_with("_system.")
            || name == keys::AUDIT_LOG_KEY
            || name == keys::BLIND_INDEX_KEY
        {
            return Err(VaultError::invalid(
                "service secret name",
                format!("{name} is not a service secret"),
            ));
        }
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut *self.rng(), &mut seed);
        let mut rng = StdRng::from_seed(seed);
        self.keys().system_secret(name, self.now(), &mut rng).await
    }

    pub fn store(&self) -> &DynStore {
        &self.store
    }

    pub fn blobs(&self) -> &DynBlobs {
        &self.blobs
    }

    pub fn purposes(&self) -> &Purposes {
        &self.purposes
    }

    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The public key that signs checkpoints and erasure certificates.
    pub fn log_public_key(&self) -> VerifyingKey {
        self.log_key.verifying_key()
    }

    /// Creates a new subject with a fresh data key and returns its id (random, not personal).
    pub async fn create_subject(&self) -> Result<String> {
        let subject = format!("s{}", hex::encode(self.random::<16>()));
        // A child generator, so the shared one is not locked across the store write.
        let mut rng = self.child_rng();
        self.keys().create(&subject, self.now(), &mut rng).await?;
        Ok(subject)
    }

    /// Whether the subject exists and has not been shredded.
    pub async fn subject_exists(&self, subject: &str) -> Result<bool> {
        Ok(self.store.get_key(subject).await?.is_some())
    }

    /// A keyed hash of `value`, so records can be found by a personal value (an email address)
    /// without storing it: the same input always gives the same index.
    pub fn blind_index(&self, namespace: &str, value: &str) -> String {
        use hmac::{Mac, SimpleHmac};
        let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(self.blind_index_key.as_ref())
            .expect("HMAC accepts any key length");
        mac.update(namespace.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    // ---- audit ------------------------------------------------------------------------

    /// Appends an event to the log under `subject` and waits until it is durable.
    pub async fn audit(&self, subject: &str, event: &AuditEvent) -> Result<u64> {
        let key = self.keys().get(subject).await?;
        self.audit_with(&key, subject, event).await
    }

    pub(crate) async fn audit_with(
        &self,
        key: &DataKey,
        subject: &str,
        event: &AuditEvent,
    ) -> Result<u64> {
        let at = self.now();
        let json = serde_json::to_vec(event)
            .map_err(|e| VaultError::invalid("audit event", e.to_string()))?;
        let sealed = aead::seal(
            key,
            &audit::details_aad(subject, at),
            &json,
            &mut *self.rng(),
        )
        .map_err(|e| VaultError::invalid("audit event", e.to_string()))?;
        self.audit.append(subject, at, sealed).await
    }

    /// The subject's own access log: every event about them, opened with their key.
    pub async fn access_log(&self, subject: &str) -> Result<Vec<LoggedEvent>> {
        self.access_log_page(subject, seuil_store::LeafPage::ALL)
            .await
    }

    /// The events of the subject's access log that `page` selects, in log order.
    pub async fn access_log_page(
        &self,
        subject: &str,
        page: seuil_store::LeafPage,
    ) -> Result<Vec<LoggedEvent>> {
        let key = self.keys().get(subject).await?;
        let leaves = self.store.audit_leaves_of(subject, page).await?;
        Ok(leaves
            .into_iter()
            .map(|leaf| {
                let event = aead::open(&key, &audit::details_aad(subject, leaf.at), &leaf.details)
                    .ok()
                    .and_then(|json| serde_json::from_slice(&json).ok());
                LoggedEvent {
                    index: leaf.index,
                    at: leaf.at,
                    leaf_hash: leaf.leaf_hash,
                    sealed: leaf.details,
                    event,
                }
            })
            .collect())
    }

    /// The newest signed checkpoint for publishing: a new one is signed only once the newest
    /// is `every` old or `lag` events behind, so anonymous polling cannot add a row to the
    /// checkpoint table on every request.
    pub async fn published_checkpoint(&self, every: Millis, lag: u64) -> Result<Checkpoint> {
        let size = self.store.audit_size().await?;
        if let Some(cp) = self.store.latest_checkpoint().await?
            && (cp.size >= size
                || (self.now().saturating_sub(cp.at) < every && size - cp.size < lag))
        {
            return Ok(cp);
        }
        self.checkpoint().await
    }

    /// The signed checkpoint for the log as it is now.
    pub async fn checkpoint(&self) -> Result<Checkpoint> {
        Prover { store: &self.store }
            .checkpoint(&self.log_key, self.now())
            .await
    }

    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<merkle::Hash>> {
        Prover { store: &self.store }.inclusion(index, size).await
    }

    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<merkle::Hash>> {
        Prover { store: &self.store }.consistency(old, new).await
    }

    /// Checks the whole log: every leaf, the stored tree and every signed checkpoint.
    pub async fn verify_audit(&self, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<VerifyReport> {
        audit::verify(&self.store, &self.log_public_key(), progress).await
    }

    // ---- internals --------------------------------------------------------------------

    fn keys(&self) -> keys::Keys<'_> {
        keys::Keys {
            store: self.store.as_ref(),
            kek: &self.kek,
            cache: Some(&self.key_cache),
        }
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, StdRng> {
        // A panic while holding the RNG cannot leave it in a state worth refusing.
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn child_rng(&self) -> StdRng {
        StdRng::from_seed(self.random::<32>())
    }

    fn random<const N: usize>(&self) -> [u8; N] {
        use rand::RngCore;
        let mut out = [0u8; N];
        self.rng().fill_bytes(&mut out);
        out
    }
}

/// One event of a subject's access log. `event` is `None` if it could not be opened.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoggedEvent {
    pub index: u64,
    pub at: Millis,
    #[serde(with = "hex::serde")]
    pub leaf_hash: [u8; 32],
    /// The sealed details, so the subject can recompute the leaf hash themselves.
    #[serde(with = "hex::serde")]
    pub sealed: Vec<u8>,
    pub event: Option<AuditEvent>,
}
