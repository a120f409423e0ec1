//! `seuil sim`: devices as real protocol peers of a running server, for tests and demos.

mod attack;
mod camera;

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SimCommand {
    /// A camera streaming a real clip as signed segments, optionally tampered with.
    Camera(camera::CameraArgs),
    /// Make a device key: writes the secret to a new file, prints the public key to register.
    Keygen(KeygenArgs),
}

#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (64 hex digits, mode 0600); must not exist.
    #[arg(long)]
    out: PathBuf,
}

pub async fn run(cmd: SimCommand) -> anyhow::Result<()> {
    match cmd {
        SimCommand::Camera(args) => camera::run(args).await,
        SimCommand::Keygen(args) => {
            println!("{}", camera::keygen(&args.out)?);
            Ok(())
        }
    }
}
