//! Per-subject broadcast of live events to open `text/event-stream` connections.
//!
//! In memory and so **per instance**: a subject connected to instance A does not see events
//! raised on instance B. Webhooks go through the shared outbox and have no such limit; fanning
//! SSE out across instances (PostgreSQL `LISTEN/NOTIFY`) is the scale-out step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

const BUFFER: usize = 64;

/// One live event: its type (the SSE `event:` name) and its JSON.
#[derive(Debug)]
pub struct Live {
    pub event_type: String,
    pub json: String,
}

#[derive(Default)]
pub struct Hub(Mutex<HashMap<String, broadcast::Sender<Arc<Live>>>>);

impl Hub {
    pub fn subscribe(&self, subject: &str) -> broadcast::Receiver<Arc<Live>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, tx| tx.receiver_count() > 0);
        map.entry(subject.to_owned())
            .or_insert_with(|| broadcast::channel(BUFFER).0)
            .subscribe()
    }

    /// Sends to the subject's open streams; returns how many received it.
    pub fn send(&self, subject: &str, event: Arc<Live>) -> usize {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(subject)
            .and_then(|tx| tx.send(event).ok())
            .unwrap_or(0)
    }

    /// Ends the subject's streams (sign-out everywhere, erasure).
    pub fn close(&self, subject: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(subject);
    }

    pub fn open_streams(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|tx| tx.receiver_count())
            .sum()
    }
}
