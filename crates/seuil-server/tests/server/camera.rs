//! A camera's signed segments through the device API: kept, flagged, refused, and the owner
//! told of what went wrong.

use crate::authz::device_key;
use crate::common::*;
use axum::http::{Method, StatusCode};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;
use seuil_proto::{SegmentInfo, camera_id};
use seuil_server::ServerConfig;
use sha2::{Digest, Sha256};

const PATH: &str = "/api/device/segments";

/// A camera's side: its key, its device id, and its chain.
pub struct Cam {
    pub key: SigningKey,
    pub device: String,
    pub prev: [u8; 32],
}

impl Cam {
    /// The body of segment `counter`: its signed header, then the footage.
    pub fn segment(&mut self, counter: u64, start: i64) -> Vec<u8> {
        let footage = format!("footage {counter} ").repeat(200).into_bytes();
        self.segment_of(counter, start, footage)
    }

    /// The body of segment `counter` holding `footage`.
    pub fn segment_of(&mut self, counter: u64, start: i64, footage: Vec<u8>) -> Vec<u8> {
        let seg = SegmentInfo {
            camera_id: camera_id(self.key.verifying_key().as_bytes()),
            counter,
            start,
            duration_ms: 1_000,
            prev_hash: self.prev,
            content_hash: Sha256::digest(&footage).into(),
            visit: None,
        }
        .sign(&self.key);
        self.prev = seg.hash();
        [seg.encode().to_vec(), footage].concat()
    }
}

pub async fn send(env: &Env, cam: &Cam, body: Vec<u8>, ts: i64) -> Resp {
    let msg = format!("POST\n{PATH}\n{ts}\n{}", hex::encode(Sha256::digest(&body)));
    let sig =
        base64::engine::general_purpose::STANDARD.encode(cam.key.sign(msg.as_bytes()).to_bytes());
    env.call(Method::POST, PATH, &Auth::None)
        .header("seuil-device", &cam.device)
        .header("seuil-timestamp", &ts.to_string())
        .header("seuil-signature", &sig)
        .raw("application/octet-stream", body)
        .send()
        .await
}

pub async fn paired(env: &Env, u: &User, seed: u8, kind: &str) -> Cam {
    let (key, pk) = device_key(seed);
    let r = env
        .json(
            Method::POST,
            "/api/devices",
            &u.auth,
            json!({ "name": "Hall camera", "type": kind, "public_key": pk }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    Cam {
        key,
        device: r.json()["id"].as_str().unwrap().to_owned(),
        prev: [0; 32],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_streams_signed_segments_under_the_owners_consent() {
    let env = env().await;
    let u = env.customer("cam").await;
    let mut cam = paired(&env, &u, 41, "camera").await;
    let now = env.vault.now();

    // Without the owner's consent to delivery.video, nothing is recorded.
    let body = cam.segment(0, now);
    let r = send(&env, &cam, body.clone(), now).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.is_problem());

    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/delivery.video",
            &u.auth,
            json!({ "granted": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&env, &cam, body, now + 1).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let got = r.json();
    assert_eq!(
        (&got["counter"], &got["kept"], &got["flags"]),
        (&json!(0), &json!(true), &json!([]))
    );
    // Liveness is what has arrived: footage that claims to end after now ends now.
    let end = got["newest_end"].as_i64().unwrap();
    assert!(end >= now && end <= now + 1_000, "{got}");

    // A gap is flagged, and the stream goes on.
    let _lost = cam.segment(1, now + 1_000);
    let body = cam.segment(2, now + 2_000);
    let r = send(&env, &cam, body, now + 2).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["flags"], json!([{ "flag": "gap", "missing": 1 }]));

    // Footage that does not match its signed header is refused.
    let mut altered = cam.segment(3, now + 3_000);
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let r = send(&env, &cam, altered, now + 3).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("does not match"), "{}", r.text());

    // Too short to hold a header.
    let r = send(&env, &cam, vec![1, 2, 3], now + 4).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Only cameras send segments.
    let mut lock = paired(&env, &u, 42, "lock").await;
    let body = lock.segment(0, now);
    let r = send(&env, &lock, body, now + 5).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // The footage is the owner's: sealed, with its audit trail.
    let log = env.get("/api/me/access-log", &u.auth).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    assert!(log.text().contains("delivery.footage"), "{}", log.text());
}

/// A customer with a paired lock and camera, consenting to video, whose camera has sent one
/// second of real H.264.
async fn watched_home(env: &Env, name: &str, seed: u8) -> User {
    let u = env.customer(name).await;
    let mut cam = paired(env, &u, seed, "camera").await;
    let lock = paired(env, &u, seed + 1, "lock").await;
    let consent = json!({ "granted": true });
    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/delivery.video",
            &u.auth,
            consent,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let pair = json!({ "lock_device": lock.device, "camera_device": cam.device });
    let r = env.json(Method::PUT, "/api/me/home", &u.auth, pair).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let now = env.vault.now();
    let h264 = seuil_delivery::footage::synthetic::dark(64, 48, 5).unwrap();
    let body = cam.segment_of(0, now - 1_000, h264);
    let r = send(env, &cam, body, now).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    u
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_video_consent_stops_the_live_picture_at_the_next_read() {
    let env = env().await;
    let u = watched_home(&env, "frame", 45).await;
    let r = env.get("/api/me/live/frame", &u.auth).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("image/bmp"));
    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/delivery.video",
            &u.auth,
            json!({ "granted": false }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = env.get("/api/me/live/frame", &u.auth).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the buffered picture still showed"
    );
    assert!(r.text().contains("delivery.video"), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_pictures_beyond_the_decode_cap_are_told_to_try_again() {
    let env = env_with(ServerConfig {
        max_frame_decodes: 0,
        ..test_config()
    })
    .await;
    let u = watched_home(&env, "busy", 47).await;
    let r = env.get("/api/me/live/frame", &u.auth).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert!(r.is_problem());
}
