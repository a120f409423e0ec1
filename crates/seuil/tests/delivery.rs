//! An in-home delivery through the real binary: `seuil serve`, staff made with `seuil admin`,
//! and the three simulators as separate processes talking to it and to each other over
//! their local links. The camera is jammed while the courier is inside: the customer's
//! delivery records the alarm, and the lock refuses a second entry.

mod common;

use common::{Server, seuil, sign_up};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

const STAFF_PASSWORD: &str = "a staff password";

fn staff(data: &Path, role: &str, email: &str) {
    let var = if role == "operator" {
        "SEUIL_OPERATOR_PASSWORD"
    } else {
        "SEUIL_COURIER_PASSWORD"
    };
    let out = seuil()
        .env("SEUIL_DATA_DIR", data)
        .env(var, STAFF_PASSWORD)
        .args(["admin", &format!("create-{role}"), "--email", email])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn keygen(path: &Path) -> String {
    let out = seuil()
        .args(["sim", "keygen", "--out"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A simulator left running; killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a simulator and waits for the address of its local link.
fn start_with_link(mut cmd: std::process::Command) -> (Running, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((_, url)) = line.split_once("local link on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the simulator reports its local link");
    (Running(child), url)
}

async fn ok(req: reqwest::RequestBuilder) -> Value {
    let res = req.send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or_default();
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_with_the_simulators_and_a_jammed_camera() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    staff(&data, "operator", "otto@example.com");
    staff(&data, "courier", "cleo@example.com");

    // The customer registers a lock and a camera, consents to recording, pairs them.
    let customer = sign_up(
        &server,
        "dana@example.com",
        "a long enough password",
        "Dana",
    )
    .await;
    let mut devices = Vec::new();
    for kind in ["lock", "camera"] {
        let key = dir.path().join(format!("{kind}.key"));
        let public_key = keygen(&key);
        let d = ok(customer
            .post(server.api("/api/devices"))
            .json(&json!({ "name": kind, "type": kind, "public_key": public_key })))
        .await;
        devices.push((key, d["id"].as_str().unwrap().to_owned()));
    }
    let put = |path: &str, body: Value| customer.put(server.api(path)).json(&body);
    ok(put(
        "/api/me/consents/delivery.video",
        json!({ "granted": true }),
    ))
    .await;
    ok(put(
        "/api/me/home",
        json!({ "lock_device": devices[0].1, "camera_device": devices[1].1 }),
    ))
    .await;

    // The operator books the delivery; the customer approves it.
    let operator = server.client();
    ok(operator
        .post(server.api("/api/sessions"))
        .json(&json!({ "email": "otto@example.com", "password": STAFF_PASSWORD })))
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let created = ok(operator
        .post(server.api("/api/ops/deliveries"))
        .json(&json!({
            "customer_email": "dana@example.com", "courier_email": "cleo@example.com",
            "order": "a parcel", "window_start": now - 60_000, "window_end": now + 3_600_000,
            "places": ["door"]
        })))
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    ok(put(
        &format!("/api/me/deliveries/{id}/approval"),
        json!({ "approved": true }),
    ))
    .await;

    // The camera streams a synthetic room and is jammed 8 s in; the lock trusts it.
    let mut camera = seuil();
    camera
        .args([
            "sim",
            "camera",
            "--synthetic",
            "60",
            "--attack",
            "jam@8",
            "--link",
            "127.0.0.1:0",
        ])
        .args([
            "--server",
            &server.url,
            "--device",
            &devices[1].1,
            "--key-file",
        ])
        .arg(&devices[1].0);
    let (_camera, camera_link) = start_with_link(camera);
    let mut lock = seuil();
    lock.args([
        "sim",
        "lock",
        "--listen",
        "127.0.0.1:0",
        "--camera",
        &camera_link,
    ])
    .args([
        "--server",
        &server.url,
        "--device",
        &devices[0].1,
        "--key-file",
    ])
    .arg(&devices[0].0);
    let (_lock, lock_link) = start_with_link(lock);

    // The courier does the delivery, and tries a second entry before relocking.
    let out = seuil()
        .env("SEUIL_COURIER_PASSWORD", STAFF_PASSWORD)
        .args([
            "sim",
            "courier",
            "--server",
            &server.url,
            "--email",
            "cleo@example.com",
        ])
        .args(["--lock", &lock_link, "--inside", "14", "--second-entry"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("the lock opened"), "{said}");
    assert!(
        said.contains("a second entry with the same grant: the lock refused"),
        "{said}"
    );
    assert!(said.contains("relocked and reported"), "{said}");

    // The customer's delivery is done, with the silent camera on record.
    let mut d = Value::Null;
    for _ in 0..50 {
        d = ok(customer.get(server.api(&format!("/api/me/deliveries/{id}")))).await;
        if d["visit"]["step"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(d["visit"]["step"], "done", "{d}");
    let alarms: Vec<&str> = d["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["alarm"].as_str())
        .collect();
    assert!(alarms.contains(&"camera_silent"), "{d}");
    let live = ok(customer.get(server.api("/api/me/live"))).await;
    assert!(
        live["label"].as_str().unwrap().starts_with("STALE since"),
        "{live}"
    );
}
