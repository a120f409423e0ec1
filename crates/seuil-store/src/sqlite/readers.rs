//! A small pool of read-only connections. In WAL mode readers never wait for the writer, so
//! reads scale with cores while writes go through the single writer thread.

use super::convert::unavailable;
use super::schema;
use crate::{Result, StoreError};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

pub(super) struct Readers {
    pool: Arc<Pool>,
}

struct Pool {
    /// Idle connections. A task holding a permit of `permits` is sure to find one.
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Pool {
    fn take(&self) -> Option<Connection> {
        // Poisoned only if a thread panicked between `lock` and the end of `pop`/`push`,
        // which cannot leave the vector inconsistent.
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }
}

/// Returns the connection to the pool when the read ends, even if it panicked.
struct Lease<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give(conn);
        }
    }
}

impl Readers {
    /// Opens `size` read-only connections to `path`.
    pub(super) fn open(path: &Path, size: usize) -> Result<Readers> {
        let conns = (0..size)
            .map(|_| schema::open_reader(path))
            .collect::<Result<Vec<_>>>()?;
        let permits = Arc::new(Semaphore::new(conns.len()));
        Ok(Readers {
            pool: Arc::new(Pool {
                idle: Mutex::new(conns),
                permits,
            }),
        })
    }

    /// Runs a point read (one indexed lookup: microseconds on a warm page cache) on the calling
    /// thread, because handing it to a blocking thread costs more than the read itself. Falls
    /// back to [`Readers::read`] when every connection is busy.
    pub(super) async fn read_now<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        if let Ok(_permit) = self.pool.permits.clone().try_acquire_owned() {
            let lease = Lease {
                pool: &self.pool,
                conn: self.pool.take(),
            };
            return match &lease.conn {
                Some(conn) => work(conn),
                None => Err(unavailable("no idle read connection (a reader was lost)")),
            };
        }
        self.read(work).await
    }

    /// Runs `work` on an idle connection, on a blocking thread: a SQLite read may touch the
    /// disk and must not stall the async workers.
    pub(super) async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = self
            .pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| unavailable("the store is closed"))?;
        let pool = self.pool.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let lease = Lease {
                pool: &pool,
                conn: pool.take(),
            };
            match &lease.conn {
                Some(conn) => work(conn),
                None => Err(unavailable("no idle read connection (a reader was lost)")),
            }
        })
        .await;
        joined.map_err(|e| StoreError::Backend {
            backend: "sqlite",
            detail: format!("a read failed unexpectedly: {e}"),
        })?
    }
}
