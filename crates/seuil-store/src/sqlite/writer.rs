//! The one writer thread, and its group commit.
//!
//! SQLite lets one connection write at a time, and with `synchronous = FULL` every commit
//! costs an fsync. So every write goes to a single thread, which takes every job already
//! queued (up to [`MAX_BATCH`]), runs them in ONE `BEGIN IMMEDIATE` transaction, each inside
//! its own savepoint so that a failing job (a conflict) undoes only itself, commits once, and
//! only then answers each caller. A job alone in its batch needs no savepoint (its failure
//! rolls back the transaction), which saves copying every page it touches. One fsync is shared by every write that arrived while the
//! previous one was on its way to disk: acknowledged means committed and durable.

use super::checkpointer::Checkpointer;
use super::convert::unavailable;
use crate::{Result, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// At most this many jobs share one transaction, so that a burst does not make the first
/// caller wait for thousands of others.
const MAX_BATCH: usize = 512;

/// What a job asks of the writer once its transaction has committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum After {
    Nothing,
    /// Copy the WAL into the database and truncate it, so that nothing deleted by the job
    /// survives in the log (a shredded key).
    TruncateWal,
}

/// A write waiting for the writer, with its result type erased.
trait Job: Send {
    /// Runs the job inside its own savepoint of `tx`, or directly in `tx` when it is `alone`
    /// in the batch. An `Err` means the transaction itself is lost (SQLite rolled it back after
    /// a full disk, or a savepoint could not be released), not that the job failed: the job
    /// keeps its own result.
    fn run(&mut self, tx: &Transaction<'_>, alone: bool) -> Result<()>;
    /// Whether the job ran and failed.
    fn failed(&self) -> bool;
    /// Answers the caller once the fate of the whole transaction is known.
    fn answer(self: Box<Self>, committed: Result<(), &StoreError>);
    fn after(&self) -> After;
}

struct Pending<T, F> {
    work: Option<F>,
    result: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
    after: After,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Transaction<'_>) -> Result<T> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>, alone: bool) -> Result<()> {
        let Some(work) = self.work.take() else {
            return Ok(());
        };
        if !alone {
            tx.prepare_cached("SAVEPOINT job")?.execute([])?;
        }
        // A panicking job must not take the writer (and every other caller) down with it.
        let result = catch_unwind(AssertUnwindSafe(|| work(tx))).unwrap_or_else(|_| {
            Err(StoreError::Backend {
                backend: "sqlite",
                detail: "a write panicked; it was rolled back".into(),
            })
        });
        if alone {
            // On failure `commit` rolls the whole transaction back.
            self.result = Some(result);
            return Ok(());
        }
        if let Err(e) = &result {
            // Some errors (a full disk, an I/O error) make SQLite roll back the whole
            // transaction, savepoints included: then the batch is lost.
            if tx.is_autocommit() {
                let lost = batch_lost(e);
                self.result = Some(result);
                return Err(lost);
            }
            tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
        }
        self.result = Some(result);
        tx.prepare_cached("RELEASE job")?.execute([])?;
        Ok(())
    }

    fn failed(&self) -> bool {
        matches!(self.result, Some(Err(_)))
    }

    fn answer(self: Box<Self>, committed: Result<(), &StoreError>) {
        let result = match (self.result, committed) {
            // The job's own failure is the more precise answer, whatever happened after.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(same(e)),
            (None, Ok(())) => Err(unavailable("the write was never run")),
        };
        // The caller may have given up waiting (its future was dropped); nothing to do then.
        let _ = self.reply.send(result);
    }

    fn after(&self) -> After {
        self.after
    }
}

/// The handle to the writer thread. Dropping it lets the thread finish the queued jobs, close
/// its connection and stop.
pub(super) struct Writer {
    jobs: Mutex<Option<Sender<Box<dyn Job>>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, with a checkpointer unless the store is read-only.
    pub(super) fn start(conn: Connection, checkpointer: Option<Checkpointer>) -> Result<Writer> {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("seuil-sqlite-writer".into())
            .spawn(move || run(conn, checkpointer, queue))
            .map_err(|e| StoreError::io("the SQLite writer thread", e))?;
        Ok(Writer {
            jobs: Mutex::new(Some(jobs)),
            thread: Some(thread),
        })
    }

    /// Runs `work` in the next group commit and returns its result once it is durable.
    pub(super) async fn write<T, F>(&self, after: After, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            work: Some(work),
            result: None,
            reply,
            after,
        });
        {
            // A poisoned lock only means another caller panicked while sending; the sender
            // inside is still sound.
            let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            let sent = jobs.as_ref().map(|jobs| jobs.send(job));
            if !matches!(sent, Some(Ok(()))) {
                return Err(unavailable(
                    "the writer thread has stopped; reopen the store",
                ));
            }
        }
        answer.await.map_err(|_| {
            unavailable("the writer thread stopped before answering; reopen the store")
        })?
    }

    /// Stops taking jobs; the thread finishes the queued ones and exits.
    #[cfg(test)]
    pub(super) fn stop(&self) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = self.thread.take() {
            // Waits for the queued jobs and for the connection to close (which checkpoints the
            // WAL), so that the file can be reopened or copied right after.
            let _ = thread.join();
        }
    }
}

/// The writer thread: batches until every sender is gone.
fn run(mut conn: Connection, checkpointer: Option<Checkpointer>, queue: Receiver<Box<dyn Job>>) {
    // A TRUNCATE checkpoint that could not complete (a reader held an old snapshot for longer
    // than the busy timeout) is tried again before the next batch.
    let mut truncate_pending = false;
    while let Ok(first) = queue.recv() {
        // Before this batch, so that a write after a shred is acknowledged only once the log
        // no longer holds the destroyed key, unless a reader still pins the old log past the
        // busy timeout: then this batch goes ahead and the next one tries again. Once per
        // batch, so such a reader costs each batch at most one busy timeout.
        if truncate_pending {
            truncate_pending = !truncate_wal(&conn, checkpointer.as_ref());
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit(&mut conn, &mut batch);
        let shredded =
            committed.is_ok() && batch.iter().any(|job| job.after() == After::TruncateWal);
        if let (Ok(()), Some(checkpointer)) = (&committed, &checkpointer) {
            checkpointer.nudge();
        }
        // Answer first: a shred is final once committed. The log is scrubbed right after,
        // before the next batch, so its cost (which grows with the uncheckpointed log, not
        // with the subject's data) never delays the answer, and any later write observes it.
        for job in batch {
            job.answer(committed.as_ref().map(|_| ()));
        }
        if shredded {
            truncate_pending = !truncate_wal(&conn, checkpointer.as_ref());
        }
    }
    // The checkpointer's connection closes first, so that the writer's is the last one and
    // copies the whole log into the file as it closes.
    drop(checkpointer);
}

/// Runs a batch in one transaction.
fn commit(conn: &mut Connection, batch: &mut [Box<dyn Job>]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let alone = batch.len() == 1;
    for job in batch.iter_mut() {
        job.run(&tx, alone)?;
    }
    if alone && batch.iter().any(|job| job.failed()) {
        // Dropping the transaction rolls the failed job back; it answers with its own error.
        return Ok(());
    }
    // On failure the transaction rolls back when dropped.
    Ok(tx.commit()?)
}

/// The error every job of a lost batch gets, after the job that lost it failed with `e`.
fn batch_lost(e: &StoreError) -> StoreError {
    StoreError::Backend {
        backend: "sqlite",
        detail: format!(
            "nothing of this group commit was written, because a write in it failed: {e}"
        ),
    }
}

/// A copy of a batch-wide error for each caller (`StoreError` is not `Clone`: it may hold an
/// `io::Error`).
fn same(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable { backend, detail } => StoreError::Unavailable {
            backend,
            detail: detail.clone(),
        },
        StoreError::Backend { backend, detail } => StoreError::Backend {
            backend,
            detail: detail.clone(),
        },
        other => StoreError::Backend {
            backend: "sqlite",
            detail: other.to_string(),
        },
    }
}

/// Copies the WAL into the database file and truncates it to zero bytes. Returns whether it
/// completed. The checkpointer thread is paused meanwhile: SQLite would refuse this
/// checkpoint at once while that thread's own runs. Readers still on an old snapshot are
/// waited for by the busy timeout; past it, the next batch tries again.
fn truncate_wal(conn: &Connection, checkpointer: Option<&Checkpointer>) -> bool {
    let _paused = checkpointer.map(Checkpointer::pause);
    // Columns: busy (1 if a reader or another process's checkpoint kept it from completing),
    // WAL frames, frames checkpointed.
    let outcome = conn.query_row("PRAGMA main.wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    match outcome {
        Ok(0) => true,
        Ok(_) => {
            tracing::warn!(
                "the WAL checkpoint after a key shred was blocked by a reader; retrying before the next write"
            );
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "the WAL checkpoint after a key shred failed; retrying before the next write");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> Writer {
        let conn = Connection::open_in_memory().expect("memory database");
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
            .expect("table");
        Writer::start(conn, None).expect("writer")
    }

    fn insert(k: &'static str) -> impl FnOnce(&Transaction<'_>) -> Result<()> + Send + 'static {
        move |tx| {
            tx.execute("INSERT INTO t VALUES (?1)", [k])?;
            Ok(())
        }
    }

    fn count(w: &Writer) -> impl Future<Output = Result<i64>> + '_ {
        w.write(After::Nothing, |tx| {
            Ok(tx.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
        })
    }

    #[tokio::test]
    async fn a_failing_job_undoes_only_itself() {
        let w = writer();
        let (a, dup, b) = tokio::join!(
            w.write(After::Nothing, insert("a")),
            w.write(After::Nothing, insert("a")),
            w.write(After::Nothing, insert("b")),
        );
        assert!(a.is_ok() && b.is_ok());
        assert!(matches!(dup, Err(StoreError::Backend { .. })), "{dup:?}");
        assert_eq!(count(&w).await.ok(), Some(2));
    }

    #[tokio::test]
    async fn a_job_alone_that_fails_halfway_leaves_nothing() {
        let w = writer();
        let half = w
            .write(After::Nothing, |tx| {
                tx.execute("INSERT INTO t VALUES ('x')", [])?;
                tx.execute("INSERT INTO t VALUES ('x')", [])?;
                Ok(())
            })
            .await;
        assert!(matches!(half, Err(StoreError::Backend { .. })), "{half:?}");
        assert_eq!(count(&w).await.ok(), Some(0));
        assert!(w.write(After::Nothing, insert("x")).await.is_ok());
        assert_eq!(count(&w).await.ok(), Some(1));
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_not_a_dead_writer() {
        let w = writer();
        let boom = w
            .write(After::Nothing, |_| -> Result<()> { panic!("boom") })
            .await;
        assert!(matches!(boom, Err(StoreError::Backend { .. })), "{boom:?}");
        assert!(w.write(After::Nothing, insert("x")).await.is_ok());
    }

    /// A shred's scrub that a reader blocks is done before the next write is answered, so that
    /// no acknowledged write ever follows a shred whose key is still in the log.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blocked_scrub_is_done_before_the_next_write_is_answered() {
        const MARKER: &str = "marker-4b1d8e0c27f3";
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA secure_delete = ON;
             CREATE TABLE t (k TEXT PRIMARY KEY);",
        )
        .expect("schema");
        // Without waiting, the first scrub fails at once while the reader holds its snapshot.
        conn.busy_timeout(std::time::Duration::ZERO)
            .expect("no busy wait");
        let w = Writer::start(conn, None).expect("writer");
        w.write(After::Nothing, insert(MARKER))
            .await
            .expect("insert");
        let reader = Connection::open(&path).expect("reader");
        reader.execute_batch("BEGIN").expect("begin");
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(seen, 1);
        w.write(After::TruncateWal, |tx| {
            tx.execute("DELETE FROM t WHERE k = ?1", [MARKER])?;
            Ok(())
        })
        .await
        .expect("delete");
        // Time for the scrub to be tried, and refused, while the snapshot is held.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(reader);
        w.write(After::Nothing, insert("after"))
            .await
            .expect("next write");
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        for file in [path.clone(), std::path::PathBuf::from(wal)] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
                "{} still holds the deleted row when the next write is answered",
                file.display()
            );
        }
    }

    #[tokio::test]
    async fn a_stopped_writer_is_unavailable() {
        let w = writer();
        w.stop();
        let r = w.write(After::Nothing, insert("x")).await;
        assert!(matches!(r, Err(StoreError::Unavailable { .. })), "{r:?}");
    }
}
