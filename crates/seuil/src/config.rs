//! Configuration: embedded defaults, then `seuil.toml`, then `SEUIL_*` environment variables,
//! then command-line flags — each overriding the one before.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database, local blobs and (by default) the key file live.
    pub data_dir: PathBuf,
    /// The address `seuil serve` listens on.
    pub listen: String,
    /// The URL customers reach the portal at (used for links and CSRF checks).
    pub public_url: Option<String>,
    /// Serve `/metrics` to anyone, not only to this machine and operators.
    pub metrics_public: bool,
    /// Reverse proxies in front of the server (addresses or networks such as 10.0.0.0/8):
    /// the client is the rightmost `X-Forwarded-For` hop that is not one of them.
    pub trusted_proxies: Vec<String>,
    pub store: StoreConfig,
    pub blobs: BlobConfig,
    pub kek: KekConfig,
    pub delivery: DeliveryConfig,
}

/// In-home delivery's limits.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// How long a courier's grant opens the lock from its issue, in seconds (default 600).
    pub grant_ttl_s: Option<u64>,
    /// The longest delivery window an operator may book, in hours (default 12).
    pub max_window_h: Option<u64>,
    /// How soon after a grant the lock must report the unlock, in seconds (default 60).
    pub lock_report_within_s: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite` (default) or `postgres`.
    pub backend: Option<String>,
    pub postgres_url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobConfig {
    /// `local` (default) or `s3`.
    pub backend: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_region: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KekConfig {
    /// `file` (default) or `env`.
    pub provider: Option<String>,
    /// The key file; default `<data_dir>/kek.key`.
    pub file: Option<PathBuf>,
    /// The variable holding the key for the `env` provider; default `SEUIL_KEK`.
    pub env: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./seuil-data"),
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            trusted_proxies: Vec::new(),
            metrics_public: false,
            store: StoreConfig::default(),
            blobs: BlobConfig::default(),
            kek: KekConfig::default(),
            delivery: DeliveryConfig::default(),
        }
    }
}

impl Config {
    /// Loads `path` if given (it must exist), else `./seuil.toml` if present, then applies the
    /// environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = match path {
            Some(p) => Self::from_file(p)?,
            None if Path::new("seuil.toml").exists() => Self::from_file(Path::new("seuil.toml"))?,
            None => Self::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// `SEUIL_DATA_DIR`, `SEUIL_LISTEN`, `SEUIL_PUBLIC_URL`, `SEUIL_STORE`, `SEUIL_POSTGRES_URL`,
    /// `SEUIL_BLOBS`, `SEUIL_S3_ENDPOINT`, `SEUIL_S3_BUCKET`, `SEUIL_S3_REGION`,
    /// `SEUIL_KEK_FILE`; and `SEUIL_KEK` selects the environment key provider.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = var("SEUIL_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("SEUIL_LISTEN") {
            self.listen = v;
        }
        let set = |slot: &mut Option<String>, name: &str| {
            if let Some(v) = var(name) {
                *slot = Some(v);
            }
        };
        set(&mut self.public_url, "SEUIL_PUBLIC_URL");
        if let Some(v) = var("SEUIL_METRICS_PUBLIC") {
            self.metrics_public = match v.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                other => bail!("SEUIL_METRICS_PUBLIC must be true or false, not `{other}`"),
            };
        }
        if let Some(v) = var("SEUIL_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
        }
        set(&mut self.store.backend, "SEUIL_STORE");
        set(&mut self.store.postgres_url, "SEUIL_POSTGRES_URL");
        set(&mut self.blobs.backend, "SEUIL_BLOBS");
        set(&mut self.blobs.s3_endpoint, "SEUIL_S3_ENDPOINT");
        set(&mut self.blobs.s3_bucket, "SEUIL_S3_BUCKET");
        set(&mut self.blobs.s3_region, "SEUIL_S3_REGION");
        if let Some(v) = var("SEUIL_KEK_FILE") {
            self.kek.file = Some(v.into());
        }
        if var("SEUIL_KEK").is_some() && self.kek.provider.is_none() {
            self.kek.provider = Some("env".into());
        }
        let number = |slot: &mut Option<u64>, name: &str| -> anyhow::Result<()> {
            if let Some(v) = var(name) {
                *slot = Some(
                    v.trim()
                        .parse()
                        .with_context(|| format!("{name} must be a whole number, not `{v}`"))?,
                );
            }
            Ok(())
        };
        number(&mut self.delivery.grant_ttl_s, "SEUIL_GRANT_TTL_S")?;
        number(&mut self.delivery.max_window_h, "SEUIL_MAX_WINDOW_H")?;
        number(
            &mut self.delivery.lock_report_within_s,
            "SEUIL_LOCK_REPORT_WITHIN_S",
        )?;
        self.validate()
    }

    /// The delivery rules these settings make.
    pub fn delivery_rules(&self) -> seuil_delivery::grants::Rules {
        let d = &self.delivery;
        let defaults = seuil_delivery::grants::Rules::default();
        let ms = |v: Option<u64>, unit: i64, default: i64| {
            v.map_or(default, |v| {
                i64::try_from(v).unwrap_or(i64::MAX).saturating_mul(unit)
            })
        };
        seuil_delivery::grants::Rules {
            grant_ttl_ms: ms(d.grant_ttl_s, 1_000, defaults.grant_ttl_ms),
            max_window_ms: ms(d.max_window_h, 3_600_000, defaults.max_window_ms),
            lock_report_within_ms: ms(
                d.lock_report_within_s,
                1_000,
                defaults.lock_report_within_ms,
            ),
        }
    }

    /// The S3 settings: the endpoint, bucket and region from this configuration (file or
    /// environment), the credentials from the environment only.
    pub fn s3(&self, var: impl Fn(&str) -> Option<String>) -> Option<seuil_store::S3Config> {
        seuil_store::S3Config::from_vars(|name| match name {
            "SEUIL_S3_ENDPOINT" => self.blobs.s3_endpoint.clone(),
            "SEUIL_S3_BUCKET" => self.blobs.s3_bucket.clone(),
            "SEUIL_S3_REGION" => self.blobs.s3_region.clone(),
            other => var(other),
        })
    }

    /// The trusted proxies, parsed.
    pub fn proxies(&self) -> anyhow::Result<Vec<seuil_server::extract::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.parse()
                    .map_err(|e: String| anyhow::anyhow!("trusted_proxies: {e}"))
            })
            .collect()
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.proxies()?;
        match self.store.backend.as_deref() {
            None | Some("sqlite") => {}
            Some("postgres") if self.store.postgres_url.is_some() => {}
            Some("postgres") => bail!(
                "store backend `postgres` needs a URL: set SEUIL_POSTGRES_URL or store.postgres_url"
            ),
            Some(other) => bail!("unknown store backend `{other}`: use `sqlite` or `postgres`"),
        }
        match self.blobs.backend.as_deref() {
            None | Some("local") | Some("s3") => {}
            Some(other) => bail!("unknown blob backend `{other}`: use `local` or `s3`"),
        }
        match self.kek.provider.as_deref() {
            None | Some("file") | Some("env") => {}
            Some(other) => bail!("unknown key provider `{other}`: use `file` or `env`"),
        }
        let d = &self.delivery;
        let within = |v: Option<u64>, range: std::ops::RangeInclusive<u64>, name: &str| match v {
            Some(v) if !range.contains(&v) => bail!(
                "delivery.{name} must be {} to {}, not {v}",
                range.start(),
                range.end()
            ),
            _ => Ok(()),
        };
        within(d.grant_ttl_s, 30..=86_400, "grant_ttl_s")?;
        within(d.max_window_h, 1..=168, "max_window_h")?;
        within(d.lock_report_within_s, 10..=3_600, "lock_report_within_s")?;
        Ok(())
    }

    pub fn kek_file(&self) -> PathBuf {
        self.kek
            .file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("kek.key"))
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("seuil.db")
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }

    pub fn uses_sqlite(&self) -> bool {
        self.store.backend.as_deref().unwrap_or("sqlite") == "sqlite"
    }

    pub fn uses_local_blobs(&self) -> bool {
        self.blobs.backend.as_deref().unwrap_or("local") == "local"
    }

    pub fn public_url(&self, bound: &std::net::SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_and_unknown_values_are_refused() {
        let mut c: Config =
            toml::from_str("listen = \"0.0.0.0:1\"\n[store]\nbackend = \"sqlite\"").unwrap();
        c.apply_env(|n| (n == "SEUIL_LISTEN").then(|| "127.0.0.1:9".to_string()))
            .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9");
        let err = c
            .apply_env(|n| (n == "SEUIL_STORE").then(|| "mysql".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("unknown store backend `mysql`"));
        assert!(toml::from_str::<Config>("colour = 1").is_err());
        let err = Config::default()
            .apply_env(|n| (n == "SEUIL_STORE").then(|| "postgres".into()))
            .unwrap_err();
        assert!(err.to_string().contains("SEUIL_POSTGRES_URL"));
    }

    #[test]
    fn metrics_public_comes_from_the_file_and_the_environment() {
        let mut c: Config = toml::from_str("metrics_public = true").unwrap();
        c.apply_env(|_| None).unwrap();
        assert!(c.metrics_public);
        c.apply_env(|n| (n == "SEUIL_METRICS_PUBLIC").then(|| "false".into()))
            .unwrap();
        assert!(!c.metrics_public);
        assert!(
            c.apply_env(|n| (n == "SEUIL_METRICS_PUBLIC").then(|| "maybe".into()))
                .is_err()
        );
    }

    #[test]
    fn trusted_proxies_come_from_the_file_and_the_environment_and_are_checked() {
        let mut c: Config = toml::from_str("trusted_proxies = [\"10.0.0.0/8\"]").unwrap();
        c.apply_env(|_| None).unwrap();
        assert_eq!(c.proxies().unwrap().len(), 1);
        c.apply_env(|n| (n == "SEUIL_TRUSTED_PROXIES").then(|| "127.0.0.1, fd00::/8".into()))
            .unwrap();
        assert_eq!(c.proxies().unwrap().len(), 2);
        let err = c
            .apply_env(|n| (n == "SEUIL_TRUSTED_PROXIES").then(|| "10.0.0.0/99".into()))
            .unwrap_err();
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
    }

    #[test]
    fn s3_settings_in_the_file_are_used_and_the_environment_overrides_them() {
        let mut c: Config = toml::from_str(
            "[blobs]\nbackend = \"s3\"\ns3_endpoint = \"http://127.0.0.1:9\"\ns3_bucket = \"from-file\"\ns3_region = \"eu-west-3\"",
        )
        .unwrap();
        let credentials = |n: &str| match n {
            "SEUIL_S3_ACCESS_KEY" => Some("a".to_string()),
            "SEUIL_S3_SECRET_KEY" => Some("s".to_string()),
            _ => None,
        };
        c.apply_env(credentials).unwrap();
        let s3 = c.s3(credentials).expect("S3 from the file's settings");
        assert_eq!(
            (s3.endpoint.as_str(), s3.bucket.as_str(), s3.region.as_str()),
            ("http://127.0.0.1:9/", "from-file", "eu-west-3")
        );
        c.apply_env(|n| (n == "SEUIL_S3_BUCKET").then(|| "from-env".to_string()))
            .unwrap();
        assert_eq!(c.s3(credentials).unwrap().bucket, "from-env");
    }

    #[test]
    fn delivery_limits_come_from_the_file_and_the_environment_and_are_checked() {
        let mut c: Config =
            toml::from_str("[delivery]\ngrant_ttl_s = 300\nmax_window_h = 6").unwrap();
        c.apply_env(|n| (n == "SEUIL_LOCK_REPORT_WITHIN_S").then(|| "90".to_string()))
            .unwrap();
        let rules = c.delivery_rules();
        assert_eq!(rules.grant_ttl_ms, 300_000);
        assert_eq!(rules.max_window_ms, 6 * 3_600_000);
        assert_eq!(rules.lock_report_within_ms, 90_000);
        let err = c
            .apply_env(|n| (n == "SEUIL_GRANT_TTL_S").then(|| "5".to_string()))
            .unwrap_err();
        assert!(
            err.to_string().contains("grant_ttl_s must be 30 to 86400"),
            "{err}"
        );
        let err = Config::default()
            .apply_env(|n| (n == "SEUIL_MAX_WINDOW_H").then(|| "twelve".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("whole number"), "{err}");
    }
}
