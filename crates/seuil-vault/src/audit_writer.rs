//! The one task per process that appends to the audit log.
//!
//! Whatever is queued goes into one store write (group commit), and up to [`DEPTH`] writes are
//! in flight at once. With more than one, the next batch is queued behind the one the store
//! is making durable, built on the tree as it will be once the batches before it land.
//!
//! Several processes may append to one store. A batch that loses the race (the log is no
//! longer the size it was built for) fails as a whole with nothing written; the writer waits
//! for the batches behind it, reloads the tree's right edge from the store and retries.

use crate::audit::{leaf_input, load_frontier};
use crate::merkle::{self, Frontier, Hash};
use crate::{Result, VaultError};
use futures_util::future::BoxFuture;
use seuil_store::{AuditLeaf, DynStore, Millis, StoreError};
use std::collections::VecDeque;
use std::task::Poll;
use tokio::sync::{mpsc, oneshot};

/// Most leaves written in one store transaction.
const MAX_BATCH: usize = 2048;
/// Store writes in flight at once. One: what arrives while a batch is on its way to disk waits
/// and joins the next batch, so batches are as large as the load makes them. With three in
/// flight, `seuil bench vault` made half again as many commits (260 instead of 175 for 20,000
/// audited reads) and each commit costs the SQLite writer a fixed few hundred microseconds
/// of CPU around its fsync, which outweighed the overlap.
const DEPTH: usize = 1;
/// How often a job may lose the append race before its caller gets an error. Each loss means
/// another writer's batch landed, so the log moves on; but a writer with batches already
/// queued in the store wins every race until its queue drains, so a job that lost once can
/// lose again for as many batches as the other writer had in flight. 8 was seen to run out
/// once in CI with two instances busy on one store.
const ATTEMPTS: u8 = 32;

/// One event waiting for the log. Its leaf is hashed by the caller, on its own task: the hash
/// does not depend on where the leaf lands, and the writer's task is on every append's
/// critical path while a batch is built.
struct Job {
    leaf: AuditLeaf,
    attempts: u8,
    reply: oneshot::Sender<Result<u64>>,
}

/// What a batch's store write hands back: its outcome, and the leaves it was given, so that a
/// batch which lost the race can be sent again without copying them beforehand.
type Landing = (Result<(), StoreError>, Vec<AuditLeaf>);

struct InFlight {
    /// Each job's reply and attempts, in leaf order.
    waiting: Vec<(oneshot::Sender<Result<u64>>, u8)>,
    start: u64,
    write: BoxFuture<'static, Landing>,
}

/// The handle through which a process appends to the log.
pub(crate) struct AuditWriter {
    tx: mpsc::UnboundedSender<Job>,
}

impl AuditWriter {
    pub async fn start(store: DynStore) -> Result<Self> {
        let (frontier, last_leaf) = load_tip(&store).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            store,
            frontier,
            last_leaf,
            rx,
            inflight: VecDeque::new(),
            retry: Vec::new(),
        };
        tokio::spawn(writer.run());
        Ok(Self { tx })
    }

    /// Appends one sealed event and waits until it is durable; returns its leaf index.
    pub async fn append(&self, subject: &str, at: Millis, details: Vec<u8>) -> Result<u64> {
        let (reply, done) = oneshot::channel();
        let leaf_hash = merkle::leaf_hash(&leaf_input(subject, at, &details));
        let job = Job {
            leaf: AuditLeaf {
                index: 0,
                subject: subject.to_owned(),
                at,
                details,
                leaf_hash,
            },
            attempts: 0,
            reply,
        };
        let unavailable =
            || VaultError::AuditBroken("the audit writer has stopped; restart Seuil".into());
        self.tx.send(job).map_err(|_| unavailable())?;
        done.await.map_err(|_| unavailable())?
    }
}

struct Writer {
    store: DynStore,
    /// The tree as it will be once every batch in flight has landed.
    frontier: Frontier,
    /// The hash of its last leaf, which the next batch is built after.
    last_leaf: Option<Hash>,
    rx: mpsc::UnboundedReceiver<Job>,
    inflight: VecDeque<InFlight>,
    /// Jobs whose batch lost the race, sent again before anything newer.
    retry: Vec<Job>,
}

impl Writer {
    async fn run(mut self) {
        let mut open = true;
        while open || !self.inflight.is_empty() || !self.retry.is_empty() {
            let room = self.inflight.len() < DEPTH;
            if room && !self.retry.is_empty() {
                let jobs = std::mem::take(&mut self.retry);
                self.submit(jobs).await;
                continue;
            }
            if self.inflight.is_empty() {
                match self.rx.recv().await {
                    Some(job) => self.submit_with(job).await,
                    None => open = false,
                }
                continue;
            }
            let front = self.inflight.front_mut().map(|f| &mut f.write);
            let Some(front) = front else { continue };
            tokio::select! {
                biased;
                result = front => {
                    if let Some(done) = self.inflight.pop_front() {
                        self.landed(done, result).await;
                    }
                }
                job = self.rx.recv(), if room && open => match job {
                    Some(job) => self.submit_with(job).await,
                    None => open = false,
                },
            }
        }
    }

    /// Sends `first` and everything queued behind it as one batch.
    async fn submit_with(&mut self, first: Job) {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match self.rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        self.submit(jobs).await;
    }

    /// Builds the batch on the expected tree and hands it to the store. The write is polled
    /// once right away, so it joins the store's queue in the order batches are built.
    async fn submit(&mut self, jobs: Vec<Job>) {
        let start = self.frontier.size();
        let after = self.last_leaf;
        let mut leaves = Vec::with_capacity(jobs.len());
        let mut waiting = Vec::with_capacity(jobs.len());
        let mut nodes = Vec::with_capacity(jobs.len() * 2);
        for (i, job) in jobs.into_iter().enumerate() {
            let mut leaf = job.leaf;
            leaf.index = start + i as u64;
            nodes.extend(self.frontier.append(leaf.leaf_hash));
            leaves.push(leaf);
            waiting.push((job.reply, job.attempts));
        }
        self.last_leaf = leaves.last().map(|l| l.leaf_hash).or(after);
        let store = self.store.clone();
        let mut write: BoxFuture<'static, Landing> = Box::pin(async move {
            let result = store.audit_append(start, after, &leaves, &nodes).await;
            (result, leaves)
        });
        if let Poll::Ready(landing) = futures_util::poll!(&mut write) {
            write = Box::pin(std::future::ready(landing));
        }
        self.inflight.push_back(InFlight {
            waiting,
            start,
            write,
        });
    }

    async fn landed(&mut self, batch: InFlight, (result, leaves): Landing) {
        let error = match result {
            Ok(()) => return answer(batch.start, batch.waiting),
            Err(e) => e,
        };
        // The batches behind this one were built on a tree that did not happen: let them
        // finish (a write already queued in the store cannot be recalled), then start again
        // from what the store holds.
        let mut failed = vec![(batch.waiting, leaves, error)];
        while let Some(next) = self.inflight.pop_front() {
            match next.write.await {
                (Ok(()), _) => answer(next.start, next.waiting),
                (Err(e), leaves) => failed.push((next.waiting, leaves, e)),
            }
        }
        let reloaded = load_tip(&self.store).await;
        match reloaded {
            Ok((frontier, last_leaf)) => (self.frontier, self.last_leaf) = (frontier, last_leaf),
            Err(e) => tracing::error!(error = %e, "cannot reload the audit tree from the store"),
        }
        for (waiting, leaves, error) in failed {
            let raced = matches!(error, StoreError::LogSizeMismatch { .. });
            for ((reply, attempts), leaf) in waiting.into_iter().zip(leaves) {
                let attempts = attempts + 1;
                if raced && attempts < ATTEMPTS {
                    self.retry.push(Job {
                        leaf,
                        attempts,
                        reply,
                    });
                } else {
                    let _ = reply.send(Err(VaultError::AuditBroken(format!(
                        "could not append: {error}"
                    ))));
                }
            }
        }
    }
}

/// Tells each appender of a batch that landed at `start` where its leaf is.
fn answer(start: u64, waiting: Vec<(oneshot::Sender<Result<u64>>, u8)>) {
    for (i, (reply, _)) in waiting.into_iter().enumerate() {
        let _ = reply.send(Ok(start + i as u64));
    }
}

/// The tree's right edge and its last leaf, as the store holds them.
async fn load_tip(store: &DynStore) -> Result<(Frontier, Option<Hash>)> {
    let frontier = load_frontier(store).await?;
    let last = match frontier.size().checked_sub(1) {
        Some(i) => store
            .audit_leaves(i, i + 1)
            .await?
            .first()
            .map(|l| l.leaf_hash),
        None => None,
    };
    Ok((frontier, last))
}
