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

pub async fn serve(mut config: Config, args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    let vault = runtime::vault(&config).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let url = config.public_url(&addr);
    let mut server_config = ServerConfig::new(url.clone());
    server_config.secure_cookies = url.starts_with("https://");
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
