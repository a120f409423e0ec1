//! Records: the SQL behind the record methods of the store. Writes take the writer's
//! transaction, reads a pooled connection; both are plain `&Connection` here.

use super::convert::{get_u64, now_ms, record, record_at, to_i64};
use crate::{Millis, NewRecord, OpenRow, Query, Record, RecordKey, Result, StoreError, WrappedKey};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, params};

fn what(kind: &str, id: &str) -> String {
    format!("record {kind}/{id}")
}

pub(super) fn insert(c: &Connection, r: &NewRecord) -> Result<()> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO records (kind, id, subject, status, at, scope, body, retain_until,
                                  version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9)
             ON CONFLICT (kind, id) DO NOTHING",
        )?
        .execute(params![
            r.kind,
            r.id,
            r.subject,
            r.index.status,
            r.index.at,
            r.index.scope,
            r.body,
            r.retain_until,
            now_ms()
        ])?;
    if inserted == 0 {
        return Err(StoreError::conflict(what(&r.kind, &r.id)));
    }
    Ok(())
}

pub(super) fn update(c: &Connection, r: &NewRecord, expected_version: u64) -> Result<u64> {
    let expected = to_i64(expected_version, "expected version")?;
    let version = c
        .prepare_cached(
            "UPDATE records SET subject = ?3, status = ?4, at = ?5, scope = ?6, body = ?7,
                                retain_until = ?8, version = version + 1, updated_at = ?9
             WHERE kind = ?1 AND id = ?2 AND version = ?10
             RETURNING version",
        )?
        .query_row(
            params![
                r.kind,
                r.id,
                r.subject,
                r.index.status,
                r.index.at,
                r.index.scope,
                r.body,
                r.retain_until,
                now_ms(),
                expected
            ],
            |row| get_u64(row, 0),
        )
        .optional()?;
    match version {
        Some(v) => Ok(v),
        None if exists(c, &r.kind, &r.id)? => Err(StoreError::VersionConflict {
            what: what(&r.kind, &r.id),
            expected: expected_version,
        }),
        None => Err(StoreError::not_found(what(&r.kind, &r.id))),
    }
}

fn exists(c: &Connection, kind: &str, id: &str) -> Result<bool> {
    let found = c
        .prepare_cached("SELECT 1 FROM records WHERE kind = ?1 AND id = ?2")?
        .query_row([kind, id], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
}

pub(super) fn set_retention(
    c: &Connection,
    kind: &str,
    id: &str,
    until: Option<Millis>,
) -> Result<bool> {
    let changed = c
        .prepare_cached("UPDATE records SET retain_until = ?3 WHERE kind = ?1 AND id = ?2")?
        .execute(params![kind, id, until])?;
    Ok(changed > 0)
}

pub(super) fn get(c: &Connection, kind: &str, id: &str) -> Result<Option<Record>> {
    let sql = concat!(
        "SELECT ",
        record_columns!(),
        " FROM records r WHERE kind = ?1 AND id = ?2"
    );
    Ok(c.prepare_cached(sql)?
        .query_row([kind, id], record)
        .optional()?)
}

/// The hot path of every audited read: the record, the subject's key (absent once shredded)
/// and the newest consent decision for the purpose, in one statement and so one snapshot.
pub(super) fn get_for_open(
    c: &Connection,
    kind: &str,
    id: &str,
    purpose: Option<&str>,
) -> Result<Option<OpenRow>> {
    let with_consent = concat!(
        "SELECT ",
        record_columns!(),
        ", k.kek_id, k.wrapped, k.created_at,
           (SELECT c.granted FROM consents c
             WHERE c.subject = r.subject AND c.purpose = ?3
             ORDER BY c.at DESC, c.seq DESC LIMIT 1)
         FROM records r LEFT JOIN subject_keys k ON k.subject = r.subject
         WHERE r.kind = ?1 AND r.id = ?2"
    );
    let without = concat!(
        "SELECT ",
        record_columns!(),
        ", k.kek_id, k.wrapped, k.created_at, NULL
         FROM records r LEFT JOIN subject_keys k ON k.subject = r.subject
         WHERE r.kind = ?1 AND r.id = ?2"
    );
    let mut stmt = match purpose {
        Some(_) => c.prepare_cached(with_consent)?,
        None => c.prepare_cached(without)?,
    };
    let params: Vec<&dyn rusqlite::ToSql> = match &purpose {
        Some(p) => vec![&kind, &id, p],
        None => vec![&kind, &id],
    };
    let row = stmt
        .query_row(params.as_slice(), |row| {
            let record = record_at(row, 0)?;
            let kek_id: Option<String> = row.get(11)?;
            let wrapped_key = match kek_id {
                Some(kek_id) => Some(WrappedKey {
                    subject: record.subject.clone(),
                    kek_id,
                    wrapped: row.get(12)?,
                    created_at: row.get(13)?,
                }),
                None => None,
            };
            Ok(OpenRow {
                record,
                wrapped_key,
                consent: row.get(14)?,
            })
        })
        .optional()?;
    Ok(row)
}

pub(super) fn delete(c: &Connection, kind: &str, id: &str) -> Result<bool> {
    let deleted = c
        .prepare_cached("DELETE FROM records WHERE kind = ?1 AND id = ?2")?
        .execute([kind, id])?;
    Ok(deleted > 0)
}

/// Builds the statement from the filters that are set, so that SQLite can pick an index for
/// them (a `(?2 IS NULL OR subject = ?2)` form would defeat the planner). There are at most
/// 64 shapes, each prepared once and cached.
pub(super) fn query(c: &Connection, q: &Query) -> Result<Vec<Record>> {
    let limit = q.limit.map(i64::from);
    let mut sql = String::from(concat!(
        "SELECT ",
        record_columns!(),
        " FROM records r WHERE kind = ?"
    ));
    let mut args: Vec<&dyn ToSql> = vec![&q.kind];
    let filters: [(&str, Option<&dyn ToSql>); 5] = [
        (
            " AND subject = ?",
            q.subject.as_ref().map(|v| v as &dyn ToSql),
        ),
        (
            " AND status = ?",
            q.status.as_ref().map(|v| v as &dyn ToSql),
        ),
        (" AND scope = ?", q.scope.as_ref().map(|v| v as &dyn ToSql)),
        (" AND at >= ?", q.at_from.as_ref().map(|v| v as &dyn ToSql)),
        (" AND at < ?", q.at_to.as_ref().map(|v| v as &dyn ToSql)),
    ];
    for (clause, value) in filters {
        if let Some(value) = value {
            sql.push_str(clause);
            args.push(value);
        }
    }
    // SQLite puts NULLs first in ascending order; the PostgreSQL backend says so explicitly.
    sql.push_str(" ORDER BY at, id");
    if let Some(limit) = &limit {
        sql.push_str(" LIMIT ?");
        args.push(limit);
    }
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(args.as_slice(), record)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn subject_records(c: &Connection, subject: &str) -> Result<Vec<Record>> {
    let sql = concat!(
        "SELECT ",
        record_columns!(),
        " FROM records r WHERE subject = ?1 ORDER BY kind, id"
    );
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt
        .query_map([subject], record)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn expired(c: &Connection, now: Millis, limit: u32) -> Result<Vec<RecordKey>> {
    let mut stmt = c.prepare_cached(
        "SELECT kind, id, subject FROM records WHERE retain_until < ?1
         ORDER BY retain_until, kind, id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![now, i64::from(limit)], |r| {
            Ok(RecordKey {
                kind: r.get(0)?,
                id: r.get(1)?,
                subject: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn delete_subject_records(c: &Connection, subject: &str) -> Result<u64> {
    let deleted = c
        .prepare_cached("DELETE FROM records WHERE subject = ?1")?
        .execute([subject])?;
    Ok(deleted as u64)
}
