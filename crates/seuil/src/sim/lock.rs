//! `seuil sim lock`: the real `seuil-lock` verifier as a device.
//!
//! It syncs with the server (signed time, epoch floor, the keys it trusts, and its own event
//! log going up), keeps its state in a file beside its key so it survives a restart, and
//! serves the local link a courier's phone talks to (here HTTP on loopback):
//! `GET /challenge`, `POST /unlock` with the grant and the proof, and `POST /relock`. Before
//! it opens, it asks its camera's link for a fresh attestation bound to the challenge; a
//! jammed camera means no attestation, and the lock stays shut.

use super::device::{B64, DeviceClient, now_ms, read_key};
use anyhow::{Context, bail};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use seuil_lock::{Lock, LockConfig, LockState, Outcome};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

const SYNC: &str = "/api/device/lock/sync";

#[derive(Args)]
pub struct LockArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    server: String,
    /// The lock's device id, as registered by its owner (POST /api/devices).
    #[arg(long)]
    device: String,
    /// A file holding the lock's Ed25519 secret key as 64 hex digits (`seuil sim keygen`).
    #[arg(long)]
    key_file: PathBuf,
    /// Serve the local link for couriers on this address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7401")]
    listen: String,
    /// The camera's local link (`seuil sim camera --link`), e.g. http://127.0.0.1:7402.
    #[arg(long, value_name = "URL")]
    camera: Option<String>,
    /// Seconds between syncs (a lock also syncs right after each unlock and relock).
    #[arg(long, default_value_t = 10)]
    sync_every: u64,
}

/// One entry of the lock's event log, as the server takes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEntry {
    pub event: String,
    pub grant_id: String,
    pub at: i64,
}

/// A lock at a customer's door.
pub struct SimLock {
    client: DeviceClient,
    http: reqwest::Client,
    camera: Option<String>,
    state_file: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    lock: Option<Lock>,
    /// Events not yet acknowledged by the server.
    log: Vec<LogEntry>,
    challenge: Option<[u8; 32]>,
}

fn beside(key_file: &Path, ext: &str) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(ext);
    PathBuf::from(name)
}

impl SimLock {
    pub fn new(
        server: &str,
        device: &str,
        key_file: &Path,
        camera: Option<String>,
    ) -> anyhow::Result<Arc<SimLock>> {
        let key = read_key(key_file)?;
        Ok(Arc::new(SimLock {
            client: DeviceClient::new(server, device, key)?,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            camera: camera.map(|c| c.trim_end_matches('/').to_owned()),
            state_file: beside(key_file, ".lock"),
            inner: Mutex::new(Inner {
                lock: None,
                log: Vec::new(),
                challenge: None,
            }),
        }))
    }

    /// A secret only this lock knows, for its challenges: derived from its device key.
    fn secret(&self) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"seuil sim lock challenge secret")
            .chain_update(self.client.key.to_bytes())
            .finalize()
            .into()
    }

    fn saved_state(&self) -> anyhow::Result<LockState> {
        match std::fs::read(&self.state_file) {
            Ok(bytes) => LockState::decode(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} is damaged ({e:?}); delete it to start afresh",
                    self.state_file.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockState::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.state_file.display())),
        }
    }

    /// Persists the lock's state before anything it decided takes effect.
    fn save(&self, lock: &Lock) -> anyhow::Result<()> {
        let tmp = self.state_file.with_extension("lock.tmp");
        std::fs::write(&tmp, lock.state().encode())
            .and_then(|()| std::fs::rename(&tmp, &self.state_file))
            .with_context(|| format!("cannot write {}", self.state_file.display()))
    }

    /// Reports the log and takes the server's signed time, epoch floor and keys.
    pub async fn sync(&self) -> anyhow::Result<()> {
        let mut inner = self.inner.lock().await;
        // The floor the lock holds tells the server which revocations have reached it.
        let epoch_floor = match &inner.lock {
            Some(lock) => Some(lock.state().epoch_floor),
            None => self.saved_state().ok().map(|s| s.epoch_floor),
        };
        let body = serde_json::to_vec(&json!({ "events": inner.log, "epoch_floor": epoch_floor }))?;
        let reply = self.client.post_ok(SYNC, "application/json", body).await?;
        let acknowledged = reply["acknowledged"].as_u64().unwrap_or(0) as usize;
        let done = acknowledged.min(inner.log.len());
        inner.log.drain(..done);
        if inner.lock.is_none() {
            let config = config_from(&reply, self.secret())?;
            inner.lock = Some(Lock::new(config, self.saved_state()?));
        }
        let sync = B64
            .decode(reply["sync"].as_str().unwrap_or_default())
            .context("the server sent no sync")?;
        let lock = inner.lock.as_mut().context("no lock")?;
        lock.sync(&sync, now_ms())
            .map_err(|e| anyhow::anyhow!("the lock refused the server's sync: {e}"))?;
        self.save(lock)
    }

    pub async fn challenge(&self) -> anyhow::Result<[u8; 32]> {
        let mut inner = self.inner.lock().await;
        let lock = inner.lock.as_mut().context("the lock has not synced yet")?;
        let c = lock.challenge(now_ms());
        inner.challenge = Some(c);
        Ok(c)
    }

    async fn attestation(&self, challenge: &[u8; 32], grant_id: &[u8; 16]) -> Option<Vec<u8>> {
        let camera = self.camera.as_ref()?;
        let res = self
            .http
            .post(format!("{camera}/attest"))
            .json(
                &json!({ "challenge": hex::encode(challenge), "grant_id": hex::encode(grant_id) }),
            )
            .send()
            .await
            .ok()?;
        if !res.status().is_success() {
            return None;
        }
        let v: Value = res.json().await.ok()?;
        B64.decode(v["attestation"].as_str()?).ok()
    }

    /// Decides an unlock; on success, saves the state, logs it and syncs at once.
    pub async fn unlock(&self, grant: &[u8], proof: &[u8]) -> anyhow::Result<Outcome> {
        let challenge = self.inner.lock().await.challenge.take();
        let grant_id = seuil_proto::Grant::decode(grant)
            .map(|g| g.body.grant_id)
            .unwrap_or([0; 16]);
        let attestation = match challenge {
            Some(c) => self.attestation(&c, &grant_id).await,
            None => None,
        };
        let outcome = {
            let mut guard = self.inner.lock().await;
            let inner = &mut *guard;
            let lock = inner.lock.as_mut().context("the lock has not synced yet")?;
            let outcome = lock.try_unlock(grant, proof, attestation.as_deref(), now_ms());
            if let Outcome::Unlocked { grant_id, .. } = outcome {
                self.save(lock)?;
                inner.log.push(LogEntry {
                    event: "unlocked".into(),
                    grant_id: hex::encode(grant_id),
                    at: now_ms(),
                });
                // The courier pushes the door open; the door sensor logs it.
                inner.log.push(LogEntry {
                    event: "opened".into(),
                    grant_id: hex::encode(grant_id),
                    at: now_ms(),
                });
            }
            outcome
        };
        if matches!(outcome, Outcome::Unlocked { .. })
            && let Err(e) = self.sync().await
        {
            eprintln!("lock: could not report the unlock yet ({e:#}); it stays in the log");
        }
        Ok(outcome)
    }

    /// The door is shut and locked: closes the visit, logs it, tells the camera, syncs.
    pub async fn relock(&self) -> anyhow::Result<bool> {
        let closed = {
            let mut guard = self.inner.lock().await;
            let inner = &mut *guard;
            let lock = inner.lock.as_mut().context("the lock has not synced yet")?;
            let closed = lock.relock(now_ms());
            self.save(lock)?;
            if let Some(r) = closed {
                inner.log.push(LogEntry {
                    event: "relocked".into(),
                    grant_id: hex::encode(r.grant_id),
                    at: now_ms(),
                });
            }
            closed.is_some()
        };
        if let Some(camera) = &self.camera {
            let _ = self.http.post(format!("{camera}/visit/end")).send().await;
        }
        if closed && let Err(e) = self.sync().await {
            eprintln!("lock: could not report the relock yet ({e:#}); it stays in the log");
        }
        Ok(closed)
    }
}

fn config_from(reply: &Value, secret: [u8; 32]) -> anyhow::Result<LockConfig> {
    let field = |name: &str| {
        reply[name]
            .as_str()
            .with_context(|| format!("the sync reply has no `{name}`"))
    };
    let mut lock_id = [0u8; 16];
    hex::decode_to_slice(field("lock_id")?, &mut lock_id).context("a bad lock id")?;
    let mut issuer_id = [0u8; 8];
    hex::decode_to_slice(field("issuer_key_id")?, &mut issuer_id).context("a bad issuer key id")?;
    let key32 = |name: &str| -> anyhow::Result<[u8; 32]> {
        B64.decode(field(name)?)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .with_context(|| format!("`{name}` is not a 32-byte key"))
    };
    let (issuer, camera) = (key32("issuer_public_key")?, key32("camera_public_key")?);
    LockConfig::new(lock_id, secret)
        .with_issuer(issuer_id, &issuer)
        .and_then(|c| c.with_camera(&camera))
        .map_err(|e| anyhow::anyhow!("cannot configure the lock: {e}"))
}

// ---- the local link -----------------------------------------------------------------------

#[derive(Deserialize)]
struct UnlockRequest {
    grant: String,
    proof: String,
}

fn answer(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Unlocked { grant_id, .. } => {
            json!({ "outcome": "unlocked", "grant_id": hex::encode(grant_id) })
        }
        Outcome::Refused(why) => json!({ "outcome": "refused", "reason": why.to_string() }),
    }
}

fn failed(e: anyhow::Error) -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": format!("{e:#}") })),
    )
}

async fn challenge(State(lock): State<Arc<SimLock>>) -> (StatusCode, Json<Value>) {
    match lock.challenge().await {
        Ok(c) => (StatusCode::OK, Json(json!({ "challenge": hex::encode(c) }))),
        Err(e) => failed(e),
    }
}

async fn unlock(
    State(lock): State<Arc<SimLock>>,
    Json(req): Json<UnlockRequest>,
) -> (StatusCode, Json<Value>) {
    let (Ok(grant), Ok(proof)) = (B64.decode(&req.grant), B64.decode(&req.proof)) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "grant and proof must be base64" })),
        );
    };
    match lock.unlock(&grant, &proof).await {
        Ok(outcome) => (StatusCode::OK, Json(answer(outcome))),
        Err(e) => failed(e),
    }
}

async fn relock(State(lock): State<Arc<SimLock>>) -> (StatusCode, Json<Value>) {
    match lock.relock().await {
        Ok(closed) => (
            StatusCode::OK,
            Json(json!({ "relocked": true, "visit_closed": closed })),
        ),
        Err(e) => failed(e),
    }
}

/// Serves the courier's side of the lock on `listener`.
pub async fn serve_link(lock: Arc<SimLock>, listener: tokio::net::TcpListener) {
    let app = axum::Router::new()
        .route("/challenge", axum::routing::get(challenge))
        .route("/unlock", axum::routing::post(unlock))
        .route("/relock", axum::routing::post(relock))
        .with_state(lock);
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("the lock's local link stopped: {e}");
    }
}

/// Syncs every `every` (and retries quietly when the server is away).
pub async fn keep_syncing(lock: Arc<SimLock>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = lock.sync().await {
            eprintln!("lock: sync failed: {e:#}");
        }
    }
}

pub async fn run(args: LockArgs) -> anyhow::Result<()> {
    if args.sync_every == 0 {
        bail!("--sync-every must be at least 1 second");
    }
    let lock = SimLock::new(&args.server, &args.device, &args.key_file, args.camera)?;
    lock.sync().await.context("the first sync failed")?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot serve the local link on {}", args.listen))?;
    println!(
        "lock synced; local link on http://{}",
        listener.local_addr()?
    );
    tokio::spawn(keep_syncing(
        lock.clone(),
        Duration::from_secs(args.sync_every),
    ));
    serve_link(lock, listener).await;
    Ok(())
}
