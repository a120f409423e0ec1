//! The caller's privacy controls: consents, access log (and its verification), export, and
//! public erasure certificates.

use crate::auth::Caller;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::{ApiResult, Problem};
use crate::state::{AppState, Shared};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use seuil_store::Millis;
use seuil_vault::{Actor, ConsentState, audit, merkle};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDecision {
    pub granted: bool,
}

pub fn consent_json(c: &ConsentState) -> Value {
    json!({
        "purpose": c.purpose.name,
        "description": c.purpose.description,
        "basis": c.purpose.basis,
        "granted": c.granted,
        "decided_at": c.at,
        "notice_version": c.notice_version,
        "current_notice_version": c.purpose.notice_version,
    })
}

/// Grants or withdraws, as the subject themselves; returns the state in force.
pub async fn decide(
    state: &AppState,
    subject: &str,
    purpose: &str,
    granted: bool,
) -> ApiResult<ConsentState> {
    let actor = Actor::Subject(subject.into());
    if granted {
        state.vault.grant_consent(&actor, subject, purpose).await?;
    } else {
        state
            .vault
            .withdraw_consent(&actor, subject, purpose)
            .await?;
    }
    state
        .vault
        .consents(subject)
        .await?
        .into_iter()
        .find(|c| c.purpose.name == purpose)
        .ok_or_else(|| Problem::not_found(format!("purpose `{purpose}`")))
}

/// One event of the access log as the API and the portal show it.
#[derive(Clone, Debug, Serialize)]
pub struct EventView {
    pub index: u64,
    pub at: Millis,
    /// `{type, id}`, or null if the details could not be opened.
    pub actor: Option<Actor>,
    pub action: Option<String>,
    pub purpose: Option<String>,
    pub kind: Option<String>,
    pub id: Option<String>,
    pub outcome: Option<seuil_vault::Outcome>,
    /// Hex SHA-256 leaf hash, as stored in the Merkle tree.
    pub leaf_hash: String,
    /// Hex of the sealed details the leaf hash covers, to recompute it.
    pub sealed: String,
}

/// Events on one page of the access log unless asked for fewer.
pub const LOG_PAGE: usize = 500;
/// The most events one page may ask for.
const MAX_LOG_PAGE: usize = 5_000;

pub const LOG_PAGE_PARAMS: &[crate::routes::Param] = &[
    (
        "before",
        "integer",
        "only events with a lower index: the `older` of the previous page",
        false,
    ),
    (
        "limit",
        "integer",
        "events on the page, 1 to 5000 (500 unless given)",
        false,
    ),
];

/// Which page of the access log: the newest `limit` events below `before`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogPage {
    pub before: Option<u64>,
    pub limit: Option<usize>,
}

impl LogPage {
    fn limit(&self) -> Result<usize, Problem> {
        match self.limit.unwrap_or(LOG_PAGE) {
            n @ 1..=MAX_LOG_PAGE => Ok(n),
            _ => Err(Problem::unprocessable(format!(
                "`limit` must be 1 to {MAX_LOG_PAGE}"
            ))),
        }
    }

    /// The store's page: this one, with `extra` more events.
    fn leaves(&self, extra: usize) -> Result<seuil_store::LeafPage, Problem> {
        Ok(seuil_store::LeafPage {
            before: self.before,
            limit: self.limit()? + extra,
        })
    }
}

/// A page of the access log, in log order, and the `before` of the page older than it.
pub struct EventsPage {
    pub events: Vec<EventView>,
    pub older: Option<u64>,
}

pub async fn events(state: &AppState, subject: &str, page: LogPage) -> ApiResult<EventsPage> {
    let limit = page.limit()?;
    // One more than asked tells whether an older page exists.
    let mut logged = state
        .vault
        .access_log_page(subject, page.leaves(1)?)
        .await?;
    let older = match logged.len() > limit {
        true => {
            logged.remove(0);
            logged.first().map(|e| e.index)
        }
        false => None,
    };
    let events = logged
        .into_iter()
        .map(|e| {
            let ev = e.event;
            EventView {
                index: e.index,
                at: e.at,
                actor: ev.as_ref().map(|x| x.actor.clone()),
                action: ev.as_ref().map(|x| x.action.clone()),
                purpose: ev.as_ref().map(|x| x.purpose.clone()),
                kind: ev.as_ref().map(|x| x.kind.clone()),
                id: ev.as_ref().map(|x| x.id.clone()),
                outcome: ev.as_ref().map(|x| x.outcome),
                leaf_hash: hex::encode(e.leaf_hash),
                sealed: hex::encode(&e.sealed),
            }
        })
        .collect();
    Ok(EventsPage { events, older })
}

/// What a server-side verification of a subject's events found.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyResult {
    pub verified: bool,
    pub events: usize,
    pub checkpoint_size: u64,
    pub checkpoint_root: String,
    pub checkpoint_signature_valid: bool,
    pub log_public_key: String,
    pub failures: Vec<String>,
}

impl VerifyResult {
    pub fn summary(&self) -> String {
        if self.verified {
            format!(
                "All {} events verified against checkpoint of size {}",
                self.events, self.checkpoint_size
            )
        } else {
            format!("Verification failed: {}", self.failures.join("; "))
        }
    }
}

/// Recomputes each leaf hash from the sealed bytes, checks its inclusion proof against the
/// current checkpoint and the checkpoint's signature.
pub async fn verify_events(
    state: &AppState,
    subject: &str,
    page: LogPage,
) -> ApiResult<VerifyResult> {
    let log = state
        .vault
        .access_log_page(subject, page.leaves(0)?)
        .await?;
    let cp = state.vault.checkpoint().await?;
    let key = state.vault.log_public_key();
    let signature_ok = audit::verify_checkpoint(&cp, &key);
    let mut failures = Vec::new();
    if !signature_ok {
        failures.push("the checkpoint signature does not verify".to_owned());
    }
    for e in &log {
        let leaf = merkle::leaf_hash(&audit::leaf_input(subject, e.at, &e.sealed));
        if leaf != e.leaf_hash {
            failures.push(format!(
                "event {}: leaf hash does not match its sealed details",
                e.index
            ));
            continue;
        }
        if e.index >= cp.size {
            failures.push(format!("event {}: not covered by the checkpoint", e.index));
            continue;
        }
        let proof = state.vault.inclusion_proof(e.index, cp.size).await?;
        if let Err(err) = merkle::verify_inclusion(&leaf, e.index, cp.size, &proof, &cp.root) {
            failures.push(format!("event {}: {err}", e.index));
        }
    }
    Ok(VerifyResult {
        verified: failures.is_empty(),
        events: log.len(),
        checkpoint_size: cp.size,
        checkpoint_root: hex::encode(cp.root),
        checkpoint_signature_valid: signature_ok,
        log_public_key: hex::encode(key.to_bytes()),
        failures,
    })
}

pub async fn list_consents(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    let list = state.vault.consents(&caller.subject).await?;
    Ok(Json(
        json!({ "consents": list.iter().map(consent_json).collect::<Vec<_>>() }),
    ))
}

pub async fn set_consent(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(purpose): ApiPath<String>,
    ApiJson(req): ApiJson<ConsentDecision>,
) -> ApiResult<Json<Value>> {
    let c = decide(&state, &caller.subject, &purpose, req.granted).await?;
    Ok(Json(consent_json(&c)))
}

pub async fn access_log(
    State(state): State<Shared>,
    caller: Caller,
    ApiQuery(page): ApiQuery<LogPage>,
) -> ApiResult<Json<Value>> {
    let EventsPage { events, older } = events(&state, &caller.subject, page).await?;
    Ok(Json(
        json!({ "subject": caller.subject, "events": events, "older": older }),
    ))
}

pub async fn verify(
    State(state): State<Shared>,
    caller: Caller,
    ApiQuery(page): ApiQuery<LogPage>,
) -> ApiResult<Json<VerifyResult>> {
    Ok(Json(verify_events(&state, &caller.subject, page).await?))
}

/// The caller's export, streamed as it is written: the server holds a few chunks of it at a
/// time, whatever the size of the footage in it. A failure part way breaks the download
/// rather than end it like a finished archive.
pub async fn export(State(state): State<Shared>, caller: Caller) -> ApiResult<Response> {
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
    let (result_tx, result_rx) = tokio::sync::oneshot::channel();
    let (vault, subject) = (state.vault.clone(), caller.subject.clone());
    tokio::spawn(async move {
        let actor = Actor::Subject(subject.clone());
        let done = vault
            .export_into(
                &actor,
                &subject,
                &crate::auth::accounts::omit_from_export,
                &tx,
            )
            .await;
        drop(tx);
        if let Err(e) = &done {
            tracing::warn!(error = %e, "an export failed part way");
        }
        let _ = result_tx.send(done.is_ok());
    });
    // The body ends with the channel; then the export says whether it got to its end.
    let chunks = futures_util::stream::unfold((rx, Some(result_rx)), |(mut rx, done)| async move {
        match rx.recv().await {
            Some(chunk) => Some((Ok(chunk), (rx, done))),
            None => match done?.await {
                Ok(true) => None,
                _ => Some((
                    Err(std::io::Error::other("the export failed part way")),
                    (rx, None),
                )),
            },
        }
    });
    let disposition = format!(
        "attachment; filename=\"seuil-export-{}.tar\"",
        caller.subject
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response())
}

pub async fn certificate(
    State(state): State<Shared>,
    ApiPath(subject): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let cert = state
        .vault
        .erasure_certificate(&subject)
        .await?
        .ok_or_else(|| Problem::not_found("no erasure certificate for this subject"))?;
    Ok(Json(certificate_json(&state, &cert)))
}

pub fn certificate_json(state: &AppState, cert: &seuil_vault::ErasureCertificate) -> Value {
    let mut v = serde_json::to_value(cert).unwrap_or_default();
    let valid = cert.verify() && cert.log_public_key == state.vault.log_public_key().to_bytes();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("valid".into(), Value::Bool(valid));
    }
    v
}
