//! Copies the write-ahead log into the database file on its own thread.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so every
//! thousand pages one group of callers waits for a copy of the whole log and an extra fsync.
//! Here a second connection does that work beside the writer: after commits it runs a PASSIVE
//! checkpoint, which copies what is committed without ever blocking the writer or a reader.
//! The writer keeps a much higher automatic threshold as a backstop, so the log stays bounded
//! even if this thread falls behind (a long read pinning old pages).

use crate::{Result, StoreError};
use rusqlite::Connection;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// The writer's own automatic checkpoint, in pages (SQLite's default is 1000).
pub(super) const BACKSTOP_PAGES: u32 = 8000;

/// At most one checkpoint per this interval: a page written by many commits meanwhile is
/// copied once.
const INTERVAL: Duration = Duration::from_millis(50);

pub(super) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Held while the thread checkpoints.
    running: Arc<Mutex<()>>,
}

impl Checkpointer {
    pub(super) fn start(conn: Connection) -> Result<Checkpointer> {
        // One pending nudge is enough: it means "there is something to copy".
        let (nudge, nudges) = mpsc::sync_channel(1);
        let running = Arc::new(Mutex::new(()));
        let held = running.clone();
        let thread = std::thread::Builder::new()
            .name("seuil-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &nudges, &held))
            .map_err(|e| StoreError::io("the SQLite checkpoint thread", e))?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
            running,
        })
    }

    /// Waits for the thread's checkpoint in progress, if any, and keeps it from starting
    /// another until the guard drops. SQLite refuses a checkpoint while another runs rather
    /// than wait for it, so the writer's own (the TRUNCATE after a shred) takes this first.
    pub(super) fn pause(&self) -> MutexGuard<'_, ()> {
        // The guarded value is `()`: a panic while holding it leaves nothing inconsistent.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the thread that commits happened. Never blocks.
    pub(super) fn nudge(&self) {
        if let Some(nudge) = &self.nudge {
            match nudge.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                // The thread is gone; the writer's backstop keeps the log bounded.
                Err(TrySendError::Disconnected(())) => {}
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, nudges: &Receiver<()>, running: &Mutex<()>) {
    while nudges.recv().is_ok() {
        let checkpointing = running.lock().unwrap_or_else(|p| p.into_inner());
        // Columns: busy, frames in the log, frames copied. PASSIVE never waits, so `busy`
        // only means another checkpoint (a shred's TRUNCATE) was running: the next nudge
        // catches up.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "background WAL checkpoint failed; the writer's own checkpoint takes over");
        }
        drop(checkpointing);
        std::thread::sleep(INTERVAL);
    }
}
