//! `seuil eval`: run Seuil's analyses on files, to check them on footage of your own.

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Analyse a camera clip for tampering: freezes, covers, replays and a moved camera.
    ///
    /// Decodes the H.264 video track of an MP4 file and prints each event with its start and
    /// end in seconds from the first picture.
    Tamper(TamperArgs),
}

#[derive(Args)]
pub struct TamperArgs {
    /// An MP4 file with an H.264 video track.
    video: PathBuf,
    /// Print exactly one JSON object: {"events": [{"kind", "start_s", "end_s"}], "frames",
    /// "seconds"}; `kind` is one of freeze, covered, replay, moved.
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Tamper(args) => tamper(args).await,
    }
}

async fn tamper(args: TamperArgs) -> anyhow::Result<()> {
    let path = args.video.clone();
    let data = tokio::fs::read(&path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    // Decoding is CPU work: keep it off the async workers.
    let report = tokio::task::spawn_blocking(move || seuil_delivery::footage::analyze_mp4(&data))
        .await?
        .with_context(|| format!("cannot analyse {}", path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!(
        "{}: {} pictures, {:.1} s",
        args.video.display(),
        report.frames,
        report.seconds
    );
    if report.events.is_empty() {
        println!("  no tampering found");
    }
    for e in &report.events {
        println!(
            "  {:<8} {:>8.2} s to {:>8.2} s  ({:.1} s)",
            e.kind.as_str(),
            e.start_s,
            e.end_s,
            e.end_s - e.start_s
        );
    }
    Ok(())
}
