//! Runs the portal's in-browser proof check (the exact script served on /my-data) under
//! Node.js against a real listener, with a minimal stand-in for the DOM: it must verify every
//! event, and must report a failure when a sealed event is altered in transit. Skipped when
//! `node` is not installed.

use crate::common::*;
use axum::http::Method;
use serde_json::json;
use std::process::Command;

const HARNESS: &str = r#"
const fs = require('fs');
const base = process.env.BASE, cookie = process.env.COOKIE, tamper = process.env.TAMPER === '1';
const realFetch = fetch;
globalThis.fetch = async (url, opts) => {
  const res = await realFetch(base + url, { headers: { cookie: 'seuil_session=' + cookie } });
  if (!tamper || !url.startsWith('/api/me/access-log')) { return res; }
  const log = await res.json();
  const s = log.events[0].sealed;
  log.events[0].sealed = (s[0] === '0' ? '1' : '0') + s.slice(1);
  return { ok: true, status: 200, json: async () => log };
};
const els = {
  'verify-browser': { hidden: true, disabled: false, addEventListener(ev, f) { this.click = f; } },
  'verify-result': { textContent: '', className: '' },
};
globalThis.document = { getElementById: (id) => els[id] };
globalThis.window = globalThis;
eval(fs.readFileSync(process.env.SCRIPT, 'utf8'));
if (els['verify-browser'].hidden) { console.log('button still hidden'); process.exit(2); }
els['verify-browser'].click();
(async () => {
  for (let i = 0; i < 400; i++) {
    const t = els['verify-result'].textContent;
    if (t && !t.startsWith('Verifying')) { console.log(t); return; }
    await new Promise((r) => setTimeout(r, 25));
  }
  console.log('timed out');
})();
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_check_verifies_and_catches_tampering() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("node is not installed: skipping the in-browser verification test");
        return;
    }
    let env = env().await;
    let u = env.customer("nora").await;
    env.json(
        Method::PUT,
        "/api/me/consents/palm.identify",
        &u.auth,
        json!({ "granted": true }),
    )
    .await;
    env.get("/api/me", &u.auth).await;
    let html = env.get("/my-data", &u.auth).await.text();
    let script = html
        .split("<script>")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap()
        .to_owned();
    let events = env.get("/api/me/access-log", &u.auth).await.json()["events"]
        .as_array()
        .unwrap()
        .len();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = env.app.clone();
    let server = tokio::spawn(async move { app.serve(listener).await });
    let dir = env.dir.path();
    std::fs::write(dir.join("verify.js"), &script).unwrap();
    std::fs::write(dir.join("harness.js"), HARNESS).unwrap();
    let Auth::Cookie(cookie) = &u.auth else {
        unreachable!()
    };

    let run = |tamper: bool| {
        let (dir, base, cookie) = (dir.to_owned(), base.clone(), cookie.clone());
        tokio::task::spawn_blocking(move || {
            let out = Command::new("node")
                .arg(dir.join("harness.js"))
                .env("BASE", base)
                .env("COOKIE", cookie)
                .env("SCRIPT", dir.join("verify.js"))
                .env("TAMPER", if tamper { "1" } else { "0" })
                .output()
                .unwrap();
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    let ok = run(false).await.unwrap();
    assert!(
        ok.starts_with(&format!(
            "All {events} events verified against checkpoint of size "
        )),
        "{ok}"
    );
    assert!(ok.contains("(checkpoint signature verified)"), "{ok}");
    let bad = run(true).await.unwrap();
    assert!(bad.starts_with("Verification failed: event "), "{bad}");
    assert!(bad.contains("leaf hash does not match"), "{bad}");
    server.abort();
}
