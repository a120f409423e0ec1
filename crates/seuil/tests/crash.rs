//! `kill -9` during writes (device registrations), then a restart: every acknowledged write is there and nothing is
//! half-written (the audit log verifies end to end).

mod common;

use common::{Server, admin, sign_up};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let email = "crash-test@seuil.example";
    let password = "correct horse battery staple";

    for round in 0..3u64 {
        let server = Server::start(&data);
        let client = if round == 0 {
            sign_up(&server, email, password, "Crash Test").await
        } else {
            let c = server.client();
            let res = c
                .post(server.api("/api/sessions"))
                .json(&serde_json::json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "sign-in after restart failed");
            c
        };
        // Everything acknowledged before the kill must be there after it.
        check_present(&server, &client, &acknowledged).await;

        // Writers hammer the server; the process is killed while they are in flight.
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let (client, url, acked) = (client.clone(), server.api("/api/devices"), acknowledged.clone());
                tokio::spawn(async move {
                    for i in 0..10_000u64 {
                        // A real public key: random bytes are a curve point only half the time.
                        let key = ed25519_dalek::SigningKey::from_bytes(&rand::random()).verifying_key().to_bytes();
                        let body = serde_json::json!({ "name": format!("camera r{round} w{w} #{i}"), "type": "camera", "public_key": base64(&key) });
                        match client.post(&url).json(&body).send().await {
                            Ok(res) if res.status() == 201 => {
                                let v: serde_json::Value = res.json().await.unwrap_or_default();
                                if let Some(id) = v["id"].as_str() {
                                    acked.lock().unwrap().insert(id.to_owned());
                                }
                            }
                            Ok(res) => panic!("a registration was refused: {}", res.status()),
                            Err(_) => break, // connection cut by the kill
                        }
                    }
                })
            })
            .collect();
        // Let some writes land, then pull the plug at a different moment each round.
        tokio::time::sleep(Duration::from_millis(300 + 250 * round)).await;
        server.kill9();
        for w in writers {
            w.await.unwrap();
        }
        assert!(
            !acknowledged.lock().unwrap().is_empty(),
            "no write was acknowledged in round {round}"
        );
    }
    let server = Server::start(&data);
    let client = server.client();
    let res = client
        .post(server.api("/api/sessions"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    check_present(&server, &client, &acknowledged).await;
    drop(server);
    let out = admin(&data, &["verify-audit"]);
    assert!(out.contains("audit log OK"), "{out}");
}

async fn check_present(
    server: &Server,
    client: &reqwest::Client,
    acknowledged: &Mutex<BTreeSet<String>>,
) {
    let res = client.get(server.api("/api/devices")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let list: serde_json::Value = res.json().await.unwrap();
    let items = list
        .get("devices")
        .or(list.get("items"))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_else(|| list.as_array().cloned().unwrap_or_default());
    let present: BTreeSet<String> = items
        .iter()
        .filter_map(|w| w["id"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<_> = acknowledged
        .lock()
        .unwrap()
        .difference(&present)
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged writes lost after kill -9: {missing:?}"
    );
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
