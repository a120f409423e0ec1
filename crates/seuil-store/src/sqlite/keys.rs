//! Subject keys, the shred ledger, named values and consent decisions.

use crate::{ConsentEntry, Millis, Result, ShredEntry, StoreError, WrappedKey};
use rusqlite::{Connection, OptionalExtension, params};

fn key(r: &rusqlite::Row<'_>) -> rusqlite::Result<WrappedKey> {
    Ok(WrappedKey {
        subject: r.get(0)?,
        kek_id: r.get(1)?,
        wrapped: r.get(2)?,
        created_at: r.get(3)?,
    })
}

pub(super) fn put_key(c: &Connection, k: &WrappedKey) -> Result<()> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO subject_keys (subject, kek_id, wrapped, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (subject) DO NOTHING",
        )?
        .execute(params![k.subject, k.kek_id, k.wrapped, k.created_at])?;
    if inserted == 0 {
        return Err(StoreError::conflict(format!(
            "the key of subject {}",
            k.subject
        )));
    }
    Ok(())
}

pub(super) fn get_key(c: &Connection, subject: &str) -> Result<Option<WrappedKey>> {
    let mut stmt = c.prepare_cached(
        "SELECT subject, kek_id, wrapped, created_at FROM subject_keys WHERE subject = ?1",
    )?;
    Ok(stmt.query_row([subject], key).optional()?)
}

pub(super) fn all_keys(c: &Connection) -> Result<Vec<WrappedKey>> {
    let mut stmt = c.prepare_cached(
        "SELECT subject, kek_id, wrapped, created_at FROM subject_keys ORDER BY subject",
    )?;
    Ok(stmt
        .query_map([], key)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Rewraps existing keys only: a key shredded while the rotation ran stays shredded.
pub(super) fn rewrap_keys(c: &Connection, keys: &[WrappedKey]) -> Result<()> {
    let mut stmt =
        c.prepare_cached("UPDATE subject_keys SET kek_id = ?2, wrapped = ?3 WHERE subject = ?1")?;
    for k in keys {
        stmt.execute(params![k.subject, k.kek_id, k.wrapped])?;
    }
    Ok(())
}

/// Deletes the key and records the shred; the writer then truncates the WAL (see
/// `After::TruncateWal`). The cost does not depend on how much data the subject has.
pub(super) fn shred_key(c: &Connection, subject: &str, at: Millis) -> Result<bool> {
    let deleted = c
        .prepare_cached("DELETE FROM subject_keys WHERE subject = ?1")?
        .execute([subject])?;
    if deleted == 0 {
        return Ok(false);
    }
    c.prepare_cached("INSERT INTO shred_ledger (subject, at) VALUES (?1, ?2)")?
        .execute(params![subject, at])?;
    Ok(true)
}

pub(super) fn shred_ledger(c: &Connection) -> Result<Vec<ShredEntry>> {
    let mut stmt = c.prepare_cached("SELECT subject, at FROM shred_ledger ORDER BY seq")?;
    let rows = stmt.query_map([], |r| {
        Ok(ShredEntry {
            subject: r.get(0)?,
            at: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn get_meta(c: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    let mut stmt = c.prepare_cached("SELECT value FROM meta WHERE name = ?1")?;
    Ok(stmt.query_row([name], |r| r.get(0)).optional()?)
}

pub(super) fn init_meta(c: &Connection, name: &str, value: &[u8]) -> Result<Vec<u8>> {
    c.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
    )?
    .execute(params![name, value])?;
    get_meta(c, name)?.ok_or_else(|| StoreError::not_found(format!("meta value {name}")))
}

pub(super) fn set_meta(c: &Connection, name: &str, value: &[u8]) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![name, value])?;
    Ok(())
}

pub(super) fn add_consent(c: &Connection, e: &ConsentEntry) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO consents (subject, purpose, granted, notice_version, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![e.subject, e.purpose, e.granted, e.notice_version, e.at])?;
    Ok(())
}

pub(super) fn consent_history(c: &Connection, subject: &str) -> Result<Vec<ConsentEntry>> {
    let mut stmt = c.prepare_cached(
        "SELECT subject, purpose, granted, notice_version, at FROM consents WHERE subject = ?1
         ORDER BY at, seq",
    )?;
    let rows = stmt.query_map([subject], |r| {
        Ok(ConsentEntry {
            subject: r.get(0)?,
            purpose: r.get(1)?,
            granted: r.get(2)?,
            notice_version: r.get(3)?,
            at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn delete_subject_consents(c: &Connection, subject: &str) -> Result<u64> {
    let deleted = c
        .prepare_cached("DELETE FROM consents WHERE subject = ?1")?
        .execute([subject])?;
    Ok(deleted as u64)
}
