//! The portal's pages and form handlers. They call the same functions as the JSON API.

use super::layout::{Nav, esc, page, time};
use super::script::VERIFY_JS;
use crate::auth::{Caller, MaybeCaller, accounts, sessions};
use crate::extract::{ApiForm, ApiPath, ClientIp};
use crate::problem::Problem;
use crate::routes::account::{SignUpRequest, do_erase, do_sign_in, do_sign_up, reauthenticate};
use crate::routes::privacy::{self, EventView};
use crate::state::{AppState, Shared};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use seuil_vault::{Actor, Outcome};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUpForm {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInForm {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentForm {
    pub granted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteForm {
    pub confirm: String,
    pub password: String,
}

/// An error as a page, for portal routes.
fn error_page(p: &Problem, nav: Nav<'_>) -> Response {
    let body = format!(
        r#"<h1>{}</h1><p class="error" role="alert">{}</p><p><a href="/my-data">Back to My data</a> · <a href="/">Home</a></p>"#,
        esc(&p.title),
        esc(&p.detail)
    );
    let mut res = page(p.status, &p.title, nav, &body);
    if let Some(secs) = p.retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

fn with_cookie(mut res: Response, cookie: HeaderValue) -> Response {
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

pub async fn home(MaybeCaller(caller): MaybeCaller) -> Response {
    let nav = if caller.is_some() {
        Nav::SignedIn(None)
    } else {
        Nav::Anonymous
    };
    let cta = if caller.is_some() {
        r#"<p class="actions"><a class="button" href="/my-data">Go to My data</a></p>"#
    } else {
        r#"<p class="actions"><a class="button" href="/signup">Create an account</a> <a href="/signin">Sign in</a></p>"#
    };
    let body = format!(
        r#"<h1>Retail that stays on your side of the threshold</h1>
<p>Seuil runs in-home delivery, palm pay, walk-out stores and a shopper panel so that <strong>you</strong>
stay in control of what you reveal.</p>
<ul>
<li><strong>Sealed by default.</strong> Everything about you is encrypted under a key of your own.</li>
<li><strong>Purpose-bound.</strong> Each use of your data names a purpose; those that need your consent stop the moment you withdraw it.</li>
<li><strong>Provable.</strong> Every access is written to a public Merkle log. You can check each entry yourself, in your browser.</li>
<li><strong>Deletion you can verify.</strong> Deleting your account destroys your key and gives you a signed certificate.</li>
</ul>
{cta}
<p class="muted">For developers: the <a href="/api/openapi.json">OpenAPI document</a> and the
<a href="/api/audit/checkpoint">current signed checkpoint</a>.</p>"#
    );
    page(StatusCode::OK, "Seuil", nav, &body)
}

fn signup_html(error: Option<&str>, email: &str, name: &str) -> String {
    let error = error
        .map(|e| {
            format!(
                r#"<p class="error" role="alert" id="signup-error">{}</p>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    format!(
        r#"<h1>Create your account</h1>
{error}
<form class="stack" method="post" action="/signup">
<label for="signup-email">Email address<input id="signup-email" name="email" type="email" autocomplete="email" required value="{}"></label>
<label for="signup-name">Your name (as we should greet you)<input id="signup-name" name="display_name" type="text" autocomplete="nickname" required maxlength="100" value="{}"></label>
<label for="signup-password">Password (at least 8 characters)<input id="signup-password" name="password" type="password" autocomplete="new-password" required minlength="8"></label>
<button id="signup-submit" type="submit">Create account</button>
</form>
<p class="muted">Already have an account? <a href="/signin">Sign in</a>.</p>"#,
        esc(email),
        esc(name)
    )
}

fn signin_html(error: Option<&str>, email: &str) -> String {
    let error = error
        .map(|e| {
            format!(
                r#"<p class="error" role="alert" id="signin-error">{}</p>"#,
                esc(e)
            )
        })
        .unwrap_or_default();
    format!(
        r#"<h1>Sign in</h1>
{error}
<form class="stack" method="post" action="/signin">
<label for="signin-email">Email address<input id="signin-email" name="email" type="email" autocomplete="email" required value="{}"></label>
<label for="signin-password">Password<input id="signin-password" name="password" type="password" autocomplete="current-password" required></label>
<button id="signin-submit" type="submit">Sign in</button>
</form>
<p class="muted">New here? <a href="/signup">Create an account</a>.</p>"#,
        esc(email)
    )
}

pub async fn signup_form(MaybeCaller(caller): MaybeCaller) -> Response {
    if caller.is_some() {
        return Redirect::to("/my-data").into_response();
    }
    page(
        StatusCode::OK,
        "Create account",
        Nav::Anonymous,
        &signup_html(None, "", ""),
    )
}

pub async fn signup(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    ApiForm(form): ApiForm<SignUpForm>,
) -> Response {
    let req = SignUpRequest {
        email: form.email,
        password: form.password,
        display_name: form.display_name,
    };
    match do_sign_up(&state, &ip, &req).await {
        Ok(s) => with_cookie(
            Redirect::to("/my-data").into_response(),
            sessions::set_cookie(&state, &s.token),
        ),
        Err(p) => page(
            p.status,
            "Create account",
            Nav::Anonymous,
            &signup_html(Some(&p.detail), &req.email, &req.display_name),
        ),
    }
}

pub async fn signin_form(MaybeCaller(caller): MaybeCaller) -> Response {
    if caller.is_some() {
        return Redirect::to("/my-data").into_response();
    }
    page(
        StatusCode::OK,
        "Sign in",
        Nav::Anonymous,
        &signin_html(None, ""),
    )
}

pub async fn signin(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    ApiForm(form): ApiForm<SignInForm>,
) -> Response {
    match do_sign_in(&state, &ip, &form.email, &form.password).await {
        Ok(s) => with_cookie(
            Redirect::to("/my-data").into_response(),
            sessions::set_cookie(&state, &s.token),
        ),
        Err(p) => {
            let mut res = page(
                p.status,
                "Sign in",
                Nav::Anonymous,
                &signin_html(Some(&p.detail), &form.email),
            );
            if let Some(secs) = p.retry_after {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            res
        }
    }
}

pub async fn signout(State(state): State<Shared>, caller: Caller) -> Response {
    let _ = sessions::delete(&state, &caller.session_id).await;
    with_cookie(
        Redirect::to("/").into_response(),
        sessions::clear_cookie(&state),
    )
}

fn who(actor: &Option<Actor>, me: &str) -> String {
    match actor {
        Some(Actor::Subject(s)) if s == me => "You".into(),
        Some(Actor::Subject(s)) => format!("Person {s}"),
        Some(Actor::Operator(id)) => format!("Operator staff {id}"),
        Some(Actor::Courier(id)) => format!("Courier {id}"),
        Some(Actor::Device(id)) => format!("Device {id}"),
        Some(Actor::System(task)) => match task.as_str() {
            "auth" => "Seuil sign-in".into(),
            "notify" => "Seuil notifications".into(),
            "retention" => "Seuil retention sweeper".into(),
            other => format!("Seuil ({other})"),
        },
        None => "(unreadable)".into(),
    }
}

fn what(ev: &EventView) -> String {
    let verb = match ev.action.as_deref() {
        Some("open") => "read",
        Some("seal") => "stored",
        Some("update") => "updated",
        Some("delete") => "deleted",
        Some("consent.grant") => "granted consent",
        Some("consent.withdraw") => "withdrew consent",
        Some("export") => "exported",
        Some("erase") => "erased",
        Some(other) => other,
        None => "?",
    };
    let kind = match ev.kind.as_deref() {
        Some("detached") => "a queued notification",
        Some("account") => "your account",
        Some("consent") => "",
        Some("subject") => "all your data",
        Some(k) => k,
        None => "",
    };
    format!("{verb} {kind}").trim_end().to_owned()
}

fn outcome(o: Option<Outcome>) -> (&'static str, &'static str) {
    match o {
        Some(Outcome::Ok) => ("allowed", "state-on"),
        Some(Outcome::Denied) => ("refused: no consent", "error"),
        Some(Outcome::Refused) => ("refused: not theirs to see", "error"),
        Some(Outcome::IntegrityError) => ("integrity error", "error"),
        None => ("unknown", "muted"),
    }
}

/// Purpose names hold dots; ids use dashes so CSS selectors need no escaping
/// (`#consent-delivery-video` for `delivery.video`).
pub fn consent_button_id(purpose: &str) -> String {
    format!("consent-{}", purpose.replace(['.', '_'], "-"))
}

/// `verify`: also verify the events shown (after the page's own account read, so the count
/// matches the table).
async fn my_data_page(
    state: &AppState,
    caller: &Caller,
    verify: bool,
) -> Result<Response, Problem> {
    let (_, account) = accounts::open_own(state, &caller.subject).await?;
    let consents = state.vault.consents(&caller.subject).await?;
    // The newest page, which both verifications check too.
    let privacy::EventsPage { events, older } =
        privacy::events(state, &caller.subject, privacy::LogPage::default()).await?;
    let verified = match verify {
        true => {
            Some(privacy::verify_events(state, &caller.subject, privacy::LogPage::default()).await?)
        }
        false => None,
    };

    let mut consent_rows = String::new();
    for c in &consents {
        let (label, class, next, button) = if c.granted {
            ("Granted", "state-on", "false", "Withdraw")
        } else {
            ("Not granted", "state-off", "true", "Grant")
        };
        consent_rows.push_str(&format!(
            r#"<div class="consent"><div><strong>{desc}</strong><br><span class="muted">{name}</span></div>
<div class="actions"><span class="{class}">{label}</span>
<form method="post" action="/my-data/consents/{name}"><input type="hidden" name="granted" value="{next}"><button type="submit" id="{id}" data-purpose="{name}" aria-pressed="{pressed}" aria-label="{button} consent: {desc}">{button}</button></form></div></div>
"#,
            desc = esc(&c.purpose.description),
            name = esc(&c.purpose.name),
            id = esc(&consent_button_id(&c.purpose.name)),
            pressed = c.granted,
        ));
    }

    let purpose_text = |p: &Option<String>| -> String {
        match p {
            Some(name) => state
                .vault
                .purposes()
                .get(name)
                .map_or_else(|_| name.clone(), |def| def.description.clone()),
            None => String::new(),
        }
    };
    let mut rows = String::new();
    for ev in events.iter().rev() {
        let (out, class) = outcome(ev.outcome);
        rows.push_str(&format!(
            r#"<tr data-index="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{class}">{out}</td></tr>
"#,
            ev.index,
            esc(&time(ev.at)),
            esc(&who(&ev.actor, &caller.subject)),
            esc(&what(ev)),
            esc(&purpose_text(&ev.purpose)),
        ));
    }
    let more = match older {
        Some(before) => format!(
            r#"<p class="muted">Showing the latest {} events, which both verifications check; your export holds all of them, and <code>/api/me/access-log?before={before}</code> pages through the older ones.</p>"#,
            events.len()
        ),
        None => String::new(),
    };
    let sessions_rows: String = sessions::list(state, caller)
        .await?
        .iter()
        .map(|s| {
            let what = match (s.via, s.current) {
                (_, true) => "This browser",
                ("bearer", _) => "API token",
                _ => "Another browser",
            };
            format!(
                r#"<li><span>{what}, signed in {at}</span> <form method="post" action="/my-data/sessions/{id}/revoke"><button class="secondary" type="submit" id="revoke-session-{short}">End</button></form></li>"#,
                at = esc(&time(s.created_at)),
                id = esc(&s.id),
                short = esc(&s.id[..12.min(s.id.len())]),
            )
        })
        .collect();
    let (result_class, result_text) = match &verified {
        Some(v) if v.verified => ("result", v.summary()),
        Some(v) => ("result bad", v.summary()),
        None => ("result muted", String::new()),
    };

    let body = format!(
        r#"<h1>My data</h1>
<p>Hello {name}. You are signed in as <strong>{email}</strong>.</p>

<section aria-labelledby="consents-heading">
<h2 id="consents-heading">Consents</h2>
<p class="muted">These uses of your data happen only while you agree. Withdrawing takes effect at once.</p>
<div class="consents" id="consents">
{consent_rows}</div>
</section>

<section aria-labelledby="log-heading">
<h2 id="log-heading">Who accessed your data</h2>
<p class="muted">Every read and write of your data is an entry in Seuil's public, append-only Merkle log.
You can check that each entry below is in the log signed by Seuil.</p>
<div class="actions">
<button type="button" id="verify-browser" hidden>Verify proofs in this browser</button>
<form method="post" action="/my-data/verify"><button class="secondary" type="submit" id="verify-server">Verify on the server</button></form>
</div>
<p id="verify-result" class="{result_class}" role="status" aria-live="polite">{result}</p>
{more}
<table id="access-log">
<caption class="sr-only">Access log, newest first</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Why</th><th scope="col">Outcome</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
</section>

<section aria-labelledby="security-heading">
<h2 id="security-heading">Sign-in and security</h2>
<ul class="sessions" id="sessions">{sessions_rows}</ul>
<form method="post" action="/my-data/sessions/revoke-all"><button class="secondary" type="submit" id="signout-everywhere">Sign out everywhere</button></form>
<form class="stack" method="post" action="/my-data/password">
<label for="current-password">Current password<input id="current-password" name="current_password" type="password" autocomplete="current-password" required></label>
<label for="new-password">New password (8 characters or more, not a common one)<input id="new-password" name="new_password" type="password" autocomplete="new-password" minlength="8" required></label>
<button type="submit" id="password-submit">Change password</button>
<span class="muted">Your other sessions end; sign in there again with the new password.</span>
</form>
</section>

<section aria-labelledby="data-heading">
<h2 id="data-heading">Your data</h2>
<p class="actions"><a class="button" id="export-link" href="/api/me/export" download>Download my export</a>
<span class="muted">Everything we hold about you, with your access log and its proofs, as one archive.</span></p>
<p class="actions"><a class="button danger" id="delete-account" href="/my-data/delete">Delete my account</a>
<span class="muted">Destroys your key: nothing of yours can be read afterwards, by us or anyone.</span></p>
</section>
<script>{VERIFY_JS}</script>"#,
        name = esc(&account.display_name),
        email = esc(&account.email),
        result = esc(&result_text),
    );
    Ok(page(
        StatusCode::OK,
        "My data",
        Nav::SignedIn(Some(&account.display_name)),
        &body,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
}

pub async fn change_password(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiForm(form): ApiForm<PasswordForm>,
) -> Response {
    let change = crate::routes::account::PasswordChange {
        current_password: form.current_password,
        new_password: form.new_password,
    };
    match crate::routes::account::do_change_password(&state, &ip, &caller, &change).await {
        Ok(()) => Redirect::to("/my-data#security-heading").into_response(),
        Err(p) => error_page(&p, Nav::SignedIn(None)),
    }
}

/// A form with nothing to fill in (a button): still a form, so a cross-site JSON post is not.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOutForm {}

pub async fn revoke_session(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiForm(SignOutForm {}): ApiForm<SignOutForm>,
) -> Response {
    match sessions::revoke(&state, &caller, &id).await {
        Ok(true) if id == caller.session_id => with_cookie(
            Redirect::to("/").into_response(),
            sessions::clear_cookie(&state),
        ),
        Ok(true) => Redirect::to("/my-data#security-heading").into_response(),
        Ok(false) => error_page(
            &Problem::not_found("you have no session by that id"),
            Nav::SignedIn(None),
        ),
        Err(p) => error_page(&p, Nav::SignedIn(None)),
    }
}

pub async fn sign_out_everywhere(
    State(state): State<Shared>,
    caller: Caller,
    ApiForm(SignOutForm {}): ApiForm<SignOutForm>,
) -> Response {
    match sessions::delete_all(&state, &caller.subject).await {
        Ok(()) => with_cookie(
            Redirect::to("/").into_response(),
            sessions::clear_cookie(&state),
        ),
        Err(p) => error_page(&p, Nav::SignedIn(None)),
    }
}

pub async fn my_data(State(state): State<Shared>, caller: Caller) -> Response {
    my_data_page(&state, &caller, false)
        .await
        .unwrap_or_else(|p| error_page(&p, Nav::SignedIn(None)))
}

pub async fn set_consent(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(purpose): ApiPath<String>,
    ApiForm(form): ApiForm<ConsentForm>,
) -> Response {
    match privacy::decide(&state, &caller.subject, &purpose, form.granted).await {
        Ok(_) => Redirect::to("/my-data#consents").into_response(),
        Err(p) => error_page(&p, Nav::SignedIn(None)),
    }
}

pub async fn verify(State(state): State<Shared>, caller: Caller) -> Response {
    my_data_page(&state, &caller, true)
        .await
        .unwrap_or_else(|p| error_page(&p, Nav::SignedIn(None)))
}

fn delete_html(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    format!(
        r#"<h1>Delete your account</h1>
<p>This destroys the key your data is sealed under. Everything Seuil holds about you becomes unreadable at once,
on every server and in every backup, and is then removed. This cannot be undone.</p>
<p>You will get a signed <strong>erasure certificate</strong> that anyone can check against Seuil's public log.
Consider <a href="/api/me/export" download>downloading your export</a> first.</p>
{error}
<form class="stack" method="post" action="/my-data/delete">
<label for="delete-confirm-input">Type DELETE to confirm<input id="delete-confirm-input" name="confirm" type="text" autocomplete="off" required pattern="DELETE"></label>
<label for="delete-password-input">Your password<input id="delete-password-input" name="password" type="password" autocomplete="current-password" required></label>
<div class="actions"><button class="danger" id="delete-confirm-submit" type="submit">Delete my account for good</button> <a href="/my-data">Cancel</a></div>
</form>"#
    )
}

pub async fn delete_form(_caller: Caller) -> Response {
    page(
        StatusCode::OK,
        "Delete your account",
        Nav::SignedIn(None),
        &delete_html(None),
    )
}

pub async fn delete(
    State(state): State<Shared>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    ApiForm(form): ApiForm<DeleteForm>,
) -> Response {
    if form.confirm.trim() != "DELETE" {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Delete your account",
            Nav::SignedIn(None),
            &delete_html(Some("Type DELETE, in capitals, to confirm.")),
        );
    }
    if let Err(p) = reauthenticate(&state, &ip, &caller, &form.password).await {
        return page(
            p.status,
            "Delete your account",
            Nav::SignedIn(None),
            &delete_html(Some(&p.detail)),
        );
    }
    let cert = match do_erase(&state, &caller).await {
        Ok(c) => c,
        Err(p) => return error_page(&p, Nav::SignedIn(None)),
    };
    let valid = cert.verify() && cert.log_public_key == state.vault.log_public_key().to_bytes();
    let body = format!(
        r#"<h1>Your account is gone</h1>
<p>Your key was destroyed at {at}. Nothing sealed under it can be read any more, by Seuil or by anyone
else; the unreadable remains are being removed. You have been signed out.</p>
<p>Keep this certificate. It is signed by Seuil's log key and names the log checkpoint that records the erasure.</p>
<dl class="cert" id="erasure-certificate">
<dt>Subject</dt><dd id="cert-subject">{subject}</dd>
<dt>Erased at</dt><dd>{at} ({at_ms})</dd>
<dt>Checkpoint size</dt><dd id="cert-checkpoint-size">{size}</dd>
<dt>Checkpoint root</dt><dd>{root}</dd>
<dt>Log public key</dt><dd>{key}</dd>
<dt>Signature</dt><dd>{sig}</dd>
<dt>Signature check</dt><dd>{valid}</dd>
</dl>
<p>Anyone can fetch it again at <a href="/api/erasure-certificates/{subject}">/api/erasure-certificates/{subject}</a>.</p>
<p><a href="/">Back to the start page</a></p>"#,
        at = esc(&time(cert.shredded_at)),
        at_ms = cert.shredded_at,
        subject = esc(&cert.subject),
        size = cert.checkpoint_size,
        root = hex::encode(cert.checkpoint_root),
        key = hex::encode(cert.log_public_key),
        sig = hex::encode(&cert.signature),
        valid = if valid { "valid" } else { "INVALID" },
    );
    with_cookie(
        page(StatusCode::OK, "Account deleted", Nav::Anonymous, &body),
        sessions::clear_cookie(&state),
    )
}
