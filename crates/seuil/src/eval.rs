//! `seuil eval`: run Seuil's analyses on files, to check them on footage of your own.

use crate::Exit;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Analyse a camera clip for tampering: freezes, covers, replays and a moved camera.
    ///
    /// Decodes the H.264 video track of an MP4 file and prints each event with its start and
    /// end in seconds from the first picture. Exits 0 when it finds no tampering, 1 when it
    /// finds some (after printing the report), 2 when it cannot analyse the file.
    Tamper(TamperArgs),
}

#[derive(Args)]
pub struct TamperArgs {
    /// An MP4 file with an H.264 video track, or a raw H.264 stream (Annex B, such as
    /// `seuil sim camera --save` writes; give its --fps).
    video: PathBuf,
    /// Pictures a second of a raw H.264 stream, which carries no timing of its own.
    #[arg(long)]
    fps: Option<f64>,
    /// Print exactly one JSON object: {"events": [{"kind", "start_s", "end_s"}], "frames",
    /// "seconds"}; `kind` is one of freeze, covered, replay, moved.
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Tamper(args) => match tamper(args).await {
            Ok(true) => Err(Exit(1).into()),
            Ok(false) => Ok(()),
            // Trouble is 2, as for `diff`: 1 already means "tampering found".
            Err(e) => {
                eprintln!("error: {e:#}");
                Err(Exit(2).into())
            }
        },
    }
}

/// Analyses the clip and prints the report; says whether it found tampering.
async fn tamper(args: TamperArgs) -> anyhow::Result<bool> {
    let path = args.video.clone();
    let data = tokio::fs::read(&path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    use seuil_delivery::footage::{analyze_h264, analyze_mp4, is_annexb};
    let raw = is_annexb(&data);
    let fps = match (raw, args.fps) {
        (true, Some(fps)) => fps,
        (true, None) => anyhow::bail!(
            "{} is a raw H.264 stream, which carries no timing: give its frame rate with --fps",
            path.display()
        ),
        (false, _) => 0.0,
    };
    // Decoding is CPU work: keep it off the async workers.
    let report = tokio::task::spawn_blocking(move || {
        if raw {
            analyze_h264(&data, fps)
        } else {
            analyze_mp4(&data)
        }
    })
    .await?
    .with_context(|| format!("cannot analyse {}", path.display()))?;
    let found = !report.events.is_empty();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(found);
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
    Ok(found)
}
