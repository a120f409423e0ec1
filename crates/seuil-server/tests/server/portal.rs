//! The portal without JavaScript: sign-up, My data, consent toggles, server-side verification,
//! deletion with the certificate page; escaping and the Content-Security-Policy.

use crate::common::*;
use axum::http::{Method, StatusCode};
use base64::Engine;
use sha2::{Digest, Sha256};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_journey_works_without_javascript() {
    let env = env().await;
    let home = env.get("/", &Auth::None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        home.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    let form = env.get("/signup", &Auth::None).await.text();
    for id in ["signup-email", "signup-password", "signup-submit"] {
        assert!(form.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let form = env.get("/signin", &Auth::None).await.text();
    for id in ["signin-email", "signin-password", "signin-submit"] {
        assert!(form.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert_eq!(
        env.get("/my-data", &Auth::None).await.header("location"),
        Some("/signin")
    );

    // Sign up with a name that would be markup.
    let r = env
        .call(Method::POST, "/signup", &Auth::None)
        .header("origin", "http://seuil.test")
        .form(&[
            ("email", "pia@example.com"),
            ("password", "portal password"),
            ("display_name", "<b>Pia</b> & co"),
        ])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header("location"), Some("/my-data"));
    let auth = Auth::Cookie(r.session_cookie().unwrap());

    let page = env.get("/my-data", &auth).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("&lt;b&gt;Pia&lt;/b&gt; &amp; co") && !html.contains("<b>Pia</b>"),
        "not escaped"
    );
    for id in [
        "consent-marketing-email",
        "consent-delivery-video",
        "access-log",
        "verify-browser",
        "verify-server",
        "verify-result",
        "export-link",
        "delete-account",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "missing #{id}");
    }
    // The inline script and style are allowed by their hashes, nothing else.
    let csp = page.header("content-security-policy").unwrap().to_owned();
    let script = html
        .split("<script>")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()));
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));

    // Toggle a consent with the no-JS form.
    let r = env
        .call(Method::POST, "/my-data/consents/marketing.email", &auth)
        .header("origin", "http://seuil.test")
        .form(&[("granted", "true")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let html = env.get("/my-data", &auth).await.text();
    let button = html.split("id=\"consent-marketing-email\"").nth(1).unwrap();
    assert!(
        button
            .split('>')
            .next()
            .unwrap()
            .contains("aria-pressed=\"true\""),
        "{button}"
    );
    assert!(
        html.contains("granted consent"),
        "the access log shows the decision"
    );
    // A cross-site form post is refused.
    let r = env
        .call(Method::POST, "/my-data/consents/marketing.email", &auth)
        .header("origin", "https://evil.example")
        .form(&[("granted", "false")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Server-side verification renders its result.
    let r = env
        .call(Method::POST, "/my-data/verify", &auth)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    let result = html
        .split("id=\"verify-result\"")
        .nth(1)
        .unwrap()
        .split("</p>")
        .next()
        .unwrap();
    assert!(
        result.contains("All ") && result.contains(" events verified against checkpoint of size "),
        "{result}"
    );
    // The count matches the rows shown on the page.
    let rows = html
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .matches("<tr ")
        .count();
    assert!(
        result.contains(&format!("All {rows} events")),
        "{result} vs {rows} rows"
    );

    // Wrong sign-in renders the form again with an error.
    let r = env
        .call(Method::POST, "/signin", &Auth::None)
        .form(&[("email", "pia@example.com"), ("password", "not it")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("id=\"signin-error\""));

    // Delete: confirmation page, a wrong word, then DELETE.
    let html = env.get("/my-data/delete", &auth).await.text();
    assert!(
        html.contains("id=\"delete-confirm-input\"")
            && html.contains("id=\"delete-confirm-submit\"")
    );
    let r = env
        .call(Method::POST, "/my-data/delete", &auth)
        .form(&[("confirm", "delete"), ("password", "portal password")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(env.get("/my-data", &auth).await.status, StatusCode::OK);
    let r = env
        .call(Method::POST, "/my-data/delete", &auth)
        .form(&[("confirm", "DELETE"), ("password", "not it")])
        .send()
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "the password is asked again"
    );
    assert!(r.text().contains("id=\"delete-password-input\""));
    let r = env
        .call(Method::POST, "/my-data/delete", &auth)
        .form(&[("confirm", "DELETE"), ("password", "portal password")])
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let html = r.text();
    assert!(html.contains("id=\"erasure-certificate\""));
    assert!(html.contains("Your account is gone"));
    assert!(html.contains(">valid<"));
    let r = env.get("/my-data", &auth).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}
