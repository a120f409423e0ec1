//! What every handler shares, and the [`App`] the binary builds.

use crate::auth::accounts::{self, Role};
use crate::auth::device::ReplayCache;
use crate::auth::password::Hasher;
use crate::auth::rate_limit::{LoginLimiter, SignUpLimiter};
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::notify::{self, NotifyReport, sse::Hub};
use crate::problem::Problem;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub struct AppState {
    pub vault: Arc<seuil_vault::Vault>,
    pub config: ServerConfig,
    pub origin: String,
    pub hasher: Hasher,
    pub limiter: LoginLimiter,
    pub sign_ups: SignUpLimiter,
    pub replay: ReplayCache,
    pub hub: Hub,
    pub metrics: Metrics,
    pub http: reqwest::Client,
    /// Wakes the outbox worker when a message is queued.
    pub outbox_wake: Notify,
    /// The delivery visits this instance watches for alarms.
    pub watch: crate::watch::Watch,
    /// Permits to decode a live-view picture (see `ServerConfig::max_frame_decodes`).
    pub frame_decodes: tokio::sync::Semaphore,
}

pub type Shared = Arc<AppState>;

/// The HTTP server: the API, the portal and the background workers, over one vault.
#[derive(Clone)]
pub struct App {
    state: Shared,
}

/// The background tasks started by [`App::spawn_background`]. Dropping it leaves them
/// running; [`Background::abort`] stops them.
pub struct Background {
    handles: Vec<JoinHandle<()>>,
}

impl Background {
    pub fn abort(&self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

impl App {
    pub fn new(vault: Arc<seuil_vault::Vault>, config: ServerConfig) -> App {
        let mut http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.webhook_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the check.
            .no_proxy()
            .user_agent("seuil-webhooks/1");
        if !config.webhook_allow_private_targets {
            http = http.dns_resolver(Arc::new(crate::notify::webhook::PublicOnly));
        }
        let http = http.build().unwrap_or_default();
        let state = AppState {
            origin: config.public_origin(),
            hasher: Hasher::new(config.argon2_fast_for_tests),
            limiter: LoginLimiter::new(
                config.throttling.sign_in_source,
                config.throttling.sign_in_account,
            ),
            sign_ups: SignUpLimiter::new(config.throttling.sign_up_source),
            replay: ReplayCache::default(),
            hub: Hub::default(),
            metrics: Metrics::default(),
            http,
            outbox_wake: Notify::new(),
            watch: crate::watch::Watch::default(),
            frame_decodes: tokio::sync::Semaphore::new(config.max_frame_decodes),
            vault,
            config,
        };
        App {
            state: Arc::new(state),
        }
    }

    /// Every route of the API and the portal, with its middleware.
    pub fn router(&self) -> axum::Router {
        crate::routes::router(self.state.clone())
    }

    /// Starts the outbox worker (webhook delivery), the visit watchdog and the retention
    /// sweeper.
    pub fn spawn_background(&self) -> Background {
        let worker = tokio::spawn(crate::notify::outbox_worker::run(self.state.clone()));
        let state = self.state.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_millis(state.config.sweep_interval_ms.max(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sweeps: u64 = 0;
            loop {
                tick.tick().await;
                // Media left by a crash is rare and listing every blob is not free: at start,
                // then every hundredth sweep.
                if sweeps.is_multiple_of(ORPHAN_SWEEP_EVERY)
                    && let Err(e) = state.vault.sweep_orphan_media().await
                {
                    tracing::warn!(error = %e, "sweep of media without a record failed");
                }
                sweeps = sweeps.wrapping_add(1);
                match state.vault.sweep().await {
                    Ok(report) => {
                        if report.expired_removed + report.erased_records_removed > 0 {
                            tracing::info!(
                                expired = report.expired_removed,
                                erased = report.erased_records_removed,
                                "retention sweep"
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "retention sweep failed"),
                }
            }
        });
        let watchdog = tokio::spawn(crate::watch::run(self.state.clone()));
        Background {
            handles: vec![worker, watchdog, sweeper],
        }
    }

    /// Creates an account (a new vault subject) and returns its subject id. Used by
    /// `seuil admin create-operator` and `seuil demo`.
    pub async fn create_account(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        role: Role,
    ) -> Result<String, Problem> {
        accounts::create(&self.state, email, password, display_name, role).await
    }

    /// Tells a subject something happened: pushed to their open event streams (SSE) and
    /// queued for each of their webhooks.
    pub async fn notify(
        &self,
        subject: &str,
        event_type: &str,
        data: serde_json::Value,
    ) -> Result<NotifyReport, Problem> {
        notify::notify(&self.state, subject, event_type, data).await
    }

    /// Serves the router on `listener`, passing client addresses to the login rate limiter.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    }

    pub fn vault(&self) -> &Arc<seuil_vault::Vault> {
        &self.state.vault
    }

    pub fn config(&self) -> &ServerConfig {
        &self.state.config
    }
}

/// Retention sweeps between two sweeps of media that no record accounts for.
const ORPHAN_SWEEP_EVERY: u64 = 100;
