//! The customer's journeys through the API: sign-up, sign-in, rate limiting, tokens,
//! consents, the access log and its proofs, export, erasure, devices, live events, ops.

use crate::authz::device_key;
use crate::common::*;
use axum::http::{Method, StatusCode};
use base64::Engine;
use ed25519_dalek::Signer;
use serde_json::{Value, json};
use seuil_server::ServerConfig;
use seuil_vault::{audit, merkle};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn from_hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_sign_in_tokens_and_sign_out() {
    let env = env().await;
    let r = env
        .json(Method::POST, "/api/accounts", &Auth::None, json!({ "email": " Ada@Example.com ", "password": "correct horse", "display_name": "Ada" }))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let set_cookie = r.header("set-cookie").unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = Auth::Cookie(r.session_cookie().unwrap());
    let me = env.get("/api/me", &cookie).await.json();
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["role"], "customer");
    assert_eq!(me["display_name"], "Ada");

    // One account per address, whatever the case.
    let r = env
        .json(
            Method::POST,
            "/api/accounts",
            &Auth::None,
            json!({ "email": "ADA@example.com", "password": "another one", "display_name": "A" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.is_problem());

    // Sign in: the account is opened by system:auth, which shows in Ada's own access log.
    let r = env
        .json(
            Method::POST,
            "/api/sessions",
            &Auth::None,
            json!({ "email": "ada@example.com", "password": "correct horse" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let second = Auth::Cookie(r.session_cookie().unwrap());
    let log = env.get("/api/me/access-log", &second).await.json();
    assert!(log["events"].as_array().unwrap().iter().any(|e| e["actor"]
        == json!({ "type": "system", "id": "auth" })
        && e["action"] == "open"
        && e["kind"] == "account"
        && e["purpose"] == "account"
        && e["outcome"] == "ok"));

    // Bearer tokens work as tokens; a cookie token does not work as a bearer token.
    // A token outlives its session: the password is asked again.
    let r = env
        .json(
            Method::POST,
            "/api/tokens",
            &second,
            json!({ "password": "not it" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = env
        .json(
            Method::POST,
            "/api/tokens",
            &second,
            json!({ "password": "correct horse" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        env.get("/api/me", &Auth::Bearer(token.clone()))
            .await
            .status,
        StatusCode::OK
    );
    if let Auth::Cookie(c) = &second {
        assert_eq!(
            env.get("/api/me", &Auth::Bearer(c.clone())).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        env.get("/api/me", &Auth::Bearer("nonsense".into()))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Sign out ends that session only.
    let r = env
        .call(Method::DELETE, "/api/sessions/current", &second)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        env.get("/api/me", &second).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.get("/api/me", &cookie).await.status, StatusCode::OK);

    // No email in plaintext anywhere in the store's records or the database file.
    for entry in std::fs::read_dir(env.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(15).any(|w| w == b"ada@example.com"),
                "email in plaintext in {}",
                path.display()
            );
        }
    }
    let metrics = env.get("/metrics", &Auth::None).await.text();
    assert!(!metrics.contains("example.com") && !metrics.contains(me["subject"].as_str().unwrap()));
}

/// The real policies, with waits of a minute instead of a second: what is tested here is who
/// waits, and a loaded machine must not let a one-second wait pass before the next request.
fn slow_throttling() -> seuil_server::auth::rate_limit::Throttling {
    use seuil_server::auth::rate_limit::{ACCOUNT, Policy, SOURCE};
    let slow = |p: Policy| Policy {
        first_ms: 60_000,
        cap_ms: 3_600_000,
        ..p
    };
    seuil_server::auth::rate_limit::Throttling {
        sign_in_source: slow(SOURCE),
        sign_in_account: slow(ACCOUNT),
        sign_up_source: slow(SOURCE),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_limited_per_address_and_per_account() {
    let env = env_with(ServerConfig {
        throttling: slow_throttling(),
        // The test's requests come from 127.0.0.1: the proxy in front.
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..test_config()
    })
    .await;
    env.sign_up("vic@example.com", "right password", "Vic")
        .await;
    env.sign_up("wes@example.com", "right password", "Wes")
        .await;
    let attempt = |xff: &'static str, email: &'static str, password: &'static str| {
        env.call(Method::POST, "/api/sessions", &Auth::None)
            .header("x-forwarded-for", xff)
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    // The client's own entries are to the left of what the proxy saw: forging them changes
    // nothing.
    for i in 0..6 {
        let forged: &'static str = Box::leak(format!("9.9.9.{i}, 10.0.0.1").into_boxed_str());
        let r = attempt(forged, "vic@example.com", "wrong").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{i}");
        assert!(r.is_problem());
    }
    // The address now waits before its next try, whatever account it names.
    let r = attempt("8.8.8.8, 10.0.0.1", "wes@example.com", "right password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(r.is_problem());
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The account is not locked for its owner, elsewhere.
    let r = attempt("10.0.0.2", "vic@example.com", "right password").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Unknown accounts fail the same way as wrong passwords.
    let r = attempt("10.0.0.4", "nobody@example.com", "whatever").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["detail"], "wrong email address or password");
    let metrics = env.get("/metrics", &Auth::None).await.text();
    assert!(
        metrics.contains("seuil_logins_total{outcome=\"rate_limited\"} 1"),
        "{metrics}"
    );
}

/// Twenty guesses sent at once: each counts as it starts, so only the free tries are looked
/// at, not all twenty while the first are still being hashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_are_counted_as_they_start() {
    let env = env_with(ServerConfig {
        throttling: slow_throttling(),
        ..test_config()
    })
    .await;
    env.sign_up("pat@example.com", "right password", "Pat")
        .await;
    let guesses = (0..20).map(|i| {
        env.call(Method::POST, "/api/sessions", &Auth::None)
            .json(&json!({ "email": "pat@example.com", "password": format!("guess {i}") }))
            .send()
    });
    let answers = futures_util::future::join_all(guesses).await;
    let looked_at = answers
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((looked_at, refused), (6, 14));
}

/// Sign-up says whether an email has an account: it is throttled per address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_from_one_address_are_throttled() {
    let env = env_with(ServerConfig {
        throttling: slow_throttling(),
        ..test_config()
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let r = env
            .json(
                Method::POST,
                "/api/accounts",
                &Auth::None,
                json!({ "email": format!("probe{i}@example.com"), "password": "a long password",
                        "display_name": "Probe" }),
            )
            .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 201, 201, 201, 429, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consents_toggle_and_are_logged() {
    let env = env().await;
    let u = env.customer("cleo").await;
    let list = env.get("/api/me/consents", &u.auth).await.json();
    let purposes: Vec<&str> = list["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purpose"].as_str().unwrap())
        .collect();
    assert!(purposes.contains(&"delivery.video") && purposes.contains(&"marketing.email"));
    assert!(
        !purposes.contains(&"account"),
        "contract purposes are not consent toggles"
    );

    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/delivery.video",
            &u.auth,
            json!({ "granted": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["granted"], true);
    let list = env.get("/api/me/consents", &u.auth).await.json();
    let video = list["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purpose"] == "delivery.video")
        .unwrap()
        .clone();
    assert_eq!(video["granted"], true);
    assert!(video["decided_at"].is_i64());
    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/delivery.video",
            &u.auth,
            json!({ "granted": false }),
        )
        .await;
    assert_eq!(r.json()["granted"], false);

    let log = env.get("/api/me/access-log", &u.auth).await.json();
    let actions: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"consent.grant") && actions.contains(&"consent.withdraw"),
        "{actions:?}"
    );
}

/// A customer whose camera streams all day gathers events by the hundred thousand: the log
/// comes a page at a time, newest first, and the pages add up to the whole log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_comes_in_pages() {
    let env = env().await;
    let u = env.customer("paula").await;
    for granted in [true, false, true, false, true] {
        env.json(
            Method::PUT,
            "/api/me/consents/delivery.video",
            &u.auth,
            json!({ "granted": granted }),
        )
        .await;
    }
    let indexes = |log: &serde_json::Value| -> Vec<u64> {
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["index"].as_u64().unwrap())
            .collect()
    };
    let all = env.get("/api/me/access-log", &u.auth).await.json();
    assert!(all["older"].is_null(), "one page holds a short log");
    let all = indexes(&all);
    assert!(all.len() >= 5, "{all:?}");

    let mut paged = Vec::new();
    let mut uri = "/api/me/access-log?limit=2".to_owned();
    loop {
        let page = env.get(&uri, &u.auth).await.json();
        let got = indexes(&page);
        assert!(!got.is_empty() && got.len() <= 2, "{page}");
        paged.splice(0..0, got);
        match page["older"].as_u64() {
            Some(before) => uri = format!("/api/me/access-log?limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(paged, all);

    let verified = env
        .call(Method::POST, "/api/me/access-log/verify?limit=2", &u.auth)
        .send()
        .await
        .json();
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(verified["events"], 2);

    for bad in ["limit=0", "limit=5001", "limit=two", "after=3"] {
        let r = env.get(&format!("/api/me/access-log?{bad}"), &u.auth).await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
        assert!(r.is_problem(), "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_verifies_server_side_and_with_public_proofs() {
    let env = env().await;
    let u = env.customer("vera").await;
    env.json(
        Method::PUT,
        "/api/me/consents/marketing.email",
        &u.auth,
        json!({ "granted": true }),
    )
    .await;
    env.get("/api/me", &u.auth).await;
    let other = env.customer("otto").await;
    env.get("/api/me", &other.auth).await;

    let r = env
        .call(Method::POST, "/api/me/access-log/verify", &u.auth)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["checkpoint_signature_valid"], true);
    assert!(v["events"].as_u64().unwrap() >= 3);
    assert_eq!(v["failures"], json!([]));

    // What the browser does, in Rust, using only public API answers.
    let log = env.get("/api/me/access-log", &u.auth).await.json();
    let cp = env.get("/api/audit/checkpoint", &Auth::None).await.json();
    let size = cp["size"].as_u64().unwrap();
    let root = from_hex32(cp["root"].as_str().unwrap());
    let key = ed25519_dalek::VerifyingKey::from_bytes(&from_hex32(
        cp["log_public_key"].as_str().unwrap(),
    ))
    .unwrap();
    let sig = ed25519_dalek::Signature::from_slice(
        &hex::decode(cp["signature"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let msg = audit::checkpoint_message(size, &root, cp["at"].as_i64().unwrap());
    key.verify_strict(&msg, &sig).expect("checkpoint signature");
    let subject = log["subject"].as_str().unwrap();
    for e in log["events"].as_array().unwrap() {
        let index = e["index"].as_u64().unwrap();
        let sealed = hex::decode(e["sealed"].as_str().unwrap()).unwrap();
        let leaf = merkle::leaf_hash(&audit::leaf_input(
            subject,
            e["at"].as_i64().unwrap(),
            &sealed,
        ));
        assert_eq!(hex::encode(leaf), e["leaf_hash"].as_str().unwrap());
        let p = env
            .get(
                &format!("/api/audit/proof/inclusion?index={index}&size={size}"),
                &u.auth,
            )
            .await
            .json();
        let proof: Vec<[u8; 32]> = p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| from_hex32(h.as_str().unwrap()))
            .collect();
        merkle::verify_inclusion(&leaf, index, size, &proof, &root).expect("inclusion");
    }
    // Consistency between an older and the current checkpoint (public).
    let p = env
        .get(
            &format!("/api/audit/proof/consistency?old=1&new={size}"),
            &Auth::None,
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text());
    assert!(p.json()["proof"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_erase() {
    let env = env().await;
    let u = env.customer("erin").await;
    let (_, pk) = device_key(11);
    env.json(
        Method::POST,
        "/api/devices",
        &u.auth,
        json!({ "name": "Fridge lock", "type": "lock", "public_key": pk }),
    )
    .await;

    let r = env.get("/api/me/export", &u.auth).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    assert!(r.body.windows(13).any(|w| w == b"manifest.json"));
    assert!(r.body.windows(16).any(|w| w == b"seuil-export-v1\""));
    assert!(
        r.body.windows(11).any(|w| w == b"Fridge lock"),
        "the export holds the device record in the clear"
    );
    assert!(
        r.body.windows(12).any(|w| w == b"display_name"),
        "the export holds the account record"
    );
    for secret in [&b"password_hash"[..], b"$argon2"] {
        assert!(
            !r.body.windows(secret.len()).any(|w| w == secret),
            "the export holds the account's password hash"
        );
    }

    // The password is asked again: an open session alone does not erase the account.
    let r = env
        .json(
            Method::DELETE,
            "/api/me",
            &u.auth,
            json!({ "confirm": "DELETE", "password": "not erin's" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = env
        .json(
            Method::DELETE,
            "/api/me",
            &u.auth,
            json!({ "confirm": "DELETE", "password": "password-of-erin" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let cert = r.json();
    assert_eq!(cert["subject"], u.subject.as_str());
    assert_eq!(cert["valid"], true);
    // The session is gone with the account.
    assert_eq!(
        env.get("/api/me", &u.auth).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The certificate is public and verifiable.
    let r = env
        .get(
            &format!("/api/erasure-certificates/{}", u.subject),
            &Auth::None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["valid"], true);
    assert_eq!(r.json()["signature"], cert["signature"]);
    // The purge in the background removes every record.
    let store = env.vault.store().clone();
    let subject = u.subject.clone();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let (s, subject) = (store.clone(), subject.clone());
            async move { s.subject_records(&subject).await.unwrap().is_empty() }
        })
        .await
    );
    // Signing in fails like any unknown account; the address can sign up afresh.
    let r = env
        .json(
            Method::POST,
            "/api/sessions",
            &Auth::None,
            json!({ "email": u.email, "password": "password-of-erin" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let again = env.sign_up(&u.email, "a new password", "Erin again").await;
    assert_ne!(again.subject, u.subject);
}

fn signed(
    key: &ed25519_dalek::SigningKey,
    device: &str,
    path: &str,
    ts: i64,
    body: &[u8],
) -> (Vec<(String, String)>, Vec<u8>) {
    let msg = format!("POST\n{path}\n{ts}\n{}", hex::encode(Sha256::digest(body)));
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(msg.as_bytes()).to_bytes());
    (
        vec![
            ("seuil-device".into(), device.into()),
            ("seuil-timestamp".into(), ts.to_string()),
            ("seuil-signature".into(), sig),
        ],
        body.to_vec(),
    )
}

async fn heartbeat(env: &Env, headers: &[(String, String)], body: Vec<u8>) -> Resp {
    let mut call = env.call(Method::POST, "/api/device/heartbeat", &Auth::None);
    for (k, v) in headers {
        call = call.header(k, v);
    }
    call.raw("application/json", body).send().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_sign_their_requests() {
    let env = env().await;
    let u = env.customer("dev").await;
    let (key, pk) = device_key(21);
    let r = env
        .json(
            Method::POST,
            "/api/devices",
            &u.auth,
            json!({ "name": "Porch camera", "type": "camera", "public_key": pk }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let device = r.json();
    let id = device["id"].as_str().unwrap().to_owned();
    assert_eq!(device["type"], "camera");
    // The same key cannot be registered twice.
    let r = env
        .json(
            Method::POST,
            "/api/devices",
            &u.auth,
            json!({ "name": "Copy", "type": "lock", "public_key": pk }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    let now = env.vault.now();
    let path = "/api/device/heartbeat";
    let (h, body) = signed(&key, &id, path, now, b"{}");
    let r = heartbeat(&env, &h, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), json!({ "device": id, "owner_notified": false }));
    // Replaying the same signed request is refused.
    let r = heartbeat(&env, &h, body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.is_problem());
    // A changed body, a stale clock, an unknown device or another key are refused.
    let (h, _) = signed(&key, &id, path, now + 1, b"{}");
    assert_eq!(
        heartbeat(&env, &h, b"{\"x\":1}".to_vec()).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (h, body) = signed(&key, &id, path, now - 6 * 60_000, b"{}");
    assert_eq!(
        heartbeat(&env, &h, body).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (h, body) = signed(&key, "devnope", path, now + 2, b"{}");
    assert_eq!(
        heartbeat(&env, &h, body).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (other, _) = device_key(22);
    let (h, body) = signed(&other, &id, path, now + 3, b"{}");
    assert_eq!(
        heartbeat(&env, &h, body).await.status,
        StatusCode::UNAUTHORIZED
    );

    // With a live event stream open, the owner is notified.
    let mut events = env.events(&u).await;
    let (h, body) = signed(&key, &id, path, now + 4, b"");
    let r = heartbeat(&env, &h, body).await;
    assert_eq!(r.json()["owner_notified"], true);
    let got = events
        .wait_for(&["event: device.heartbeat", &id], Duration::from_secs(5))
        .await;
    assert!(got, "{}", events.seen);

    // Removing the device revokes it.
    let r = env
        .call(Method::DELETE, &format!("/api/devices/{id}"), &u.auth)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let (h, body) = signed(&key, &id, path, now + 5, b"{}");
    assert_eq!(
        heartbeat(&env, &h, body).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.get(&format!("/api/devices/{id}"), &u.auth).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_routes_and_cross_site_requests() {
    let env = env().await;
    let r = env.get("/healthz", &Auth::None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({ "status": "ok" }));
    let u = env.customer("ivy").await;
    env.get(&format!("/api/devices/{}", "dev0123"), &u.auth)
        .await;
    let m = env.get("/metrics", &Auth::None).await.text();
    assert!(
        m.contains(
            "seuil_http_requests_total{method=\"GET\",route=\"/api/devices/{id}\",status=\"404\"} 1"
        ),
        "{m}"
    );
    assert!(m.contains("seuil_http_request_duration_seconds_bucket"));
    assert!(m.contains("seuil_outbox_pending 0"));
    assert!(!m.contains("dev0123") && !m.contains(&u.subject));

    let doc: Value = env.get("/api/openapi.json", &Auth::None).await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["paths"]["/api/devices/{id}"]["get"]["x-seuil-access"],
        "customer"
    );

    // Browsers must come from the public origin for unsafe requests.
    let body = json!({ "email": "ivy@example.com", "password": "password-of-ivy" });
    let r = env
        .call(Method::POST, "/api/sessions", &Auth::None)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.is_problem());
    let r = env
        .call(Method::POST, "/api/sessions", &Auth::None)
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = env
        .call(Method::POST, "/api/sessions", &Auth::None)
        .header("origin", "http://seuil.test")
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// Anyone may ask for the published checkpoint: asking does not sign a new one each time the
/// log has grown, only on the schedule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_the_public_checkpoint_does_not_grow_the_checkpoint_table() {
    let env = env_with(ServerConfig {
        checkpoint_every_ms: 3_600_000,
        checkpoint_lag: 1_000_000,
        ..test_config()
    })
    .await;
    let first = env.get("/api/audit/checkpoint", &Auth::None).await.json();
    let before = env.vault.store().checkpoints().await.unwrap().len();
    for i in 0..10 {
        // The log grows between polls.
        env.customer(&format!("poller{i}")).await;
        let cp = env.get("/api/audit/checkpoint", &Auth::None).await.json();
        assert_eq!(cp["size"], first["size"], "a fresh checkpoint was signed");
    }
    assert_eq!(env.vault.store().checkpoints().await.unwrap().len(), before);
    // Past the lag a new one is signed.
    let env = env_with(ServerConfig {
        checkpoint_every_ms: 3_600_000,
        checkpoint_lag: 1,
        ..test_config()
    })
    .await;
    let a = env.get("/api/audit/checkpoint", &Auth::None).await.json();
    env.customer("grower").await;
    let b = env.get("/api/audit/checkpoint", &Auth::None).await.json();
    assert!(b["size"].as_u64() > a["size"].as_u64(), "{a} {b}");
}
