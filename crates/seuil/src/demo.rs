//! `seuil demo`: the demo tenant, and two in-home deliveries played by the real simulators
//! against the server that is starting.
//!
//! The first delivery goes well: grant, unlock, a live camera, relock, and a clip in the
//! portal. In the second, the camera is jammed while the courier is inside: the customer is
//! alarmed within 3 s, the live view turns STALE, and the lock refuses a second entry.

use crate::sim::camera::{self, Camera, Source, StreamOptions};
use crate::sim::courier::{self, Plan};
use crate::sim::device::{DeviceClient, keygen, read_key};
use crate::sim::lock::{self, SimLock};
use crate::sim::session::Session;
use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use seuil_server::{App, Role};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub const DEMO_EMAIL: &str = "demo@seuil.example";
pub const DEMO_PASSWORD: &str = "seuil-demo-password";
const COURIER_EMAIL: &str = "courier@seuil.example";
const OPERATOR_EMAIL: &str = "operator@seuil.example";
const STAFF_PASSWORD: &str = "seuil-demo-staff-password";

/// Creates the demo accounts, unless they exist (a restart on the same data folder).
pub async fn seed(app: &App) -> anyhow::Result<()> {
    for (email, password, name, role) in [
        (DEMO_EMAIL, DEMO_PASSWORD, "Demo Customer", Role::Customer),
        (COURIER_EMAIL, STAFF_PASSWORD, "Demo Courier", Role::Courier),
        (
            OPERATOR_EMAIL,
            STAFF_PASSWORD,
            "Demo Operator",
            Role::Operator,
        ),
    ] {
        match app.create_account(email, password, name, role).await {
            Ok(subject) => tracing::info!(%subject, role = role.as_str(), "seeded a demo account"),
            Err(problem) if problem.status.as_u16() == 409 => {}
            Err(problem) => anyhow::bail!("cannot seed the demo account {email}: {problem}"),
        }
    }
    Ok(())
}

/// The demo home's device: its key file (made on first run) and its registered id.
async fn device(customer: &Session, dir: &Path, kind: &str) -> anyhow::Result<(PathBuf, String)> {
    let key_file = dir.join(format!("{kind}.key"));
    let id_file = dir.join(format!("{kind}.id"));
    if let Ok(id) = std::fs::read_to_string(&id_file) {
        return Ok((key_file, id.trim().to_owned()));
    }
    let public_key = if key_file.exists() {
        use base64::Engine;
        let key = read_key(&key_file)?;
        base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes())
    } else {
        keygen(&key_file)?
    };
    let name = if kind == "lock" {
        "Front door"
    } else {
        "Hall camera"
    };
    let v = customer
        .ok(
            Method::POST,
            "/api/devices",
            Some(json!({ "name": name, "type": kind, "public_key": public_key })),
        )
        .await?;
    let id = v["id"].as_str().context("no device id")?.to_owned();
    std::fs::write(&id_file, &id).with_context(|| format!("cannot write {}", id_file.display()))?;
    Ok((key_file, id))
}

async fn wait_until_up(url: &str) {
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{url}/healthz")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Plays both deliveries. Errors are printed, not fatal: the server keeps serving.
pub fn spawn_deliveries(url: String, data_dir: PathBuf) {
    tokio::spawn(async move {
        if let Err(e) = deliveries(&url, &data_dir).await {
            eprintln!("demo: the deliveries stopped: {e:#}");
        }
    });
}

async fn deliveries(url: &str, data_dir: &Path) -> anyhow::Result<()> {
    wait_until_up(url).await;
    let dir = data_dir.join("demo-devices");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let customer = Session::sign_in(url, DEMO_EMAIL, DEMO_PASSWORD).await?;
    let operator = Session::sign_in(url, OPERATOR_EMAIL, STAFF_PASSWORD).await?;
    let courier = Session::sign_in(url, COURIER_EMAIL, STAFF_PASSWORD).await?;
    let (lock_key, lock_id) = device(&customer, &dir, "lock").await?;
    let (camera_key, camera_id) = device(&customer, &dir, "camera").await?;
    customer.pair_home(&lock_id, &camera_id, 120).await?;

    // The camera streams a synthetic room and serves the lock's local link.
    let cam = Camera::new(read_key(&camera_key)?);
    let link = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let camera_link = format!("http://{}", link.local_addr()?);
    tokio::spawn(camera::serve_link(cam.clone(), link));
    let client = DeviceClient::new(url, &camera_id, read_key(&camera_key)?)?;
    let streaming = {
        let cam = cam.clone();
        tokio::spawn(async move {
            let options = StreamOptions {
                client: Some(client),
                key_file: camera_key,
                attack: None,
                fast: false,
                save: None,
                verbose: false,
            };
            if let Err(e) = camera::stream(&cam, &Source::Room(3_600), options).await {
                eprintln!("demo: the camera stopped: {e:#}");
            }
        })
    };

    // The lock syncs and serves the courier's local link.
    let lock = SimLock::new(url, &lock_id, &lock_key, Some(camera_link))?;
    lock.sync().await.context("the demo lock's first sync")?;
    let link = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let lock_link = format!("http://{}", link.local_addr()?);
    tokio::spawn(lock::serve_link(lock.clone(), link));
    tokio::spawn(lock::keep_syncing(lock.clone(), Duration::from_secs(10)));

    println!("demo: run 1, a delivery that goes well");
    let first = book(&operator, &customer, "Groceries (demo run 1)").await?;
    courier::deliver(
        &courier,
        &lock_link,
        Plan {
            delivery: Some(first),
            inside: Duration::from_secs(6),
            second_entry: false,
        },
    )
    .await?;
    println!("demo: run 1 done; its clip is in the portal once the recording closes (30 s)");
    tokio::time::sleep(Duration::from_secs(35)).await;

    println!("demo: run 2, the camera is jammed while the courier is inside");
    let second = book(&operator, &customer, "A parcel (demo run 2)").await?;
    let jammer = {
        let cam = cam.clone();
        tokio::spawn(async move {
            // Jammed a few seconds after the door opens.
            tokio::time::sleep(Duration::from_secs(8)).await;
            cam.jammed.store(true, Ordering::SeqCst);
            println!("demo: the camera is jammed");
        })
    };
    let visit = courier::deliver(
        &courier,
        &lock_link,
        Plan {
            delivery: Some(second),
            inside: Duration::from_secs(10),
            second_entry: true,
        },
    )
    .await?;
    let _ = jammer.await;
    let _ = streaming.await;
    println!(
        "demo: run 2 done; a second entry with the same grant was {}",
        visit.second_entry.as_deref().unwrap_or("not tried")
    );
    report(&customer, &visit.delivery).await
}

/// What the customer sees after run 2, read back from the API.
async fn report(customer: &Session, delivery: &str) -> anyhow::Result<()> {
    let d = customer
        .ok(Method::GET, &format!("/api/me/deliveries/{delivery}"), None)
        .await?;
    for alarm in d["alarms"].as_array().into_iter().flatten() {
        let kind = alarm["alarm"].as_str().unwrap_or("?");
        match (alarm["at"].as_i64(), alarm["since"].as_i64()) {
            (Some(at), Some(since)) => println!(
                "demo: the customer was alarmed ({kind}) {:.1} s after the camera's last footage",
                (at - since) as f64 / 1000.0
            ),
            _ => println!("demo: the customer was alarmed ({kind})"),
        }
    }
    let live = customer.ok(Method::GET, "/api/me/live", None).await?;
    println!(
        "demo: the live view says {}",
        live["label"].as_str().unwrap_or("?")
    );
    Ok(())
}

/// The operator books a delivery for the demo customer, who approves it.
async fn book(operator: &Session, customer: &Session, order: &str) -> anyhow::Result<String> {
    let now = crate::sim::device::now_ms();
    let v = operator
        .ok(
            Method::POST,
            "/api/ops/deliveries",
            Some(json!({ "customer_email": DEMO_EMAIL, "courier_email": COURIER_EMAIL, "order": order,
                         "window_start": now - 60_000, "window_end": now + 3_600_000, "places": ["door"] })),
        )
        .await?;
    let id = v["id"].as_str().context("no delivery id")?.to_owned();
    customer
        .ok(
            Method::PUT,
            &format!("/api/me/deliveries/{id}/approval"),
            Some(json!({ "approved": true })),
        )
        .await?;
    Ok(id)
}
