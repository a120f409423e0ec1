//! SQLite backend (placeholder while being written).
pub struct SqliteStore;
