//! The public face of the audit log: checkpoints and proofs.

use crate::auth::{Caller, Role};
use crate::extract::ApiQuery;
use crate::problem::{ApiResult, Problem};
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    pub index: u64,
    pub size: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub old: u64,
    pub new: u64,
}

/// The published checkpoint: signed on a schedule (see `ServerConfig::checkpoint_every_ms`),
/// not on every request, since anyone may ask.
pub async fn checkpoint(State(state): State<Shared>) -> ApiResult<Json<Value>> {
    let cp = state
        .vault
        .published_checkpoint(
            state.config.checkpoint_every_ms,
            state.config.checkpoint_lag,
        )
        .await?;
    Ok(Json(json!({
        "size": cp.size,
        "root": hex::encode(cp.root),
        "at": cp.at,
        "signature": hex::encode(&cp.signature),
        "log_public_key": hex::encode(state.vault.log_public_key().to_bytes()),
    })))
}

/// A subject only gets proofs for their own leaves (others' look missing); operators for any.
pub async fn inclusion(
    State(state): State<Shared>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Json<Value>> {
    let missing = || Problem::not_found(format!("no event of yours at index {}", q.index));
    let store = state.vault.store();
    let leaf = store
        .audit_leaves(q.index, q.index.saturating_add(1))
        .await?
        .into_iter()
        .next()
        .ok_or_else(missing)?;
    if caller.role != Role::Operator && leaf.subject != caller.subject {
        return Err(missing());
    }
    let size = store.audit_size().await?;
    if q.size > size || q.index >= q.size {
        return Err(Problem::unprocessable(format!(
            "`size` must be above `index` and at most the log's current size {size}"
        )));
    }
    let proof = state.vault.inclusion_proof(q.index, q.size).await?;
    Ok(Json(json!({
        "index": q.index,
        "size": q.size,
        "leaf_hash": hex::encode(leaf.leaf_hash),
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

pub async fn consistency(
    State(state): State<Shared>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<Value>> {
    let size = state.vault.store().audit_size().await?;
    if q.old > q.new || q.new > size {
        return Err(Problem::unprocessable(format!(
            "need `old` <= `new` <= the log's current size {size}"
        )));
    }
    let proof = state.vault.consistency_proof(q.old, q.new).await?;
    Ok(Json(json!({
        "old": q.old,
        "new": q.new,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

pub async fn verify_all(State(state): State<Shared>) -> ApiResult<Json<Value>> {
    let report = state.vault.verify_audit(&|_, _| {}).await?;
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}
