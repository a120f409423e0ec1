//! The visits this instance is watching, and the ticker that raises their alarms.
//!
//! A visit is watched from the courier's arrival until 30 s after the relock: from the moment
//! a grant is issued (not from the lock's unlock report, which a lock knocked off the network
//! never sends), a camera silent for 2 s, a lock that does not report the unlock in time, or
//! a door left unlocked too long raises an alarm at once (recorded on the delivery, pushed to
//! the customer's event streams and webhooks). The camera's liveness is read from the
//! stream's index in the store, so it holds whichever instance took the camera's segments.
//! Which footage belongs to a visit is decided here too: outside every visit, a segment is
//! only kept as a 30 s buffer, and around an unlock no visit accounts for, it is pinned.

use crate::notify;
use crate::state::AppState;
use seuil_delivery::alarms::{Alarm, Watchdog};
use seuil_delivery::camera::Keep;
use seuil_delivery::clips;
use seuil_delivery::deliveries::{self, Delivery};
use seuil_delivery::footage::{Analyzer, Event, Kind};
use seuil_delivery::grants::Rules;
use seuil_delivery::home::{self, Home};
use seuil_delivery::visit::{RECORDING_MARGIN_MS, Step, Visit};
use seuil_vault::Actor;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often open visits are checked: a small part of the 1 s an alarm may take beyond the
/// 2 s of silence.
pub const TICK: Duration = Duration::from_millis(100);

struct Watched {
    customer: String,
    camera_stream: String,
    visit: Visit,
    watchdog: Watchdog,
    /// The record version this copy was read at, when read from the store: a change that
    /// leaves the step as it was (a grant) is still seen by the next sync.
    version: Option<u64>,
}

/// A visit's footage analysed as it arrives, so tampering alarms at once rather than once
/// the recording closes.
struct Live {
    analyzer: Analyzer,
    /// Where the visit's clip starts (30 s before the unlock): the events' time origin.
    origin: i64,
    last_start: i64,
    raised: Vec<(Kind, f64)>,
}

/// How long the footage after an unlock that no visit accounts for is pinned.
pub const INCIDENT_MS: i64 = 5 * 60 * 1000;

#[derive(Default)]
pub struct Watch {
    visits: Mutex<HashMap<String, Watched>>,
    /// Camera streams whose footage is pinned, from when to when: an unexplained unlock.
    incidents: Mutex<HashMap<String, (i64, i64)>>,
    /// Each visit's analysis behind a fair lock, taken in the order segments arrive.
    live: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Live>>>>,
}

fn actor() -> Actor {
    Actor::system("watchdog")
}

impl Watch {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watched>> {
        self.visits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows a delivery's visit as it changes: watched from arrival (or while a revoked
    /// grant may still open the lock), dropped once done.
    pub fn track(&self, d: &Delivery, home: &Home, rules: &Rules, now: i64) {
        self.track_version(d, None, home, rules, now);
    }

    fn track_version(
        &self,
        d: &Delivery,
        version: Option<u64>,
        home: &Home,
        rules: &Rules,
        now: i64,
    ) {
        let mut visits = self.lock();
        if d.visit.step == Step::Scheduled && !d.visit.watching(now) {
            visits.remove(&d.id);
            return;
        }
        let entry = visits.entry(d.id.clone()).or_insert_with(|| Watched {
            customer: d.customer.clone(),
            camera_stream: d.camera_stream_in(home),
            visit: d.visit.clone(),
            watchdog: Watchdog::new(
                i64::from(home.relock_within_s) * 1_000,
                rules.lock_report_within_ms,
            ),
            version,
        });
        entry.camera_stream = d.camera_stream_in(home);
        entry.visit = d.visit.clone();
        entry.version = version;
    }

    /// Pins the footage of `camera_stream` for [`INCIDENT_MS`] after an unlock at `at` that no
    /// visit accounts for (reported at `now`, by the server's clock).
    pub fn incident(&self, camera_stream: &str, at: i64, now: i64) {
        // The lock's time is its own: the pin runs at least from the report on.
        let at = at.clamp(now.saturating_sub(INCIDENT_MS), now);
        let mut incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
        let span = incidents
            .entry(camera_stream.to_owned())
            .or_insert((at - RECORDING_MARGIN_MS, at + INCIDENT_MS));
        span.0 = span.0.min(at - RECORDING_MARGIN_MS);
        span.1 = span.1.max(at + INCIDENT_MS);
    }

    /// How long to keep a segment of `camera_stream` that starts at `start`, arriving at `now`.
    pub fn keep_for(&self, camera_stream: &str, start: i64, now: i64) -> Keep {
        let pinned = {
            let mut incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
            // An incident is forgotten once the footage it pins has all arrived (by the
            // server's clock: one camera's claims cannot clear another's).
            incidents.retain(|_, (_, until)| now <= until.saturating_add(RECORDING_MARGIN_MS));
            incidents
                .get(camera_stream)
                .is_some_and(|(from, until)| (*from..=*until).contains(&start))
        };
        if pinned {
            return Keep::Pinned;
        }
        let visits = self.lock();
        let in_visit = visits
            .values()
            .any(|w| w.camera_stream == camera_stream && w.visit.may_record(start));
        if in_visit {
            Keep::Visit
        } else {
            Keep::Until(start + RECORDING_MARGIN_MS)
        }
    }

    /// The watched visits recording footage of `camera_stream` at `start`, with their
    /// analysis, made on first use.
    fn recording(
        &self,
        camera_stream: &str,
        start: i64,
    ) -> Vec<(String, String, Arc<tokio::sync::Mutex<Live>>)> {
        let visits = self.lock();
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        visits
            .iter()
            .filter(|(_, w)| w.camera_stream == camera_stream && w.visit.may_record(start))
            .map(|(id, w)| {
                let origin = w
                    .visit
                    .recording_window()
                    .map_or(start - RECORDING_MARGIN_MS, |(from, _)| from);
                let entry = live.entry(id.clone()).or_insert_with(|| {
                    Arc::new(tokio::sync::Mutex::new(Live {
                        analyzer: Analyzer::default(),
                        origin,
                        last_start: i64::MIN,
                        raised: Vec::new(),
                    }))
                });
                (id.clone(), w.customer.clone(), entry.clone())
            })
            .collect()
    }

    /// How many deliveries are watched, for tests and metrics.
    pub fn watched(&self) -> usize {
        self.lock().len()
    }
}

/// The steps a watched visit can be at.
const WATCHED: [Step; 4] = [Step::Arrived, Step::Unlocked, Step::Inside, Step::Relocked];

/// How often the watched visits are compared with the store: other instances move visits on
/// too (a courier's request, a lock's report), and a restart must pick up open visits.
const SYNC_EVERY: u32 = 20;

/// Follows every open visit in the store, and every change another instance recorded. Only
/// the index is read for visits already followed at the version the store holds; the rest
/// are opened (audited, as the watchdog). A visit called off while its revoked grant still
/// works is followed by the instances that saw it open; one that starts afresh does not pick
/// it up (it would have to open every called-off delivery).
pub async fn sync_with_store(state: &AppState) {
    let mut in_store: HashMap<String, u64> = HashMap::new();
    for step in WATCHED {
        let q = seuil_store::Query {
            kind: deliveries::DELIVERY.into(),
            status: Some(step.as_str().into()),
            ..seuil_store::Query::default()
        };
        match state.vault.store().query(&q).await {
            Ok(found) => in_store.extend(found.into_iter().map(|r| (r.id, r.version))),
            Err(e) => {
                tracing::warn!(error = %e, "cannot compare the watched visits with the store");
                return;
            }
        }
    }
    let stale: Vec<String> = {
        let visits = state.watch.lock();
        let moved_here = in_store
            .iter()
            .filter(|(id, version)| visits.get(*id).is_none_or(|w| w.version != Some(**version)))
            .map(|(id, _)| id.clone());
        // Followed here at an open step, but the store has it elsewhere (done, aborted).
        let moved_away = visits
            .iter()
            .filter(|(id, w)| WATCHED.contains(&w.visit.step) && !in_store.contains_key(*id))
            .map(|(id, _)| id.clone());
        moved_here.chain(moved_away).collect()
    };
    for id in stale {
        let (d, version) = match deliveries::load(&state.vault, &actor(), &id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a visit to watch it");
                continue;
            }
        };
        // A visit whose recording has closed is not taken up again (its analysis runs where
        // it was watched), even if the lock never confirmed the courier's relock.
        if d.visit.recording_closed(state.vault.now()) {
            // (If it is watched here, the next check lets it go and analyses its footage.)
            continue;
        }
        match home::load(&state.vault, &actor(), &d.customer).await {
            Ok(Some((home, _))) => state.watch.track_version(
                &d,
                Some(version),
                &home,
                &state.config.delivery,
                state.vault.now(),
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read a home to watch its visit"),
        }
    }
}

/// Checks every watched visit each [`TICK`].
pub async fn run(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u32 = 0;
    loop {
        tick.tick().await;
        if n.is_multiple_of(SYNC_EVERY) {
            sync_with_store(&state).await;
        }
        n = n.wrapping_add(1);
        if let Err(e) = check(&state).await {
            tracing::warn!(error = %e, "visit watchdog failed");
        }
    }
}

async fn check(state: &Arc<AppState>) -> Result<(), deliveries::DeliveryError> {
    let now = state.vault.now();
    let mut finished = Vec::new();
    let cameras: Vec<(String, String)> = {
        let mut visits = state.watch.lock();
        visits.retain(|id, w| {
            let keep = !w.visit.recording_closed(now);
            if !keep && w.visit.recording_window().is_some() {
                finished.push((id.clone(), w.customer.clone()));
            }
            keep
        });
        let mut live = state.watch.live.lock().unwrap_or_else(|p| p.into_inner());
        // A finished visit's analysis stays until its final pass has read what it raised.
        live.retain(|id, _| visits.contains_key(id) || finished.iter().any(|(f, _)| f == id));
        visits
            .iter()
            .filter(|(_, w)| w.visit.watching(now))
            .map(|(id, w)| (id.clone(), w.camera_stream.clone()))
            .collect()
    };
    for (id, customer) in finished {
        tokio::spawn(analyse(state.clone(), id, customer));
    }
    for (id, camera) in cameras {
        let newest = deliveries::stream_newest_end(&state.vault, &camera).await?;
        let (alarms, customer) = {
            let mut visits = state.watch.lock();
            let Some(w) = visits.get_mut(&id) else {
                continue;
            };
            (w.watchdog.check(&w.visit, newest, now), w.customer.clone())
        };
        for alarm in alarms {
            raise(state, Some(&id), &customer, alarm).await;
        }
    }
    Ok(())
}

/// Takes a kept segment of `camera_stream` into the live analysis of the visits it belongs
/// to, and raises each tampering found for the first time.
pub async fn footage_kept(
    state: &Arc<AppState>,
    camera_stream: &str,
    start: i64,
    duration_ms: u32,
    footage: bytes::Bytes,
) {
    for (id, customer, live) in state.watch.recording(camera_stream, start) {
        let state = state.clone();
        let footage = footage.clone();
        // Taken here, in arrival order (the lock is fair), so segments are analysed in turn.
        let mut live = live.lock_owned().await;
        tokio::spawn(async move {
            let found = tokio::task::spawn_blocking(move || {
                if start <= live.last_start {
                    return Vec::new();
                }
                live.last_start = start;
                let at = (start - live.origin) as f64 / 1000.0;
                if let Err(e) =
                    live.analyzer
                        .push_segment(&footage, at, f64::from(duration_ms) / 1000.0)
                {
                    tracing::warn!(error = %e, "a kept segment does not decode");
                    return Vec::new();
                }
                let events = live.analyzer.events();
                let fresh: Vec<_> = events
                    .into_iter()
                    .filter(|e| !raised_already(&live.raised, e))
                    .collect();
                live.raised
                    .extend(fresh.iter().map(|e| (e.kind, e.start_s)));
                fresh
            })
            .await
            .unwrap_or_default();
            raise_tampering(&state, &id, &customer, found).await;
        });
    }
}

/// Whether `e` was raised already: the same kind, starting within 1.5 s (the live and the
/// final pass see a detection's edges a little differently).
fn raised_already(raised: &[(Kind, f64)], e: &Event) -> bool {
    raised
        .iter()
        .any(|(k, s)| *k == e.kind && (s - e.start_s).abs() < 1.5)
}

/// Raises an alarm for each tampering event.
async fn raise_tampering(
    state: &AppState,
    id: &str,
    customer: &str,
    events: impl IntoIterator<Item = Event>,
) {
    for e in events {
        let alarm = Alarm::Tampering {
            kind: e.kind,
            start_s: e.start_s,
            end_s: e.end_s,
        };
        raise(state, Some(id), customer, alarm).await;
    }
}

/// Once the visit's recording is over, looks for tampering in its footage; each finding is
/// an alarm.
async fn analyse(state: Arc<AppState>, id: String, customer: String) {
    let found = async {
        let (h264, seconds) = clips::for_analysis(&state.vault, &id).await?;
        let events = tokio::task::spawn_blocking(move || clips::find_tampering(&h264, seconds))
            .await
            .map_err(|e| deliveries::DeliveryError::Corrupt(e.to_string()))??;
        clips::record_tampering(&state.vault, &id, &events).await?;
        Ok::<_, deliveries::DeliveryError>(events)
    };
    // What the live analysis already raised is not raised again.
    let raised = state
        .watch
        .live
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    let raised: Vec<(Kind, f64)> = match raised {
        Some(live) => live.lock().await.raised.clone(),
        None => Vec::new(),
    };
    match found.await {
        Ok(events) => {
            let events = events.into_iter().filter(|e| !raised_already(&raised, e));
            raise_tampering(&state, &id, &customer, events).await;
        }
        Err(e) => tracing::warn!(error = %e, "tamper analysis of a visit failed"),
    }
}

/// Records an alarm on its delivery (if any) and tells the customer at once.
pub async fn raise(state: &AppState, delivery: Option<&str>, customer: &str, alarm: Alarm) {
    let data = serde_json::json!({ "delivery": delivery, "alarm": alarm });
    if let Some(id) = delivery {
        match deliveries::record_alarm(&state.vault, &actor(), id, alarm).await {
            Ok(true) => {}
            // Another instance watching the same visit raised it first, webhooks and all;
            // this one still tells the customer's streams connected here.
            Ok(false) => {
                if let Err(e) = notify::notify_live(state, customer, "delivery.alarm", data) {
                    tracing::warn!(error = ?e, "cannot push a delivery alarm");
                }
                return;
            }
            // Better twice than never: the customer still hears of it.
            Err(e) => tracing::warn!(error = %e, "cannot record a delivery alarm"),
        }
    }
    tracing::info!(alarm = ?alarm, "delivery alarm");
    if let Err(e) = notify::notify(state, customer, "delivery.alarm", data).await {
        tracing::warn!(error = ?e, "cannot notify a delivery alarm");
    }
}
