//! Webhook delivery against a real local receiver: retries with backoff, HMAC signatures, and
//! a pending message that survives rebuilding the App over the same store.

use crate::common::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use hmac::{Mac, SimpleHmac};
use serde_json::json;
use seuil_server::App;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
struct Hit {
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Receiver {
    hits: Arc<Mutex<Vec<Hit>>>,
    fail_first: usize,
}

async fn hook(State(rx): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut hits = rx.hits.lock().unwrap();
    hits.push(Hit {
        at: Instant::now(),
        headers,
        body,
    });
    if hits.len() <= rx.fail_first {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

/// Starts a receiver on 127.0.0.1 that fails the first `fail_first` attempts.
async fn receiver(fail_first: usize) -> (Receiver, String, tokio::task::JoinHandle<()>) {
    let rx = Receiver {
        hits: Arc::default(),
        fail_first,
    };
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (rx, url, task)
}

fn expected_signature(secret: &str, headers: &HeaderMap, body: &[u8]) -> String {
    let ts = headers["seuil-timestamp"].to_str().unwrap();
    let mut mac = SimpleHmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_are_retried_with_backoff_and_signed() {
    let (rx, url, server) = receiver(2).await;
    let env = env().await;
    let bg = env.app.spawn_background();
    let user = env.customer("hana").await;
    let r = env
        .json(
            Method::POST,
            "/api/me/webhooks",
            &user.auth,
            json!({ "url": url }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let created = r.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    // The secret is shown once: listing does not repeat it.
    let list = env.get("/api/me/webhooks", &user.auth).await;
    assert!(!list.text().contains(&secret));

    let report = env
        .app
        .notify(&user.subject, "test.ping", json!({ "n": 1 }))
        .await
        .unwrap();
    assert_eq!(report.webhooks, 1);

    let delivered = wait_until(Duration::from_secs(10), || async {
        rx.hits.lock().unwrap().len() >= 3
    })
    .await;
    assert!(
        delivered,
        "only {} attempts arrived",
        rx.hits.lock().unwrap().len()
    );
    let hits = rx.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 3, "delivered once, after two failures");
    // Exponential backoff: ~100 ms, then ~200 ms.
    let gap1 = hits[1].at - hits[0].at;
    let gap2 = hits[2].at - hits[1].at;
    assert!(
        gap1 >= Duration::from_millis(90),
        "first retry after {gap1:?}"
    );
    assert!(
        gap2 >= Duration::from_millis(180),
        "second retry after {gap2:?}"
    );
    let event_id = hits[0].headers["seuil-event-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(event_id.starts_with("evt_"));
    for hit in &hits {
        assert_eq!(
            hit.headers["seuil-event-id"],
            event_id.as_str(),
            "one event id across retries"
        );
        assert_eq!(
            hit.headers["seuil-signature"],
            expected_signature(&secret, &hit.headers, &hit.body).as_str()
        );
        assert_eq!(hit.headers["content-type"], "application/json");
    }
    let body: serde_json::Value = serde_json::from_slice(&hits[2].body).unwrap();
    assert_eq!(body["type"], "test.ping");
    assert_eq!(body["id"], event_id.as_str());
    assert_eq!(body["data"]["n"], 1);

    let store = env.vault.store().clone();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let s = store.clone();
            async move { s.outbox_pending().await.unwrap() == 0 }
        })
        .await
    );
    // Each delivery attempt opened the payload and the subscription as system:notify, in the
    // customer's own access log.
    let log = env.get("/api/me/access-log", &user.auth).await.json();
    let notify_opens = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["actor"] == json!({ "type": "system", "id": "notify" }) && e["action"] == "open"
        })
        .count();
    assert!(
        notify_opens >= 6,
        "{notify_opens} audited opens by the notifier"
    );
    let metrics = env.get("/metrics", &Auth::None).await.text();
    assert!(
        metrics.contains("seuil_webhook_attempts_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seuil_webhook_attempts_total{outcome=\"failed\"} 2"),
        "{metrics}"
    );
    bg.abort();
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_webhook_survives_a_restart() {
    let (rx, url, server) = receiver(0).await;
    let first = env().await;
    // No background worker in the first life: the message stays queued in the store.
    let user = first.customer("remy").await;
    let r = first
        .json(
            Method::POST,
            "/api/me/webhooks",
            &user.auth,
            json!({ "url": url }),
        )
        .await;
    let secret = r.json()["secret"].as_str().unwrap().to_owned();
    first
        .app
        .notify(&user.subject, "alarm.raised", json!({ "lock": "front" }))
        .await
        .unwrap();
    assert_eq!(first.vault.store().outbox_pending().await.unwrap(), 1);

    // "Restart": drop the App and the vault, open the same directory again.
    let Env {
        dir,
        app,
        router,
        vault,
    } = first;
    drop((app, router, vault));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let vault = open_vault(dir.path()).await;
    let app = App::new(vault.clone(), test_config());
    let bg = app.spawn_background();

    assert!(
        wait_until(Duration::from_secs(10), || async {
            !rx.hits.lock().unwrap().is_empty()
        })
        .await,
        "never delivered"
    );
    let hit = rx.hits.lock().unwrap()[0].clone();
    assert_eq!(
        hit.headers["seuil-signature"],
        expected_signature(&secret, &hit.headers, &hit.body).as_str()
    );
    let body: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
    assert_eq!(body["type"], "alarm.raised");
    assert_eq!(body["data"]["lock"], "front");
    let store = vault.store().clone();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let s = store.clone();
            async move { s.outbox_pending().await.unwrap() == 0 }
        })
        .await
    );
    bg.abort();
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_subscriptions_and_erased_subjects_are_not_delivered() {
    let (rx, url, server) = receiver(0).await;
    let env = env().await;
    let user = env.customer("dora").await;
    let r = env
        .json(
            Method::POST,
            "/api/me/webhooks",
            &user.auth,
            json!({ "url": url }),
        )
        .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    env.app
        .notify(&user.subject, "one", json!({}))
        .await
        .unwrap();
    let r = env
        .call(
            Method::DELETE,
            &format!("/api/me/webhooks/{id}"),
            &user.auth,
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let bg = env.app.spawn_background();
    let store = env.vault.store().clone();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let s = store.clone();
            async move { s.outbox_pending().await.unwrap() == 0 }
        })
        .await
    );
    assert!(
        rx.hits.lock().unwrap().is_empty(),
        "delivered to a deleted subscription"
    );
    bg.abort();
    server.abort();
}
