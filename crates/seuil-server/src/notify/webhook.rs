//! Webhook subscriptions: kind `webhook`, sealed body `{url, secret}` (the URL a customer
//! chose can be personal; the secret is shown once at creation). Deliveries are signed with
//! `Seuil-Signature: v1=hex(HMAC-SHA256(secret, timestamp + "." + body))`.

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use base64::Engine;
use hmac::{Mac, SimpleHmac};
use rand::RngCore;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use seuil_store::{IndexFields, Millis, Query};
use seuil_vault::{Actor, Write};
use sha2::Sha256;
use std::net::IpAddr;

pub const KIND: &str = "webhook";
pub const PURPOSE: &str = "notify";

#[derive(Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub url: String,
    pub secret: String,
}

pub fn random_id(prefix: &str) -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

/// `v1=` + hex HMAC-SHA256 over `timestamp.body`.
pub fn signature(secret: &str, timestamp: Millis, body: &[u8]) -> String {
    let mut mac = SimpleHmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a webhook URL: `https` (or `http` when private targets are allowed), no credentials,
/// and unless allowed, no loopback/private/link-local address or `localhost`. Names that
/// resolve to private addresses are not caught here (DNS is not consulted).
pub fn check_url(raw: &str, allow_private: bool) -> ApiResult<Url> {
    let bad = |why: &str| Problem::unprocessable(format!("`url` {why}"));
    if raw.len() > 2048 {
        return Err(bad("must be at most 2048 characters"));
    }
    let url = Url::parse(raw)
        .map_err(|_| bad("must be an absolute URL such as https://example.com/hook"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(bad("must use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not hold credentials; use the signing secret to authenticate deliveries",
        ));
    }
    let host = url.host_str().ok_or_else(|| bad("must name a host"))?;
    if !allow_private {
        let trimmed = host.trim_start_matches('[').trim_end_matches(']');
        let private_ip = trimmed.parse::<IpAddr>().is_ok_and(|ip| match ip {
            IpAddr::V4(v4) => {
                v4.is_loopback()
                    || v4.is_private()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_multicast()
            }
            IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        });
        let local_name = host == "localhost"
            || host.ends_with(".localhost")
            || host.ends_with(".internal")
            || host.ends_with(".local");
        if private_ip || local_name {
            return Err(bad("must point to a public address"));
        }
    }
    Ok(url)
}

pub struct Created {
    pub id: String,
    pub url: String,
    pub secret: String,
    pub created_at: Millis,
}

pub async fn create(state: &AppState, subject: &str, url: &str) -> ApiResult<Created> {
    let url = check_url(url, state.config.webhook_allow_private_targets)?.to_string();
    let q = Query {
        kind: KIND.into(),
        subject: Some(subject.into()),
        ..Query::default()
    };
    if state.vault.store().query(&q).await?.len() >= state.config.max_webhooks_per_subject {
        return Err(Problem::conflict(format!(
            "you already have {} webhooks, the most allowed; delete one first",
            state.config.max_webhooks_per_subject
        )));
    }
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let id = random_id("wh");
    let body = serde_json::to_vec(&Subscription {
        url: url.clone(),
        secret: secret.clone(),
    })
    .map_err(|e| Problem::internal(e.to_string()))?;
    let created_at = state.vault.now();
    state
        .vault
        .seal(
            &Actor::Subject(subject.into()),
            PURPOSE,
            Write {
                kind: KIND,
                id: &id,
                subject,
                index: IndexFields {
                    status: Some("active".into()),
                    at: Some(created_at),
                    scope: None,
                },
                body: &body,
            },
        )
        .await?;
    Ok(Created {
        id,
        url,
        secret,
        created_at,
    })
}

/// The subject's webhooks as `(id, url, created_at)`, opened as themselves.
pub async fn list(state: &AppState, subject: &str) -> ApiResult<Vec<(String, String, Millis)>> {
    let q = Query {
        kind: KIND.into(),
        subject: Some(subject.into()),
        ..Query::default()
    };
    let opened = state
        .vault
        .open_all(&Actor::Subject(subject.into()), PURPOSE, &q)
        .await?;
    Ok(opened
        .into_iter()
        .filter_map(|o| {
            let sub: Subscription = serde_json::from_slice(&o.body).ok()?;
            Some((o.id, sub.url, o.index.at.unwrap_or(o.created_at)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.0.0.8/x",
            "https://[::1]/x",
            "https://localhost/x",
            "https://user:pw@example.com/",
            "ftp://example.com/",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
    }

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        let s = signature("k", 1, b"{}");
        let mut mac = SimpleHmac::<Sha256>::new_from_slice(b"k").unwrap();
        mac.update(b"1.{}");
        assert_eq!(
            s,
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
    }
}
