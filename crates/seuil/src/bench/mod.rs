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

/// Where a benchmark keeps its files. Given a folder, it must be new or empty, and only what
/// the benchmark put there is removed afterwards (the folder itself only if it made it);
/// without one, a fresh temporary folder is used and removed.
pub struct WorkDir {
    path: std::path::PathBuf,
    /// The benchmark made the folder itself.
    made: bool,
}

impl WorkDir {
    pub fn new(given: Option<std::path::PathBuf>, name: &str) -> anyhow::Result<WorkDir> {
        use anyhow::{Context, bail};
        let (path, fresh) = match given {
            Some(path) => (path, false),
            None => {
                let unique = format!(
                    "{name}-{}-{:016x}",
                    std::process::id(),
                    rand::random::<u64>()
                );
                (std::env::temp_dir().join(unique), true)
            }
        };
        let made = match std::fs::read_dir(&path).map(|mut e| e.next().is_none()) {
            Ok(empty) if fresh || !empty => bail!(
                "{} is not empty: give the benchmark a new or empty folder (it removes what it creates)",
                path.display()
            ),
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                bail!("{} is not a folder", path.display())
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(WorkDir { path, made })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.made {
            let _ = std::fs::remove_dir_all(&self.path);
            return;
        }
        // The folder was there and empty: everything in it is the benchmark's.
        if let Ok(entries) = std::fs::read_dir(&self.path) {
            for entry in entries.flatten() {
                let p = entry.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
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

#[cfg(test)]
mod tests {
    use super::WorkDir;

    #[test]
    fn a_given_folder_must_be_empty_and_only_what_the_benchmark_made_goes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), b"mine").unwrap();
        let refused = WorkDir::new(Some(dir.path().to_owned()), "t");
        assert!(refused.is_err(), "a folder with files in it is refused");
        assert!(dir.path().join("keep.txt").exists());

        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let work = WorkDir::new(Some(empty.clone()), "t").unwrap();
        std::fs::create_dir_all(work.path().join("ingestion/blobs")).unwrap();
        std::fs::write(work.path().join("seuil.db"), b"x").unwrap();
        drop(work);
        assert!(empty.is_dir(), "a folder the user gave stays");
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);

        let new = dir.path().join("new/sub");
        let work = WorkDir::new(Some(new.clone()), "t").unwrap();
        assert!(new.is_dir());
        drop(work);
        assert!(!new.exists() && dir.path().join("new").exists());
        assert!(dir.path().join("keep.txt").exists());

        let file = dir.path().join("keep.txt");
        assert!(
            WorkDir::new(Some(file), "t").is_err(),
            "a file is not a folder"
        );
    }
}
