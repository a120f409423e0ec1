//! The audit log: an append-only RFC 6962 Merkle tree of access events. Each event's details
//! are sealed under its subject's key and the leaf hash covers the sealed bytes, so the tree
//! stays verifiable after a subject is shredded while the details become unreadable.
//!
//! Appends go through one writer task per process (`audit_writer`).

use crate::merkle::{self, Frontier, Hash};
use crate::{Actor, Result, VaultError};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use seuil_store::{Checkpoint, DynStore, Millis, StoreError};

/// What happened, as the subject will read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub actor: Actor,
    /// `open`, `seal`, `update`, `delete`, `consent.grant`, `export`, `erase`...
    pub action: String,
    pub purpose: String,
    pub kind: String,
    pub id: String,
    pub outcome: Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// Refused: no consent for the purpose.
    Denied,
    /// Refused: the caller may not reach this object (not theirs, not assigned to them).
    Refused,
    /// The sealed body failed its integrity check.
    IntegrityError,
}

/// The bytes a leaf hash covers: the subject, the time and the sealed details.
pub fn leaf_input(subject: &str, at: Millis, sealed_details: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + subject.len() + sealed_details.len());
    out.extend_from_slice(b"seuil.audit.v1");
    out.extend_from_slice(&(subject.len() as u32).to_be_bytes());
    out.extend_from_slice(subject.as_bytes());
    out.extend_from_slice(&at.to_be_bytes());
    out.extend_from_slice(sealed_details);
    out
}

/// The associated data sealing an event's details to its subject and time.
pub(crate) fn details_aad(subject: &str, at: Millis) -> Vec<u8> {
    crate::aead::record_aad("audit.event", &at.to_string(), subject, 0)
}

/// The bytes a checkpoint signature covers.
pub fn checkpoint_message(size: u64, root: &Hash, at: Millis) -> Vec<u8> {
    let mut out = b"seuil.checkpoint.v1\n".to_vec();
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(root);
    out.extend_from_slice(&at.to_be_bytes());
    out
}

/// Checks a checkpoint's signature against the log's public key.
pub fn verify_checkpoint(cp: &Checkpoint, log_key: &VerifyingKey) -> bool {
    Signature::from_slice(&cp.signature)
        .map(|sig| {
            log_key
                .verify(&checkpoint_message(cp.size, &cp.root, cp.at), &sig)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Rebuilds the right edge of the tree from the stored perfect-subtree nodes.
pub(crate) async fn load_frontier(store: &DynStore) -> Result<Frontier> {
    let size = store.audit_size().await?;
    let ids = Frontier::node_ids(size);
    let hashes = store.audit_nodes(&ids).await?;
    Frontier::from_nodes(size, hashes)
        .map_err(|e| VaultError::AuditBroken(format!("stored right edge of the tree: {e}")))
}

/// Proofs and checkpoints, computed from stored nodes only.
pub(crate) struct Prover<'a> {
    pub store: &'a DynStore,
}

impl Prover<'_> {
    pub async fn root(&self, size: u64) -> Result<Hash> {
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        let plan = merkle::root_plan(size);
        let hashes = self.store.audit_nodes(&plan.needed).await?;
        plan.assemble(&hashes)
            .map_err(|e| VaultError::AuditBroken(format!("root of size {size}: {e}")))?
            .into_iter()
            .next()
            .ok_or_else(|| VaultError::AuditBroken(format!("no root for size {size}")))
    }

    pub async fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        let plan = merkle::inclusion_plan(index, size)
            .map_err(|e| VaultError::invalid("inclusion proof request", e.to_string()))?;
        let hashes = self.store.audit_nodes(&plan.needed).await?;
        plan.assemble(&hashes)
            .map_err(|e| VaultError::AuditBroken(e.to_string()))
    }

    pub async fn consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        let plan = merkle::consistency_plan(old, new)
            .map_err(|e| VaultError::invalid("consistency proof request", e.to_string()))?;
        let hashes = self.store.audit_nodes(&plan.needed).await?;
        plan.assemble(&hashes)
            .map_err(|e| VaultError::AuditBroken(e.to_string()))
    }

    /// The checkpoint for the log as it is now, signing a new one if the log grew.
    pub async fn checkpoint(&self, key: &SigningKey, now: Millis) -> Result<Checkpoint> {
        let size = self.store.audit_size().await?;
        if let Some(cp) = self.store.checkpoint_at(size).await? {
            return Ok(cp);
        }
        let root = self.root(size).await?;
        let signature = key
            .sign(&checkpoint_message(size, &root, now))
            .to_bytes()
            .to_vec();
        let cp = Checkpoint {
            size,
            root,
            at: now,
            signature,
        };
        match self.store.put_checkpoint(&cp).await {
            Ok(()) => Ok(cp),
            // Another instance signed this size first; theirs is as good.
            Err(StoreError::Conflict { .. }) => self
                .store
                .checkpoint_at(size)
                .await?
                .ok_or_else(|| VaultError::AuditBroken("checkpoint vanished".into())),
            Err(e) => Err(e.into()),
        }
    }
}

/// What `verify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    pub leaves: u64,
    pub checkpoints_checked: u64,
    pub root: String,
}

/// Recomputes every leaf hash and the tree from the leaves, and checks the result against the
/// stored nodes that proofs are built from and against the signed checkpoints.
pub(crate) async fn verify(
    store: &DynStore,
    log_key: &VerifyingKey,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<VerifyReport> {
    let size = store.audit_size().await?;
    let mut checkpoints = store.checkpoints().await?;
    checkpoints.sort_by_key(|cp| cp.size);
    let mut next_cp = checkpoints.iter().peekable();
    let mut report = VerifyReport::default();
    let mut frontier = Frontier::new();
    const PAGE: u64 = 10_000;
    let mut from = 0;
    let check_cps = |frontier: &Frontier,
                     next_cp: &mut std::iter::Peekable<std::slice::Iter<Checkpoint>>,
                     report: &mut VerifyReport|
     -> Result<()> {
        while let Some(cp) = next_cp.next_if(|cp| cp.size == frontier.size()) {
            if !verify_checkpoint(cp, log_key) {
                return Err(VaultError::AuditBroken(format!(
                    "checkpoint at size {} has a bad signature",
                    cp.size
                )));
            }
            if cp.root != frontier.root() {
                return Err(VaultError::AuditBroken(format!(
                    "checkpoint at size {} does not match the leaves",
                    cp.size
                )));
            }
            report.checkpoints_checked += 1;
        }
        Ok(())
    };
    check_cps(&frontier, &mut next_cp, &mut report)?;
    while from < size {
        let to = (from + PAGE).min(size);
        let leaves = store.audit_leaves(from, to).await?;
        if leaves.len() as u64 != to - from {
            return Err(VaultError::AuditBroken(format!(
                "leaves {from}..{to} are incomplete"
            )));
        }
        for leaf in &leaves {
            if leaf.index != frontier.size() {
                return Err(VaultError::AuditBroken(format!(
                    "leaf {} is out of place",
                    leaf.index
                )));
            }
            let hash = merkle::leaf_hash(&leaf_input(&leaf.subject, leaf.at, &leaf.details));
            if hash != leaf.leaf_hash {
                return Err(VaultError::AuditBroken(format!(
                    "leaf {} was altered",
                    leaf.index
                )));
            }
            frontier.append(hash);
            check_cps(&frontier, &mut next_cp, &mut report)?;
        }
        progress(to, size);
        from = to;
    }
    if let Some(cp) = next_cp.next() {
        return Err(VaultError::AuditBroken(format!(
            "checkpoint at size {} is beyond the log's {size} leaves",
            cp.size
        )));
    }
    let stored_root = Prover { store }.root(size).await?;
    if stored_root != frontier.root() {
        return Err(VaultError::AuditBroken(
            "the stored tree nodes that proofs use do not match the leaves".into(),
        ));
    }
    report.leaves = size;
    report.root = hex::encode(frontier.root());
    Ok(report)
}
