//! `seuil admin`: operators, keys, audit verification, erasure, backup and restore.

use crate::{config::Config, runtime};
use anyhow::{Context, bail};
use clap::Subcommand;
use seuil_server::{App, Role, ServerConfig};
use seuil_store::{ShredEntry, SqliteStore};
use seuil_vault::{Actor, FileKek, KekProvider, aead::Kek};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an operator account. The password is read from SEUIL_OPERATOR_PASSWORD or, if
    /// unset, asked for without echo at a terminal, else read from the first line of
    /// standard input.
    CreateOperator {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Operator")]
        name: String,
        /// Print one JSON object: {"role", "subject", "email"}.
        #[arg(long)]
        json: bool,
    },
    /// Create a courier account. The password is read from SEUIL_COURIER_PASSWORD or, if
    /// unset, asked for without echo at a terminal, else read from the first line of
    /// standard input.
    CreateCourier {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Courier")]
        name: String,
        /// Print one JSON object: {"role", "subject", "email"}.
        #[arg(long)]
        json: bool,
    },
    /// Generate a new key-encryption key and rewrap every data key under it. With a key file,
    /// the file is replaced; with SEUIL_KEK, the new key is printed once to set in its place.
    RotateKek,
    /// Check the whole audit log: every leaf, the stored tree and every signed checkpoint.
    /// Exits 3 when the log fails verification, 1 when it cannot be checked at all.
    VerifyAudit {
        /// Print one JSON object: {"ok", "leaves", "checkpoints_checked", "root"} or
        /// {"ok": false, "error"}.
        #[arg(long)]
        json: bool,
    },
    /// Erase a subject: shred their key, remove their data, print the signed certificate.
    /// Asks to confirm at a terminal; elsewhere give --yes.
    Erase {
        /// The subject id (from the portal, the API or the audit log).
        subject: String,
        /// Erase without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Copy the SQLite database, the local media and the shred ledger into a new folder.
    /// The key-encryption key is not included: keep it somewhere else.
    Backup {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Print one JSON object: {"out", "media", "erasures"}.
        #[arg(long)]
        json: bool,
    },
    /// Replace the data with a backup, then replay every shred ledger known (the current
    /// data's, the backup's and any given) so that erased subjects stay erased. Refused while
    /// `seuil serve` runs on the data folder. The replaced data is removed once the restore
    /// succeeded (it would keep subjects erased later readable); --keep-replaced moves it
    /// aside instead. Asks to confirm at a terminal; elsewhere give --yes.
    Restore {
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Further shred ledgers (`shred-ledger.json` of later backups) to replay.
        #[arg(long, value_name = "FILE")]
        ledger: Vec<PathBuf>,
        /// Keep the replaced data in `replaced-<time>` in the data folder.
        #[arg(long)]
        keep_replaced: bool,
        /// Restore without asking.
        #[arg(long)]
        yes: bool,
        /// Print one JSON object: {"from", "erasures_replayed", "erased_again", "replaced"}.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: Config, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::CreateOperator { email, name, json } => {
            let staff = Staff {
                role: Role::Operator,
                password_var: "SEUIL_OPERATOR_PASSWORD",
            };
            create_staff(&config, &email, &name, staff, json).await
        }
        AdminCommand::CreateCourier { email, name, json } => {
            let staff = Staff {
                role: Role::Courier,
                password_var: "SEUIL_COURIER_PASSWORD",
            };
            create_staff(&config, &email, &name, staff, json).await
        }
        AdminCommand::RotateKek => rotate_kek(&config).await,
        AdminCommand::VerifyAudit { json } => verify_audit(&config, json).await,
        AdminCommand::Erase { subject, yes } => {
            confirm(yes, &format!("erase subject {subject} for good"), &subject)?;
            erase(&config, &subject).await
        }
        AdminCommand::Backup { out, json } => backup(&config, &out, json).await,
        AdminCommand::Restore {
            from,
            ledger,
            keep_replaced,
            yes,
            json,
        } => {
            let what = format!(
                "replace the data in {} with the backup in {}",
                config.data_dir.display(),
                from.display()
            );
            confirm(yes, &what, "restore")?;
            restore(&config, &from, &ledger, keep_replaced, json).await
        }
    }
}

/// Goes on only when the operator said so: `--yes`, or typing `word` at a terminal.
fn confirm(yes: bool, what: &str, word: &str) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("this would {what}: give --yes to confirm (standard input is not a terminal)");
    }
    eprint!("This will {what}. Type `{word}` to go on: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the confirmation")?;
    if line.trim() != word {
        bail!("not confirmed: nothing was changed");
    }
    Ok(())
}

/// The kind of staff account, and where its password may come from.
struct Staff {
    role: Role,
    password_var: &'static str,
}

async fn create_staff(
    config: &Config,
    email: &str,
    name: &str,
    staff: Staff,
    json: bool,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let role = staff.role;
    let password = match std::env::var(staff.password_var) {
        Ok(p) => zeroize::Zeroizing::new(p),
        // At a terminal the password is not echoed.
        Err(_) if std::io::stdin().is_terminal() => zeroize::Zeroizing::new(
            rpassword::prompt_password(format!("password for {email}: "))
                .context("cannot read the password")?,
        ),
        Err(_) => {
            eprintln!("password for {email} (one line on standard input):");
            let mut line = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password")?;
            zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned())
        }
    };
    let vault = runtime::vault(config).await?;
    let app = App::new(vault, ServerConfig::new("http://localhost"));
    let subject = app
        .create_account(email, &password, name, role)
        .await
        .map_err(|p| anyhow::anyhow!("{p}"))?;
    if json {
        let out = serde_json::json!({ "role": role.as_str(), "subject": subject, "email": email });
        println!("{out}");
    } else {
        println!("created {} {subject}", role.as_str());
    }
    Ok(())
}

async fn rotate_kek(config: &Config) -> anyhow::Result<()> {
    let store = runtime::store(config).await?;
    let provider = runtime::kek_provider(config);
    let old = provider.load()?;
    let mut rng = rand::rngs::OsRng;
    let new = Kek::generate(&mut rng);
    if config.kek.provider.as_deref() == Some("env") {
        let n = seuil_vault::keys::rotate_kek(store.as_ref(), &old, &new, &mut rng).await?;
        println!(
            "rewrapped {n} keys. Set SEUIL_KEK to this new key now; the old one no longer opens anything:"
        );
        println!("{}", hex::encode(new.as_bytes()));
        return Ok(());
    }
    // Write the new key beside the old one first, so a crash at any point leaves a key that
    // opens the data: the old file before the rewrap commits, the new file after.
    let path = config.kek_file();
    let next = path.with_extension("key.next");
    let _ = std::fs::remove_file(&next);
    write_secret(&next, &new)?;
    let n = seuil_vault::keys::rotate_kek(store.as_ref(), &old, &new, &mut rng).await?;
    std::fs::rename(&next, &path).with_context(|| {
        format!(
            "rewrapped {n} keys under the key in {}, but could not move it to {}",
            next.display(),
            path.display()
        )
    })?;
    println!(
        "rewrapped {n} keys; {} holds the new key",
        FileKek::new(&path).describe()
    );
    Ok(())
}

fn write_secret(path: &Path, key: &Kek) -> anyhow::Result<()> {
    seuil_vault::kek::write_new_secret(path, hex::encode(key.as_bytes()).as_bytes())
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))
}

/// What `verify-audit` exits with when the log fails verification (1 is any other error).
const AUDIT_BROKEN: u8 = 3;

async fn verify_audit(config: &Config, json: bool) -> anyhow::Result<()> {
    let vault = runtime::vault(config).await?;
    vault.checkpoint().await?;
    let report = vault
        .verify_audit(&|done, total| eprint!("\rverifying the audit log: {done}/{total} leaves"))
        .await;
    eprintln!();
    let report = match report {
        Ok(report) => report,
        Err(seuil_vault::VaultError::AuditBroken(why)) => {
            if json {
                println!("{}", serde_json::json!({ "ok": false, "error": why }));
            } else {
                println!("audit log FAILED verification: {why}");
            }
            return Err(crate::Exit(AUDIT_BROKEN).into());
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        let out = serde_json::json!({
            "ok": true,
            "leaves": report.leaves,
            "checkpoints_checked": report.checkpoints_checked,
            "root": report.root.to_string(),
        });
        println!("{out}");
    } else {
        println!(
            "audit log OK: {} leaves, {} signed checkpoints checked, root {}",
            report.leaves, report.checkpoints_checked, report.root
        );
    }
    Ok(())
}

async fn erase(config: &Config, subject: &str) -> anyhow::Result<()> {
    let vault = runtime::vault(config).await?;
    let cert = vault
        .erase(&Actor::Operator("admin-cli".into()), subject)
        .await?;
    let removed = vault.purge_erased(subject).await?;
    eprintln!("erased {subject}: key destroyed, {removed} records removed");
    println!("{}", serde_json::to_string_pretty(&cert)?);
    Ok(())
}

const LEDGER_FILE: &str = "shred-ledger.json";

async fn backup(config: &Config, out: &Path, json: bool) -> anyhow::Result<()> {
    if !config.uses_sqlite() {
        bail!(
            "`seuil admin backup` copies the embedded SQLite store; for PostgreSQL use pg_dump, \
             and keep a copy of the shred ledger (table shred_ledger) with each dump"
        );
    }
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!("{} is not empty: back up into a new folder", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let store = SqliteStore::open(&config.sqlite_path())?;
    store.backup_to(&out.join("seuil.db"))?;
    let ledger = seuil_store::Store::shred_ledger(&store).await?;
    std::fs::write(out.join(LEDGER_FILE), serde_json::to_vec_pretty(&ledger)?)?;
    let media = if config.uses_local_blobs() {
        copy_tree(&config.blob_dir(), &out.join("blobs"))?
    } else {
        0
    };
    if json {
        let summary = serde_json::json!({
            "out": out.display().to_string(), "media": media, "erasures": ledger.len(),
        });
        println!("{summary}");
    } else {
        println!(
            "backed up to {}: database, {media} media files, {} shred ledger entries. The key file is not \
             included: keep it apart from backups",
            out.display(),
            ledger.len()
        );
    }
    Ok(())
}

async fn restore(
    config: &Config,
    from: &Path,
    ledgers: &[PathBuf],
    keep_replaced: bool,
    json: bool,
) -> anyhow::Result<()> {
    if !config.uses_sqlite() {
        bail!(
            "`seuil admin restore` restores the embedded SQLite store; for PostgreSQL restore the dump with pg_restore, then run this with --ledger to replay erasures"
        );
    }
    let backup_db = from.join("seuil.db");
    if !backup_db.exists() {
        bail!(
            "{} holds no seuil.db: is it a folder made by `seuil admin backup`?",
            from.display()
        );
    }
    // A server on this data folder holds its lock for as long as it runs.
    let _held = crate::serve::DataLock::take(&config.data_dir)
        .context("a server is running on this data folder: stop `seuil serve` before restoring")?;
    // Every erasure anyone knows of: the live data's, the backup's, and the ones given.
    let mut ledger: Vec<ShredEntry> = Vec::new();
    let live = config.sqlite_path();
    if live.exists() {
        let store = SqliteStore::open(&live)?;
        ledger.extend(seuil_store::Store::shred_ledger(&store).await?);
    }
    for file in std::iter::once(from.join(LEDGER_FILE)).chain(ledgers.iter().cloned()) {
        if file.exists() {
            let text =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let entries: Vec<ShredEntry> = serde_json::from_slice(&text)
                .with_context(|| format!("{} is not a shred ledger", file.display()))?;
            ledger.extend(entries);
        }
    }
    // Move the current data aside, then put the backup in place.
    let aside = config.data_dir.join(format!(
        "replaced-{}",
        seuil_vault::Clock::now(&seuil_vault::SystemClock)
    ));
    std::fs::create_dir_all(&aside)?;
    for path in SqliteStore::files(&live)
        .into_iter()
        .chain([config.blob_dir()])
    {
        if let Some(name) = path.file_name().filter(|_| path.exists()) {
            std::fs::rename(&path, aside.join(name))?;
        }
    }
    std::fs::copy(&backup_db, &live)?;
    // A backup made before the log had its own file holds it inside seuil.db; opening the
    // store moves it.
    let backup_log = SqliteStore::audit_path(&backup_db);
    if backup_log.exists() {
        std::fs::copy(&backup_log, SqliteStore::audit_path(&live))?;
    }
    if from.join("blobs").exists() {
        copy_tree(&from.join("blobs"), &config.blob_dir())?;
    }
    let vault = runtime::vault(config).await?;
    let mut replayed = 0;
    for entry in &ledger {
        if vault.store().shred_key(&entry.subject, entry.at).await? {
            replayed += 1;
        }
        vault.purge_erased(&entry.subject).await?;
    }
    drop(vault);
    // The replaced data still holds the keys of anyone erased since the backup was taken.
    let replaced = if keep_replaced {
        Some(aside.display().to_string())
    } else {
        std::fs::remove_dir_all(&aside)
            .with_context(|| format!("restored, but cannot remove {}", aside.display()))?;
        None
    };
    if json {
        let out = serde_json::json!({
            "from": from.display().to_string(), "erasures_replayed": ledger.len(),
            "erased_again": replayed, "replaced": replaced,
        });
        println!("{out}");
    } else {
        println!(
            "restored {} into {}; replayed {} erasures ({replayed} subjects were back in the backup and are erased again); {}",
            from.display(),
            config.data_dir.display(),
            ledger.len(),
            match &replaced {
                Some(dir) => format!(
                    "the replaced data is in {dir}: remove it once you no longer need it, as it keeps subjects erased since readable"
                ),
                None => "the replaced data was removed".to_owned(),
            }
        );
    }
    Ok(())
}

/// Copies a folder tree; returns the number of files.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<usize> {
    let mut n = 0;
    if !from.exists() {
        return Ok(0);
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            n += copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
            n += 1;
        }
    }
    Ok(n)
}
