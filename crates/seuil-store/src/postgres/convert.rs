//! Conversions between PostgreSQL's types and the store's: columns, integers (PostgreSQL has
//! only signed ones), hashes and the clock.

use super::error::backend_err;
use crate::{Millis, Result, StoreError};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

pub(super) fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T> {
    row.try_get(idx).map_err(|e| {
        let name = row.columns().get(idx).map_or("?", |c| c.name());
        backend_err(format!("reading column {name}: {e}"))
    })
}

/// A value read from the database that must be non-negative.
pub(super) fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| backend_err(format!("stored {what} {v} is negative")))
}

/// A value to store as BIGINT; PostgreSQL has no unsigned 64-bit type.
pub(super) fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| StoreError::invalid(what, format!("{v} is larger than {}", i64::MAX)))
}

/// A range bound: values past `i64::MAX` cannot be stored, so they bound like `i64::MAX`.
pub(super) fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| backend_err(format!("stored {what} is {} bytes, not 32", bytes.len())))
}

pub(super) fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
