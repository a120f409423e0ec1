//! A signed-in account (customer, courier, operator) talking to a running server with its
//! session cookie: what the courier simulator, the demo and the alarm bench act as.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::time::Duration;

/// A signed-in account talking to the API with its session cookie.
pub struct Session {
    http: reqwest::Client,
    server: String,
    cookie: String,
}

impl Session {
    pub async fn sign_in(server: &str, email: &str, password: &str) -> anyhow::Result<Session> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let server = server.trim_end_matches('/').to_owned();
        let res = http
            .post(format!("{server}/api/sessions"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?;
        if !res.status().is_success() {
            let v: Value = res.json().await.unwrap_or_default();
            bail!(
                "cannot sign in as {email}: {}",
                v["detail"].as_str().unwrap_or("refused")
            );
        }
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.split(';')
                    .next()
                    .filter(|kv| kv.starts_with("seuil_session="))
            })
            .map(str::to_owned)
            .context("the server set no session cookie")?;
        Ok(Session {
            http,
            server,
            cookie,
        })
    }

    /// Sends a request; returns the status and the JSON answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.server))
            .header("cookie", &self.cookie);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.server))?;
        let status = res.status();
        Ok((status, res.json().await.unwrap_or_default()))
    }

    /// Opens a streaming GET (an event stream); the caller reads the body as it comes.
    pub async fn stream(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let res = self
            .http
            .get(format!("{}{path}", self.server))
            .header("cookie", &self.cookie)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.server))?;
        if !res.status().is_success() {
            bail!("{path}: {}", res.status());
        }
        Ok(res)
    }

    /// Like [`Session::call`], failing with the server's words unless it succeeds.
    pub async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, v) = self.call(method, path, body).await?;
        if !status.is_success() {
            bail!(
                "{path}: {status}: {}",
                v["detail"].as_str().unwrap_or("no detail")
            );
        }
        Ok(v)
    }
}

impl Session {
    /// As a customer: consents to recording and pairs the lock and camera (device ids).
    pub async fn pair_home(
        &self,
        lock: &str,
        camera: &str,
        relock_within_s: u32,
    ) -> anyhow::Result<()> {
        use reqwest::Method;
        self.ok(
            Method::PUT,
            "/api/me/consents/delivery.video",
            Some(json!({ "granted": true })),
        )
        .await?;
        let home = json!({ "lock_device": lock, "camera_device": camera, "relock_within_s": relock_within_s });
        self.ok(Method::PUT, "/api/me/home", Some(home)).await?;
        Ok(())
    }
}
