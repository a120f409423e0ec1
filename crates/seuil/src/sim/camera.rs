//! `seuil sim camera`: a camera that streams a real clip to a Seuil server as signed segments,
//! and can be made to freeze, go dark, replay old footage or fall silent.
//!
//! With `--link`, it also serves the home's local link (the radio between lock and camera,
//! here HTTP on loopback): the lock asks it for a fresh attestation bound to its challenge,
//! and while the visit is open every segment carries the grant id and that challenge.

use super::attack::Attack;
use super::device::{B64, DeviceClient, now_ms, read_key};
use anyhow::{Context, bail};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use clap::Args;
use ed25519_dalek::SigningKey;
use serde::Deserialize;
use serde_json::{Value, json};
use seuil_delivery::footage::segments::{self, ClipSegment};
use seuil_delivery::footage::synthetic;
use seuil_proto::{AttestationInfo, SegmentInfo, VisitTag, camera_id};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PATH: &str = "/api/device/segments";

#[derive(Args)]
pub struct CameraArgs {
    /// The server, e.g. http://127.0.0.1:8080. Without one, nothing is sent (use --save).
    #[arg(long, requires = "device")]
    server: Option<String>,
    /// The camera's device id, as registered by its owner (POST /api/devices).
    #[arg(long)]
    device: Option<String>,
    /// A file holding the camera's Ed25519 secret key as 64 hex digits (`seuil sim keygen`).
    #[arg(long)]
    key_file: PathBuf,
    /// The footage to stream: an MP4 file with H.264, cut at its key frames.
    #[arg(
        long,
        required_unless_present = "synthetic",
        conflicts_with = "synthetic"
    )]
    video: Option<PathBuf>,
    /// Stream this many seconds of a synthetic room instead of a file.
    #[arg(long, value_name = "SECONDS")]
    synthetic: Option<u32>,
    /// Tamper with the stream: freeze@START+DUR, cover@START+DUR, replay@START+DUR or
    /// jam@START (seconds from the clip's start).
    #[arg(long)]
    attack: Option<Attack>,
    /// Send as fast as the server answers instead of in real time.
    #[arg(long)]
    fast: bool,
    /// Also write the footage as sent, one raw H.264 stream, to this file.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Serve the local link for the lock on this address, e.g. 127.0.0.1:7402.
    #[arg(long, value_name = "ADDR")]
    link: Option<String>,
}

/// The camera's live state, shared by its stream and its local link.
pub struct Camera {
    key: SigningKey,
    id: [u8; 16],
    /// The newest segment sent: counter and hash (what an attestation vouches for).
    newest: Mutex<(u64, [u8; 32])>,
    visit: Mutex<Option<VisitTag>>,
    /// Jammed: nothing reaches the server, and the local link is down too.
    pub jammed: AtomicBool,
}

impl Camera {
    pub fn new(key: SigningKey) -> Arc<Camera> {
        Arc::new(Camera {
            id: camera_id(key.verifying_key().as_bytes()),
            key,
            newest: Mutex::new((0, [0; 32])),
            visit: Mutex::new(None),
            jammed: AtomicBool::new(false),
        })
    }

    fn visit(&self) -> Option<VisitTag> {
        *self.visit.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where the footage comes from.
pub enum Source {
    File(PathBuf),
    /// This many seconds of a synthetic room, made as they are sent.
    Room(u32),
}

/// The footage being streamed: a clip cut at its key frames, or a room made second by
/// second (so an hour of it costs nothing up front).
enum Footage {
    Clip(segments::Cut),
    Room(Box<synthetic::Room>, u32),
}

impl Footage {
    fn load(source: &Source) -> anyhow::Result<Footage> {
        match source {
            Source::File(path) => {
                let data = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let cut = segments::cut(&data)
                    .with_context(|| format!("cannot cut {}", path.display()))?;
                if cut.segments.is_empty() {
                    bail!("{} has no pictures", path.display());
                }
                Ok(Footage::Clip(cut))
            }
            Source::Room(seconds) => Ok(Footage::Room(
                Box::new(synthetic::Room::new(320, 240, 10).map_err(anyhow::Error::msg)?),
                *seconds,
            )),
        }
    }

    fn segment(&mut self, i: usize) -> anyhow::Result<Option<ClipSegment>> {
        match self {
            Footage::Clip(cut) => Ok(cut.segments.get(i).cloned()),
            Footage::Room(room, seconds) if i < *seconds as usize => {
                Ok(Some(room.second(i as u32).map_err(anyhow::Error::msg)?))
            }
            Footage::Room(..) => Ok(None),
        }
    }
}

pub struct StreamOptions {
    pub client: Option<DeviceClient>,
    pub key_file: PathBuf,
    pub attack: Option<Attack>,
    pub fast: bool,
    pub save: Option<PathBuf>,
    /// Print each flagged segment (the command line does; the demo does not).
    pub verbose: bool,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub sent: u64,
    pub kept: u64,
    pub flagged: u64,
}

pub async fn run(args: CameraArgs) -> anyhow::Result<()> {
    let key = read_key(&args.key_file)?;
    let source = match (&args.video, args.synthetic) {
        (Some(path), _) => Source::File(path.clone()),
        (None, Some(seconds)) => Source::Room(seconds),
        (None, None) => bail!("give --video FILE or --synthetic SECONDS"),
    };
    if args.server.is_none() && args.save.is_none() {
        bail!("give a --server to stream to, or --save FILE to write the footage, or both");
    }
    let client = match (&args.server, &args.device) {
        (Some(server), Some(device)) => Some(DeviceClient::new(server, device, key.clone())?),
        _ => None,
    };
    let camera = Camera::new(key);
    if let Some(addr) = &args.link {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot serve the local link on {addr}"))?;
        println!("local link on http://{}", listener.local_addr()?);
        tokio::spawn(serve_link(camera.clone(), listener));
    }
    let options = StreamOptions {
        client,
        key_file: args.key_file,
        attack: args.attack,
        fast: args.fast,
        save: args.save,
        verbose: true,
    };
    let summary = stream(&camera, &source, options).await?;
    if args.server.is_some() {
        println!(
            "sent {} segments: {} kept, {} flagged",
            summary.sent, summary.kept, summary.flagged
        );
    }
    Ok(())
}

/// Streams the source once, in real time unless `fast`, until it ends or the camera is jammed.
pub async fn stream(
    camera: &Camera,
    source: &Source,
    options: StreamOptions,
) -> anyhow::Result<Summary> {
    let mut footage_source = Footage::load(source)?;
    if let (Footage::Room(..), Some(a)) = (&footage_source, options.attack)
        && !matches!(a, Attack::Jam { .. })
    {
        bail!("a synthetic room can only be jammed; give --video FILE for {a:?}");
    }
    let mut saved = Vec::new();
    let clock_start = now_ms();
    let wall = Instant::now();
    // A camera never reuses a counter: it carries its chain on from its last run.
    let chain_file = chain_path(&options.key_file);
    let (first_counter, mut prev) = read_chain(&chain_file)?;
    let mut summary = Summary::default();
    let mut frozen: Option<Vec<u8>> = None;
    for i in 0.. {
        let Some(seg) = footage_source.segment(i)? else {
            break;
        };
        let t = seg.start_ms as f64 / 1000.0;
        if matches!(options.attack, Some(a @ Attack::Jam { .. }) if a.covers(t)) {
            camera.jammed.store(true, Ordering::SeqCst);
        }
        if camera.jammed.load(Ordering::SeqCst) {
            println!("jammed at {t:.1} s: the camera sends nothing more");
            break;
        }
        let footage = match &footage_source {
            Footage::Clip(cut) => footage_for(
                &options.attack,
                &cut.segments,
                i,
                &mut frozen,
                cut.width,
                cut.height,
            )?,
            Footage::Room(..) => seg.h264.clone(),
        };
        if options.save.is_some() {
            saved.extend_from_slice(&footage);
        }
        let Some(client) = &options.client else {
            continue;
        };
        if !options.fast {
            let due = Duration::from_millis(
                u64::try_from(seg.start_ms + i64::from(seg.duration_ms)).unwrap_or(0),
            );
            if let Some(wait) = due.checked_sub(wall.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            if camera.jammed.load(Ordering::SeqCst) {
                println!("jammed at {t:.1} s: the camera sends nothing more");
                break;
            }
        }
        let counter = first_counter + i as u64;
        let info = SegmentInfo {
            camera_id: camera.id,
            counter,
            start: clock_start + seg.start_ms,
            duration_ms: seg.duration_ms,
            prev_hash: prev,
            content_hash: Sha256::digest(&footage).into(),
            visit: camera.visit(),
        }
        .sign(&camera.key);
        prev = info.hash();
        let body = [info.encode().to_vec(), footage].concat();
        let (status, answer) = client.post(PATH, "application/octet-stream", body).await?;
        summary.sent += 1;
        write_chain(&chain_file, counter + 1, &prev)?;
        *camera.newest.lock().unwrap_or_else(|p| p.into_inner()) = (counter, prev);
        if !status.is_success() {
            let detail = answer["detail"].as_str().unwrap_or("no detail");
            bail!("segment {i} at {t:.1} s was refused ({status}): {detail}");
        }
        if answer["kept"] == true {
            summary.kept += 1;
        }
        let flags = answer["flags"].as_array().map_or(0, Vec::len);
        if flags > 0 {
            summary.flagged += 1;
            if options.verbose {
                println!("segment {i} at {t:.1} s flagged: {}", answer["flags"]);
            }
        }
    }
    if let Some(path) = &options.save {
        std::fs::write(path, &saved).with_context(|| format!("cannot write {}", path.display()))?;
        println!("saved {} bytes of H.264 to {}", saved.len(), path.display());
    }
    Ok(summary)
}

// ---- the local link ------------------------------------------------------------------------

#[derive(Deserialize)]
struct AttestRequest {
    /// Hex of the lock's 32-byte challenge.
    challenge: String,
    /// Hex of the grant's 16-byte id: segments carry it while the visit is open.
    grant_id: String,
}

/// Serves the lock's requests: `POST /attest` and `POST /visit/end`.
pub async fn serve_link(camera: Arc<Camera>, listener: tokio::net::TcpListener) {
    let app = axum::Router::new()
        .route("/attest", axum::routing::post(attest))
        .route("/visit/end", axum::routing::post(visit_end))
        .with_state(camera);
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("the camera's local link stopped: {e}");
    }
}

async fn attest(
    State(camera): State<Arc<Camera>>,
    Json(req): Json<AttestRequest>,
) -> (StatusCode, Json<Value>) {
    if camera.jammed.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "the camera is jammed" })),
        );
    }
    let mut challenge = [0u8; 32];
    let mut grant_id = [0u8; 16];
    if hex::decode_to_slice(&req.challenge, &mut challenge).is_err()
        || hex::decode_to_slice(&req.grant_id, &mut grant_id).is_err()
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "challenge must be 64 hex digits and grant_id 32" })),
        );
    }
    let (newest_counter, newest_hash) = *camera.newest.lock().unwrap_or_else(|p| p.into_inner());
    let attestation = AttestationInfo {
        camera_id: camera.id,
        challenge,
        at: now_ms(),
        newest_counter,
        newest_hash,
    }
    .sign(&camera.key);
    *camera.visit.lock().unwrap_or_else(|p| p.into_inner()) = Some(VisitTag {
        grant_id,
        challenge,
    });
    (
        StatusCode::OK,
        Json(json!({ "attestation": B64.encode(attestation.encode()) })),
    )
}

async fn visit_end(State(camera): State<Arc<Camera>>) -> StatusCode {
    *camera.visit.lock().unwrap_or_else(|p| p.into_inner()) = None;
    StatusCode::NO_CONTENT
}

/// The H.264 the camera sends for segment `i`, attacked or not.
fn footage_for(
    attack: &Option<Attack>,
    segments: &[ClipSegment],
    i: usize,
    frozen: &mut Option<Vec<u8>>,
    width: u16,
    height: u16,
) -> anyhow::Result<Vec<u8>> {
    let seg = &segments[i];
    let t = seg.start_ms as f64 / 1000.0;
    match attack {
        Some(a @ Attack::Freeze { .. }) if a.covers(t) => {
            if frozen.is_none() {
                let before = &segments[i.saturating_sub(1)];
                *frozen = Some(before.h264.clone());
            }
            let source = frozen.as_ref().map_or(&seg.h264, |f| f);
            synthetic::held(source, seg.pictures).map_err(anyhow::Error::msg)
        }
        Some(a @ Attack::Cover { .. }) if a.covers(t) => {
            synthetic::dark(width, height, seg.pictures).map_err(anyhow::Error::msg)
        }
        Some(a @ Attack::Replay { .. }) if a.covers(t) => {
            // The clip's opening, segment for segment.
            let first = segments
                .iter()
                .position(|s| s.start_ms as f64 / 1000.0 >= a.start())
                .unwrap_or(i);
            Ok(segments[(i - first) % segments.len()].h264.clone())
        }
        _ => Ok(seg.h264.clone()),
    }
}

/// Where a simulated camera keeps its chain: beside its key.
fn chain_path(key_file: &std::path::Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".chain");
    PathBuf::from(name)
}

/// The next counter and the last segment's hash, `(0, zeros)` for a new camera.
fn read_chain(path: &std::path::Path) -> anyhow::Result<(u64, [u8; 32])> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, [0; 32])),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let bad = || {
        format!(
            "{} must hold `COUNTER HASH`; delete it to start a new chain",
            path.display()
        )
    };
    let (counter, hash) = text.trim().split_once(' ').with_context(bad)?;
    let counter = counter.parse().with_context(bad)?;
    let mut prev = [0u8; 32];
    hex::decode_to_slice(hash, &mut prev).with_context(bad)?;
    Ok((counter, prev))
}

fn write_chain(path: &std::path::Path, next: u64, prev: &[u8; 32]) -> anyhow::Result<()> {
    let tmp = path.with_extension("chain.tmp");
    std::fs::write(&tmp, format!("{next} {}\n", hex::encode(prev)))
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
}
