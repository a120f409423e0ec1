//! Extractors whose rejections are problem+json (never axum's plain text, never a 500).
//! Request bodies are declared with `#[serde(deny_unknown_fields)]`.

use crate::problem::Problem;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON body. Wrong content type → 415, not JSON at all → 400, valid JSON of the wrong
/// shape (unknown field, missing field, wrong type) → 422, too large → 413.
pub struct ApiJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        if !is_json(&req) {
            return Err(Problem::from_rejection(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected `Content-Type: application/json`".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| Problem::from_rejection(r.status(), r.body_text()))?;
        // Two steps so that syntax errors (400) and shape errors (422) are told apart reliably.
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Problem::bad_request(format!("the body is not valid JSON: {e}")))?;
        serde_json::from_value(value).map(ApiJson).map_err(|e| {
            Problem::unprocessable(format!("the JSON body does not fit this route: {e}"))
        })
    }
}

/// A urlencoded form body (portal).
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| ApiForm(v))
            .map_err(|r| Problem::from_rejection(r.status(), r.body_text()))
    }
}

/// Query-string parameters.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|r| Problem::from_rejection(r.status(), r.body_text()))
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|r| Problem::from_rejection(r.status(), r.body_text()))
    }
}

/// An address or a network (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`): a trusted proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not an IP address or a network such as 10.0.0.0/8");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let parsed: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if parsed.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        // `::ffff:10.0.0.0/104` is `10.0.0.0/8`.
        let (addr, prefix) = match canonical(parsed) {
            v4 @ std::net::IpAddr::V4(_) if parsed.is_ipv6() => (v4, prefix.saturating_sub(96)),
            addr => (addr, prefix),
        };
        Ok(IpNet { addr, prefix })
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(addr: std::net::IpAddr) -> std::net::IpAddr {
    match addr {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, std::net::IpAddr::V4),
        v4 => v4,
    }
}

impl IpNet {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let bits = |ip: std::net::IpAddr| -> (u128, u8) {
            match ip {
                std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                std::net::IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let (net, len) = bits(self.addr);
        let (ip, ip_len) = bits(canonical(ip));
        if len != ip_len {
            return false;
        }
        let host_bits = u32::from(len - self.prefix.min(len));
        let mask = if host_bits >= 128 {
            0
        } else {
            u128::MAX << host_bits
        };
        let mask = mask
            & if len == 32 {
                u128::from(u32::MAX)
            } else {
                u128::MAX
            };
        net & mask == ip & mask
    }
}

/// The client's address for rate limiting: the socket's peer, or, when the peer is a trusted
/// proxy, the rightmost `X-Forwarded-For` hop that is not a trusted proxy (each proxy appends
/// the address it saw, so everything to the left of that hop is the client's own say).
/// `unknown` when there is no peer (a request served in-process).
pub struct ClientIp(pub String);

/// The client by `X-Forwarded-For` (its header values, in order) behind `peer`.
pub fn client_ip(peer: std::net::IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> String {
    let trusted_ip = |ip: std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !trusted_ip(peer) {
        return canonical(peer).to_string();
    }
    let hops: Vec<&str> = forwarded
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if trusted_ip(ip) => continue,
            Ok(ip) => return canonical(ip).to_string(),
            // Garbage from the client side: the last proxy saw it, so it is the client's.
            Err(_) => return (*hop).to_owned(),
        }
    }
    // Proxies all the way: the leftmost one is as close to the client as we know.
    hops.first()
        .map_or_else(|| canonical(peer).to_string(), |h| (*h).to_owned())
}

impl FromRequestParts<crate::state::Shared> for ClientIp {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::Shared,
    ) -> Result<Self, Problem> {
        let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|ci| ci.0.ip())
        else {
            return Ok(ClientIp("unknown".into()));
        };
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientIp(client_ip(
            peer,
            &forwarded,
            &state.config.trusted_proxies,
        )))
    }
}

/// Reads the body field `field` as base64 of a 32-byte Ed25519 public key that
/// [`seuil_proto::public_key`] accepts (a curve point not of small order).
pub fn public_key(field: &str, text: &str) -> Result<[u8; 32], Problem> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .filter(|b| seuil_proto::public_key(b).is_some())
        .ok_or_else(|| {
            Problem::unprocessable(format!(
                "`{field}` must be base64 of a 32-byte Ed25519 public key"
            ))
        })
}

#[cfg(test)]
mod client_ip_tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let proxies = nets(&["10.0.0.0/8", "fd00::/8"]);
        let peer = "10.1.2.3".parse().unwrap();
        // The client wrote the first entry itself: it is never chosen.
        assert_eq!(
            client_ip(peer, &["6.6.6.6, 203.0.113.9, 10.0.0.7"], &proxies),
            "203.0.113.9"
        );
        assert_eq!(
            client_ip(peer, &["6.6.6.6", "203.0.113.9"], &proxies),
            "203.0.113.9",
            "several header lines are one list"
        );
        // A peer that is not a proxy is the client, whatever it claims.
        let direct = "198.51.100.4".parse().unwrap();
        assert_eq!(client_ip(direct, &["10.0.0.1"], &proxies), "198.51.100.4");
        assert_eq!(client_ip(direct, &[], &[]), "198.51.100.4");
        // IPv4 written as IPv6 is the same address, as peer and as hop.
        let mapped = "::ffff:10.9.9.9".parse().unwrap();
        assert_eq!(
            client_ip(mapped, &["::ffff:192.0.2.1"], &proxies),
            "192.0.2.1"
        );
        assert_eq!(client_ip(peer, &["garbage"], &proxies), "garbage");
        assert_eq!(client_ip(peer, &[], &proxies), "10.1.2.3");
    }

    #[test]
    fn networks_parse_and_match() {
        let n: IpNet = "192.168.0.0/16".parse().unwrap();
        assert!(n.contains("192.168.200.1".parse().unwrap()));
        assert!(!n.contains("192.169.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:192.168.1.1".parse().unwrap()));
        let one: IpNet = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(!all.contains("2001:db8::1".parse().unwrap()));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }
}
