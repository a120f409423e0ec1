//! The portal in a real headless Chromium, driven over WebDriver: sign up, toggle a consent,
//! see and verify the access log, download the export, delete the account.
//!
//! Runs when `chromedriver` is found (or `SEUIL_TEST_CHROMEDRIVER` names it); otherwise it
//! skips with a message, unless `SEUIL_REQUIRE_BACKENDS` is set, as in CI.

mod common;

use common::Server;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_chromedriver() -> Option<String> {
    if let Ok(path) = std::env::var("SEUIL_TEST_CHROMEDRIVER") {
        return Some(path);
    }
    ["/usr/bin/chromedriver", "/usr/local/bin/chromedriver"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
}

impl Driver {
    async fn start(chromedriver: &str) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        loop {
            if let Ok(res) = http.get(format!("{base}/status")).send().await
                && res.status().is_success()
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap().keep();
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut chrome = json!({ "args": args });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            chrome["binary"] = json!("/usr/bin/chromium");
        }
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": chrome } } });
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_owned();
        Driver {
            child,
            http,
            base,
            session,
        }
    }

    async fn try_cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = self.http.request(method, url);
        let request = if body.is_null() {
            request
        } else {
            request.json(body)
        };
        let res: Value = request.send().await.unwrap().json().await.unwrap();
        match res["value"].get("error") {
            Some(_) => Err(res["value"].clone()),
            None => Ok(res["value"].clone()),
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.try_cmd(method, path, &body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path} failed: {e}"))
    }

    /// Runs one command on the element `css` selects. A form submit
    /// replaces the page under us, so an element found a moment ago can go
    /// stale: then it is found again on the new page.
    async fn on_element(
        &self,
        css: &str,
        method: reqwest::Method,
        what: &str,
        body: Value,
    ) -> Value {
        let start = Instant::now();
        loop {
            let el = self.find(css).await;
            let path = format!("/element/{el}/{what}");
            match self.try_cmd(method.clone(), &path, &body).await {
                Ok(value) => return value,
                Err(e) if went_stale(&e) => {
                    assert!(
                        start.elapsed() < Duration::from_secs(20),
                        "{css} kept going stale"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("WebDriver {path} ({css}) failed: {e}"),
            }
        }
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let res: Value = self
                .http
                .post(url)
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = res["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no element {css}: {}",
                self.page_text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        self.on_element(css, reqwest::Method::POST, "value", json!({ "text": text }))
            .await;
    }

    async fn click(&self, css: &str) {
        self.on_element(css, reqwest::Method::POST, "click", json!({}))
            .await;
    }

    async fn text(&self, css: &str) -> String {
        self.on_element(css, reqwest::Method::GET, "text", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn attribute(&self, css: &str, name: &str) -> String {
        self.on_element(
            css,
            reqwest::Method::GET,
            &format!("attribute/{name}"),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    async fn page_text(&self) -> String {
        let url = format!("{}/session/{}/source", self.base, self.session);
        match self.http.get(url).send().await {
            Ok(res) => res
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(2000)
                .collect(),
            Err(_) => String::new(),
        }
    }

    async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{css} never said {needle:?}; it says {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn script(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/async",
            json!({ "script": script, "args": [] }),
        )
        .await
    }
}

/// Whether a WebDriver error says the element left the page (the page was replaced between
/// finding it and using it). Chrome says so either as a stale reference or, when the old
/// document is already gone, as an inspector error about a node outside the document.
fn went_stale(e: &Value) -> bool {
    e["error"] == "stale element reference"
        || e["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not belong to the document"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_flow_in_headless_chromium() {
    let Some(chromedriver) = find_chromedriver() else {
        assert!(
            std::env::var_os("SEUIL_REQUIRE_BACKENDS").is_none(),
            "SEUIL_REQUIRE_BACKENDS is set but chromedriver was not found"
        );
        eprintln!(
            "skipping: chromedriver not found (install chromium and chromium-driver, or set SEUIL_TEST_CHROMEDRIVER)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let driver = Driver::start(&chromedriver).await;

    // Sign up.
    driver.goto(&format!("{}/signup", server.url)).await;
    driver
        .type_into("#signup-email", "browser@seuil.example")
        .await;
    driver.type_into("#signup-name", "Browser Test").await;
    driver
        .type_into("#signup-password", "a very good password")
        .await;
    driver.click("#signup-submit").await;
    driver.find("#consents").await;
    assert!(
        driver.current_url().await.ends_with("/my-data"),
        "sign-up lands on My data"
    );

    // Toggle a consent on, and see it on.
    let before = driver.text("#consent-panel-receipts").await;
    driver.click("#consent-panel-receipts").await;
    // The toggle is a form post; wait for the new page rather than racing it.
    let start = Instant::now();
    while driver.text("#consent-panel-receipts").await == before {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the consent toggle never changed state from {before:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The access log shows the consent change and the sign-up.
    let log = driver.wait_for_text("#access-log", "granted consent").await;
    assert!(
        log.contains("shopper panel"),
        "access log names the purpose: {log}"
    );

    // Verify every inclusion proof in the browser.
    driver.click("#verify-browser").await;
    let verdict = driver.wait_for_text("#verify-result", "verified").await;
    assert!(!verdict.to_lowercase().contains("fail"), "{verdict}");

    // Download the export with the browser's own session.
    let export = driver
        .script(
            "const done = arguments[arguments.length - 1];
             const href = document.querySelector('#export-link').href;
             fetch(href, {credentials: 'same-origin'}).then(r => r.arrayBuffer().then(b => {
               const bytes = new Uint8Array(b);
               done({status: r.status, size: bytes.length,
                     disposition: r.headers.get('content-disposition'),
                     magic: String.fromCharCode(...bytes.slice(257, 262))});
             })).catch(e => done({error: String(e)}));",
        )
        .await;
    assert_eq!(export["status"], 200, "{export}");
    assert_eq!(
        export["magic"], "ustar",
        "the export is a tar archive: {export}"
    );
    assert!(
        export["disposition"]
            .as_str()
            .unwrap_or_default()
            .contains("attachment"),
        "{export}"
    );

    // In-home delivery: a lock and a camera registered and paired with the browser's own
    // session, then the delivery page, whose live view refreshes under the page's CSP.
    let paired = driver
        .script(
            "const done = arguments[arguments.length - 1];
             const post = (body) => fetch('/api/devices', {method: 'POST', credentials: 'same-origin',
               headers: {'content-type': 'application/json'}, body: JSON.stringify(body)}).then(r => r.json());
             Promise.all([
               post({name: 'Front door', type: 'lock', public_key: '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='}),
               post({name: 'Hall camera', type: 'camera', public_key: 'PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw='}),
             ]).then(([lock, camera]) => fetch('/api/me/home', {method: 'PUT', credentials: 'same-origin',
               headers: {'content-type': 'application/json'},
               body: JSON.stringify({lock_device: lock.id, camera_device: camera.id})}))
             .then(r => done({status: r.status})).catch(e => done({error: String(e)}));",
        )
        .await;
    assert_eq!(paired["status"], 200, "{paired}");
    driver.goto(&format!("{}/deliveries", server.url)).await;
    let label = driver.text("#live-label").await;
    assert!(label.contains("no footage yet"), "{label}");
    let start = Instant::now();
    while driver.attribute("#live-label", "title").await.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the live view never refreshed: {}",
            driver.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(driver.text("#live-label").await.contains("no footage yet"));
    driver.goto(&format!("{}/my-data", server.url)).await;

    // Delete the account, with confirmation, and see the certificate.
    driver.click("#delete-account").await;
    driver.type_into("#delete-confirm-input", "DELETE").await;
    driver
        .type_into("#delete-password-input", "a very good password")
        .await;
    driver.click("#delete-confirm-submit").await;
    let cert = driver.text("#erasure-certificate").await;
    assert!(
        cert.contains("checkpoint") || cert.contains("Checkpoint"),
        "certificate: {cert}"
    );

    // The account is gone: My data asks to sign in again.
    driver.goto(&format!("{}/my-data", server.url)).await;
    driver.find("#signin-email").await;
    let _ = driver.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}
