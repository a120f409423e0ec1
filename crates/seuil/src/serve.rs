//! `seuil serve` and `seuil demo`.

use crate::{config::Config, runtime};
use anyhow::Context;
use clap::Args;
use seuil_server::{App, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:443 (default from config).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Data folder for the embedded defaults (SQLite, local blobs, key file).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

use crate::demo::{DEMO_EMAIL, DEMO_PASSWORD};

/// The data folder's lock: held by a server for as long as it runs, so that `seuil admin
/// restore` does not pull the data out from under it. The system drops it when the process
/// ends, however it ends.
pub struct DataLock {
    /// Held open: the lock lives as long as the file handle.
    _file: std::fs::File,
}

impl DataLock {
    pub fn take(data_dir: &std::path::Path) -> anyhow::Result<DataLock> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let path = data_dir.join("seuil.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DataLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                anyhow::bail!("{} is held by another process", path.display())
            }
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

pub async fn serve(mut config: Config, args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    // Several servers may share a PostgreSQL store; an embedded one is this process's.
    let _lock = if config.uses_sqlite() {
        Some(
            DataLock::take(&config.data_dir)
                .context("another `seuil serve` (or an admin command) is using this data folder")?,
        )
    } else {
        None
    };
    let vault = runtime::vault(&config).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let url = config.public_url(&addr);
    let mut server_config = ServerConfig::new(url.clone());
    server_config.secure_cookies = url.starts_with("https://");
    server_config.delivery = config.delivery_rules();
    server_config.trusted_proxies = config.proxies()?;
    server_config.metrics_public = config.metrics_public;
    let app = App::new(vault, server_config);
    let background = app.spawn_background();
    if demo {
        crate::demo::seed(&app).await?;
        crate::demo::spawn_deliveries(url.clone(), config.data_dir.clone());
    }
    tracing::info!(%addr, store = app.vault().store().backend(), blobs = app.vault().blobs().backend(), "listening");
    println!("Seuil is listening on {url}");
    if demo {
        println!("Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}  (sign in at {url}/signin)");
    }
    let router = app
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    background.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
