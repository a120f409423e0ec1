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

/// Whether `ip` is an address on the public internet: not loopback, private, shared (CGNAT),
/// link-local, reserved for documentation or benchmarks, multicast, "this network", or an
/// IPv4 address dressed as IPv6 (mapped, NAT64, 6to4) that is one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(a == 0                                  // this network, 0/8
                || a == 10                            // private
                || (a == 100 && (64..128).contains(&b)) // shared address space, 100.64/10
                || a == 127                           // loopback
                || (a == 169 && b == 254)             // link-local
                || (a == 172 && (16..32).contains(&b)) // private
                || (a == 192 && b == 0 && c == 0)     // IETF protocol assignments
                || (a == 192 && b == 0 && c == 2)     // TEST-NET-1
                || (a == 192 && b == 88 && c == 99)   // 6to4 relay anycast
                || (a == 192 && b == 168)             // private
                || (a == 198 && (18..20).contains(&b)) // benchmarking, 198.18/15
                || (a == 198 && b == 51 && c == 100)  // TEST-NET-2
                || (a == 203 && b == 0 && c == 113)   // TEST-NET-3
                || a >= 224) // multicast, reserved, broadcast
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            !(v6.is_unspecified()
                || v6.is_loopback()
                || (s[0] & 0xff00) == 0xff00              // multicast
                || (s[0] & 0xfe00) == 0xfc00              // unique local
                || (s[0] & 0xffc0) == 0xfe80              // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8)     // documentation
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
                || (s[0] == 0x2001 && s[1] < 0x0200)      // IETF protocol assignments
                || (s[..6] == [0, 0, 0, 0, 0, 0])         // IPv4-compatible (deprecated)
                || (s[0] == 0x0064 && s[1] == 0xff9b && !is_public(embedded(s[6], s[7]))) // NAT64
                || (s[0] == 0x2002 && !is_public(embedded(s[1], s[2])))) // 6to4
        }
    }
}

/// A name resolver for webhook deliveries that answers only public addresses, so the address
/// checked is the address connected to: a name that resolves (or later re-resolves) to a
/// private address is refused, not followed.
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            // One private answer is enough to refuse: a name that mixes them is a trap.
            if public.is_empty() || public.len() != found.len() {
                return Err(format!("{host} resolves to an address that is not public").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// Checks a webhook URL: `https` (or `http` when private targets are allowed), no credentials,
/// and unless allowed, no address that is not public (see [`is_public`]) and no local name.
/// A name is resolved when a delivery is made, by [`PublicOnly`].
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
        // The URL parser writes every form of an IPv4 address (`2130706433`, `0x7f000001`,
        // `127.1`) as dotted decimal, and an IPv6 one in brackets.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let private_ip = literal.parse::<IpAddr>().is_ok_and(|ip| !is_public(ip));
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
    fn every_known_bypass_is_refused() {
        for bad in [
            "https://[::ffff:127.0.0.1]/x",
            "https://[::ffff:7f00:1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://100.64.0.1/x",
            "https://100.127.255.254/x",
            "https://198.18.0.1/x",
            "https://198.19.255.1/x",
            "https://0.0.0.0/x",
            "https://0.1.2.3/x",
            "https://169.254.169.254/latest/meta-data",
            "https://172.16.0.1/x",
            "https://192.0.0.1/x",
            "https://224.0.0.1/x",
            "https://255.255.255.255/x",
            "https://[fd00::1]/x",
            "https://[fe80::1]/x",
            "https://[64:ff9b::7f00:1]/x",
            "https://[2002:7f00:1::]/x",
            "https://[::127.0.0.1]/x",
            "https://2130706433/x",
            "https://0x7f000001/x",
            "https://017700000001/x",
            "https://127.1/x",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        for good in [
            "https://93.184.215.14/x",
            "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/x",
            "https://100.128.0.1/x",
            "https://198.20.0.1/x",
        ] {
            assert!(check_url(good, false).is_ok(), "{good}");
        }
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_a_private_address_is_not_followed() {
        use reqwest::dns::Resolve;
        // localhost resolves from the hosts file, with no network.
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(PublicOnly.resolve(name).await.is_err());
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
