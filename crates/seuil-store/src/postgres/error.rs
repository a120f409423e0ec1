//! Error mapping: turns pool and driver errors into [`StoreError`]s that say what failed and
//! what an operator should check, naming the server by its target (never its password).

use super::{BACKEND, POOL_SIZE, PgStore, WAIT_TIMEOUT};
use crate::StoreError;
use deadpool_postgres::{PoolError, TimeoutType};
use tokio_postgres::error::SqlState;

impl PgStore {
    pub(super) fn pool_err(&self, e: PoolError) -> StoreError {
        let target = &self.target;
        let detail = match e {
            PoolError::Backend(e) => return self.err(e, "connecting"),
            PoolError::Timeout(TimeoutType::Wait) => format!(
                "no free connection to {target} within {} s: all {POOL_SIZE} are busy; look for \
                 slow queries or long transactions",
                WAIT_TIMEOUT.as_secs()
            ),
            PoolError::Timeout(TimeoutType::Create) => format!(
                "connecting to {target} timed out; check that PostgreSQL is running and \
                 reachable there"
            ),
            PoolError::Timeout(TimeoutType::Recycle) => format!(
                "checking a pooled connection to {target} timed out; check the server's load \
                 and the network"
            ),
            PoolError::Closed => "the connection pool is closed".to_owned(),
            other => format!("connection pool for {target}: {other}"),
        };
        StoreError::Unavailable {
            backend: BACKEND,
            detail,
        }
    }

    /// Maps a driver error met while working on `what` (a record, "the audit log"...).
    /// Unique violations become [`StoreError::Conflict`] naming `what`; lost or refused
    /// connections become [`StoreError::Unavailable`] saying what to check.
    pub(super) fn err(&self, e: tokio_postgres::Error, what: &str) -> StoreError {
        let target = &self.target;
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::UNIQUE_VIOLATION {
                return StoreError::conflict(what);
            }
            if let Some(hint) = unavailable_hint(code.code()) {
                return StoreError::Unavailable {
                    backend: BACKEND,
                    detail: format!(
                        "PostgreSQL at {target} refused {what}: {} ({}); {hint}",
                        db.message(),
                        code.code()
                    ),
                };
            }
            return StoreError::Backend {
                backend: BACKEND,
                detail: format!("{what}: {} ({})", db.message(), code.code()),
            };
        }
        let chain = error_chain(&e);
        if e.is_closed() || has_io_source(&e) {
            let detail = if what == "connecting" {
                format!(
                    "cannot connect to PostgreSQL at {target} ({chain}); check that the server \
                     is running, listens there and accepts this client"
                )
            } else {
                format!(
                    "{what}: lost the connection to PostgreSQL at {target} ({chain}); check \
                     that the server is running and reachable"
                )
            };
            return StoreError::Unavailable {
                backend: BACKEND,
                detail,
            };
        }
        StoreError::Backend {
            backend: BACKEND,
            detail: format!("{what}: {chain}"),
        }
    }
}

pub(super) fn backend_err(detail: String) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        detail,
    }
}

/// What to check when the server refuses work with this SQLSTATE, if it means the database
/// cannot be used right now rather than that the request was wrong.
fn unavailable_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "28P01" | "28000" => "check the user and password in the PostgreSQL URL and pg_hba.conf",
        "3D000" => "check the database name in the PostgreSQL URL, or create the database",
        "53300" => "too many connections: raise max_connections or run fewer instances",
        "57P01" | "57P02" => "the server was shut down; check that it is running again",
        "57P03" => "the server is starting up or shutting down; retry in a moment",
        c if c.starts_with("08") => "check that PostgreSQL is running and reachable",
        "53100" => "the server is out of disk space",
        _ => return None,
    })
}

fn has_io_source(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The error and its causes, `a: b: c`.
fn error_chain(e: &tokio_postgres::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
