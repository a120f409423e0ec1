//! What a lock is told once, at pairing: who it is, whom it trusts, and its tolerances.

use ed25519_dalek::VerifyingKey;

/// Issuers a lock can trust at once (a key and its successor during a rotation, with room).
pub const MAX_ISSUERS: usize = 4;

/// Clock skew tolerated at both ends of a grant's window.
pub const DEFAULT_SKEW_MS: i64 = 5 * 60 * 1000;

/// How long a challenge may be answered.
pub const DEFAULT_CHALLENGE_TTL_MS: i64 = 60 * 1000;

/// A key the lock accepts grants and syncs from, named by the id grants carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issuer {
    pub key_id: [u8; 8],
    pub key: VerifyingKey,
}

/// A public key that is not a valid Ed25519 point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    BadIssuerKey,
    BadCameraKey,
    TooManyIssuers,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConfigError::BadIssuerKey => {
                "the issuer's public key is not a usable Ed25519 key (invalid or of small order)"
            }
            ConfigError::BadCameraKey => {
                "the camera's public key is not a usable Ed25519 key (invalid or of small order)"
            }
            ConfigError::TooManyIssuers => "a lock trusts at most 4 issuer keys",
        })
    }
}

impl core::error::Error for ConfigError {}

#[derive(Clone, Debug)]
pub struct LockConfig {
    pub lock_id: [u8; 16],
    /// The lock's own secret: its challenges are derived from it, so nobody can predict them.
    pub secret: [u8; 32],
    pub issuers: [Option<Issuer>; MAX_ISSUERS],
    /// The paired camera, whose attestation grants may require.
    pub camera: Option<VerifyingKey>,
    pub skew_ms: i64,
    pub challenge_ttl_ms: i64,
}

impl LockConfig {
    pub fn new(lock_id: [u8; 16], secret: [u8; 32]) -> Self {
        Self {
            lock_id,
            secret,
            issuers: [None; MAX_ISSUERS],
            camera: None,
            skew_ms: DEFAULT_SKEW_MS,
            challenge_ttl_ms: DEFAULT_CHALLENGE_TTL_MS,
        }
    }

    /// Trusts grants and syncs signed by `key`, which grants name as `key_id`.
    pub fn with_issuer(mut self, key_id: [u8; 8], key: &[u8; 32]) -> Result<Self, ConfigError> {
        let key = seuil_proto::public_key(key).ok_or(ConfigError::BadIssuerKey)?;
        let slot = self
            .issuers
            .iter_mut()
            .find(|slot| slot.is_none_or(|i| i.key_id == key_id))
            .ok_or(ConfigError::TooManyIssuers)?;
        *slot = Some(Issuer { key_id, key });
        Ok(self)
    }

    /// Pairs the camera whose attestations the lock checks.
    pub fn with_camera(mut self, key: &[u8; 32]) -> Result<Self, ConfigError> {
        self.camera = Some(seuil_proto::public_key(key).ok_or(ConfigError::BadCameraKey)?);
        Ok(self)
    }

    pub(crate) fn issuer(&self, key_id: &[u8; 8]) -> Option<&Issuer> {
        self.issuers.iter().flatten().find(|i| &i.key_id == key_id)
    }
}
