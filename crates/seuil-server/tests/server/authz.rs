//! Authorization, driven by the OpenAPI document so that new routes are covered as soon as
//! they exist: every non-public route refuses anonymous callers; role-restricted routes refuse
//! other roles; and every templated path refuses another customer's objects with 404.

use crate::common::*;
use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use seuil_server::Role;

pub struct Op {
    pub method: Method,
    pub path: String,
    pub access: String,
    pub tag: String,
    /// Content type and the schema's example, if the operation takes a body.
    pub body: Option<(String, Value)>,
}

pub async fn operations(env: &Env) -> Vec<Op> {
    let r = env.get("/api/openapi.json", &Auth::None).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.iter().next())
                .map(|(ctype, media)| {
                    if media["schema"]["format"] == "binary" {
                        // A wire format, documented in words: no JSON example.
                        return (ctype.clone(), Value::Null);
                    }
                    let r = media["schema"]["$ref"].as_str().expect("schema ref");
                    let example = doc
                        .pointer(&r.replace("#/", "/").to_string())
                        .and_then(|s| s.get("example"))
                        .cloned();
                    (
                        ctype.clone(),
                        example.unwrap_or_else(|| panic!("{r} has no example")),
                    )
                });
            ops.push(Op {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                access: op["x-seuil-access"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no x-seuil-access"))
                    .to_owned(),
                tag: op["tags"][0].as_str().unwrap_or_default().to_owned(),
                body,
            });
        }
    }
    assert!(
        ops.len() >= 30,
        "the document lists only {} operations",
        ops.len()
    );
    ops
}

pub fn fill(path: &str, value: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                value
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub fn form_encode(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect()
}

/// Calls `op` on `path` with its example body.
pub async fn call_op(env: &Env, op: &Op, path: &str, auth: &Auth) -> Resp {
    let call = env.call(op.method.clone(), path, auth);
    match &op.body {
        Some((ctype, example)) if ctype == "application/json" => call.json(example).send().await,
        Some((ctype, _)) if ctype == "application/octet-stream" => {
            call.raw(ctype, Vec::new()).send().await
        }
        Some((_, example)) => {
            let pairs = form_encode(example);
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            call.form(&refs).send().await
        }
        None => call.send().await,
    }
}

pub fn device_key(seed: u8) -> (ed25519_dalek::SigningKey, String) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let pk = base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes());
    (key, pk)
}

/// What a templated path's parameter is, for customer A.
enum Target {
    /// An object A owns: B must get 404 on every method.
    Owned(String),
    /// The parameter names something of the caller's own (a purpose): B acts on B's data.
    SelfScoped(String),
    /// Public by design (erasure certificates hold no personal data).
    Public(String),
    /// A delivery of A's assigned to a courier: another courier must get 404.
    Assigned(String),
    /// A delivery of A's on a staff route: a customer is refused by role.
    Staff(String),
}

/// A delivery to A's home (paired anew each time with fresh devices), with its courier.
pub async fn delivery_for(env: &Env, a: &User) -> (String, User) {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(100);
    let n = NEXT.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    let mut devices = Vec::new();
    for (seed, kind) in [(n, "lock"), (n + 1, "camera")] {
        let (_, pk) = device_key(seed);
        let r = env
            .json(
                Method::POST,
                "/api/devices",
                &a.auth,
                json!({ "name": kind, "type": kind, "public_key": pk }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        devices.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    let r = env
        .json(
            Method::PUT,
            "/api/me/home",
            &a.auth,
            json!({ "lock_device": devices[0], "camera_device": devices[1] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let operator = env.account(&format!("op{n}"), Role::Operator).await;
    let courier = env.account(&format!("courier{n}"), Role::Courier).await;
    let now = env.vault.now();
    let r = env
        .json(
            Method::POST,
            "/api/ops/deliveries",
            &operator.auth,
            json!({ "customer_email": a.email, "courier_email": courier.email, "order": "a parcel",
                    "window_start": now, "window_end": now + 3_600_000, "places": ["door"] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    (r.json()["id"].as_str().unwrap().to_owned(), courier)
}

async fn target_for(env: &Env, a: &User, template: &str) -> Option<Target> {
    Some(match template {
        "/api/me/webhooks/{id}" => {
            let r = env
                .json(
                    Method::POST,
                    "/api/me/webhooks",
                    &a.auth,
                    json!({ "url": "http://127.0.0.1:9/hook" }),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            Target::Owned(r.json()["id"].as_str().unwrap().to_owned())
        }
        "/api/devices/{id}" => {
            let (_, pk) = device_key(3);
            let r = env
                .json(
                    Method::POST,
                    "/api/devices",
                    &a.auth,
                    json!({ "name": "Door", "type": "lock", "public_key": pk }),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            Target::Owned(r.json()["id"].as_str().unwrap().to_owned())
        }
        "/api/ops/deliveries/{id}/clip"
        | "/api/ops/deliveries/{id}/courier"
        | "/api/ops/deliveries/{id}/abort" => Target::Staff(delivery_for(env, a).await.0),
        "/api/me/deliveries/{id}"
        | "/deliveries/{id}/approval"
        | "/deliveries/{id}/pin"
        | "/deliveries/{id}/dispute"
        | "/deliveries/{id}/withdraw-dispute"
        | "/deliveries/{id}/delete-clip"
        | "/api/me/deliveries/{id}/approval"
        | "/api/me/deliveries/{id}/clip"
        | "/api/me/deliveries/{id}/clip/pin"
        | "/api/me/deliveries/{id}/dispute" => Target::Owned(delivery_for(env, a).await.0),
        "/api/courier/deliveries/{id}/arrive"
        | "/api/courier/deliveries/{id}/grant"
        | "/api/courier/deliveries/{id}/abort"
        | "/api/courier/deliveries/{id}/relock" => Target::Assigned(delivery_for(env, a).await.0),
        "/api/me/consents/{purpose}" | "/my-data/consents/{purpose}" => {
            Target::SelfScoped("marketing.email".into())
        }
        "/api/me/sessions/{id}" | "/my-data/sessions/{id}/revoke" => {
            // One of A's sessions: a second sign-in.
            let r = env
                .json(
                    Method::POST,
                    "/api/sessions",
                    &Auth::None,
                    json!({ "email": a.email, "password": "password-of-alice" }),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            let token = r.session_cookie().unwrap();
            Target::Owned(seuil_server::auth::sessions::session_id(&token))
        }
        "/api/erasure-certificates/{subject}" => {
            let gone = env.customer("gone").await;
            let r = env
                .json(
                    Method::DELETE,
                    "/api/me",
                    &gone.auth,
                    json!({ "confirm": "DELETE", "password": "password-of-gone" }),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            Target::Public(gone.subject)
        }
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_non_public_route_refuses_anonymous_callers() {
    let env = env().await;
    for op in operations(&env).await {
        if op.access == "public" {
            continue;
        }
        let r = call_op(&env, &op, &fill(&op.path, "x"), &Auth::None).await;
        if op.tag == "portal" {
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{} {}", op.method, op.path);
            assert_eq!(
                r.header("location"),
                Some("/signin"),
                "{} {}",
                op.method,
                op.path
            );
        } else {
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{} {}: {}",
                op.method,
                op.path,
                r.text()
            );
            assert!(
                r.is_problem(),
                "{} {} answered {}",
                op.method,
                op.path,
                r.text()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_restricted_routes_refuse_other_roles() {
    let env = env().await;
    let customer = env.customer("cora").await;
    let operator = env.account("oscar", Role::Operator).await;
    let courier = env.account("cole", Role::Courier).await;
    let mut checked = 0;
    for op in operations(&env).await {
        let outsiders: Vec<&User> = match op.access.as_str() {
            "operator" => vec![&customer, &courier],
            "customer" => vec![&operator, &courier],
            "courier" => vec![&customer, &operator],
            _ => continue,
        };
        for who in outsiders {
            let r = call_op(&env, &op, &fill(&op.path, "x"), &who.auth).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{} {} as {}: {}",
                op.method,
                op.path,
                who.email,
                r.text()
            );
            // The portal answers with a page that says why; the API with a problem.
            if op.tag == "portal" {
                assert!(r.text().contains("Not for this account"), "{}", r.text());
            } else {
                assert!(r.is_problem());
            }
            checked += 1;
        }
    }
    assert!(checked >= 6);
    // And the role that may, may.
    let r = env
        .call(Method::POST, "/api/ops/audit/verify", &operator.auth)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A device route refuses sessions of every role.
    for who in [&customer, &operator] {
        let r = env
            .call(Method::POST, "/api/device/heartbeat", &who.auth)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_customers_objects_are_not_found_on_every_templated_path() {
    let env = env().await;
    let a = env.customer("alice").await;
    let b = env.customer("bob").await;
    let ops = operations(&env).await;
    let mut templates: Vec<&str> = ops
        .iter()
        .filter(|o| o.path.contains('{'))
        .map(|o| o.path.as_str())
        .collect();
    templates.sort();
    templates.dedup();
    assert!(templates.len() >= 4);
    for template in templates {
        let target = target_for(&env, &a, template).await.unwrap_or_else(|| {
            panic!("no authorization fixture for {template}: add one to target_for() in tests/server/authz.rs")
        });
        for op in ops.iter().filter(|o| o.path == template) {
            match &target {
                Target::Owned(id) => {
                    let path = fill(template, id);
                    let r = call_op(&env, op, &path, &b.auth).await;
                    assert_eq!(
                        r.status,
                        StatusCode::NOT_FOUND,
                        "{} {path} as B: {}",
                        op.method,
                        r.text()
                    );
                    // The portal answers with a page; the API with a problem.
                    let portal = op.tag == "portal";
                    assert!(portal || r.is_problem());
                    let r = call_op(&env, op, &path, &Auth::None).await;
                    let anonymous = if portal {
                        StatusCode::SEE_OTHER
                    } else {
                        StatusCode::UNAUTHORIZED
                    };
                    assert_eq!(r.status, anonymous, "{} {path} anonymous", op.method);
                }
                Target::SelfScoped(value) => {
                    let path = fill(template, value);
                    let r = call_op(&env, op, &path, &b.auth).await;
                    assert!(
                        r.status.is_success() || r.status == StatusCode::SEE_OTHER,
                        "{} {path} as B: {}",
                        op.method,
                        r.text()
                    );
                }
                Target::Assigned(id) => {
                    let path = fill(template, id);
                    static INTRUDERS: std::sync::atomic::AtomicU32 =
                        std::sync::atomic::AtomicU32::new(0);
                    let n = INTRUDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let intruder = env.account(&format!("intruder{n}"), Role::Courier).await;
                    let r = call_op(&env, op, &path, &intruder.auth).await;
                    assert_eq!(
                        r.status,
                        StatusCode::NOT_FOUND,
                        "{} {path} as another courier: {}",
                        op.method,
                        r.text()
                    );
                    let r = call_op(&env, op, &path, &Auth::None).await;
                    assert_eq!(
                        r.status,
                        StatusCode::UNAUTHORIZED,
                        "{} {path} anonymous",
                        op.method
                    );
                }
                Target::Staff(id) => {
                    let path = fill(template, id);
                    let r = call_op(&env, op, &path, &b.auth).await;
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{} {path} as a customer",
                        op.method
                    );
                }
                Target::Public(id) => {
                    let path = fill(template, id);
                    let r = call_op(&env, op, &path, &b.auth).await;
                    assert_eq!(r.status, StatusCode::OK, "{} {path}", op.method);
                    assert!(
                        !r.text().contains("@example.com"),
                        "a public object leaks an email: {}",
                        r.text()
                    );
                }
            }
        }
        // A's objects are untouched and still reachable by A.
        match (&target, template) {
            (Target::Owned(id), "/api/devices/{id}") => {
                assert_eq!(
                    env.get(&fill(template, id), &a.auth).await.status,
                    StatusCode::OK
                );
            }
            (Target::Owned(id), "/api/me/webhooks/{id}") => {
                let list = env.get("/api/me/webhooks", &a.auth).await.json();
                assert!(
                    list["webhooks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|w| w["id"] == id.as_str())
                );
            }
            (Target::SelfScoped(purpose), _) => {
                let consents = env.get("/api/me/consents", &a.auth).await.json();
                let mine = consents["consents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["purpose"] == purpose.as_str())
                    .cloned()
                    .unwrap();
                assert_eq!(mine["granted"], false, "B's decision changed A's consent");
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_proofs_never_cross_customers() {
    let env = env().await;
    let a = env.customer("amy").await;
    let b = env.customer("ben").await;
    let operator = env.account("olga", Role::Operator).await;
    let (_, pk) = device_key(9);
    let r = env
        .json(
            Method::POST,
            "/api/devices",
            &a.auth,
            json!({ "name": "Cam", "type": "camera", "public_key": pk }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = env
        .json(
            Method::POST,
            "/api/me/webhooks",
            &a.auth,
            json!({ "url": "http://127.0.0.1:9/a" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        env.get("/api/devices", &b.auth).await.json()["devices"],
        json!([])
    );
    assert_eq!(
        env.get("/api/me/webhooks", &b.auth).await.json()["webhooks"],
        json!([])
    );
    assert_eq!(
        env.get("/api/devices", &a.auth).await.json()["devices"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let log_a = env.get("/api/me/access-log", &a.auth).await.json();
    let index = log_a["events"][0]["index"].as_u64().unwrap();
    let size = env.get("/api/audit/checkpoint", &Auth::None).await.json()["size"]
        .as_u64()
        .unwrap();
    let uri = format!("/api/audit/proof/inclusion?index={index}&size={size}");
    assert_eq!(env.get(&uri, &a.auth).await.status, StatusCode::OK);
    let r = env.get(&uri, &b.auth).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.is_problem());
    assert_eq!(env.get(&uri, &operator.auth).await.status, StatusCode::OK);
    // Another customer's access log is simply not addressable: /api/me is always the caller.
    let log_b = env.get("/api/me/access-log", &b.auth).await.json();
    assert!(
        log_b["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["index"].as_u64() != Some(index))
    );
}
