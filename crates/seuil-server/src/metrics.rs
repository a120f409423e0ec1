//! Prometheus metrics and request logs. Labels are route templates, methods, status codes and
//! fixed outcome names: never ids, addresses or anything personal.

use crate::state::Shared;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    webhooks: BTreeMap<&'static str, u64>,
    logins: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.inner();
        *m.requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let h = m
            .latency
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// `delivered`, `failed`, `given_up`, `dropped`.
    pub fn webhook(&self, outcome: &'static str) {
        *self.inner().webhooks.entry(outcome).or_default() += 1;
    }

    /// `ok`, `failed`, `rate_limited`.
    pub fn login(&self, outcome: &'static str) {
        *self.inner().logins.entry(outcome).or_default() += 1;
    }

    pub fn render(&self, outbox_pending: Option<u64>, open_streams: usize) -> String {
        let m = self.inner();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP seuil_http_requests_total HTTP requests by route template and status."
        );
        let _ = writeln!(out, "# TYPE seuil_http_requests_total counter");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "seuil_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        let _ = writeln!(
            out,
            "# HELP seuil_http_request_duration_seconds HTTP request latency by route template."
        );
        let _ = writeln!(out, "# TYPE seuil_http_request_duration_seconds histogram");
        for ((method, route), h) in &m.latency {
            let route = label(route);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "seuil_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "seuil_http_request_duration_seconds_bucket{{method=\"{method}\",route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "seuil_http_request_duration_seconds_sum{{method=\"{method}\",route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "seuil_http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP seuil_webhook_attempts_total Webhook delivery attempts by outcome."
        );
        let _ = writeln!(out, "# TYPE seuil_webhook_attempts_total counter");
        for (outcome, n) in &m.webhooks {
            let _ = writeln!(
                out,
                "seuil_webhook_attempts_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP seuil_logins_total Sign-in attempts by outcome."
        );
        let _ = writeln!(out, "# TYPE seuil_logins_total counter");
        for (outcome, n) in &m.logins {
            let _ = writeln!(out, "seuil_logins_total{{outcome=\"{outcome}\"}} {n}");
        }
        if let Some(pending) = outbox_pending {
            let _ = writeln!(
                out,
                "# HELP seuil_outbox_pending Notifications waiting in the outbox."
            );
            let _ = writeln!(out, "# TYPE seuil_outbox_pending gauge");
            let _ = writeln!(out, "seuil_outbox_pending {pending}");
        }
        let _ = writeln!(
            out,
            "# HELP seuil_sse_streams Open event streams on this instance."
        );
        let _ = writeln!(out, "# TYPE seuil_sse_streams gauge");
        let _ = writeln!(out, "seuil_sse_streams {open_streams}");
        out
    }
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Counts and times every request under its route template, and logs it without the raw
/// path (which may hold ids) and without query strings.
pub async fn track(state: Shared, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // Only standard methods as labels, so a client cannot grow the label set.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "OTHER".to_owned(),
    };
    let started = Instant::now();
    let res = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = res.status().as_u16();
    state.metrics.request(&method, &route, status, elapsed);
    if status >= 500 {
        tracing::warn!(method, route, status, ms = elapsed * 1000.0, "request");
    } else {
        tracing::info!(method, route, status, ms = elapsed * 1000.0, "request");
    }
    res
}
