//! `seuil bench`: figures measured against baselines taken in the same run, on this machine.

mod alarm;
mod delivery;
mod vault;

use clap::Subcommand;
use std::time::Duration;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// The privacy kernel on SQLite: audited opens and seals against plain store reads and
    /// writes, erasure time against data size, and inclusion proofs from a large log.
    Vault(vault::VaultArgs),
    /// In-home delivery: unlock verification on the lock, and footage analysis against pure
    /// decoding of the same clip.
    Delivery(delivery::DeliveryArgs),
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Vault(args) => vault::run(args).await,
        BenchCommand::Delivery(args) => delivery::run(args).await,
    }
}

/// A vault on SQLite and local blobs in `dir`, with default settings.
async fn open_vault(dir: &std::path::Path) -> anyhow::Result<std::sync::Arc<seuil_vault::Vault>> {
    use anyhow::Context;
    use seuil_store::{DynStore, LocalBlobs, SqliteStore};
    use seuil_vault::{FileKek, Vault, VaultConfig};
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store: DynStore = std::sync::Arc::new(SqliteStore::open(&dir.join("seuil.db"))?);
    let blobs = std::sync::Arc::new(LocalBlobs::new(dir.join("blobs"))?);
    let kek = FileKek::new(dir.join("kek.key"));
    Ok(std::sync::Arc::new(
        Vault::new(store, blobs, &kek, VaultConfig::default()).await?,
    ))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn progress(msg: &str) {
    eprintln!("bench: {msg}");
}

/// CPU time this process has used so far.
fn process_cpu() -> Duration {
    cpu_clock(rustix::time::ClockId::ProcessCPUTime)
}

/// CPU time the calling thread has used so far: unlike wall time, it does not count the time
/// other processes on a loaded machine held the core.
fn thread_cpu() -> Duration {
    cpu_clock(rustix::time::ClockId::ThreadCPUTime)
}

fn cpu_clock(clock: rustix::time::ClockId) -> Duration {
    let t = rustix::time::clock_gettime(clock);
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}
