//! Online backups of the database file.

use super::SqliteStore;
use crate::{Result, StoreError};
use std::path::Path;

impl SqliteStore {
    /// Writes a consistent snapshot of the database to `dest` (which must not exist) while the
    /// store stays in use. The snapshot holds only sealed bodies and wrapped keys, like the
    /// database itself.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        if dest.exists() {
            return Err(StoreError::invalid(
                "backup destination",
                format!("{} already exists", dest.display()),
            ));
        }
        let dest_str = dest.to_str().ok_or_else(|| {
            StoreError::invalid("backup destination", "the path must be valid UTF-8")
        })?;
        let backend = |e: rusqlite::Error| StoreError::Backend {
            backend: "sqlite",
            detail: format!("backup failed: {e}"),
        };
        let conn = rusqlite::Connection::open(self.path()).map_err(backend)?;
        conn.execute("VACUUM INTO ?1", [dest_str])
            .map_err(backend)?;
        Ok(())
    }
}
