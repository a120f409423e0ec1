//! The outbox: notifications waiting to leave, claimed with a lease so that two senders (two
//! instances, or a sender restarted after a crash) do not both send one.

use super::convert::{get_u64, to_i64};
use crate::{Millis, NewOutboxMessage, OutboxMessage, Result};
use rusqlite::{Connection, params};

pub(super) fn push(c: &Connection, m: &NewOutboxMessage) -> Result<u64> {
    let id = c
        .prepare_cached(
            "INSERT INTO outbox (subject, target, payload, next_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        )?
        .query_row(params![m.subject, m.target, m.payload, m.next_at], |r| get_u64(r, 0))?;
    Ok(id)
}

/// Leases the due messages in the same statement that selects them.
pub(super) fn claim(
    c: &Connection,
    now: Millis,
    lease: Millis,
    limit: u32,
) -> Result<Vec<OutboxMessage>> {
    let mut stmt = c.prepare_cached(
        "UPDATE outbox SET lease_until = ?2
         WHERE id IN (SELECT id FROM outbox
                      WHERE next_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
                      ORDER BY next_at, id LIMIT ?3)
         RETURNING id, subject, target, payload, attempts, next_at, last_error",
    )?;
    let rows = stmt.query_map(
        params![now, now.saturating_add(lease), i64::from(limit)],
        |r| {
            Ok(OutboxMessage {
                id: get_u64(r, 0)?,
                subject: r.get(1)?,
                target: r.get(2)?,
                payload: r.get(3)?,
                attempts: r.get(4)?,
                next_at: r.get(5)?,
                last_error: r.get(6)?,
            })
        },
    )?;
    let mut claimed = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    // RETURNING gives rows in no promised order.
    claimed.sort_by_key(|m| (m.next_at, m.id));
    Ok(claimed)
}

/// Idempotent: a message already done (by a sender whose lease had not run out) is not an
/// error.
pub(super) fn done(c: &Connection, id: u64) -> Result<()> {
    let id = to_i64(id, "outbox id")?;
    c.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Counts the failed attempt, schedules the next and frees the message for any sender then.
/// A message already done is left alone.
pub(super) fn retry(c: &Connection, id: u64, next_at: Millis, error: &str) -> Result<()> {
    let id = to_i64(id, "outbox id")?;
    c.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3, lease_until = NULL
         WHERE id = ?1",
    )?
    .execute(params![id, next_at, error])?;
    Ok(())
}

/// Every message not yet done, leased or not.
pub(super) fn pending(c: &Connection) -> Result<u64> {
    Ok(c.prepare_cached("SELECT count(*) FROM outbox")?
        .query_row([], |r| get_u64(r, 0))?)
}

pub(super) fn delete_subject(c: &Connection, subject: &str) -> Result<u64> {
    let deleted = c
        .prepare_cached("DELETE FROM outbox WHERE subject = ?1")?
        .execute([subject])?;
    Ok(deleted as u64)
}
