use seuil_store::StoreError;
use thiserror::Error;

/// What the privacy kernel refuses or fails at. Messages say what was wrong and what to do.
#[derive(Debug, Error)]
pub enum VaultError {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("purpose `{purpose}` needs the subject's consent, which is not given")]
    ConsentRequired { purpose: String },
    #[error("unknown purpose `{0}`: purposes come from the registry (see `Purposes::builtin`)")]
    UnknownPurpose(String),
    #[error("integrity check failed for {what}: the sealed body was altered or moved")]
    Integrity { what: String },
    #[error(
        "the key-encryption key {detail}. Refusing to start: data sealed under the right key would \
         be unreadable. Restore the key file (or SEUIL_KEK) that this data directory was created with"
    )]
    WrongKek { detail: String },
    #[error("key-encryption key: {0}")]
    Kek(String),
    #[error("invalid {what}: {why}")]
    Invalid { what: String, why: String },
    #[error("the audit log does not verify: {0}")]
    AuditBroken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VaultError {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }
    pub fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }
}

pub type Result<T, E = VaultError> = std::result::Result<T, E>;
