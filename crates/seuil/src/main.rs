//! `seuil`: run the platform, seed a demo, administer it, benchmark it.

mod admin;
mod bench;
mod config;
mod demo;
mod eval;
mod runtime;
mod serve;
mod sim;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "seuil",
    version,
    about = "Retail services that cross the customer's threshold, with the customer in control."
)]
#[command(
    long_about = "Seuil runs in-home delivery, palm pay, walk-out stores and a shopper panel. \
Personal data is sealed under each customer's own key, every access is audited in a log the \
customer can verify, and erasure is cryptographic.\n\n\
Configuration comes from ./seuil.toml (or --config), then SEUIL_* environment variables, then flags. \
`eval`, `sim` and `bench` do not read it.",
    after_help = "Exit codes: 0 done; 1 an error (the message says what was wrong); 2 bad usage. \
`admin verify-audit` exits 3 when the log fails verification; `eval tamper` exits 1 when it \
finds tampering (its report still printed) and 2 when it cannot analyse the file, as `diff` does."
)]
struct Cli {
    /// A configuration file (default: ./seuil.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the customer portal.
    Serve(serve::ServeArgs),
    /// Serve with a seeded demo tenant and print the URL and a demo login.
    Demo(serve::ServeArgs),
    /// Administer an installation (operators, keys, audit log, erasure, backups).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Measure performance against baselines taken in the same run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run Seuil's analyses on files of your own.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Simulated devices talking to a running server.
    #[command(subcommand)]
    Sim(sim::SimCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        // Only the commands that run against an installation read its configuration: a
        // benchmark, an analysis or a simulator must not fail on a broken `seuil.toml`.
        let config = || config::Config::load(cli.config.as_deref());
        match cli.command {
            Command::Serve(args) => serve::serve(config()?, args, false).await,
            Command::Demo(args) => serve::serve(config()?, args, true).await,
            Command::Admin(cmd) => admin::run(config()?, cmd).await,
            Command::Bench(cmd) => bench::run(cmd).await,
            Command::Eval(cmd) => eval::run(cmd).await,
            Command::Sim(cmd) => sim::run(cmd).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Exit>() {
            Some(exit) => std::process::ExitCode::from(exit.0),
            None => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}

/// A command that ran to its end and says something by its exit code, as `diff` does: its
/// report is printed already.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// Logs go to stderr; `SEUIL_LOG` sets the filter and `SEUIL_LOG_FORMAT=json` makes them JSON.
fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SEUIL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("SEUIL_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
