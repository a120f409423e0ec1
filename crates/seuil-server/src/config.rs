//! How the server is configured. Every field has a default; the binary sets the few that
//! depend on the deployment (public URL, cookies, body limit).

use seuil_store::Millis;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;
const DAY: Millis = 24 * HOUR;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The URL customers reach the portal at, e.g. `https://seuil.example`. Unsafe requests
    /// carrying a browser `Origin` must come from its origin (CSRF defence).
    pub public_url: String,
    /// Marks the session cookie `Secure` (serve over HTTPS when this is on).
    pub secure_cookies: bool,
    /// The largest request body accepted; larger ones get a 413 problem.
    pub max_body_bytes: usize,
    /// Lifetime of a browser session (cookie).
    pub session_ttl_ms: Millis,
    /// Lifetime of an API token (bearer).
    pub token_ttl_ms: Millis,
    /// A cookie session not used for this long lapses (an open portal page keeps it alive).
    pub session_idle_ms: Millis,
    /// Sign-in and sign-up throttling (see `auth::rate_limit`).
    pub throttling: crate::auth::rate_limit::Throttling,
    /// The reverse proxies in front of the server: the client is the rightmost
    /// `X-Forwarded-For` hop that is not one of them (hops the client wrote itself are to
    /// its left, and never chosen). Empty: the socket's peer is the client.
    pub trusted_proxies: Vec<crate::extract::IpNet>,
    /// Cheap Argon2 parameters so tests run fast. Never in production.
    pub argon2_fast_for_tests: bool,
    /// Webhook retries wait `base * 2^attempt`, capped at `max`.
    pub webhook_backoff_base_ms: Millis,
    pub webhook_backoff_max_ms: Millis,
    /// Attempts after which a webhook message is dropped.
    pub webhook_max_attempts: u32,
    pub webhook_timeout_ms: u64,
    /// Allow webhook URLs on loopback/private addresses and plain `http` (tests, local setups).
    /// Off by default: a customer must not make the server call into the operator's network.
    pub webhook_allow_private_targets: bool,
    pub max_webhooks_per_subject: usize,
    /// How often the outbox worker looks for due messages when not woken up.
    pub outbox_poll_ms: u64,
    /// How long a claimed outbox message is reserved for this instance.
    pub outbox_lease_ms: Millis,
    /// How often the retention sweeper runs.
    pub sweep_interval_ms: u64,
    /// Accepted clock difference for signed device requests.
    pub device_clock_skew_ms: Millis,
    /// Grant lifetime, the longest delivery window, how soon a lock must report an unlock.
    pub delivery: seuil_delivery::grants::Rules,
    /// The public checkpoint is signed anew at most this often, or once the log is this many
    /// events past it.
    pub checkpoint_every_ms: Millis,
    pub checkpoint_lag: u64,
    /// `/metrics` for anyone, not only this machine and operators.
    pub metrics_public: bool,
    /// Live-view pictures decoded at once; a request beyond it is told to try again, so a
    /// flood of them cannot take every core.
    pub max_frame_decodes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: "http://localhost:8080".into(),
            secure_cookies: false,
            max_body_bytes: 1 << 20,
            session_ttl_ms: 12 * HOUR,
            token_ttl_ms: 30 * DAY,
            session_idle_ms: 30 * MINUTE,
            throttling: crate::auth::rate_limit::Throttling::default(),
            trusted_proxies: Vec::new(),
            argon2_fast_for_tests: false,
            webhook_backoff_base_ms: 1_000,
            webhook_backoff_max_ms: HOUR,
            webhook_max_attempts: 15,
            webhook_timeout_ms: 10_000,
            webhook_allow_private_targets: false,
            max_webhooks_per_subject: 10,
            outbox_poll_ms: 1_000,
            outbox_lease_ms: MINUTE,
            sweep_interval_ms: 60_000,
            device_clock_skew_ms: 5 * MINUTE,
            delivery: seuil_delivery::grants::Rules::default(),
            max_frame_decodes: 2,
            metrics_public: false,
            checkpoint_every_ms: 10_000,
            checkpoint_lag: 10_000,
        }
    }
}

impl ServerConfig {
    /// The defaults for a deployment at `public_url`; cookies are `Secure` when it is HTTPS.
    pub fn new(public_url: impl Into<String>) -> Self {
        let public_url = public_url.into();
        let secure_cookies = public_url.starts_with("https://");
        Self {
            public_url,
            secure_cookies,
            ..Self::default()
        }
    }

    /// `scheme://host[:port]` of the public URL, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> String {
        match reqwest::Url::parse(&self.public_url) {
            Ok(url) => url.origin().ascii_serialization(),
            Err(_) => self.public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The wait before retry number `attempt` (0 = the first retry).
    pub fn webhook_backoff(&self, attempt: u32) -> Millis {
        let factor = 1i64.checked_shl(attempt.min(40)).unwrap_or(i64::MAX);
        self.webhook_backoff_base_ms
            .saturating_mul(factor)
            .min(self.webhook_backoff_max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let c = ServerConfig::default();
        assert_eq!(c.webhook_backoff(0), 1_000);
        assert_eq!(c.webhook_backoff(1), 2_000);
        assert_eq!(c.webhook_backoff(2), 4_000);
        assert_eq!(c.webhook_backoff(30), HOUR);
        assert_eq!(c.webhook_backoff(u32::MAX), HOUR);
    }

    #[test]
    fn origin_of_public_url() {
        assert_eq!(
            ServerConfig::new("https://a.example/portal/").public_origin(),
            "https://a.example"
        );
        assert!(ServerConfig::new("https://a.example").secure_cookies);
        assert_eq!(
            ServerConfig::new("http://127.0.0.1:8080").public_origin(),
            "http://127.0.0.1:8080"
        );
    }
}
