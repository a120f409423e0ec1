use thiserror::Error;

/// What can go wrong in a store. Messages say what happened and, where it helps, what to do.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error(
        "{what} was changed by another writer (expected version {expected}); read it again and retry"
    )]
    VersionConflict { what: String, expected: u64 },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error(
        "the audit log is {actual} entries long, not {expected}: another writer appended first"
    )]
    LogSizeMismatch { expected: u64, actual: u64 },
    #[error("invalid {what}: {why}")]
    Invalid { what: String, why: String },
    #[error("the {backend} store is unavailable: {detail}")]
    Unavailable {
        backend: &'static str,
        detail: String,
    },
    #[error("{backend} storage error: {detail}")]
    Backend {
        backend: &'static str,
        detail: String,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }
    pub fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict { what: what.into() }
    }
    pub fn invalid(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
