//! The page shell: escaping, the stylesheet, the Content-Security-Policy (inline style and
//! script allowed by hash only) and the small pieces pages share.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use seuil_store::Millis;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub const CSS: &str = r#"
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fbfaf7; --muted: #5b6470; --line: #d9d6cf; --accent: #0b5f56; --bad: #a3261b; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e6e1; --bg: #16181b; --muted: #a0a7b0; --line: #3a3e44; --accent: #5cc2b5; --bad: #ff8b7e; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 60rem; margin: 0 auto; padding: 1rem 1.25rem; }
header { display: flex; justify-content: space-between; align-items: center; border-bottom: 1px solid var(--line); }
header a.brand { font-weight: 700; font-size: 1.2rem; color: var(--fg); text-decoration: none; letter-spacing: .02em; }
nav { display: flex; gap: 1rem; align-items: center; }
nav form { margin: 0; }
a { color: var(--accent); }
h1 { font-size: 1.7rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
p.muted, .muted { color: var(--muted); }
form.stack { display: grid; gap: .75rem; max-width: 24rem; }
label { display: grid; gap: .25rem; font-weight: 600; }
input[type=email], input[type=password], input[type=text] { font: inherit; padding: .5rem .6rem; border: 1px solid var(--line); border-radius: .4rem; background: transparent; color: inherit; }
button, .button { font: inherit; cursor: pointer; padding: .45rem .9rem; border-radius: .4rem; border: 1px solid var(--accent); background: var(--accent); color: var(--bg); text-decoration: none; display: inline-block; }
button.secondary { background: transparent; color: var(--accent); }
button.danger, .button.danger { background: var(--bad); border-color: var(--bad); }
button:focus-visible, a:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
.consents { display: grid; gap: .5rem; }
.consent { display: flex; justify-content: space-between; gap: 1rem; align-items: center; padding: .5rem 0; border-bottom: 1px solid var(--line); }
.consent form { margin: 0; }
.state-on { color: var(--accent); font-weight: 600; }
.state-off { color: var(--muted); }
.error { color: var(--bad); font-weight: 600; }
.result { padding: .5rem .75rem; border-left: 4px solid var(--accent); margin: .75rem 0; }
.result.bad { border-color: var(--bad); }
dl.cert { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.cert dt { font-weight: 600; }
dl.cert dd { margin: 0; font-family: ui-monospace, monospace; word-break: break-all; }
.actions { display: flex; gap: .75rem; flex-wrap: wrap; align-items: center; }
.live { color: var(--accent); font-weight: 700; }
.stale { color: var(--bad); font-weight: 700; }
img#live-frame { max-width: 100%; height: auto; border: 3px solid var(--accent); border-radius: .4rem; }
img#live-frame.stale { border-color: var(--bad); filter: grayscale(1) opacity(.5); }
svg.timeline { width: 100%; height: 2rem; }
article.visit { border-bottom: 1px solid var(--line); padding: .5rem 0 1rem; }
article.visit h3 { margin: .5rem 0 .25rem; }
select { font: inherit; padding: .4rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
"#;

fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}' 'sha256-{}'; connect-src 'self'; \
             img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            hash(CSS),
            hash(super::script::VERIFY_JS),
            hash(super::deliveries::LIVE_JS)
        )
    })
}

/// Who is signed in, for the header.
pub enum Nav<'a> {
    Anonymous,
    /// Signed in; the display name when the page has opened the account anyway.
    SignedIn(Option<&'a str>),
}

/// The page for a signed-in person on a page that is not for their kind of account (a
/// courier on the customer's deliveries, say).
pub fn refused(why: &str) -> Response {
    let body = format!(
        r#"<h1>Not for this account</h1><p class="error" role="alert">{}</p><p><a href="/my-data">Back to my data</a></p>"#,
        esc(why)
    );
    page(
        StatusCode::FORBIDDEN,
        "Not for this account",
        Nav::SignedIn(None),
        &body,
    )
}

/// A full page with the given status.
pub fn page(status: StatusCode, title: &str, nav: Nav<'_>, body: &str) -> Response {
    let nav_html = match nav {
        Nav::SignedIn(name) => format!(
            r#"{}<a href="/deliveries">Deliveries</a><a href="/my-data">My data</a>
<form method="post" action="/signout"><button class="secondary" id="signout-submit" type="submit">Sign out</button></form>"#,
            name.map(|n| format!(r#"<span class="muted">Signed in as {}</span>"#, esc(n)))
                .unwrap_or_default()
        ),
        Nav::Anonymous => {
            r#"<a href="/signin">Sign in</a><a href="/signup">Create account</a>"#.to_owned()
        }
    };
    let html = format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Seuil</title>
<style>{CSS}</style>
</head>
<body>
<a class="sr-only" href="#main">Skip to content</a>
<header><a class="brand" href="/">Seuil</a><nav aria-label="Account">{nav_html}</nav></header>
<main id="main">
{body}
</main>
<footer class="muted">Seuil keeps your data sealed under your own key. Every access is logged where you can verify it.</footer>
</body>
</html>"##,
        title = esc(title),
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// `YYYY-MM-DD HH:MM:SS UTC` from Unix milliseconds.
pub fn time(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn formats_time() {
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(time(1_794_000_000_123), "2026-11-06 21:20:00 UTC");
    }
}
