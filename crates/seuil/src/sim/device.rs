//! What every simulated device shares: its key file, signed requests to the server, and the
//! clock.

use anyhow::{Context, bail};
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the key file {}", path.display()))?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).with_context(|| {
        format!(
            "{} must hold a secret key as 64 hex digits (make one with `seuil sim keygen`)",
            path.display()
        )
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a new device key to `out` and returns the public key in base64, to register.
pub fn keygen(out: &Path) -> anyhow::Result<String> {
    use rand::RngCore;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    seuil_vault::kek::write_new_secret(out, hex::encode(seed).as_bytes())
        .with_context(|| format!("cannot create {} (it must not exist yet)", out.display()))?;
    Ok(B64.encode(key.verifying_key().to_bytes()))
}

/// A registered device talking to the server: each request signed with its key.
#[derive(Clone)]
pub struct DeviceClient {
    http: reqwest::Client,
    server: String,
    pub device: String,
    pub key: SigningKey,
}

impl DeviceClient {
    pub fn new(server: &str, device: &str, key: SigningKey) -> anyhow::Result<Self> {
        Ok(DeviceClient {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            server: server.trim_end_matches('/').to_owned(),
            device: device.to_owned(),
            key,
        })
    }

    /// POSTs `body` to `path`, signed; returns the status and the JSON answer.
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(reqwest::StatusCode, serde_json::Value)> {
        let ts = now_ms();
        let message = format!("POST\n{path}\n{ts}\n{}", hex::encode(Sha256::digest(&body)));
        let signature = B64.encode(self.key.sign(message.as_bytes()).to_bytes());
        let url = format!("{}{path}", self.server);
        let res = self
            .http
            .post(&url)
            .header("seuil-device", &self.device)
            .header("seuil-timestamp", ts.to_string())
            .header("seuil-signature", signature)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = res.status();
        Ok((status, res.json().await.unwrap_or_default()))
    }

    /// Like [`DeviceClient::post`], failing with the server's own words unless it succeeds.
    pub async fn post_ok(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<serde_json::Value> {
        let (status, answer) = self.post(path, content_type, body).await?;
        if !status.is_success() {
            bail!(
                "{path} answered {status}: {}",
                answer["detail"].as_str().unwrap_or("no detail")
            );
        }
        Ok(answer)
    }
}
