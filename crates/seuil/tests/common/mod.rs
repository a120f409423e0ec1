//! Starts the real `seuil` binary on a data folder and talks to it over HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `seuil serve` on a free loopback port and waits until it says where it listens.
    pub fn start(data_dir: &Path) -> Server {
        let mut child = seuil()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the seuil binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("Seuil is listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("seuil serve did not report its address within 60 s");
            });
        Server {
            child,
            url,
            data_dir: data_dir.to_owned(),
        }
    }

    /// Stops the process the hard way, as a power cut would.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `seuil` binary built for these tests, run in a clean environment.
pub fn seuil() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuil"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SEUIL_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("SEUIL_LOG", "warn");
    cmd
}

/// Runs `seuil admin ...` on a data folder and returns its standard output.
pub fn admin(data_dir: &Path, args: &[&str]) -> String {
    let out = seuil()
        .env("SEUIL_DATA_DIR", data_dir)
        .arg("admin")
        .args(args)
        .output()
        .expect("seuil admin runs");
    assert!(
        out.status.success(),
        "seuil admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Signs up a customer and returns a client holding their session cookie.
pub async fn sign_up(server: &Server, email: &str, password: &str, name: &str) -> reqwest::Client {
    let client = server.client();
    let res = client
        .post(server.api("/api/accounts"))
        .json(&serde_json::json!({ "email": email, "password": password, "display_name": name }))
        .send()
        .await
        .expect("sign-up request");
    assert_eq!(
        res.status(),
        201,
        "sign-up failed: {}",
        res.text().await.unwrap_or_default()
    );
    client
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    out.push(p)
                }
            }
        }
    }
    out
}

pub fn wait_until(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A clip of `../shared/data/video`, or `None` (with a message) where the data is absent.
pub fn shared_video(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/video")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} is absent (see ../shared/data/README.md)",
            path.display()
        );
        None
    }
}
