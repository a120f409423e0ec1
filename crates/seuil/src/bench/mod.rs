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

/// User and system CPU time of this process so far (Linux only).
fn process_cpu() -> Option<Duration> {
    cpu_time("/proc/self/stat")
}

/// User and system CPU time of the calling thread so far (Linux only).
fn thread_cpu() -> Option<Duration> {
    cpu_time("/proc/thread-self/stat")
}

/// CPU time from a `stat` file of procfs.
fn cpu_time(stat: &str) -> Option<Duration> {
    // Linux reports these in USER_HZ ticks, which is 100 per second on every architecture.
    const TICKS_PER_S: u64 = 100;
    let stat = std::fs::read_to_string(stat).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis,
    // where utime and stime are the 12th and 13th.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / TICKS_PER_S))
}
