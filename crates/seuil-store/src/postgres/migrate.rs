//! Schema migrations: plain SQL files embedded in the binary, applied in order, each once.
//!
//! Every instance runs [`migrate`] when it connects. The work happens in one transaction that
//! first takes a transaction-scoped advisory lock, so when several `seuil serve` instances start
//! at once, one applies the migrations and the others wait, then find them recorded in
//! `seuil_migrations` and apply nothing.

use super::{PgStore as Pg, lock_class};
use crate::Result;

/// One migration: its number (from the file name), its name and its SQL.
struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order. To add one, add `migrations/postgres/NNNN_name.sql` and a line
/// here; never edit a migration that has shipped.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "init",
    sql: include_str!("../../migrations/postgres/0001_init.sql"),
}];

/// The newest schema version this build knows.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Creates the schema if one is named, then applies the migrations not yet recorded.
pub(super) async fn migrate(pg: &Pg) -> Result<()> {
    let mut client = pg.client().await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| pg.err(e, "starting the migration"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&lock_class::MIGRATE, &pg.lock_key],
    )
    .await
    .map_err(|e| pg.err(e, "locking for migration"))?;
    if let Some(schema) = &pg.schema {
        // The name was checked to be a plain lowercase identifier when connecting.
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .await
            .map_err(|e| pg.err(e, "creating the schema"))?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS seuil_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(|e| pg.err(e, "creating seuil_migrations"))?;
    let rows = tx
        .query("SELECT version FROM seuil_migrations", &[])
        .await
        .map_err(|e| pg.err(e, "reading seuil_migrations"))?;
    let mut applied = Vec::with_capacity(rows.len());
    for row in &rows {
        applied.push(
            row.try_get::<_, i64>(0)
                .map_err(|e| pg.err(e, "reading seuil_migrations"))?,
        );
    }
    let newest = applied.iter().copied().max().unwrap_or(0);
    if newest > latest_version() {
        return Err(crate::StoreError::Invalid {
            what: "database schema".into(),
            why: format!(
                "it is at version {newest} but this build knows only up to {}; run a newer seuil",
                latest_version()
            ),
        });
    }
    for m in MIGRATIONS {
        if applied.contains(&m.version) {
            continue;
        }
        tracing::info!(
            version = m.version,
            name = m.name,
            "applying PostgreSQL migration"
        );
        tx.batch_execute(m.sql).await.map_err(|e| {
            pg.err(
                e,
                &format!("applying migration {:04}_{}", m.version, m.name),
            )
        })?;
        tx.execute(
            "INSERT INTO seuil_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await
        .map_err(|e| pg.err(e, "recording a migration"))?;
    }
    tx.commit()
        .await
        .map_err(|e| pg.err(e, "committing the migration"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(
                m.version,
                i as i64 + 1,
                "migration {} is out of order",
                m.name
            );
            assert!(!m.sql.trim().is_empty());
        }
    }
}
