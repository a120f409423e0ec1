//! Where the bucket is and how to sign for it, from the environment or by hand.

use super::*;

/// Where the blobs are kept in S3-compatible storage.
#[derive(Clone)]
pub struct S3Config {
    /// The service, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
    pub endpoint: Url,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// `true` for `endpoint/bucket/key` URLs (MinIO, moto, most self-hosted services),
    /// `false` for `bucket.endpoint/key` (AWS).
    pub path_style: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint.as_str())
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .finish()
    }
}

impl S3Config {
    /// Reads the configuration from the environment; `None` unless `SEUIL_S3_ENDPOINT` and
    /// `SEUIL_S3_BUCKET` are set (an invalid endpoint or missing credentials are logged).
    ///
    /// - `SEUIL_S3_ENDPOINT`, `SEUIL_S3_BUCKET`
    /// - `SEUIL_S3_REGION` (default `us-east-1`)
    /// - `SEUIL_S3_ACCESS_KEY` / `SEUIL_S3_SECRET_KEY`, else `AWS_ACCESS_KEY_ID` /
    ///   `AWS_SECRET_ACCESS_KEY`
    /// - `SEUIL_S3_PATH_STYLE` (`true`/`false`; default `false` for `*.amazonaws.com`, `true`
    ///   otherwise)
    pub fn from_env() -> Option<S3Config> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`S3Config::from_env`], reading each variable through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<S3Config> {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let endpoint = var("SEUIL_S3_ENDPOINT")?;
        let bucket = var("SEUIL_S3_BUCKET")?;
        let endpoint = match Url::parse(&endpoint) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => url,
            _ => {
                tracing::error!(
                    "SEUIL_S3_ENDPOINT {endpoint:?} is not an http(s) URL such as http://127.0.0.1:9000; S3 is not used"
                );
                return None;
            }
        };
        let access_key = var("SEUIL_S3_ACCESS_KEY").or_else(|| var("AWS_ACCESS_KEY_ID"));
        let secret_key = var("SEUIL_S3_SECRET_KEY").or_else(|| var("AWS_SECRET_ACCESS_KEY"));
        let (Some(access_key), Some(secret_key)) = (access_key, secret_key) else {
            tracing::error!(
                "SEUIL_S3_ENDPOINT is set but the credentials are not: set SEUIL_S3_ACCESS_KEY and SEUIL_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); S3 is not used"
            );
            return None;
        };
        let aws = endpoint
            .host_str()
            .is_some_and(|h| h.ends_with(".amazonaws.com"));
        let path_style = match var("SEUIL_S3_PATH_STYLE").as_deref() {
            Some("1" | "true" | "yes") => true,
            Some("0" | "false" | "no") => false,
            _ => !aws,
        };
        Some(S3Config {
            endpoint,
            bucket,
            region: var("SEUIL_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            access_key,
            secret_key,
            path_style,
        })
    }
}
