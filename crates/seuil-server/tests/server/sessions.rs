//! Sessions and passwords as a careful user would have them: the sessions of the account
//! listed and ended one by one or all at once, an idle session lapsing, a password change that
//! ends the other sessions, common passwords refused, and the headers and cookie an HTTPS
//! deployment sends.

use crate::common::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use seuil_server::ServerConfig;
use std::time::Duration;
use tower::ServiceExt;

async fn sign_in(env: &Env, email: &str, password: &str) -> Auth {
    let r = env
        .json(
            Method::POST,
            "/api/sessions",
            &Auth::None,
            json!({ "email": email, "password": password }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    Auth::Cookie(r.session_cookie().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_listed_and_ended_one_by_one_or_everywhere() {
    let env = env().await;
    let u = env.customer("sam").await;
    let laptop = sign_in(&env, &u.email, "password-of-sam").await;
    let phone = sign_in(&env, &u.email, "password-of-sam").await;
    let list = env.get("/api/me/sessions", &laptop).await.json();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{list}");
    assert_eq!(
        sessions.iter().filter(|s| s["current"] == true).count(),
        1,
        "{list}"
    );
    // End the phone's session from the laptop.
    let Auth::Cookie(phone_token) = &phone else {
        unreachable!()
    };
    let phone_id = seuil_server::auth::sessions::session_id(phone_token);
    let r = env
        .call(
            Method::DELETE,
            &format!("/api/me/sessions/{phone_id}"),
            &laptop,
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(
        env.get("/api/me", &phone).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(env.get("/api/me", &laptop).await.status, StatusCode::OK);
    // Someone else's session id is not found.
    let other = env.customer("tess").await;
    let Auth::Cookie(laptop_token) = &laptop else {
        unreachable!()
    };
    let laptop_id = seuil_server::auth::sessions::session_id(laptop_token);
    let r = env
        .call(
            Method::DELETE,
            &format!("/api/me/sessions/{laptop_id}"),
            &other.auth,
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(env.get("/api/me", &laptop).await.status, StatusCode::OK);
    // Everywhere: this one too.
    let r = env
        .call(Method::POST, "/api/me/sessions/revoke-all", &laptop)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for gone in [&laptop, &u.auth] {
        assert_eq!(
            env.get("/api/me", gone).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(env.get("/api/me", &other.auth).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_lapses() {
    let env = env_with(ServerConfig {
        session_idle_ms: 300,
        ..test_config()
    })
    .await;
    let u = env.customer("ida").await;
    assert_eq!(env.get("/api/me", &u.auth).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        env.get("/api/me", &u.auth).await.status,
        StatusCode::UNAUTHORIZED,
        "a second of no use is past the idle timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_use_stays_and_an_api_token_has_no_idle_timeout() {
    let env = env_with(ServerConfig {
        session_idle_ms: 60_000,
        ..test_config()
    })
    .await;
    let u = env.customer("una").await;
    for _ in 0..3 {
        assert_eq!(env.get("/api/me", &u.auth).await.status, StatusCode::OK);
    }
    let r = env
        .json(
            Method::POST,
            "/api/tokens",
            &u.auth,
            json!({ "password": "password-of-una" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let list = env.get("/api/me/sessions", &u.auth).await.json();
    let bearer = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["via"] == "bearer")
        .cloned()
        .unwrap();
    assert_eq!(bearer["lapses_at"], bearer["expires_at"], "{bearer}");
    assert_eq!(
        env.get("/api/me", &Auth::Bearer(token)).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_asks_for_the_current_one_and_ends_the_other_sessions() {
    let env = env().await;
    let u = env.customer("pim").await;
    let other = sign_in(&env, &u.email, "password-of-pim").await;
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let r = env
        .json(
            Method::PUT,
            "/api/me/password",
            &u.auth,
            change("wrong", "a brand new passphrase"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = env
        .json(
            Method::PUT,
            "/api/me/password",
            &u.auth,
            change("password-of-pim", "password1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("most common"), "{}", r.text());
    assert_eq!(
        env.get("/api/me", &other).await.status,
        StatusCode::OK,
        "a refused change changes nothing"
    );
    let r = env
        .json(
            Method::PUT,
            "/api/me/password",
            &u.auth,
            change("password-of-pim", "a brand new passphrase"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(env.get("/api/me", &u.auth).await.status, StatusCode::OK);
    assert_eq!(
        env.get("/api/me", &other).await.status,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    let r = env
        .json(
            Method::POST,
            "/api/sessions",
            &Auth::None,
            json!({ "email": u.email, "password": "password-of-pim" }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the old password is gone"
    );
    sign_in(&env, &u.email, "a brand new passphrase").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_common_password_is_refused_at_sign_up() {
    let env = env().await;
    for common in ["password", "Password1", "iloveyou", "qwertyuiop"] {
        let r = env
            .json(
                Method::POST,
                "/api/accounts",
                &Auth::None,
                json!({ "email": "cal@example.com", "password": common, "display_name": "Cal" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{common}");
        assert!(r.text().contains("most common"), "{}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_closes_that_sessions_event_streams() {
    let env = env().await;
    let u = env.customer("eve").await;
    let Auth::Cookie(token) = &u.auth else {
        unreachable!()
    };
    let req = Request::builder()
        .uri("/api/me/events")
        .header("cookie", format!("seuil_session={token}"))
        .body(Body::empty())
        .unwrap();
    let res = env.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body().into_data_stream();
    use futures_util::StreamExt;
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("ready"));
    let r = env
        .call(Method::DELETE, "/api/sessions/current", &u.auth)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "the stream stayed open after its session signed out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_deployment_sends_hsts_and_a_host_only_cookie() {
    let https = env_with(ServerConfig {
        public_url: "https://seuil.example".into(),
        secure_cookies: true,
        ..test_config()
    })
    .await;
    let r = https
        .json(
            Method::POST,
            "/api/accounts",
            &Auth::None,
            json!({ "email": "hal@example.com", "password": "a long passphrase", "display_name": "Hal" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let hsts = r.header("strict-transport-security").unwrap_or_default();
    assert!(hsts.contains("max-age="), "{hsts}");
    let cookie = r.header("set-cookie").unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-seuil_session=")
            && cookie.contains("; Secure")
            && cookie.contains("Path=/")
            && !cookie.contains("Domain"),
        "{cookie}"
    );
    // Plain HTTP (development) sends neither.
    let plain = env().await;
    let r = plain.get("/healthz", &Auth::None).await;
    assert!(r.header("strict-transport-security").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_for_this_machine_or_an_operator() {
    let env = env().await;
    let from = |ip: [u8; 4]| {
        let mut req = Request::builder()
            .uri("/metrics")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 5_000,
            ))));
        req
    };
    let res = env
        .router
        .clone()
        .oneshot(from([127, 0, 0, 1]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = env
        .router
        .clone()
        .oneshot(from([203, 0, 113, 7]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let operator = env.account("otis", seuil_server::Role::Operator).await;
    let Auth::Cookie(token) = &operator.auth else {
        unreachable!()
    };
    let mut req = from([203, 0, 113, 7]);
    req.headers_mut()
        .insert("cookie", format!("seuil_session={token}").parse().unwrap());
    let res = env.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_pages_are_the_customers() {
    let env = env().await;
    let courier = env.account("cora", seuil_server::Role::Courier).await;
    let r = env.get("/deliveries", &courier.auth).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("Not for this account"), "{}", r.text());
    let customer = env.customer("cass").await;
    assert_eq!(
        env.get("/deliveries", &customer.auth).await.status,
        StatusCode::OK
    );
}
