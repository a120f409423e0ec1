//! `seuil bench vault`: the privacy kernel on SQLite against plain SQLite in the same run.

use super::{process_cpu, progress, round2};
use anyhow::Context;
use clap::Args;
use futures_util::{StreamExt, stream};
use rand::{Rng, RngCore, SeedableRng, seq::SliceRandom};
use seuil_store::{DynStore, IndexFields, LocalBlobs, NewRecord, SqliteStore};
use seuil_vault::{Actor, AuditEvent, FileKek, Outcome, Vault, VaultConfig, Write, merkle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct VaultArgs {
    /// Print exactly one JSON object with the figures.
    #[arg(long)]
    json: bool,
    /// Records of 1 KiB to seal and open.
    #[arg(long, default_value_t = 20_000)]
    records: usize,
    /// Audit log size for the inclusion-proof figure.
    #[arg(long, default_value_t = 1_000_000)]
    log_size: u64,
    /// Concurrent requests in flight, as a server under load would have. Audits are group
    /// committed, so throughput grows with it until the CPU is the limit.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Rounds of audited opens and plain reads, alternating; each side keeps its best round,
    /// so that a noisy machine slows both sides alike instead of whichever ran second.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// MiB of media in the subject whose export is measured (its memory and speed).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    export_mib: u32,
    /// Work in this folder (new or empty) instead of a temporary one; what the benchmark
    /// creates in it is removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
}

struct Figures {
    opens_per_s: f64,
    open_ratio: f64,
    plain_reads_per_s: f64,
    /// CPU time of the whole process per operation, where the platform reports it.
    open_cpu_us: f64,
    plain_read_cpu_us: f64,
    seals_per_s: f64,
    seal_ratio: f64,
    plain_writes_per_s: f64,
    erase_ms_10: f64,
    erase_ms_10000: f64,
    inclusion_proof_us: f64,
    log_size: u64,
    export: Export,
}

pub async fn run(args: VaultArgs) -> anyhow::Result<()> {
    let work = super::WorkDir::new(args.dir.clone(), "seuil-bench-vault")?;
    let result = measure(&args, work.path()).await;
    drop(work);
    let f = result?;
    if args.json {
        let object = serde_json::json!({
            "audited_opens_per_s": f.opens_per_s.round() as u64,
            "open_ratio": round2(f.open_ratio),
            "seals_per_s": f.seals_per_s.round() as u64,
            "seal_ratio": round2(f.seal_ratio),
            "erase_ms_10": round2(f.erase_ms_10),
            "erase_ms_10000": round2(f.erase_ms_10000),
            "inclusion_proof_us": round2(f.inclusion_proof_us),
            "export_mib": f.export.mib,
            "export_peak_rss_mib": round2(f.export.peak_rss_mib),
            "export_mib_per_s": round2(f.export.mib_per_s),
        });
        println!("{object}");
    } else {
        println!(
            "seuil bench vault (SQLite, {} records of 1 KiB, {} in flight)",
            args.records, args.concurrency
        );
        println!(
            "  audited opens      {:>9.0}/s   plain SQLite reads {:>9.0}/s   ratio {:.2} (target >= 20000/s, ratio <= 3)",
            f.opens_per_s, f.plain_reads_per_s, f.open_ratio
        );
        println!(
            "                     CPU {:>6.1} us each      CPU {:>6.1} us each        ratio {:.2} (best rounds of {})",
            f.open_cpu_us,
            f.plain_read_cpu_us,
            f.open_cpu_us / f.plain_read_cpu_us,
            args.rounds
        );
        println!(
            "  seal and store     {:>9.0}/s   plain SQLite writes {:>8.0}/s   ratio {:.2}",
            f.seals_per_s, f.plain_writes_per_s, f.seal_ratio
        );
        println!(
            "  erasure            {:>9.2} ms for 10 records   {:>6.2} ms for 10,000 records + 100 MB media (target < 50 ms, flat)",
            f.erase_ms_10, f.erase_ms_10000
        );
        println!(
            "  inclusion proof    {:>9.1} us from a log of {} events (target < 1000 us)",
            f.inclusion_proof_us, f.log_size
        );
        println!(
            "  export             {:>9.1} MiB of memory above the process's before it, for {} MiB of media, at {:.0} MiB/s (target < 200 MiB)",
            f.export.peak_rss_mib, f.export.mib, f.export.mib_per_s
        );
    }
    Ok(())
}

async fn measure(args: &VaultArgs, dir: &std::path::Path) -> anyhow::Result<Figures> {
    let store: DynStore = Arc::new(SqliteStore::open(&dir.join("seuil.db"))?);
    let blobs = Arc::new(LocalBlobs::new(dir.join("blobs"))?);
    let vault = Arc::new(
        Vault::new(
            store.clone(),
            blobs,
            &FileKek::new(dir.join("kek.key")),
            VaultConfig::default(),
        )
        .await?,
    );
    let mut rng = rand::rngs::StdRng::from_entropy();
    let n = args.records.max(1);
    let c = args.concurrency.max(1);

    let mut subjects = Vec::new();
    for _ in 0..100 {
        subjects.push(vault.create_subject().await?);
    }
    let mut body = vec![0u8; 1024];
    rng.fill_bytes(&mut body);
    let body = Arc::new(body);

    progress(&format!("sealing {n} records, then writing {n} plain rows"));
    let seal_time = timed(n, c, |i| {
        let subject = subjects[i % subjects.len()].clone();
        seal_one(vault.clone(), body.clone(), subject, format!("r{i}"))
    })
    .await?;
    let plain_write_time = timed(n, c, |i| {
        let (store, body, subject) = (
            store.clone(),
            body.clone(),
            subjects[i % subjects.len()].clone(),
        );
        async move {
            let rec = NewRecord {
                kind: "plain".into(),
                id: format!("p{i}"),
                subject,
                index: IndexFields::default(),
                body: body.to_vec(),
                retain_until: None,
            };
            store.insert(&rec).await.map_err(anyhow::Error::from)
        }
    })
    .await?;

    // Both sides read the same rows in the same random order: the sealed records, opened
    // with audit through the vault, then fetched as stored.
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let order = Arc::new(order);
    let (mut open_best, mut read_best): (Option<Timing>, Option<Timing>) = (None, None);
    for round in 1..=args.rounds {
        progress(&format!(
            "round {round}/{}: opening {n} records with audit, then reading the same {n} rows",
            args.rounds
        ));
        // Each side starts on a settled store, so neither is timed with the other's leftover
        // background work (the checkpoint of the log the opens wrote would slow the reads).
        tokio::time::sleep(ROUND_SETTLE).await;
        let open = timed(n, c, |i| {
            let (vault, j) = (vault.clone(), order[i]);
            let actor = Actor::Subject(subjects[j % subjects.len()].clone());
            async move {
                let opened = vault
                    .open(&actor, "account", "bench", &format!("r{j}"))
                    .await?;
                anyhow::ensure!(opened.body.len() == 1024, "wrong body length");
                Ok(())
            }
        })
        .await?;
        tokio::time::sleep(ROUND_SETTLE).await;
        let read = timed(n, c, |i| {
            let (store, j) = (store.clone(), order[i]);
            async move {
                let rec = store
                    .get("bench", &format!("r{j}"))
                    .await?
                    .context("row missing")?;
                // Sealed: 1 KiB, its nonce and its tag.
                anyhow::ensure!(rec.body.len() > 1024, "wrong body length");
                Ok(())
            }
        })
        .await?;
        open_best = Some(open.best(open_best));
        read_best = Some(read.best(read_best));
    }
    let (open, read) = (
        open_best.context("no round ran")?,
        read_best.context("no round ran")?,
    );

    progress("erasure: a subject with 10 records, and one with 10,000 records and 100 MB of media");
    let small = vault.create_subject().await?;
    let large = vault.create_subject().await?;
    fill_subject(&vault, &small, 10, 0, &body, c).await?;
    fill_subject(&vault, &large, 10_000, 100, &body, c).await?;
    // Both erasures start from a settled store: right after a 100 MB burst the background
    // checkpoint is still flushing the database file, and its fsyncs would be timed too.
    tokio::time::sleep(SETTLE).await;
    let erase_ms_10 = erase_timed(&vault, &small).await?;
    tokio::time::sleep(SETTLE).await;
    let erase_ms_10000 = erase_timed(&vault, &large).await?;

    let size = store.audit_size().await?;
    if size < args.log_size {
        progress(&format!(
            "growing the audit log from {size} to {} events",
            args.log_size
        ));
        grow_log(&vault, &subjects, args.log_size - size).await?;
    }
    let cp = vault.checkpoint().await?;
    progress(&format!(
        "timing inclusion proofs against a checkpoint of {} events",
        cp.size
    ));
    let samples = 2_000;
    let indexes: Vec<u64> = (0..samples).map(|_| rng.gen_range(0..cp.size)).collect();
    let start = Instant::now();
    let mut proofs = Vec::with_capacity(samples);
    for &index in &indexes {
        proofs.push(vault.inclusion_proof(index, cp.size).await?);
    }
    let proof_time = start.elapsed();
    // Check the proofs outside the timing: a fast wrong answer is not a result.
    let leaves = store.audit_leaves(indexes[0], indexes[0] + 1).await?;
    merkle::verify_inclusion(
        &leaves[0].leaf_hash,
        indexes[0],
        cp.size,
        &proofs[0],
        &cp.root,
    )
    .map_err(|e| anyhow::anyhow!("inclusion proof does not verify: {e}"))?;

    progress(&format!(
        "exporting a subject with {} MiB of media",
        args.export_mib
    ));
    let export = export_timed(&vault, args.export_mib, c).await?;

    let per_s = |t: &Timing| n as f64 / t.wall.as_secs_f64();
    let cpu_us = |t: &Timing| t.cpu.as_secs_f64() * 1e6 / n as f64;
    Ok(Figures {
        opens_per_s: per_s(&open),
        open_ratio: open.wall.as_secs_f64() / read.wall.as_secs_f64(),
        plain_reads_per_s: per_s(&read),
        open_cpu_us: cpu_us(&open),
        plain_read_cpu_us: cpu_us(&read),
        seals_per_s: per_s(&seal_time),
        seal_ratio: seal_time.wall.as_secs_f64() / plain_write_time.wall.as_secs_f64(),
        plain_writes_per_s: per_s(&plain_write_time),
        erase_ms_10,
        erase_ms_10000,
        inclusion_proof_us: proof_time.as_secs_f64() * 1e6 / samples as f64,
        log_size: cp.size,
        export,
    })
}

struct Export {
    mib: u32,
    /// The most resident memory the process held during the export, above what it held
    /// before (the archive is streamed: this is its working set, not its size).
    peak_rss_mib: f64,
    mib_per_s: f64,
}

/// The process's resident memory now, in MiB (Linux; 0 elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Exports a subject holding `mib` MiB of media into a sink that drops the bytes, sampling
/// the process's memory meanwhile.
async fn export_timed(vault: &Arc<Vault>, mib: u32, _concurrency: usize) -> anyhow::Result<Export> {
    const MEDIUM_MIB: u32 = 16;
    let subject = vault.create_subject().await?;
    let me = seuil_vault::Actor::Subject(subject.clone());
    for i in 0..mib.div_ceil(MEDIUM_MIB) {
        let id = format!("clip-{i}");
        let w = seuil_vault::Write {
            kind: "clip",
            id: &id,
            subject: &subject,
            index: seuil_store::IndexFields::default(),
            body: b"{}",
        };
        vault.seal(&me, "account", w).await?;
        let size = MEDIUM_MIB.min(mib - i * MEDIUM_MIB) as usize;
        let chunks =
            (0..size).map(move |c| Ok(bytes::Bytes::from(vec![(i as usize + c) as u8; 1 << 20])));
        vault
            .seal_blob(
                &me,
                "account",
                &subject,
                "clip",
                &id,
                Box::pin(futures_util::stream::iter(chunks)),
            )
            .await?;
    }
    tokio::time::sleep(SETTLE).await;
    let before = rss_mib();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0.0f64;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_mib());
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        })
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let drain = tokio::spawn(async move {
        let mut n = 0usize;
        while let Some(chunk) = rx.recv().await {
            let chunk: bytes::Bytes = chunk;
            n += chunk.len();
        }
        n
    });
    let start = Instant::now();
    vault.export_into(&me, &subject, &|_, _| {}, &tx).await?;
    drop(tx);
    let bytes = drain.await?;
    let elapsed = start.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap_or_default();
    anyhow::ensure!(
        bytes >= mib as usize * (1 << 20),
        "the export held {bytes} bytes, less than its media"
    );
    Ok(Export {
        mib,
        peak_rss_mib: (peak - before).max(0.0),
        mib_per_s: f64::from(mib) / elapsed.as_secs_f64(),
    })
}

/// Time for background work (WAL checkpoints) after a burst of writes to finish.
const SETTLE: Duration = Duration::from_secs(2);
/// Time for the checkpoint after a round of opens (one every 50 ms while writes go on).
const ROUND_SETTLE: Duration = Duration::from_millis(300);

/// How long a measured run took.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    /// CPU time of the whole process (every thread) meanwhile.
    cpu: Duration,
}

impl Timing {
    /// The faster of this run and `other`.
    fn best(self, other: Option<Timing>) -> Timing {
        match other {
            Some(o) if o.wall < self.wall => o,
            _ => self,
        }
    }
}

/// Runs `n` operations with `c` in flight.
async fn timed<F, Fut>(n: usize, c: usize, op: F) -> anyhow::Result<Timing>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let cpu_before = process_cpu();
    let start = Instant::now();
    let mut results = stream::iter(0..n)
        .map(|i| tokio::spawn(op(i)))
        .buffer_unordered(c);
    while let Some(joined) = results.next().await {
        joined??;
    }
    let wall = start.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_before);
    Ok(Timing { wall, cpu })
}

async fn fill_subject(
    vault: &Arc<Vault>,
    subject: &str,
    records: usize,
    media_mb: usize,
    body: &Arc<Vec<u8>>,
    c: usize,
) -> anyhow::Result<()> {
    timed(records, c, |i| {
        seal_one(
            vault.clone(),
            body.clone(),
            subject.to_owned(),
            format!("{subject}-{i}"),
        )
    })
    .await?;
    for m in 0..media_mb {
        let chunk = bytes::Bytes::from(vec![m as u8; 1 << 20]);
        let media = stream::iter([Ok(chunk)]).boxed();
        vault
            .seal_blob(
                &Actor::Subject(subject.to_owned()),
                "account",
                subject,
                "clip",
                &m.to_string(),
                media,
            )
            .await?;
    }
    Ok(())
}

/// Seals one 1 KiB record as its own subject would.
async fn seal_one(
    vault: Arc<Vault>,
    body: Arc<Vec<u8>>,
    subject: String,
    id: String,
) -> anyhow::Result<()> {
    let w = Write {
        kind: "bench",
        id: &id,
        subject: &subject,
        index: IndexFields::default(),
        body: &body,
    };
    vault
        .seal(&Actor::Subject(subject.clone()), "account", w)
        .await?;
    Ok(())
}

/// Time from asking to erase until the subject's data is unreadable.
async fn erase_timed(vault: &Vault, subject: &str) -> anyhow::Result<f64> {
    let me = Actor::Subject(subject.to_owned());
    let start = Instant::now();
    vault.erase(&me, subject).await?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(
        vault
            .open(&me, "account", "bench", &format!("{subject}-0"))
            .await
            .is_err(),
        "a record was still readable after erasure"
    );
    Ok(ms)
}

async fn grow_log(vault: &Arc<Vault>, subjects: &[String], count: u64) -> anyhow::Result<()> {
    let subjects = Arc::new(subjects.to_vec());
    let step = (count / 10).max(1);
    let mut results = stream::iter(0..count)
        .map(|i| {
            let (vault, subjects) = (vault.clone(), subjects.clone());
            tokio::spawn(async move {
                let subject = &subjects[i as usize % subjects.len()];
                let event = AuditEvent {
                    actor: Actor::system("bench"),
                    action: "open".into(),
                    purpose: "account".into(),
                    kind: "bench".into(),
                    id: i.to_string(),
                    outcome: Outcome::Ok,
                };
                vault.audit(subject, &event).await
            })
        })
        .buffer_unordered(512);
    let mut done = 0u64;
    while let Some(joined) = results.next().await {
        joined??;
        done += 1;
        if done.is_multiple_of(step) {
            progress(&format!("  {done}/{count}"));
        }
    }
    Ok(())
}
