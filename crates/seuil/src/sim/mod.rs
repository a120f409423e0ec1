//! `seuil sim`: devices as real protocol peers of a running server, for tests and demos.

mod attack;
pub mod camera;
pub mod courier;
pub mod device;
pub mod lock;
pub mod session;

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SimCommand {
    /// A camera streaming a real clip as signed segments, optionally tampered with.
    Camera(camera::CameraArgs),
    /// A smart lock: syncs with the server, and opens for a courier's grant and proof only
    /// with a fresh attestation from its camera.
    Lock(lock::LockArgs),
    /// A courier doing one delivery: arrive, get the grant, open the lock, relock.
    Courier(courier::CourierArgs),
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
        SimCommand::Lock(args) => lock::run(args).await,
        SimCommand::Courier(args) => courier::run(args).await,
        SimCommand::Keygen(args) => {
            println!("{}", device::keygen(&args.out)?);
            Ok(())
        }
    }
}
