//! PostgreSQL backend (placeholder while being written).
pub struct PgStore;
