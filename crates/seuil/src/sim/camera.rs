//! `seuil sim camera`: a camera that streams a real clip to a Seuil server as signed segments,
//! and can be made to freeze, go dark, replay old footage or fall silent.

use super::attack::Attack;
use anyhow::{Context, bail};
use base64::Engine;
use clap::Args;
use ed25519_dalek::{Signer, SigningKey};
use seuil_delivery::footage::segments::{self, ClipSegment};
use seuil_delivery::footage::synthetic;
use seuil_proto::{SegmentInfo, camera_id};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
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
    #[arg(long)]
    video: PathBuf,
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
}

pub async fn run(args: CameraArgs) -> anyhow::Result<()> {
    let key = read_key(&args.key_file)?;
    let data = tokio::fs::read(&args.video)
        .await
        .with_context(|| format!("cannot read {}", args.video.display()))?;
    let cut =
        segments::cut(&data).with_context(|| format!("cannot cut {}", args.video.display()))?;
    if cut.segments.is_empty() {
        bail!("{} has no pictures", args.video.display());
    }
    if args.server.is_none() && args.save.is_none() {
        bail!("give a --server to stream to, or --save FILE to write the footage, or both");
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = args
        .server
        .as_deref()
        .map(|s| format!("{}{PATH}", s.trim_end_matches('/')));
    let mut saved = Vec::new();
    let id = camera_id(key.verifying_key().as_bytes());
    let clock_start = now_ms();
    let wall = Instant::now();
    // A camera never reuses a counter: it carries its chain on from its last run.
    let chain_file = chain_path(&args.key_file);
    let (first_counter, mut prev) = read_chain(&chain_file)?;
    let (mut sent, mut kept, mut flagged) = (0u64, 0u64, 0u64);
    let mut frozen: Option<Vec<u8>> = None;
    for (i, seg) in cut.segments.iter().enumerate() {
        let t = seg.start_ms as f64 / 1000.0;
        if matches!(args.attack, Some(a @ Attack::Jam { .. }) if a.covers(t)) {
            println!("jammed at {t:.1} s: the camera sends nothing more");
            break;
        }
        let footage = footage_for(
            &args.attack,
            &cut.segments,
            i,
            &mut frozen,
            cut.width,
            cut.height,
        )?;
        if args.save.is_some() {
            saved.extend_from_slice(&footage);
        }
        let (Some(url), Some(device)) = (&url, &args.device) else {
            continue;
        };
        if !args.fast {
            let due = Duration::from_millis(
                u64::try_from(seg.start_ms + i64::from(seg.duration_ms)).unwrap_or(0),
            );
            if let Some(wait) = due.checked_sub(wall.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let info = SegmentInfo {
            camera_id: id,
            counter: first_counter + i as u64,
            start: clock_start + seg.start_ms,
            duration_ms: seg.duration_ms,
            prev_hash: prev,
            content_hash: Sha256::digest(&footage).into(),
            visit: None,
        }
        .sign(&key);
        prev = info.hash();
        let body = [info.encode().to_vec(), footage].concat();
        let ts = now_ms();
        let message = format!("POST\n{PATH}\n{ts}\n{}", hex::encode(Sha256::digest(&body)));
        let signature = base64::engine::general_purpose::STANDARD
            .encode(key.sign(message.as_bytes()).to_bytes());
        let res = client
            .post(url)
            .header("seuil-device", device)
            .header("seuil-timestamp", ts.to_string())
            .header("seuil-signature", signature)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = res.status();
        let answer: serde_json::Value = res.json().await.unwrap_or_default();
        sent += 1;
        write_chain(&chain_file, first_counter + i as u64 + 1, &prev)?;
        if !status.is_success() {
            let detail = answer["detail"].as_str().unwrap_or("no detail");
            bail!("segment {i} at {t:.1} s was refused ({status}): {detail}");
        }
        if answer["kept"] == true {
            kept += 1;
        }
        let flags = answer["flags"].as_array().map_or(0, Vec::len);
        if flags > 0 {
            flagged += 1;
            println!("segment {i} at {t:.1} s flagged: {}", answer["flags"]);
        }
    }
    if let Some(path) = &args.save {
        std::fs::write(path, &saved).with_context(|| format!("cannot write {}", path.display()))?;
        println!("saved {} bytes of H.264 to {}", saved.len(), path.display());
    }
    if url.is_some() {
        println!("sent {sent} segments: {kept} kept, {flagged} flagged");
    }
    Ok(())
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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn read_key(path: &std::path::Path) -> anyhow::Result<SigningKey> {
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

/// Writes a new camera key to `out` and returns the public key in base64, to register.
pub fn keygen(out: &std::path::Path) -> anyhow::Result<String> {
    use rand::RngCore;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    seuil_vault::kek::write_new_secret(out, hex::encode(seed).as_bytes())
        .with_context(|| format!("cannot create {} (it must not exist yet)", out.display()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes()))
}
