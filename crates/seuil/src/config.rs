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
    pub store: StoreConfig,
    pub blobs: BlobConfig,
    pub kek: KekConfig,
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
            store: StoreConfig::default(),
            blobs: BlobConfig::default(),
            kek: KekConfig::default(),
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
        self.validate()
    }

    fn validate(&self) -> anyhow::Result<()> {
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
}
