//! How long a customer waits to hear that the camera fell silent during a visit.
//!
//! A real server on loopback, with visits open at once: each customer listens on their event
//! stream, each camera sends signed segments through the API and then stops. The figure is
//! from the end of a camera's last footage to its owner receiving the alarm. The baseline,
//! measured in the same run, is the same event stream carrying a plain notification (a
//! device heartbeat): what any push costs, without the watchdog.

use crate::sim::device::{B64, DeviceClient, now_ms};
use crate::sim::session::Session;
use anyhow::{Context, bail};
use base64::Engine;
use ed25519_dalek::SigningKey;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use seuil_proto::{SegmentInfo, camera_id};
use seuil_server::{App, Role, ServerConfig};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Figures {
    /// Seconds from a camera's last footage to the alarm, sorted.
    pub latencies: Vec<f64>,
    /// Seconds from sending a heartbeat to its arrival on the event stream, sorted.
    pub push: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

impl Figures {
    pub fn p99(&self) -> f64 {
        percentile(&self.latencies, 0.99)
    }
    pub fn p50(&self) -> f64 {
        percentile(&self.latencies, 0.5)
    }
    pub fn push_p99(&self) -> f64 {
        percentile(&self.push, 0.99)
    }
}

/// One open visit: its customer's session, its camera.
struct Visit {
    customer: Session,
    camera: DeviceClient,
    lock: DeviceClient,
    prev: [u8; 32],
    counter: u64,
}

impl Visit {
    /// Sends the second of footage that ends now; returns when it ended.
    async fn second_of_footage(&mut self) -> anyhow::Result<Instant> {
        let ended = Instant::now();
        let end = now_ms();
        let footage = vec![(self.counter % 251) as u8; 2048];
        let seg = SegmentInfo {
            camera_id: camera_id(self.camera.key.verifying_key().as_bytes()),
            counter: self.counter,
            start: end - 1_000,
            duration_ms: 1_000,
            prev_hash: self.prev,
            content_hash: Sha256::digest(&footage).into(),
            visit: None,
        }
        .sign(&self.camera.key);
        self.prev = seg.hash();
        self.counter += 1;
        let body = [seg.encode().to_vec(), footage].concat();
        self.camera
            .post_ok("/api/device/segments", "application/octet-stream", body)
            .await?;
        Ok(ended)
    }
}

/// Waits on an event stream for an event of `kind`; returns when it arrived.
async fn first_event(res: reqwest::Response, kind: &str) -> anyhow::Result<Instant> {
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let needle = format!("event: {kind}");
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk?));
        if seen.contains(&needle) {
            return Ok(Instant::now());
        }
    }
    bail!("the event stream ended before any {kind}")
}

pub async fn measure(dir: &Path, visits: usize) -> anyhow::Result<Figures> {
    let vault = super::open_vault(dir).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let mut config = ServerConfig::new(url.clone());
    config.argon2_fast_for_tests = true;
    let app = App::new(vault, config);
    let background = app.spawn_background();
    let server = {
        let app = app.clone();
        tokio::spawn(async move { app.serve(listener).await })
    };
    let password = "bench password";
    app.create_account(
        "operator@bench.example",
        password,
        "Operator",
        Role::Operator,
    )
    .await
    .map_err(|p| anyhow::anyhow!("{p}"))?;
    app.create_account("courier@bench.example", password, "Courier", Role::Courier)
        .await
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    let operator = Session::sign_in(&url, "operator@bench.example", password).await?;
    let courier = Session::sign_in(&url, "courier@bench.example", password).await?;

    let mut open = Vec::new();
    for n in 0..visits {
        super::progress(&format!("opening visit {}/{visits}", n + 1));
        let email = format!("customer{n}@bench.example");
        app.create_account(&email, password, "Customer", Role::Customer)
            .await
            .map_err(|p| anyhow::anyhow!("{p}"))?;
        let customer = Session::sign_in(&url, &email, password).await?;
        let mut ids = Vec::new();
        let mut keys = Vec::new();
        for kind in ["lock", "camera"] {
            let key = SigningKey::from_bytes(&rand::random());
            let d = customer
                .ok(
                    Method::POST,
                    "/api/devices",
                    Some(json!({ "name": kind, "type": kind, "public_key": B64.encode(key.verifying_key().as_bytes()) })),
                )
                .await?;
            ids.push(d["id"].as_str().context("no device id")?.to_owned());
            keys.push(key);
        }
        customer
            .pair_home(
                &ids[0],
                &ids[1],
                seuil_delivery::home::DEFAULT_RELOCK_WITHIN_S,
            )
            .await?;
        customer
            .ok(
                Method::PUT,
                "/api/me/home/standing-approval",
                Some(json!({ "approved": true })),
            )
            .await?;
        let now = now_ms();
        let d = operator
            .ok(
                Method::POST,
                "/api/ops/deliveries",
                Some(json!({ "customer_email": email, "courier_email": "courier@bench.example", "order": "bench",
                             "window_start": now - 60_000, "window_end": now + 3_600_000, "places": ["door"] })),
            )
            .await?;
        let id = d["id"].as_str().context("no delivery id")?.to_owned();
        let mut visit = Visit {
            customer,
            camera: DeviceClient::new(&url, &ids[1], keys[1].clone())?,
            lock: DeviceClient::new(&url, &ids[0], keys[0].clone())?,
            prev: [0; 32],
            counter: 0,
        };
        visit.second_of_footage().await?;
        courier
            .ok(
                Method::POST,
                &format!("/api/courier/deliveries/{id}/arrive"),
                None,
            )
            .await?;
        let courier_key = SigningKey::from_bytes(&rand::random());
        let grant: Value = courier
            .ok(
                Method::POST,
                &format!("/api/courier/deliveries/{id}/grant"),
                Some(json!({ "courier_key": B64.encode(courier_key.verifying_key().as_bytes()) })),
            )
            .await?;
        // The lock reports the unlock (the unlock itself is `seuil-lock`'s, timed apart).
        let events = json!({ "events": [{ "event": "unlocked", "grant_id": grant["grant_id"], "at": now_ms() }] });
        visit
            .lock
            .post_ok(
                "/api/device/lock/sync",
                "application/json",
                serde_json::to_vec(&events)?,
            )
            .await?;
        open.push(visit);
    }

    // The baseline: a heartbeat pushed to each customer's stream.
    let mut push = Vec::new();
    for v in &open {
        let stream = v.customer.stream("/api/me/events").await?;
        let waiting = tokio::spawn(first_event(stream, "device.heartbeat"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let sent = Instant::now();
        v.camera
            .post_ok("/api/device/heartbeat", "application/json", Vec::new())
            .await?;
        let arrived = waiting.await??;
        push.push(arrived.saturating_duration_since(sent).as_secs_f64());
    }

    // Every camera streams a few seconds, then falls silent, at staggered times.
    super::progress(&format!("{visits} cameras streaming, then falling silent"));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut v) in open.into_iter().enumerate() {
        tasks.spawn(async move {
            let stream = v.customer.stream("/api/me/events").await?;
            let alarm = tokio::spawn(first_event(stream, "delivery.alarm"));
            let seconds = 2 + i % 3;
            tokio::time::sleep(Duration::from_millis((i as u64 * 97) % 1_000)).await;
            let mut last_end = Instant::now();
            for _ in 0..seconds {
                last_end = v.second_of_footage().await?;
                tokio::time::sleep(Duration::from_secs(1).saturating_sub(last_end.elapsed())).await;
            }
            let arrived = tokio::time::timeout(Duration::from_secs(30), alarm)
                .await
                .context("no alarm within 30 s of the camera falling silent")???;
            anyhow::Ok(arrived.saturating_duration_since(last_end).as_secs_f64())
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.push(done??);
    }
    super::progress(&format!(
        "all alarms in after {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    background.abort();
    server.abort();
    latencies.sort_by(f64::total_cmp);
    push.sort_by(f64::total_cmp);
    Ok(Figures { latencies, push })
}
