//! Conversions between SQLite and the store's types: errors, integers, rows.

use crate::{Millis, Record, StoreError};
use rusqlite::ErrorCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// Lets `?` turn SQLite errors into store errors.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        sqlite_err(&e)
    }
}

/// A store error for a SQLite error, saying what happened in words an operator can act on.
pub(super) fn sqlite_err(e: &rusqlite::Error) -> StoreError {
    let backend = "sqlite";
    let rusqlite::Error::SqliteFailure(failure, message) = e else {
        return StoreError::Backend {
            backend,
            detail: e.to_string(),
        };
    };
    let what = match failure.code {
        ErrorCode::ReadOnly => {
            "the database is read-only: it was opened read-only, or its file, directory or \
             file system is not writable"
        }
        ErrorCode::DiskFull => {
            "the disk is full (or the database reached its size limit): free space"
        }
        ErrorCode::CannotOpen => {
            "cannot open the database file: check that the path is a file in an existing, \
             writable directory"
        }
        ErrorCode::SystemIoFailure => "disk I/O error: check the disk and the file system",
        ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
            "the database file is corrupt or is not a SQLite database: restore it from a backup"
        }
        ErrorCode::PermissionDenied => "permission denied on the database file",
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
            // Retryable: another connection or process held a lock longer than the timeout.
            return StoreError::Unavailable {
                backend,
                detail: format!("the database stayed locked by another connection: {e}"),
            };
        }
        _ => {
            return StoreError::Backend {
                backend,
                detail: e.to_string(),
            };
        }
    };
    let detail = match message {
        Some(m) => format!("{what} ({m}; code {})", failure.extended_code),
        None => format!("{what} (code {})", failure.extended_code),
    };
    StoreError::Backend { backend, detail }
}

/// The writer thread is gone (it panicked, or the store is closing).
pub(super) fn unavailable(detail: impl Into<String>) -> StoreError {
    StoreError::Unavailable {
        backend: "sqlite",
        detail: detail.into(),
    }
}

/// SQLite integers are signed 64-bit; the store's counters are `u64`.
pub(super) fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::invalid(what, format!("{value} is above 2^63 - 1")))
}

/// Reads a non-negative integer column as `u64` (rusqlite reads only signed integers without
/// its `fallible_uint` feature).
pub(super) fn get_u64(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<u64> {
    let value: i64 = row.get(column)?;
    u64::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(column, value))
}

/// The system clock, for `created_at` and `updated_at` (every other time comes from callers).
pub(super) fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// The columns [`record`] reads, in order, from `records r`. A macro rather than a constant so
/// that statements are `concat!`-ed at compile time.
macro_rules! record_columns {
    () => {
        "r.kind, r.id, r.subject, r.status, r.at, r.scope, r.body, r.retain_until, r.version, \
         r.created_at, r.updated_at"
    };
}

/// Reads a record from `record_columns!()` starting at column `at`.
pub(super) fn record_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Record> {
    Ok(Record {
        kind: row.get(at)?,
        id: row.get(at + 1)?,
        subject: row.get(at + 2)?,
        index: crate::IndexFields {
            status: row.get(at + 3)?,
            at: row.get(at + 4)?,
            scope: row.get(at + 5)?,
        },
        body: row.get(at + 6)?,
        retain_until: row.get(at + 7)?,
        version: get_u64(row, at + 8)?,
        created_at: row.get(at + 9)?,
        updated_at: row.get(at + 10)?,
    })
}

pub(super) fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    record_at(row, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn storage_failures_say_what_to_do() {
        for (code, words) in [
            (ffi::SQLITE_READONLY, "read-only"),
            (ffi::SQLITE_FULL, "disk is full"),
            (ffi::SQLITE_CANTOPEN, "cannot open"),
            (ffi::SQLITE_IOERR, "I/O error"),
        ] {
            match sqlite_err(&failure(code)) {
                StoreError::Backend {
                    backend: "sqlite",
                    detail,
                } => {
                    assert!(detail.contains(words), "{detail}")
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        assert!(matches!(
            sqlite_err(&failure(ffi::SQLITE_BUSY)),
            StoreError::Unavailable { .. }
        ));
    }

    #[test]
    fn counters_above_i64_are_invalid() {
        assert_eq!(to_i64(5, "n").ok(), Some(5));
        assert!(matches!(
            to_i64(u64::MAX, "n"),
            Err(StoreError::Invalid { .. })
        ));
    }
}
