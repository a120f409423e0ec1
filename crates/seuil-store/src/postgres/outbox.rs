//! The outbox: notifications waiting to leave, claimed with `FOR UPDATE SKIP LOCKED` and a
//! lease so that two instances (or a sender restarted after a crash) do not both send one.

use super::PgStore as Pg;
use super::convert::{col, to_u64};
use super::error::backend_err;
use crate::{Millis, NewOutboxMessage, OutboxMessage, Result};
use tokio_postgres::Row;

fn outbox_from_row(row: &Row) -> Result<OutboxMessage> {
    let attempts: i32 = col(row, 4)?;
    Ok(OutboxMessage {
        id: to_u64(col(row, 0)?, "outbox message id")?,
        subject: col(row, 1)?,
        target: col(row, 2)?,
        payload: col(row, 3)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| backend_err(format!("stored outbox attempts {attempts} is negative")))?,
        next_at: col(row, 5)?,
        last_error: col(row, 6)?,
    })
}

pub(super) async fn push(pg: &Pg, msg: &NewOutboxMessage) -> Result<u64> {
    let row = pg
        .row(
            "INSERT INTO outbox (subject, target, payload, next_at) VALUES ($1, $2, $3, $4)
             RETURNING id",
            &[&msg.subject, &msg.target, &msg.payload, &msg.next_at],
            "an outbox message",
        )
        .await?
        .ok_or_else(|| backend_err("inserting an outbox message returned no id".to_owned()))?;
    to_u64(col(&row, 0)?, "outbox message id")
}

pub(super) async fn claim(
    pg: &Pg,
    now: Millis,
    lease: Millis,
    limit: u32,
) -> Result<Vec<OutboxMessage>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let until = now.saturating_add(lease.max(0));
    // SKIP LOCKED: rows another instance is claiming right now are passed over, and the
    // lease (lease_until) keeps them from being claimed again until it runs out.
    let rows = pg
        .rows(
            "WITH due AS (
                 SELECT id FROM outbox
                 WHERE next_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                 ORDER BY next_at, id
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             UPDATE outbox o SET lease_until = $2
             FROM due WHERE o.id = due.id
             RETURNING o.id, o.subject, o.target, o.payload, o.attempts, o.next_at, o.last_error",
            &[&now, &until, &i64::from(limit)],
            "claiming outbox messages",
        )
        .await?;
    let mut out = rows
        .iter()
        .map(outbox_from_row)
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|m| (m.next_at, m.id));
    Ok(out)
}

pub(super) async fn done(pg: &Pg, id: u64) -> Result<()> {
    let Ok(id) = i64::try_from(id) else {
        return Ok(());
    };
    pg.exec(
        "DELETE FROM outbox WHERE id = $1",
        &[&id],
        "an outbox message",
    )
    .await?;
    Ok(())
}

pub(super) async fn retry(pg: &Pg, id: u64, next_at: Millis, error: &str) -> Result<()> {
    // A message that is gone (done by a sender whose lease had run out, or erased with its
    // subject) stays gone: retrying it is not an error.
    let Ok(pg_id) = i64::try_from(id) else {
        return Ok(());
    };
    pg.exec(
        "UPDATE outbox SET attempts = attempts + 1, next_at = $2, last_error = $3,
                 lease_until = NULL
             WHERE id = $1",
        &[&pg_id, &next_at, &error],
        &format!("outbox message {id}"),
    )
    .await?;
    Ok(())
}

pub(super) async fn pending(pg: &Pg) -> Result<u64> {
    pg.count("SELECT count(*) FROM outbox", &[], "the outbox")
        .await
}

pub(super) async fn delete_subject(pg: &Pg, subject: &str) -> Result<u64> {
    pg.exec(
        "DELETE FROM outbox WHERE subject = $1",
        &[&subject],
        "outbox of a subject",
    )
    .await
}
