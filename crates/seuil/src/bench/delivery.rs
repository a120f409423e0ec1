//! `seuil bench delivery`: what a lock spends deciding an unlock, and what footage analysis
//! costs on top of decoding the same clip.

use super::{progress, round2, thread_cpu};
use anyhow::Context;
use clap::Args;
use ed25519_dalek::SigningKey;
use seuil_delivery::footage::{Analyzer, decode};
use seuil_lock::{Lock, LockConfig, LockState, Outcome};
use seuil_proto::{AttestationInfo, CourierProof, GrantBody, Permissions, key_hash};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct DeliveryArgs {
    /// Print exactly one JSON object with the figures (null for one not measured yet).
    #[arg(long)]
    json: bool,
    /// A camera clip (MP4 with H.264) for the footage figures.
    #[arg(
        long,
        default_value = "../shared/data/video/one-by-one-person-detection.mp4"
    )]
    video: PathBuf,
    /// Unlock attempts to time.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    unlocks: u32,
    /// Camera streams sending segments at once, for the ingestion figure.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    streams: u32,
    /// Segments each stream sends.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    segments: u32,
    /// Bytes of footage in each segment (about a second of 768x432 H.264).
    #[arg(long, default_value_t = 100 * 1024)]
    segment_bytes: usize,
    /// Work in this folder (new or empty) instead of a temporary one; what the benchmark
    /// creates in it is removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Visits open at once for the alarm figure, each with its camera falling silent.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=500))]
    visits: u32,
    /// Rounds of decoding and of analysis, alternating; each keeps its best.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
}

pub async fn run(args: DeliveryArgs) -> anyhow::Result<()> {
    // Checked before any work: a folder that is not the benchmark's to clear is refused.
    let work = super::WorkDir::new(args.dir.clone(), "seuil-bench-delivery")?;
    let dir = work.path().to_owned();
    let unlocks = args.unlocks;
    progress(&format!(
        "timing {unlocks} unlock attempts, and as many plain signature checks"
    ));
    let (unlock, with_camera, plain) = tokio::task::spawn_blocking(move || {
        anyhow::Ok((
            unlock_verify(unlocks, false)?,
            unlock_verify(unlocks, true)?,
            plain_verify(unlocks)?,
        ))
    })
    .await??;
    let unlock_us = unlock.cpu_us;
    progress(&format!(
        "ingesting {} segments of {} KiB from each of {} cameras",
        args.segments,
        args.segment_bytes / 1024,
        args.streams
    ));
    let ingestion = ingestion(
        &dir.join("ingestion"),
        args.streams,
        args.segments,
        args.segment_bytes,
    )
    .await;
    progress(&format!(
        "{} visits open, each camera falling silent",
        args.visits
    ));
    let alarms = super::alarm::measure(&dir.join("alarms"), args.visits as usize).await;
    drop(work);
    let segments_per_s = ingestion?;
    let alarms = alarms?;
    let data = tokio::fs::read(&args.video).await.with_context(|| {
        format!(
            "cannot read the clip {} (pass another with --video)",
            args.video.display()
        )
    })?;
    let rounds = args.rounds;
    let footage = tokio::task::spawn_blocking(move || footage(&data, rounds)).await??;
    let x_realtime = footage.seconds / footage.analysis.as_secs_f64();
    let ratio = footage.analysis.as_secs_f64() / footage.decode.as_secs_f64();
    if args.json {
        let object = serde_json::json!({
            "unlock_verify_us": round2(unlock_us),
            "segments_per_s": segments_per_s.round() as u64,
            "decode_x_realtime_per_core": round2(footage.seconds / footage.decode.as_secs_f64()),
            "analysis_x_realtime_per_core": round2(x_realtime),
            "analysis_to_decode_ratio": round2(ratio),
            "alarm_p99_s": round2(alarms.p99()),
        });
        println!("{object}");
        return Ok(());
    }
    println!("seuil bench delivery");
    println!(
        "  unlock verification   {unlock_us:>8.1} us of CPU per attempt (median): grant and courier proof, {:.2}x one plain Ed25519 check ({:.1} us) (target < 100 us)",
        unlock.cpu_us / plain.cpu_us,
        plain.cpu_us
    );
    println!(
        "                        {:>8.1} us with a camera attestation too (a third signature); means {:.1} and {:.1} us of CPU, {:.1} and {:.1} us of wall time",
        with_camera.cpu_us,
        unlock.cpu_mean_us,
        with_camera.cpu_mean_us,
        unlock.wall_mean_us,
        with_camera.wall_mean_us
    );
    println!(
        "  footage analysis      {x_realtime:>8.1}x real time on one core, {:.2}x pure decoding of the same clip (targets >= 20x, <= 1.5x)",
        ratio
    );
    println!(
        "                        {} pictures, {:.1} s of {}x{} footage; decoding {:.2} s, decoding and analysis {:.2} s of CPU (best of {})",
        footage.frames,
        footage.seconds,
        footage.width,
        footage.height,
        footage.decode.as_secs_f64(),
        footage.analysis.as_secs_f64(),
        args.rounds
    );
    println!(
        "  segment ingestion     {segments_per_s:>8.0} segments/s of {} KiB from {} cameras at once: verify, seal, store (target >= 200/s)",
        args.segment_bytes / 1024,
        args.streams
    );
    println!(
        "  alarm latency         {:>8.2} s p99, {:.2} s median, from a camera's last footage to its owner's event stream, {} visits at once (target <= 3 s)",
        alarms.p99(),
        alarms.p50(),
        args.visits
    );
    println!(
        "                        of which {:.2} s is the silence that defines the alarm; a plain push on the same streams takes {:.1} ms p99 ({:.0}x less than the alarm beyond that silence)",
        seuil_delivery::alarms::SILENCE_MS as f64 / 1000.0,
        alarms.push_p99() * 1000.0,
        ((alarms.p99() - seuil_delivery::alarms::SILENCE_MS as f64 / 1000.0)
            / alarms.push_p99().max(1e-6))
        .max(0.0)
    );
    Ok(())
}

/// Time of one step, in microseconds.
#[derive(Clone, Copy)]
struct PerAttempt {
    /// Median CPU time of the thread doing it: what a lock's processor spends. The step does
    /// the same work every time, so what varies is the machine running the benchmark (other
    /// tenants' bursts), which the median leaves out and the mean does not.
    cpu_us: f64,
    cpu_mean_us: f64,
    wall_mean_us: f64,
}

/// Times `step` run `n` times; `prepare` makes each run's input outside the timing.
fn per_attempt<T>(
    n: u32,
    mut prepare: impl FnMut(u64) -> T,
    mut step: impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<PerAttempt> {
    let mut cpu = Vec::with_capacity(n as usize);
    let mut wall = Duration::ZERO;
    for i in 0..u64::from(n) {
        let input = prepare(i);
        let (cpu_start, wall_start) = (thread_cpu(), Instant::now());
        step(input)?;
        wall += wall_start.elapsed();
        cpu.push(thread_cpu().saturating_sub(cpu_start));
    }
    cpu.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean_us = |d: Duration| us(d) / f64::from(n);
    Ok(PerAttempt {
        cpu_us: us(cpu[cpu.len() / 2]),
        cpu_mean_us: mean_us(cpu.iter().sum()),
        wall_mean_us: mean_us(wall),
    })
}

/// `Lock::try_unlock` for attempts that open, each with its own grant, fresh challenge,
/// courier proof and, if `with_camera`, camera attestation (made outside the timing: the phone
/// and the camera make them, not the lock).
fn unlock_verify(attempts: u32, with_camera: bool) -> anyhow::Result<PerAttempt> {
    let issuer = SigningKey::from_bytes(&[1; 32]);
    let camera = SigningKey::from_bytes(&[2; 32]);
    let courier = SigningKey::from_bytes(&[3; 32]);
    let lock_id = [7; 16];
    let config = LockConfig::new(lock_id, [9; 32])
        .with_issuer(*b"bench-is", issuer.verifying_key().as_bytes())?
        .with_camera(camera.verifying_key().as_bytes())?;
    let lock = std::cell::RefCell::new(Lock::new(config, LockState::default()));
    let now = 1_800_000_000_000;
    per_attempt(
        attempts,
        |sequence| {
            let grant = GrantBody {
                lock_id,
                grant_id: [0; 16],
                courier_key: courier.verifying_key().to_bytes(),
                not_before: now - 60_000,
                not_after: now + 60_000,
                epoch: 0,
                sequence,
                permissions: if with_camera {
                    Permissions::DOOR | Permissions::CAMERA_PROOF_REQUIRED
                } else {
                    Permissions::DOOR
                },
                camera_key_hash: key_hash(camera.verifying_key().as_bytes()),
                issuer_key_id: *b"bench-is",
            }
            .sign(&issuer);
            let challenge = lock.borrow_mut().challenge(now);
            let proof = CourierProof::sign(&grant, &challenge, &courier).encode();
            let attestation = AttestationInfo {
                camera_id: [4; 16],
                challenge,
                at: now,
                newest_counter: sequence,
                newest_hash: [5; 32],
            }
            .sign(&camera)
            .encode();
            (grant.encode(), proof, attestation)
        },
        |(grant, proof, attestation)| {
            let mut lock = lock.borrow_mut();
            let outcome =
                lock.try_unlock(&grant, &proof, with_camera.then_some(&attestation[..]), now);
            anyhow::ensure!(
                matches!(outcome, Outcome::Unlocked { .. }),
                "an honest unlock was refused: {outcome:?}"
            );
            lock.relock(now);
            Ok(())
        },
    )
}

/// The baseline: one plain Ed25519 verification of a message as long as a grant's.
fn plain_verify(attempts: u32) -> anyhow::Result<PerAttempt> {
    use ed25519_dalek::{Signer, Verifier};
    let key = SigningKey::from_bytes(&[1; 32]);
    let public = key.verifying_key();
    per_attempt(
        attempts,
        |i| {
            let mut message = [0u8; seuil_proto::GRANT_BODY_LEN];
            message[..8].copy_from_slice(&i.to_be_bytes());
            let signature = key.sign(&message);
            (message, signature)
        },
        |(message, signature)| Ok(public.verify(&message, &signature)?),
    )
}

/// Segments per second taken in (verified, sealed under each customer's key, stored) from
/// `streams` cameras sending at once, each waiting for its previous segment's answer.
async fn ingestion(
    dir: &std::path::Path,
    streams: u32,
    segments: u32,
    segment_bytes: usize,
) -> anyhow::Result<f64> {
    use rand::RngCore;
    use seuil_delivery::camera::{Keep, PairedCamera, ingest};
    use seuil_proto::SegmentInfo;
    use seuil_vault::Actor;
    use sha2::{Digest, Sha256};

    let vault = super::open_vault(dir).await?;
    let mut rng = rand::thread_rng();
    let mut cameras = Vec::new();
    for n in 0..streams {
        let customer = vault.create_subject().await?;
        vault
            .grant_consent(
                &Actor::Subject(customer.clone()),
                &customer,
                "delivery.video",
            )
            .await?;
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&n.to_be_bytes());
        // What the camera sends, made before the clock starts: the camera signs, not us.
        let mut prev = [0u8; 32];
        let mut sent = Vec::new();
        for counter in 0..u64::from(segments) {
            let mut footage = vec![0u8; segment_bytes];
            rng.fill_bytes(&mut footage);
            let seg = SegmentInfo {
                camera_id: id,
                counter,
                start: 1_800_000_000_000 + 1_000 * counter as i64,
                duration_ms: 1_000,
                prev_hash: prev,
                content_hash: Sha256::digest(&footage).into(),
                visit: None,
            }
            .sign(&key);
            prev = seg.hash();
            sent.push((seg.encode().to_vec(), bytes::Bytes::from(footage)));
        }
        let camera = PairedCamera {
            id,
            key: key.verifying_key(),
            device: format!("camera-{n}"),
            subject: customer,
        };
        cameras.push((camera, sent));
    }
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (camera, sent) in cameras {
        let vault = vault.clone();
        tasks.spawn(async move {
            for (header, footage) in sent {
                let got = ingest(&vault, &camera, &header, footage, &|_| Keep::Visit).await?;
                anyhow::ensure!(
                    got.kept && got.flags.is_empty(),
                    "a clean segment was flagged: {got:?}"
                );
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = start.elapsed();
    Ok(f64::from(streams * segments) / elapsed.as_secs_f64())
}

struct FootageFigures {
    frames: usize,
    seconds: f64,
    width: usize,
    height: usize,
    /// CPU time of the best decoding-only pass and of the best decoding-and-analysis pass.
    decode: Duration,
    analysis: Duration,
}

/// Decodes the clip alone and with analysis, alternating, on this one thread.
fn footage(data: &[u8], rounds: u32) -> anyhow::Result<FootageFigures> {
    let mut best_decode: Option<Duration> = None;
    let mut best_analysis: Option<Duration> = None;
    let (mut frames, mut seconds, mut size) = (0, 0.0, (0, 0));
    for round in 1..=rounds {
        progress(&format!(
            "round {round}/{rounds}: decoding the clip, then decoding and analysing it"
        ));
        let before = thread_cpu();
        let mut checksum = 0u64;
        let decoded = decode::decode_mp4(data, |p| {
            // Touch the picture as analysis would, so neither pass skips work.
            checksum = checksum.wrapping_add(u64::from(p.luma.data[p.luma.data.len() / 2]));
            size = (p.luma.width, p.luma.height);
        })?;
        std::hint::black_box(checksum);
        let decode = thread_cpu() - before;

        let before = thread_cpu();
        let mut analyzer = Analyzer::default();
        let decoded_too = decode::decode_mp4(data, |p| analyzer.push(p))?;
        let report = analyzer.finish(decoded_too.seconds);
        let analysis = thread_cpu() - before;
        anyhow::ensure!(
            report.frames == decoded.frames,
            "analysis saw {} pictures, decoding {}",
            report.frames,
            decoded.frames
        );
        (frames, seconds) = (decoded.frames, decoded.seconds);
        best_decode = Some(best_decode.map_or(decode, |b| b.min(decode)));
        best_analysis = Some(best_analysis.map_or(analysis, |b| b.min(analysis)));
    }
    let (decode, analysis) = (
        best_decode.context("no round ran")?,
        best_analysis.context("no round ran")?,
    );
    anyhow::ensure!(
        !decode.is_zero() && !analysis.is_zero(),
        "the clip is too short to time; pass a longer one with --video"
    );
    Ok(FootageFigures {
        frames,
        seconds,
        width: size.0,
        height: size.1,
        decode,
        analysis,
    })
}
