//! Online backups of the database file.

use super::{SqliteStore, schema};
use crate::{Result, StoreError};
use std::path::Path;

impl SqliteStore {
    /// Writes a snapshot of the database to `dest` and of the audit log to
    /// [`SqliteStore::audit_path`] of `dest` (neither may exist) while the store stays in use.
    /// The snapshots hold only sealed bodies, wrapped keys and sealed audit details, like the
    /// files themselves.
    ///
    /// Each file is a consistent snapshot; the log's is taken second, so it holds every event
    /// about what the database snapshot holds (and perhaps a few later ones).
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        let audit_dest = schema::audit_path(dest);
        for file in [dest, &audit_dest] {
            if file.exists() {
                return Err(StoreError::invalid(
                    "backup destination",
                    format!("{} already exists", file.display()),
                ));
            }
        }
        let utf8 = |p: &Path| {
            p.to_str().map(str::to_owned).ok_or_else(|| {
                StoreError::invalid("backup destination", "the path must be valid UTF-8")
            })
        };
        let backend = |e: rusqlite::Error| StoreError::Backend {
            backend: "sqlite",
            detail: format!("backup failed: {e}"),
        };
        let conn = schema::open_reader(self.path())?;
        conn.execute("VACUUM main INTO ?1", [utf8(dest)?])
            .map_err(backend)?;
        conn.execute("VACUUM audit INTO ?1", [utf8(&audit_dest)?])
            .map_err(backend)?;
        Ok(())
    }
}
