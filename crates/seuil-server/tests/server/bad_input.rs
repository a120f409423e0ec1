//! Bad input on every route that takes a body (from the OpenAPI document): always a 4xx
//! problem+json, never a 500 and never axum's plain-text rejection.

use crate::authz::{Op, fill, operations};
use crate::camera::{Cam, paired};
use crate::common::*;
use axum::http::{Method, StatusCode};
use base64::Engine;
use ed25519_dalek::Signer;
use serde_json::{Value, json};
use seuil_server::Role;
use sha2::{Digest, Sha256};

/// Sends `body` to a route as the caller its access names, so the body is what is judged.
async fn send_as(
    env: &Env,
    op: &Op,
    path: &str,
    auth: &Auth,
    device: &Cam,
    ct: String,
    body: Vec<u8>,
) -> Resp {
    let call = env.call(op.method.clone(), path, auth);
    if op.access != "device" {
        return call.raw(&ct, body).send().await;
    }
    let ts = env.vault.now();
    let msg = format!(
        "{}\n{path}\n{ts}\n{}",
        op.method,
        hex::encode(Sha256::digest(&body))
    );
    let sig = base64::engine::general_purpose::STANDARD
        .encode(device.key.sign(msg.as_bytes()).to_bytes());
    env.call(op.method.clone(), path, &Auth::None)
        .header("seuil-device", &device.device)
        .header("seuil-timestamp", &ts.to_string())
        .header("seuil-signature", &sig)
        .raw(&ct, body)
        .send()
        .await
}

fn wrong_type(v: &Value) -> Value {
    match v {
        Value::String(_) => json!(12345),
        Value::Bool(_) => json!("yes"),
        Value::Number(_) => json!("many"),
        _ => json!(true),
    }
}

fn check(r: &Resp, what: &str, op: &Op) {
    assert!(
        r.status.is_client_error(),
        "{} {} with {what}: expected 4xx, got {} {}",
        op.method,
        op.path,
        r.status,
        r.text()
    );
    assert!(
        r.is_problem(),
        "{} {} with {what}: not problem+json: {:?} {}",
        op.method,
        op.path,
        r.headers,
        r.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_on_every_body_route_are_4xx_problems() {
    let env = env().await;
    let user = env.customer("mallory").await;
    let operator = env.account("oprah", Role::Operator).await;
    let courier = env.account("corey", Role::Courier).await;
    let lock = paired(&env, &user, 71, "lock").await;
    let limit = test_config().max_body_bytes;
    let mut routes = 0;
    for op in operations(&env).await {
        let Some((ctype, example)) = op.body.clone() else {
            continue;
        };
        routes += 1;
        let path = fill(&op.path, "marketing.email");
        let auth = match op.access.as_str() {
            "public" | "device" => Auth::None,
            "operator" => operator.auth.clone(),
            "courier" => courier.auth.clone(),
            _ => user.auth.clone(),
        };
        let send =
            |ct: &str, body: Vec<u8>| send_as(&env, &op, &path, &auth, &lock, ct.to_owned(), body);

        if ctype == "application/json" {
            let r = send("application/json", b"{\"".to_vec()).await;
            check(&r, "malformed JSON", &op);
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
            check(
                &send("application/json", Vec::new()).await,
                "an empty body",
                &op,
            );
            check(
                &send("application/json", b"[1,2]".to_vec()).await,
                "an array",
                &op,
            );
            check(
                &send("application/json", b"{}".to_vec()).await,
                "no fields",
                &op,
            );

            let mut unknown = example.clone();
            unknown["zzz_unknown"] = json!(1);
            let r = send("application/json", serde_json::to_vec(&unknown).unwrap()).await;
            check(&r, "an unknown field", &op);
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());

            for (field, value) in example.as_object().unwrap() {
                let mut bad = example.clone();
                bad[field] = wrong_type(value);
                let r = send("application/json", serde_json::to_vec(&bad).unwrap()).await;
                check(&r, &format!("a wrong type for `{field}`"), &op);
                assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
            }

            let r = send("text/plain", serde_json::to_vec(&example).unwrap()).await;
            check(&r, "a wrong content type", &op);
            assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            let r = env.call(op.method.clone(), &path, &auth).send().await;
            check(&r, "no body and no content type", &op);

            let mut huge = b"{\"x\":\"".to_vec();
            huge.resize(limit + 10, b'a');
            huge.extend_from_slice(b"\"}");
            let r = send("application/json", huge).await;
            check(&r, "an oversize body", &op);
            assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        } else if ctype == "application/octet-stream" {
            check(&send(&ctype, Vec::new()).await, "an empty body", &op);
            check(&send(&ctype, vec![0xAB; 300]).await, "garbage bytes", &op);
            check(
                &send("application/json", b"{}".to_vec()).await,
                "a JSON body on a binary route",
                &op,
            );
            check(
                &send(&ctype, vec![0; limit + 10]).await,
                "an oversize body",
                &op,
            );
        } else {
            check(
                &send("application/json", b"{}".to_vec()).await,
                "a JSON body on a form route",
                &op,
            );
            check(
                &send(&ctype, b"zzz_unknown=1".to_vec()).await,
                "an unknown form field",
                &op,
            );
            let mut huge = b"x=".to_vec();
            huge.resize(limit + 10, b'a');
            check(&send(&ctype, huge).await, "an oversize form", &op);
        }
    }
    assert!(routes >= 8, "only {routes} routes take a body");
    // The account survived all of that (DELETE /api/me was among the routes).
    assert_eq!(env.get("/api/me", &user.auth).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_queries_and_methods_are_problems() {
    let env = env().await;
    let user = env.customer("trent").await;
    for uri in [
        "/api/audit/proof/inclusion?index=abc&size=1",
        "/api/audit/proof/inclusion",
        "/api/audit/proof/inclusion?index=0&size=1&extra=1",
        "/api/audit/proof/inclusion?index=0&size=999999",
        "/api/audit/proof/consistency?old=5&new=1",
        "/api/audit/proof/consistency?old=-1&new=1",
        "/api/nope",
        "/api/devices/does-not-exist",
        "/api/erasure-certificates/nobody",
    ] {
        let r = env.get(uri, &user.auth).await;
        assert!(r.status.is_client_error(), "{uri}: {}", r.status);
        assert!(r.is_problem(), "{uri}: {}", r.text());
    }
    let r = env.call(Method::PATCH, "/api/me", &user.auth).send().await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.is_problem());
    // Unknown purpose → 404; a purpose that does not rest on consent → 422.
    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/no.such.purpose",
            &user.auth,
            json!({ "granted": true }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = env
        .json(
            Method::PUT,
            "/api/me/consents/account",
            &user.auth,
            json!({ "granted": false }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.is_problem());
    // Semantically invalid values.
    for (uri, body) in [
        ("/api/me/webhooks", json!({ "url": "not a url" })),
        ("/api/me/webhooks", json!({ "url": "ftp://example.com/" })),
        (
            "/api/devices",
            json!({ "name": "x", "type": "lock", "public_key": "AAAA" }),
        ),
        (
            "/api/devices",
            json!({ "name": "x", "type": "toaster", "public_key": "AAAA" }),
        ),
        // The identity point: a valid encoding, but of small order, so anyone could sign
        // for it.
        (
            "/api/devices",
            json!({ "name": "x", "type": "lock", "public_key": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }),
        ),
        (
            "/api/devices",
            json!({ "name": "", "type": "lock", "public_key": crate::authz::device_key(1).1 }),
        ),
    ] {
        let r = env.json(Method::POST, uri, &user.auth, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri} {body}: {}",
            r.text()
        );
        assert!(r.is_problem());
    }
    for body in [
        json!({ "email": "not-an-email", "password": "long enough pw", "display_name": "x" }),
        json!({ "email": "ok@example.com", "password": "short", "display_name": "x" }),
        json!({ "email": "ok@example.com", "password": "long enough pw", "display_name": "" }),
    ] {
        let r = env
            .json(Method::POST, "/api/accounts", &Auth::None, body)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.is_problem());
    }
    let r = env
        .json(
            Method::DELETE,
            "/api/me",
            &user.auth,
            json!({ "confirm": "yes" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(env.get("/api/me", &user.auth).await.status, StatusCode::OK);
}
