//! Subject keys, the shred ledger, named values and consent decisions: the small tables kept
//! beside the records.

use super::PgStore as Pg;
use super::convert::col;
use super::error::backend_err;
use crate::{ConsentEntry, Millis, Result, ShredEntry, WrappedKey};
use tokio_postgres::Row;

fn key_from_row(row: &Row) -> Result<WrappedKey> {
    Ok(WrappedKey {
        subject: col(row, 0)?,
        kek_id: col(row, 1)?,
        wrapped: col(row, 2)?,
        created_at: col(row, 3)?,
    })
}

fn meta_what(name: &str) -> String {
    format!("meta value {name}")
}

// ---- keys -------------------------------------------------------------------------------------

pub(super) async fn put_key(pg: &Pg, key: &WrappedKey) -> Result<()> {
    pg.exec(
        "INSERT INTO subject_keys (subject, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4)",
        &[&key.subject, &key.kek_id, &key.wrapped, &key.created_at],
        &format!("the key of subject {}", key.subject),
    )
    .await?;
    Ok(())
}

pub(super) async fn get_key(pg: &Pg, subject: &str) -> Result<Option<WrappedKey>> {
    let row = pg
        .row(
            "SELECT subject, kek_id, wrapped, created_at FROM subject_keys WHERE subject = $1",
            &[&subject],
            "a subject key",
        )
        .await?;
    row.as_ref().map(key_from_row).transpose()
}

pub(super) async fn all_keys(pg: &Pg) -> Result<Vec<WrappedKey>> {
    let rows = pg
        .rows(
            "SELECT subject, kek_id, wrapped, created_at FROM subject_keys ORDER BY subject",
            &[],
            "subject keys",
        )
        .await?;
    rows.iter().map(key_from_row).collect()
}

pub(super) async fn rewrap_keys(pg: &Pg, keys: &[WrappedKey]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let subjects: Vec<&str> = keys.iter().map(|k| k.subject.as_str()).collect();
    let kek_ids: Vec<&str> = keys.iter().map(|k| k.kek_id.as_str()).collect();
    let wrapped: Vec<&[u8]> = keys.iter().map(|k| k.wrapped.as_slice()).collect();
    // One statement, so one transaction. A key shredded meanwhile stays shredded: only
    // existing rows are updated.
    pg.exec(
        "UPDATE subject_keys AS k SET kek_id = u.kek_id, wrapped = u.wrapped
         FROM UNNEST($1::text[], $2::text[], $3::bytea[]) AS u(subject, kek_id, wrapped)
         WHERE k.subject = u.subject",
        &[&subjects, &kek_ids, &wrapped],
        "rewrapping subject keys",
    )
    .await?;
    Ok(())
}

pub(super) async fn shred_key(pg: &Pg, subject: &str, at: Millis) -> Result<bool> {
    // One statement, so one transaction: the ledger line is written if and only if a key
    // was deleted. Of two instances shredding at once, the second finds no key (its delete
    // waits for the first to commit) and records nothing.
    let shredded = pg
        .exec(
            "WITH gone AS (DELETE FROM subject_keys WHERE subject = $1 RETURNING subject)
             INSERT INTO shred_ledger (subject, at) SELECT subject, $2 FROM gone",
            &[&subject, &at],
            "shredding a subject key",
        )
        .await?;
    Ok(shredded > 0)
}

pub(super) async fn shred_ledger(pg: &Pg) -> Result<Vec<ShredEntry>> {
    let rows = pg
        .rows(
            "SELECT subject, at FROM shred_ledger ORDER BY seq",
            &[],
            "the shred ledger",
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ShredEntry {
                subject: col(r, 0)?,
                at: col(r, 1)?,
            })
        })
        .collect()
}

// ---- meta -------------------------------------------------------------------------------------

pub(super) async fn get_meta(pg: &Pg, name: &str) -> Result<Option<Vec<u8>>> {
    let row = pg
        .row(
            "SELECT value FROM meta WHERE name = $1",
            &[&name],
            &meta_what(name),
        )
        .await?;
    row.map(|r| col(&r, 0)).transpose()
}

pub(super) async fn init_meta(pg: &Pg, name: &str, value: &[u8]) -> Result<Vec<u8>> {
    let what = meta_what(name);
    // Two statements on purpose: if another instance inserts first, the insert waits for
    // it and does nothing, and the select (a new snapshot) then sees its value.
    let inserted = pg
        .exec(
            "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &value],
            &what,
        )
        .await?;
    if inserted > 0 {
        return Ok(value.to_vec());
    }
    get_meta(pg, name)
        .await?
        .ok_or_else(|| backend_err(format!("{what} vanished while being initialised")))
}

pub(super) async fn set_meta(pg: &Pg, name: &str, value: &[u8]) -> Result<()> {
    pg.exec(
        "INSERT INTO meta (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        &[&name, &value],
        &meta_what(name),
    )
    .await?;
    Ok(())
}

// ---- consent ----------------------------------------------------------------------------------

pub(super) async fn add_consent(pg: &Pg, entry: &ConsentEntry) -> Result<()> {
    pg.exec(
        "INSERT INTO consents (subject, purpose, granted, notice_version, at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &entry.subject,
            &entry.purpose,
            &entry.granted,
            &entry.notice_version,
            &entry.at,
        ],
        "a consent decision",
    )
    .await?;
    Ok(())
}

pub(super) async fn consent_history(pg: &Pg, subject: &str) -> Result<Vec<ConsentEntry>> {
    let rows = pg
        .rows(
            "SELECT subject, purpose, granted, notice_version, at FROM consents
             WHERE subject = $1 ORDER BY at, seq",
            &[&subject],
            "consent history",
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ConsentEntry {
                subject: col(r, 0)?,
                purpose: col(r, 1)?,
                granted: col(r, 2)?,
                notice_version: col(r, 3)?,
                at: col(r, 4)?,
            })
        })
        .collect()
}

pub(super) async fn delete_subject_consents(pg: &Pg, subject: &str) -> Result<u64> {
    pg.exec(
        "DELETE FROM consents WHERE subject = $1",
        &[&subject],
        "consents of a subject",
    )
    .await
}
