//! A whole in-home delivery through the HTTP API, with the real lock code on the other side:
//! pairing, the operator's order, approval, the courier at the door, the grant refused until
//! the camera is live, the unlock decided offline by `seuil-lock`, the lock's reports; then
//! the camera is jammed mid-visit: the customer is alarmed at once, the live view turns
//! STALE, and the lock refuses a second entry.

use crate::camera::{Cam, paired, send};
use crate::common::*;
use axum::http::{Method, StatusCode};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use seuil_lock::{Lock, LockConfig, LockState, Outcome};
use seuil_proto::{AttestationInfo, CourierProof, Grant, camera_id};
use seuil_server::Role;
use sha2::{Digest, Sha256};
use std::time::Duration;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const SYNC: &str = "/api/device/lock/sync";

async fn lock_sync(env: &Env, lock: &Cam, events: Value) -> Resp {
    let body = serde_json::to_vec(&json!({ "events": events })).unwrap();
    let ts = env.vault.now();
    let msg = format!("POST\n{SYNC}\n{ts}\n{}", hex::encode(Sha256::digest(&body)));
    let sig = B64.encode(lock.key.sign(msg.as_bytes()).to_bytes());
    env.call(Method::POST, SYNC, &Auth::None)
        .header("seuil-device", &lock.device)
        .header("seuil-timestamp", &ts.to_string())
        .header("seuil-signature", &sig)
        .raw("application/json", body)
        .send()
        .await
}

/// The camera closes the second of footage that ended just now and sends it.
async fn second_of_footage(env: &Env, cam: &mut Cam, counter: u64) -> i64 {
    let now = env.vault.now();
    let body = cam.segment(counter, now - 1_000);
    let r = send(env, cam, body, now).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    now
}

fn b64_32(s: &Value) -> [u8; 32] {
    B64.decode(s.as_str().unwrap()).unwrap().try_into().unwrap()
}

/// A customer whose home is paired (consenting to recording, with the standing approval),
/// and a delivery to it whose courier is at the door.
struct AtTheDoor {
    customer: User,
    courier: User,
    lock: Cam,
    cam: Cam,
    id: String,
}

async fn at_the_door(env: &Env, name: &str, seed: u8) -> AtTheDoor {
    let customer = env.customer(name).await;
    let operator = env.account(&format!("op-{name}"), Role::Operator).await;
    let courier = env.account(&format!("courier-{name}"), Role::Courier).await;
    let consent = json!({ "granted": true });
    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/delivery.video",
            &customer.auth,
            consent,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let lock = paired(env, &customer, seed, "lock").await;
    let cam = paired(env, &customer, seed + 1, "camera").await;
    let home = json!({ "lock_device": lock.device, "camera_device": cam.device });
    let r = env
        .json(Method::PUT, "/api/me/home", &customer.auth, home)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let standing = json!({ "approved": true });
    let r = env
        .json(
            Method::PUT,
            "/api/me/home/standing-approval",
            &customer.auth,
            standing,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let now = env.vault.now();
    let order = json!({ "customer_email": customer.email, "courier_email": courier.email, "order": "a parcel",
                        "window_start": now - 60_000, "window_end": now + 3_600_000, "places": ["door"] });
    let r = env
        .json(Method::POST, "/api/ops/deliveries", &operator.auth, order)
        .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let arrive = format!("/api/courier/deliveries/{id}/arrive");
    let r = env.call(Method::POST, &arrive, &courier.auth).send().await;
    assert_eq!(r.status, StatusCode::OK);
    AtTheDoor {
        customer,
        courier,
        lock,
        cam,
        id,
    }
}

impl AtTheDoor {
    /// The courier gets the grant (the camera must be live), and the lock reports the unlock.
    async fn unlock(&self, env: &Env) {
        let key = SigningKey::from_bytes(&[5; 32]);
        let ask = json!({ "courier_key": B64.encode(key.verifying_key().as_bytes()) });
        let grant = format!("/api/courier/deliveries/{}/grant", self.id);
        let r = env
            .json(Method::POST, &grant, &self.courier.auth, ask)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let grant_id = r.json()["grant_id"].as_str().unwrap().to_owned();
        let unlocked =
            json!([{ "event": "unlocked", "grant_id": grant_id, "at": env.vault.now() }]);
        assert_eq!(
            lock_sync(env, &self.lock, unlocked).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_delivery_then_a_jammed_camera() {
    let env = env().await;
    let _background = env.app.spawn_background();
    let customer = env.customer("dana").await;
    let operator = env.account("otto", Role::Operator).await;
    let courier = env.account("cleo", Role::Courier).await;
    let other_courier = env.account("carl", Role::Courier).await;
    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/delivery.video",
            &customer.auth,
            json!({ "granted": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let lock_dev = paired(&env, &customer, 61, "lock").await;
    let mut cam = paired(&env, &customer, 62, "camera").await;

    // Pairing checks the devices are the customer's and of the right type.
    let r = env
        .json(
            Method::PUT,
            "/api/me/home",
            &customer.auth,
            json!({ "lock_device": cam.device, "camera_device": lock_dev.device }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = env
        .json(
            Method::PUT,
            "/api/me/home",
            &customer.auth,
            json!({ "lock_device": lock_dev.device, "camera_device": cam.device, "relock_within_s": 120 }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // The operator books the delivery.
    let now = env.vault.now();
    let r = env
        .json(
            Method::POST,
            "/api/ops/deliveries",
            &operator.auth,
            json!({ "customer_email": customer.email, "courier_email": courier.email,
                    "order": "2 bags of groceries", "window_start": now - 60_000,
                    "window_end": now + 3_600_000, "places": ["door"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();

    // The courier sees it; another courier does not.
    let mine = env
        .get("/api/courier/deliveries", &courier.auth)
        .await
        .json();
    assert_eq!(mine["deliveries"][0]["id"], id.as_str(), "{mine}");
    let theirs = env
        .get("/api/courier/deliveries", &other_courier.auth)
        .await
        .json();
    assert_eq!(theirs["deliveries"], json!([]));
    let arrive = format!("/api/courier/deliveries/{id}/arrive");
    let r = env
        .call(Method::POST, &arrive, &other_courier.auth)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = env.call(Method::POST, &arrive, &courier.auth).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["step"], "arrived");

    // No grant before the customer approves, nor while the camera is not live.
    let courier_key = SigningKey::from_bytes(&[77; 32]);
    let ask = json!({ "courier_key": B64.encode(courier_key.verifying_key().as_bytes()) });
    let grant_path = format!("/api/courier/deliveries/{id}/grant");
    let r = env
        .json(Method::POST, &grant_path, &courier.auth, ask.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("not approved"), "{}", r.text());
    // With the courier at the door the customer may still decide. A decline of this order
    // holds against a standing approval given after it.
    let approval_path = format!("/api/me/deliveries/{id}/approval");
    let r = env
        .json(
            Method::PUT,
            &approval_path,
            &customer.auth,
            json!({ "approved": false }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["approval"], "declined");
    let r = env
        .json(
            Method::PUT,
            "/api/me/home/standing-approval",
            &customer.auth,
            json!({ "approved": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = env
        .json(Method::POST, &grant_path, &courier.auth, ask.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("declined"), "{}", r.text());
    let r = env
        .json(
            Method::PUT,
            &approval_path,
            &customer.auth,
            json!({ "approved": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = env
        .json(Method::POST, &grant_path, &courier.auth, ask.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("camera is not live"), "{}", r.text());

    let mut counter = 0;
    second_of_footage(&env, &mut cam, counter).await;
    counter += 1;
    let r = env
        .json(Method::POST, &grant_path, &courier.auth, ask.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let grant_bytes = B64.decode(r.json()["grant"].as_str().unwrap()).unwrap();
    let grant = Grant::decode(&grant_bytes).unwrap();

    // The lock learns the time and the keys it trusts from its sync.
    let r = lock_sync(&env, &lock_dev, json!([])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let reply = r.json();
    let mut lock_id = [0u8; 16];
    hex::decode_to_slice(reply["lock_id"].as_str().unwrap(), &mut lock_id).unwrap();
    assert_eq!(lock_id, camera_id(lock_dev.key.verifying_key().as_bytes()));
    let mut issuer_id = [0u8; 8];
    hex::decode_to_slice(reply["issuer_key_id"].as_str().unwrap(), &mut issuer_id).unwrap();
    let config = LockConfig::new(lock_id, [9; 32])
        .with_issuer(issuer_id, &b64_32(&reply["issuer_public_key"]))
        .unwrap()
        .with_camera(&b64_32(&reply["camera_public_key"]))
        .unwrap();
    let mut lock = Lock::new(config, LockState::default());
    let sync = B64.decode(reply["sync"].as_str().unwrap()).unwrap();
    let now = env.vault.now();
    lock.sync(&sync, now).unwrap();

    // At the door: the lock's challenge, the courier's proof, the camera's attestation.
    let challenge = lock.challenge(now);
    let proof = CourierProof::sign(&grant, &challenge, &courier_key).encode();
    let attest = |challenge: [u8; 32], cam: &Cam| {
        AttestationInfo {
            camera_id: camera_id(cam.key.verifying_key().as_bytes()),
            challenge,
            at: env.vault.now(),
            newest_counter: 0,
            newest_hash: cam.prev,
        }
        .sign(&cam.key)
        .encode()
    };
    let outcome = lock.try_unlock(&grant_bytes, &proof, Some(&attest(challenge, &cam)), now);
    assert!(matches!(outcome, Outcome::Unlocked { .. }), "{outcome:?}");
    let unlocked =
        json!([{ "event": "unlocked", "grant_id": hex::encode(grant.body.grant_id), "at": now }]);
    let r = lock_sync(&env, &lock_dev, unlocked).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let d = env
        .get(&format!("/api/me/deliveries/{id}"), &customer.auth)
        .await
        .json();
    assert_eq!(d["visit"]["step"], "unlocked", "{d}");

    // The customer watches live.
    second_of_footage(&env, &mut cam, counter).await;
    let live = env.get("/api/me/live", &customer.auth).await.json();
    assert_eq!(live["live"], true, "{live}");
    assert_eq!(live["label"], "LIVE");

    // The camera is jammed: nothing more arrives. The customer hears at once.
    let mut events = env.events(&customer).await;
    let alarmed = events
        .wait_for(
            &["event: delivery.alarm", "camera_silent"],
            Duration::from_secs(15),
        )
        .await;
    assert!(
        alarmed,
        "no silent-camera alarm; the stream said {:?}",
        events.seen
    );
    let live = env.get("/api/me/live", &customer.auth).await.json();
    assert_eq!(live["live"], false, "{live}");
    assert!(
        live["label"].as_str().unwrap().starts_with("STALE since "),
        "{live}"
    );

    // A second entry: the grant was used up, and no new one is issued.
    let now = env.vault.now();
    let challenge = lock.challenge(now);
    let proof = CourierProof::sign(&grant, &challenge, &courier_key).encode();
    let again = lock.try_unlock(&grant_bytes, &proof, Some(&attest(challenge, &cam)), now);
    assert!(matches!(again, Outcome::Refused(_)), "{again:?}");
    let r = env
        .json(Method::POST, &grant_path, &courier.auth, ask)
        .await;
    assert!(r.status.is_client_error(), "{}", r.text());

    // Calling the visit off now would stop the watch on an open door: refused.
    let r = env
        .call(
            Method::POST,
            &format!("/api/courier/deliveries/{id}/abort"),
            &courier.auth,
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());

    // The courier and the lock report the relock; the visit is done, its alarm on record.
    let r = env
        .call(
            Method::POST,
            &format!("/api/courier/deliveries/{id}/relock"),
            &courier.auth,
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(lock.relock(env.vault.now()).is_some());
    let relocked = json!([{ "event": "relocked", "grant_id": hex::encode(grant.body.grant_id), "at": env.vault.now() }]);
    assert_eq!(
        lock_sync(&env, &lock_dev, relocked).await.status,
        StatusCode::OK
    );
    let d = env
        .get(&format!("/api/me/deliveries/{id}"), &customer.auth)
        .await
        .json();
    assert_eq!(d["visit"]["step"], "done", "{d}");
    assert_eq!(d["alarms"][0]["alarm"], "camera_silent", "{d}");

    // The portal shows the same: STALE, the alarm, the visit on its timeline.
    let html = env.get("/deliveries", &customer.auth).await.text();
    assert!(html.contains("STALE since "), "{html}");
    assert!(html.contains("Camera silent since"), "{html}");
    assert!(html.contains(&format!("id=\"visit-{id}\"")), "{html}");
    assert!(html.contains("<svg class=\"timeline\""), "{html}");

    // The footage: the customer's to watch; an operator's only inside a dispute.
    let clip_path = format!("/api/me/deliveries/{id}/clip");
    let r = env.get(&clip_path, &customer.auth).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("video/h264"));
    assert!(
        r.body.starts_with(b"footage 0 "),
        "the visit's footage, from 30 s before the unlock"
    );
    let ops_clip = format!("/api/ops/deliveries/{id}/clip");
    let r = env.get(&ops_clip, &operator.auth).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = env
        .call(
            Method::POST,
            &format!("/api/me/deliveries/{id}/dispute"),
            &customer.auth,
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = env.get(&ops_clip, &operator.auth).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let log = env.get("/api/me/access-log", &customer.auth).await.json();
    let operator_read = log["events"].as_array().unwrap().iter().any(|e| {
        e["actor"]["type"] == "operator"
            && e["purpose"] == "delivery.dispute"
            && e["action"] == "open"
    });
    assert!(
        operator_read,
        "the operator's view is in the customer's access log"
    );
    let r = env
        .json(
            Method::PUT,
            &format!("{clip_path}/pin"),
            &customer.auth,
            json!({ "pinned": false }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a disputed clip stays kept: {}",
        r.text()
    );
    // Nor can it be deleted while the dispute is open; withdrawn, it can.
    let r = env
        .call(Method::DELETE, &clip_path, &customer.auth)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(
        env.get(&clip_path, &customer.auth).await.status,
        StatusCode::OK
    );
    let dispute_path = format!("/api/me/deliveries/{id}/dispute");
    let r = env
        .call(Method::DELETE, &dispute_path, &customer.auth)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["clip"]["disputed_at"], Value::Null);
    let r = env
        .call(Method::DELETE, &clip_path, &customer.auth)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        env.get(&clip_path, &customer.auth).await.status,
        StatusCode::NOT_FOUND
    );

    // An unlock no visit accounts for alarms the customer too.
    let stray =
        json!([{ "event": "unlocked", "grant_id": "00".repeat(16), "at": env.vault.now() }]);
    assert_eq!(
        lock_sync(&env, &lock_dev, stray).await.status,
        StatusCode::OK
    );
    let outside = events
        .wait_for(&["unlock_outside_visit"], Duration::from_secs(5))
        .await;
    assert!(outside, "no alarm for an unlock outside a visit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_covered_lens_alarms_while_the_courier_is_inside() {
    use seuil_delivery::footage::synthetic;
    let env = env().await;
    let _background = env.app.spawn_background();
    let mut door = at_the_door(&env, "erin", 81).await;

    // Real H.264: a room, then a hand over the lens.
    let mut room = synthetic::Room::new(160, 120, 10).unwrap();
    let mut counter = 0u64;
    // Seconds of footage back to back from a second ago (sent faster than real time).
    let t0 = env.vault.now() - 1_000;
    let mut second = |cam: &mut Cam, covered: bool| {
        let footage = if covered {
            synthetic::dark(160, 120, 10).unwrap()
        } else {
            room.second(counter as u32).unwrap().h264
        };
        let body = cam.segment_of(counter, t0 + counter as i64 * 1_000, footage);
        counter += 1;
        (body, env.vault.now())
    };
    let (body, ts) = second(&mut door.cam, false);
    assert_eq!(send(&env, &door.cam, body, ts).await.status, StatusCode::OK);
    door.unlock(&env).await;

    let mut events = env.events(&door.customer).await;
    for covered in [false, false, true, true, true, false] {
        let (body, ts) = second(&mut door.cam, covered);
        assert_eq!(send(&env, &door.cam, body, ts).await.status, StatusCode::OK);
    }
    let alarmed = events
        .wait_for(&["tampering", "covered"], Duration::from_secs(15))
        .await;
    assert!(
        alarmed,
        "no tampering alarm during the visit; the stream said {:?}",
        events.seen
    );
    let d = env
        .get(
            &format!("/api/me/deliveries/{}", door.id),
            &door.customer.auth,
        )
        .await
        .json();
    assert_eq!(
        d["visit"]["step"], "unlocked",
        "raised while the door is still open: {d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_reassigns_and_a_visit_is_called_off() {
    let env = env().await;
    let customer = env.customer("fay").await;
    let mut events = env.events(&customer).await;
    let (id, first) = crate::authz::delivery_for(&env, &customer).await;
    let operator = env.account("omar", Role::Operator).await;
    let second = env.account("cyd", Role::Courier).await;
    let r = env
        .json(
            Method::PUT,
            &format!("/api/ops/deliveries/{id}/courier"),
            &operator.auth,
            json!({ "courier_email": second.email }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let arrive = format!("/api/courier/deliveries/{id}/arrive");
    let r = env.call(Method::POST, &arrive, &first.auth).send().await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "the first courier no longer has it"
    );
    let r = env.call(Method::POST, &arrive, &second.auth).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A courier at the door may still be replaced: the visit waits for the new one.
    let r = env
        .json(
            Method::PUT,
            &format!("/api/ops/deliveries/{id}/courier"),
            &operator.auth,
            json!({ "courier_email": first.email }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["step"], "scheduled");
    let r = env.call(Method::POST, &arrive, &second.auth).send().await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "replaced");
    let r = env.call(Method::POST, &arrive, &first.auth).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let abort = format!("/api/courier/deliveries/{id}/abort");
    let r = env.call(Method::POST, &abort, &second.auth).send().await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = env.call(Method::POST, &abort, &first.auth).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["step"], "aborted");
    let r = env.call(Method::POST, &abort, &first.auth).send().await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    // The customer is told, with who called it off.
    assert!(
        events
            .wait_for(
                &["event: delivery.aborted", "\"by\":\"courier\""],
                Duration::from_secs(10)
            )
            .await,
        "{}",
        events.seen
    );
    let d = env
        .get(&format!("/api/me/deliveries/{id}"), &customer.auth)
        .await
        .json();
    assert_eq!(d["visit"]["step"], "aborted", "{d}");
}

/// Two instances over one store: the visit's steps go through the first, and the second,
/// which saw none of them, watches the visit from the store and raises the alarm (once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_watches_a_visit_it_never_saw() {
    let env = env().await;
    let other = seuil_server::App::new(env.vault.clone(), test_config());
    let _other_background = other.spawn_background();
    let mut door = at_the_door(&env, "gus", 91).await;
    second_of_footage(&env, &mut door.cam, 0).await;
    door.unlock(&env).await;
    second_of_footage(&env, &mut door.cam, 1).await;
    let (customer, id) = (&door.customer, &door.id);

    // The camera falls silent; only the other instance runs a watchdog.
    let mut alarms = json!([]);
    for _ in 0..100 {
        let d = env
            .get(&format!("/api/me/deliveries/{id}"), &customer.auth)
            .await
            .json();
        alarms = d["alarms"].clone();
        if alarms.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(alarms[0]["alarm"], "camera_silent", "{alarms}");
    assert_eq!(alarms.as_array().unwrap().len(), 1, "{alarms}");
}
