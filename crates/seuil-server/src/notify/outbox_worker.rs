//! Delivers queued webhook messages: claims due messages with a lease, opens the payload and
//! the subscription as `system:notify` (audited in the subject's log), POSTs the signed JSON,
//! and marks the message done on 2xx or schedules a retry with exponential backoff.

use super::OUTBOX_CONTEXT;
use super::webhook::{self, Subscription};
use crate::state::{AppState, Shared};
use seuil_store::OutboxMessage;
use seuil_vault::{Actor, VaultError};
use std::time::Duration;

const BATCH: u32 = 16;

pub async fn run(state: Shared) {
    loop {
        let worked = match tick(&state).await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::warn!(error = %e, "outbox worker: claiming messages failed");
                false
            }
        };
        if !worked {
            let poll = Duration::from_millis(state.config.outbox_poll_ms.max(10));
            let _ = tokio::time::timeout(poll, state.outbox_wake.notified()).await;
        }
    }
}

/// Claims and handles one batch; returns how many messages it handled.
pub async fn tick(state: &AppState) -> Result<usize, seuil_store::StoreError> {
    let now = state.vault.now();
    let claimed = state
        .vault
        .store()
        .outbox_claim(now, state.config.outbox_lease_ms, BATCH)
        .await?;
    let n = claimed.len();
    futures_util::future::join_all(claimed.into_iter().map(|m| handle(state, m))).await;
    Ok(n)
}

enum Outcome {
    Delivered,
    /// Nothing left to deliver to (subject erased, subscription deleted).
    Dropped(&'static str),
    Failed(String),
}

async fn handle(state: &AppState, msg: OutboxMessage) {
    let store = state.vault.store();
    let outcome = attempt(state, &msg).await;
    let result = match outcome {
        Outcome::Delivered => {
            state.metrics.webhook("delivered");
            tracing::info!(
                outbox_id = msg.id,
                attempts = msg.attempts + 1,
                "webhook delivered"
            );
            store.outbox_done(msg.id).await
        }
        Outcome::Dropped(why) => {
            state.metrics.webhook("dropped");
            tracing::info!(outbox_id = msg.id, why, "webhook message dropped");
            store.outbox_done(msg.id).await
        }
        Outcome::Failed(error) if msg.attempts + 1 >= state.config.webhook_max_attempts => {
            state.metrics.webhook("given_up");
            tracing::warn!(
                outbox_id = msg.id,
                attempts = msg.attempts + 1,
                error,
                "webhook given up"
            );
            store.outbox_done(msg.id).await
        }
        Outcome::Failed(error) => {
            state.metrics.webhook("failed");
            let next_at = state
                .vault
                .now()
                .saturating_add(state.config.webhook_backoff(msg.attempts));
            tracing::info!(
                outbox_id = msg.id,
                attempts = msg.attempts + 1,
                error,
                "webhook failed; will retry"
            );
            store.outbox_retry(msg.id, next_at, &error).await
        }
    };
    if let Err(e) = result {
        tracing::warn!(outbox_id = msg.id, error = %e, "outbox bookkeeping failed; the lease will expire and it will be retried");
    }
}

async fn attempt(state: &AppState, msg: &OutboxMessage) -> Outcome {
    let actor = Actor::system("notify");
    let payload = match state
        .vault
        .open_detached(
            &actor,
            webhook::PURPOSE,
            &msg.subject,
            OUTBOX_CONTEXT,
            &msg.payload,
        )
        .await
    {
        Ok(p) => p,
        Err(VaultError::NotFound { .. }) => return Outcome::Dropped("subject erased"),
        Err(e) => return Outcome::Failed(format!("payload: {}", short(&e))),
    };
    let hook = match state
        .vault
        .open(&actor, webhook::PURPOSE, webhook::KIND, &msg.target)
        .await
    {
        Ok(h) if h.subject == msg.subject => h,
        Ok(_) | Err(VaultError::NotFound { .. }) => {
            return Outcome::Dropped("subscription deleted");
        }
        Err(e) => return Outcome::Failed(format!("subscription: {}", short(&e))),
    };
    let Ok(sub) = serde_json::from_slice::<Subscription>(&hook.body) else {
        return Outcome::Dropped("unreadable subscription");
    };
    let event_id = serde_json::from_slice::<serde_json::Value>(&payload)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned))
        .unwrap_or_default();
    // Re-checked at send time: the rules may have tightened since the subscription was made.
    if webhook::check_url(&sub.url, state.config.webhook_allow_private_targets).is_err() {
        return Outcome::Dropped("url no longer allowed");
    }
    let ts = state.vault.now();
    let body = payload.to_vec();
    let res = state
        .http
        .post(&sub.url)
        .header("content-type", "application/json")
        .header("seuil-event-id", event_id)
        .header("seuil-timestamp", ts.to_string())
        .header(
            "seuil-signature",
            webhook::signature(&sub.secret, ts, &body),
        )
        .body(body)
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => Outcome::Delivered,
        Ok(r) => Outcome::Failed(format!("HTTP {}", r.status().as_u16())),
        // Never the URL: it is the customer's and the error is stored in plain text.
        Err(e) if e.is_timeout() => Outcome::Failed("timed out".into()),
        Err(e) if e.is_connect() => Outcome::Failed("could not connect".into()),
        Err(_) => Outcome::Failed("request failed".into()),
    }
}

/// A vault error without details that could name the subject.
fn short(e: &VaultError) -> &'static str {
    match e {
        VaultError::Integrity { .. } => "integrity error",
        VaultError::Store(_) => "store error",
        VaultError::AuditBroken(_) => "audit log error",
        _ => "vault error",
    }
}
