//! Test harness: a vault over SQLite + local blobs in a temp dir, the App, and a small client
//! that drives the router in-process with `tower::ServiceExt::oneshot`.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use serde_json::{Value, json};
use seuil_server::{App, Role, ServerConfig};
use seuil_store::{DynBlobs, DynStore, LocalBlobs, sqlite::SqliteStore};
use seuil_vault::{FileKek, Vault, VaultConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tower::ServiceExt;

pub struct Env {
    pub dir: TempDir,
    pub app: App,
    pub router: Router,
    pub vault: Arc<Vault>,
}

/// Throttling that a test making many accounts from one address never meets (the
/// throttling test sets the real one).
pub fn unthrottled() -> seuil_server::auth::rate_limit::Throttling {
    let generous = seuil_server::auth::rate_limit::Policy {
        free: u32::MAX,
        first_ms: 0,
        cap_ms: 0,
        forget_ms: 1,
    };
    seuil_server::auth::rate_limit::Throttling {
        sign_in_source: generous,
        sign_in_account: generous,
        sign_up_source: generous,
    }
}

pub fn test_config() -> ServerConfig {
    ServerConfig {
        argon2_fast_for_tests: true,
        throttling: unthrottled(),
        // A checkpoint for every request, as the proofs tests expect to cover every event.
        checkpoint_every_ms: 0,
        webhook_allow_private_targets: true,
        webhook_backoff_base_ms: 100,
        outbox_poll_ms: 20,
        ..ServerConfig::new("http://seuil.test")
    }
}

pub async fn open_vault(dir: &Path) -> Arc<Vault> {
    let store: DynStore = Arc::new(SqliteStore::open(&dir.join("seuil.db")).expect("open sqlite"));
    let blobs: DynBlobs = Arc::new(LocalBlobs::new(dir.join("blobs")).expect("open blobs"));
    Arc::new(
        Vault::new(
            store,
            blobs,
            &FileKek::new(dir.join("kek")),
            VaultConfig::default(),
        )
        .await
        .expect("open vault"),
    )
}

pub async fn env() -> Env {
    env_with(test_config()).await
}

pub async fn env_with(config: ServerConfig) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = open_vault(dir.path()).await;
    let app = App::new(vault.clone(), config);
    let router = app.router();
    Env {
        dir,
        app,
        router,
        vault,
    }
}

/// How a request authenticates.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    #[default]
    None,
    Cookie(String),
    Bearer(String),
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn is_problem(&self) -> bool {
        self.header("content-type") == Some("application/problem+json")
            && serde_json::from_slice::<Value>(&self.body).is_ok_and(|v| {
                v["status"].as_u64() == Some(u64::from(self.status.as_u16()))
                    && v["title"].is_string()
            })
    }
    /// The session token from `Set-Cookie`.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("seuil_session="))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
            .filter(|v| !v.is_empty())
    }
}

pub struct Call<'a> {
    env: &'a Env,
    req: axum::http::request::Builder,
    body: Body,
}

impl Env {
    pub fn call(&self, method: Method, uri: &str, auth: &Auth) -> Call<'_> {
        let mut req = Request::builder().method(method).uri(uri);
        match auth {
            Auth::None => {}
            Auth::Cookie(t) => req = req.header(header::COOKIE, format!("seuil_session={t}")),
            Auth::Bearer(t) => req = req.header(header::AUTHORIZATION, format!("Bearer {t}")),
        }
        Call {
            env: self,
            req,
            body: Body::empty(),
        }
    }

    pub async fn get(&self, uri: &str, auth: &Auth) -> Resp {
        self.call(Method::GET, uri, auth).send().await
    }

    pub async fn json(&self, method: Method, uri: &str, auth: &Auth, body: Value) -> Resp {
        self.call(method, uri, auth).json(&body).send().await
    }

    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> User {
        let r = self
            .json(
                Method::POST,
                "/api/accounts",
                &Auth::None,
                json!({ "email": email, "password": password, "display_name": name }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let token = r.session_cookie().expect("session cookie");
        User {
            subject: r.json()["subject"].as_str().unwrap().to_owned(),
            auth: Auth::Cookie(token),
            email: email.into(),
        }
    }

    /// A customer with a unique email.
    pub async fn customer(&self, name: &str) -> User {
        self.sign_up(
            &format!("{name}@example.com"),
            &format!("password-of-{name}"),
            name,
        )
        .await
    }

    /// An account of another role, created like `seuil admin create-operator` does.
    pub async fn account(&self, name: &str, role: Role) -> User {
        let email = format!("{name}@example.com");
        self.app
            .create_account(&email, "password-123", name, role)
            .await
            .expect("create account");
        let r = self
            .json(
                Method::POST,
                "/api/sessions",
                &Auth::None,
                json!({ "email": email, "password": "password-123" }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        User {
            subject: r.json()["subject"].as_str().unwrap().to_owned(),
            auth: Auth::Cookie(r.session_cookie().unwrap()),
            email,
        }
    }
}

impl Call<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.req = self.req.header(name, HeaderValue::from_str(value).unwrap());
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.req = self.req.header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(serde_json::to_vec(body).unwrap());
        self
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.req = self.req.header(header::CONTENT_TYPE, content_type);
        self.body = Body::from(body.into());
        self
    }

    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        self.raw("application/x-www-form-urlencoded", body.join("&"))
    }

    pub async fn send(self) -> Resp {
        let mut req = self.req.body(self.body).unwrap();
        // As `App::serve` passes it: every test request comes from this peer.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                40_000,
            ))));
        let res = self.env.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct User {
    pub subject: String,
    pub auth: Auth,
    pub email: String,
}

/// Polls `check` every 20 ms until it holds or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A user's live event stream (Server-Sent Events), read as it comes.
pub struct Events {
    stream: axum::body::BodyDataStream,
    /// Everything received so far.
    pub seen: String,
}

impl Env {
    /// Opens `u`'s event stream.
    pub async fn events(&self, u: &User) -> Events {
        let Auth::Cookie(cookie) = &u.auth else {
            panic!("event streams are opened with a session cookie");
        };
        let res = self
            .router
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/api/me/events")
                    .header("cookie", format!("seuil_session={cookie}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Events {
            stream: res.into_body().into_data_stream(),
            seen: String::new(),
        }
    }
}

impl Events {
    /// Reads until everything received holds every one of `needles`, for at most `timeout`.
    pub async fn wait_for(&mut self, needles: &[&str], timeout: Duration) -> bool {
        use futures_util::StreamExt;
        let (stream, seen) = (&mut self.stream, &mut self.seen);
        tokio::time::timeout(timeout, async {
            while !needles.iter().all(|n| seen.contains(n)) {
                match stream.next().await {
                    Some(Ok(chunk)) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return false,
                }
            }
            true
        })
        .await
        .unwrap_or(false)
    }
}
