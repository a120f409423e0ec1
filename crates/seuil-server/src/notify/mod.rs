//! Notifications to a subject: live events (SSE) and webhooks (through the store's outbox,
//! so a pending delivery survives a restart and is sent by whichever instance claims it).

pub mod outbox_worker;
pub mod sse;
pub mod webhook;

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use serde::Serialize;
use seuil_store::{NewOutboxMessage, Query};
use std::sync::Arc;

/// The sealed-payload context of outbox messages.
pub const OUTBOX_CONTEXT: &str = "outbox";

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct NotifyReport {
    /// Open event streams that received it (this instance).
    pub live: usize,
    /// Webhook deliveries queued.
    pub webhooks: usize,
}

impl NotifyReport {
    pub fn delivered_or_queued(&self) -> bool {
        self.live > 0 || self.webhooks > 0
    }
}

fn event_json(state: &AppState, event_type: &str, data: serde_json::Value) -> ApiResult<String> {
    let event = serde_json::json!({
        "id": webhook::random_id("evt_"),
        "type": event_type,
        "created_at": state.vault.now(),
        "data": data,
    });
    serde_json::to_string(&event).map_err(|e| Problem::internal(e.to_string()))
}

/// Pushes an ephemeral event to the subject's open streams only (no webhook): for frequent,
/// low-value events such as device heartbeats. Returns how many streams received it.
pub fn notify_live(
    state: &AppState,
    subject: &str,
    event_type: &str,
    data: serde_json::Value,
) -> ApiResult<usize> {
    let json = event_json(state, event_type, data)?;
    Ok(state.hub.send(
        subject,
        Arc::new(sse::Live {
            event_type: event_type.to_owned(),
            json,
        }),
    ))
}

/// Pushes an event to the subject's open streams and queues it for each of their webhooks.
pub async fn notify(
    state: &AppState,
    subject: &str,
    event_type: &str,
    data: serde_json::Value,
) -> ApiResult<NotifyReport> {
    let json = event_json(state, event_type, data)?;
    let live = state.hub.send(
        subject,
        Arc::new(sse::Live {
            event_type: event_type.to_owned(),
            json: json.clone(),
        }),
    );

    let q = Query {
        kind: webhook::KIND.into(),
        subject: Some(subject.into()),
        ..Query::default()
    };
    let hooks = state.vault.store().query(&q).await?;
    let mut webhooks = 0;
    for hook in &hooks {
        // Sealed per message so that shredding the subject makes queued payloads unreadable.
        let payload = state
            .vault
            .seal_detached(subject, OUTBOX_CONTEXT, json.as_bytes())
            .await?;
        state
            .vault
            .store()
            .outbox_push(&NewOutboxMessage {
                subject: subject.into(),
                target: hook.id.clone(),
                payload,
                next_at: state.vault.now(),
            })
            .await?;
        webhooks += 1;
    }
    if webhooks > 0 {
        state.outbox_wake.notify_one();
    }
    Ok(NotifyReport { live, webhooks })
}
