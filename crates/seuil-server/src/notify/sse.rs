//! Per-subject broadcast of live events to open `text/event-stream` connections.
//!
//! In memory and so **per instance**: a subject connected to instance A does not see events
//! raised on instance B. Webhooks go through the shared outbox and have no such limit; fanning
//! SSE out across instances (PostgreSQL `LISTEN/NOTIFY`) is the scale-out step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

const BUFFER: usize = 64;

/// One live event: its type (the SSE `event:` name) and its JSON.
#[derive(Debug)]
pub struct Live {
    pub event_type: String,
    pub json: String,
}

#[derive(Default)]
pub struct Hub(
    Mutex<HashMap<String, broadcast::Sender<Arc<Live>>>>,
    /// Per session: a signal that it ended (signed out, revoked), for its open streams.
    Mutex<HashMap<String, watch::Sender<bool>>>,
);

/// An open stream's feeds: the subject's events, and whether its session ended.
pub struct Subscription {
    pub events: broadcast::Receiver<Arc<Live>>,
    pub ended: watch::Receiver<bool>,
}

impl Hub {
    pub fn subscribe(&self, subject: &str, session: &str) -> Subscription {
        let events = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, tx| tx.receiver_count() > 0);
            map.entry(subject.to_owned())
                .or_insert_with(|| broadcast::channel(BUFFER).0)
                .subscribe()
        };
        let mut sessions = self.1.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, tx| tx.receiver_count() > 0);
        let ended = sessions
            .entry(session.to_owned())
            .or_insert_with(|| watch::channel(false).0)
            .subscribe();
        Subscription { events, ended }
    }

    /// Ends the streams of one session (it signed out, or was revoked).
    pub fn end_session(&self, session: &str) {
        let ended = self
            .1
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session);
        if let Some(tx) = ended {
            let _ = tx.send(true);
        }
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
