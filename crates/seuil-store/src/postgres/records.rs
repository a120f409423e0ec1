//! Records: the SQL behind the record methods of the store. Instances writing at once are
//! kept apart by optimistic versions, not locks.

use super::convert::{col, now_millis, to_u64};
use super::error::backend_err;
use super::{Param, PgStore as Pg};
use crate::{Millis, NewRecord, OpenRow, Query, Record, RecordKey, Result, StoreError, WrappedKey};
use tokio_postgres::Row;

const RECORD_COLS: &str =
    "kind, id, subject, status, at, scope, body, retain_until, version, created_at, updated_at";

fn record_what(kind: &str, id: &str) -> String {
    format!("record {kind}/{id}")
}

fn record_from_row(row: &Row) -> Result<Record> {
    Ok(Record {
        kind: col(row, 0)?,
        id: col(row, 1)?,
        subject: col(row, 2)?,
        index: crate::IndexFields {
            status: col(row, 3)?,
            at: col(row, 4)?,
            scope: col(row, 5)?,
        },
        body: col(row, 6)?,
        retain_until: col(row, 7)?,
        version: to_u64(col(row, 8)?, "record version")?,
        created_at: col(row, 9)?,
        updated_at: col(row, 10)?,
    })
}

pub(super) async fn insert(pg: &Pg, rec: &NewRecord) -> Result<()> {
    let now = now_millis();
    pg.exec(
        "INSERT INTO records (kind, id, subject, status, at, scope, body, retain_until, \
         version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
        &[
            &rec.kind,
            &rec.id,
            &rec.subject,
            &rec.index.status,
            &rec.index.at,
            &rec.index.scope,
            &rec.body,
            &rec.retain_until,
            &now,
        ],
        &record_what(&rec.kind, &rec.id),
    )
    .await?;
    Ok(())
}

pub(super) async fn update(pg: &Pg, rec: &NewRecord, expected_version: u64) -> Result<u64> {
    let what = record_what(&rec.kind, &rec.id);
    let Ok(expected) = i64::try_from(expected_version) else {
        // No record reaches such a version: it is either missing or changed.
        return match get(pg, &rec.kind, &rec.id).await? {
            Some(_) => Err(StoreError::VersionConflict {
                what,
                expected: expected_version,
            }),
            None => Err(StoreError::not_found(what)),
        };
    };
    let now = now_millis();
    // One round trip: try the guarded update, and tell a missing record from a stale
    // version by whether the row exists.
    let row = pg
        .row(
            "WITH upd AS (
                 UPDATE records SET subject = $3, status = $4, at = $5, scope = $6,
                     body = $7, retain_until = $8, version = version + 1, updated_at = $9
                 WHERE kind = $1 AND id = $2 AND version = $10
                 RETURNING version)
             SELECT (SELECT version FROM upd),
                    EXISTS (SELECT 1 FROM records WHERE kind = $1 AND id = $2)",
            &[
                &rec.kind,
                &rec.id,
                &rec.subject,
                &rec.index.status,
                &rec.index.at,
                &rec.index.scope,
                &rec.body,
                &rec.retain_until,
                &now,
                &expected,
            ],
            &what,
        )
        .await?
        .ok_or_else(|| backend_err(format!("{what}: the update returned no row")))?;
    match (col::<Option<i64>>(&row, 0)?, col::<bool>(&row, 1)?) {
        (Some(v), _) => to_u64(v, "record version"),
        (None, true) => Err(StoreError::VersionConflict {
            what,
            expected: expected_version,
        }),
        (None, false) => Err(StoreError::not_found(what)),
    }
}

pub(super) async fn get(pg: &Pg, kind: &str, id: &str) -> Result<Option<Record>> {
    let sql = format!("SELECT {RECORD_COLS} FROM records WHERE kind = $1 AND id = $2");
    match pg.row(&sql, &[&kind, &id], &record_what(kind, id)).await? {
        Some(row) => Ok(Some(record_from_row(&row)?)),
        None => Ok(None),
    }
}

pub(super) async fn get_for_open(
    pg: &Pg,
    kind: &str,
    id: &str,
    purpose: Option<&str>,
) -> Result<Option<OpenRow>> {
    // Without a purpose the lateral lookup matches nothing (`= NULL`): one query either way.
    let row = pg
        .row(
            "SELECT r.kind, r.id, r.subject, r.status, r.at, r.scope, r.body, r.retain_until,
                    r.version, r.created_at, r.updated_at,
                    k.kek_id, k.wrapped, k.created_at, c.granted
             FROM records r
             LEFT JOIN subject_keys k ON k.subject = r.subject
             LEFT JOIN LATERAL (
                 SELECT granted FROM consents
                 WHERE subject = r.subject AND purpose = $3
                 ORDER BY at DESC, seq DESC
                 LIMIT 1
             ) c ON true
             WHERE r.kind = $1 AND r.id = $2",
            &[&kind, &id, &purpose],
            &record_what(kind, id),
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let record = record_from_row(&row)?;
    let wrapped_key = match col::<Option<String>>(&row, 11)? {
        Some(kek_id) => Some(WrappedKey {
            subject: record.subject.clone(),
            kek_id,
            wrapped: col(&row, 12)?,
            created_at: col(&row, 13)?,
        }),
        None => None,
    };
    let consent = col::<Option<bool>>(&row, 14)?;
    Ok(Some(OpenRow {
        record,
        wrapped_key,
        consent,
    }))
}

pub(super) async fn set_retention(
    pg: &Pg,
    kind: &str,
    id: &str,
    retain_until: Option<Millis>,
) -> Result<bool> {
    let n = pg
        .exec(
            "UPDATE records SET retain_until = $3 WHERE kind = $1 AND id = $2",
            &[&kind, &id, &retain_until],
            &record_what(kind, id),
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn delete(pg: &Pg, kind: &str, id: &str) -> Result<bool> {
    let n = pg
        .exec(
            "DELETE FROM records WHERE kind = $1 AND id = $2",
            &[&kind, &id],
            &record_what(kind, id),
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn query(pg: &Pg, q: &Query) -> Result<Vec<Record>> {
    let limit = q.limit.map(i64::from);
    let mut sql = format!("SELECT {RECORD_COLS} FROM records WHERE kind = $1");
    let mut params: Vec<Param<'_>> = vec![&q.kind];
    let filters: [(&str, Option<Param<'_>>); 5] = [
        ("subject =", q.subject.as_ref().map(|v| v as Param<'_>)),
        ("status =", q.status.as_ref().map(|v| v as Param<'_>)),
        ("scope =", q.scope.as_ref().map(|v| v as Param<'_>)),
        ("at >=", q.at_from.as_ref().map(|v| v as Param<'_>)),
        ("at <", q.at_to.as_ref().map(|v| v as Param<'_>)),
    ];
    for (cond, value) in filters {
        if let Some(value) = value {
            params.push(value);
            sql.push_str(&format!(" AND {cond} ${}", params.len()));
        }
    }
    // NULLS FIRST: the order SQLite gives, so both backends agree.
    sql.push_str(" ORDER BY at ASC NULLS FIRST, id");
    if let Some(limit) = &limit {
        params.push(limit);
        sql.push_str(&format!(" LIMIT ${}", params.len()));
    }
    let rows = pg
        .rows(&sql, &params, &format!("query of {}", q.kind))
        .await?;
    rows.iter().map(record_from_row).collect()
}

pub(super) async fn subject_records(pg: &Pg, subject: &str) -> Result<Vec<Record>> {
    let sql = format!("SELECT {RECORD_COLS} FROM records WHERE subject = $1 ORDER BY kind, id");
    let rows = pg.rows(&sql, &[&subject], "records of a subject").await?;
    rows.iter().map(record_from_row).collect()
}

pub(super) async fn expired(pg: &Pg, now: Millis, limit: u32) -> Result<Vec<RecordKey>> {
    let rows = pg
        .rows(
            "SELECT kind, id, subject FROM records WHERE retain_until < $1
             ORDER BY retain_until, kind, id LIMIT $2",
            &[&now, &i64::from(limit)],
            "expired records",
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RecordKey {
                kind: col(r, 0)?,
                id: col(r, 1)?,
                subject: col(r, 2)?,
            })
        })
        .collect()
}

pub(super) async fn delete_subject_records(pg: &Pg, subject: &str) -> Result<u64> {
    pg.exec(
        "DELETE FROM records WHERE subject = $1",
        &[&subject],
        "records of a subject",
    )
    .await
}
