//! The checks every [`Store`] backend must pass. Each takes a fresh, empty store.
//!
//! Text ids are plain lowercase ASCII so that ordering is the same under any collation.

use seuil_store::{
    AuditLeaf, Checkpoint, ConsentEntry, DynStore, IndexFields, LeafPage, NewOutboxMessage,
    NewRecord, NodeId, Query, RecordKey, ShredEntry, StoreError, WrappedKey,
};

mod audit;
mod concurrency;
mod keys;
mod outbox;
mod records;

pub use audit::*;
pub use concurrency::*;
pub use keys::*;
pub use outbox::*;
pub use records::*;

// ---- helpers ------------------------------------------------------------------------------

fn rec(kind: &str, id: &str, subject: &str) -> NewRecord {
    NewRecord {
        kind: kind.into(),
        id: id.into(),
        subject: subject.into(),
        index: IndexFields::default(),
        body: format!("sealed {kind}/{id}").into_bytes(),
        retain_until: None,
    }
}

fn indexed(
    kind: &str,
    id: &str,
    subject: &str,
    status: &str,
    scope: &str,
    at: Option<i64>,
) -> NewRecord {
    NewRecord {
        index: IndexFields {
            status: Some(status.into()),
            at,
            scope: Some(scope.into()),
        },
        ..rec(kind, id, subject)
    }
}

fn key(subject: &str, kek: &str, byte: u8) -> WrappedKey {
    WrappedKey {
        subject: subject.into(),
        kek_id: kek.into(),
        wrapped: vec![byte; 40],
        created_at: 1_000,
    }
}

fn consent(subject: &str, purpose: &str, granted: bool, at: i64) -> ConsentEntry {
    ConsentEntry {
        subject: subject.into(),
        purpose: purpose.into(),
        granted,
        notice_version: "v1".into(),
        at,
    }
}

fn leaf(index: u64, subject: &str) -> AuditLeaf {
    AuditLeaf {
        index,
        subject: subject.into(),
        at: 10_000 + index as i64,
        details: format!("sealed event {index}").into_bytes(),
        leaf_hash: [index as u8; 32],
    }
}

fn node(level: u8, index: u64) -> NodeId {
    NodeId { level, index }
}

fn hash(level: u8, index: u64) -> [u8; 32] {
    let mut h = [0xa0 ^ level; 32];
    h[0] = index as u8;
    h
}

fn message(subject: &str, target: &str, next_at: i64) -> NewOutboxMessage {
    NewOutboxMessage {
        subject: subject.into(),
        target: target.into(),
        payload: format!("sealed for {target}").into_bytes(),
        next_at,
    }
}

fn ids(records: &[seuil_store::Record]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}
