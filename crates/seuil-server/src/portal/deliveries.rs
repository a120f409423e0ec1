//! The customer's in-home delivery page: the paired lock and camera, the live view, upcoming
//! deliveries to approve or decline, and the visit history with its clips, alarms and tamper
//! events on a timeline, each clip with pin, delete and dispute. It works without
//! JavaScript; the one script only refreshes the live view.

use super::layout::{Nav, esc, page, time};
use crate::auth::{Caller, device};
use crate::extract::{ApiForm, ApiPath};
use crate::problem::Problem;
use crate::routes::{delivery as api, live};
use crate::state::{AppState, Shared};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use seuil_delivery::alarms::Alarm;
use seuil_delivery::clips;
use seuil_delivery::deliveries::{self, Delivery, GrantState};
use seuil_delivery::grants::Approval;
use seuil_delivery::home::{self, Home};
use seuil_delivery::visit::Step;
use seuil_store::Query;
use seuil_vault::Actor;

/// Refreshes the live view once a second from the signed footage's age, never from the
/// page's: the picture is swapped only together with its LIVE or STALE label.
pub const LIVE_JS: &str = r#"
(function () {
  'use strict';
  var label = document.getElementById('live-label');
  var img = document.getElementById('live-frame');
  if (!label || !img) { return; }
  function tick() {
    fetch('/api/me/live', { credentials: 'same-origin' }).then(function (r) { return r.json(); }).then(function (v) {
      label.textContent = v.label;
      label.title = 'checked at ' + new Date().toLocaleTimeString();
      label.className = v.live ? 'live' : 'stale';
      img.classList.toggle('stale', !v.live);
      if (v.newest_end && img.dataset.newest !== String(v.newest_end)) {
        img.dataset.newest = String(v.newest_end);
        img.src = '/api/me/live/frame?at=' + v.newest_end;
      }
    }).catch(function () {
      label.textContent = 'STALE (no answer from the server)';
      label.className = 'stale';
      img.classList.add('stale');
    });
  }
  setInterval(tick, 1000);
})();
"#;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalForm {
    pub approved: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinForm {
    pub pinned: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairForm {
    pub lock_device: String,
    pub camera_device: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmForm {
    pub confirm: String,
}

fn error(p: &Problem) -> Response {
    let body = format!(
        r#"<h1>{}</h1><p class="error" role="alert">{}</p><p><a href="/deliveries">Back to deliveries</a></p>"#,
        esc(&p.title),
        esc(&p.detail)
    );
    page(p.status, &p.title, Nav::SignedIn(None), &body)
}

fn back(result: Result<impl Sized, Problem>, anchor: &str) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("/deliveries{anchor}")).into_response(),
        Err(p) => error(&p),
    }
}

/// The caller's devices of one type, as `<option>`s.
async fn device_options(state: &AppState, caller: &Caller, kind: &str) -> Result<String, Problem> {
    let q = Query {
        kind: device::KIND.into(),
        subject: Some(caller.subject.clone()),
        status: Some(kind.into()),
        ..Query::default()
    };
    let found = state.vault.store().query(&q).await?;
    Ok(found
        .iter()
        .map(|r| format!(r#"<option value="{0}">{0}</option>"#, esc(&r.id)))
        .collect())
}

fn alarm_text(a: &Alarm) -> String {
    match a {
        Alarm::CameraSilent { since } => format!("Camera silent since {}", time(*since)),
        Alarm::LockSilent { granted_at } => format!(
            "The courier got a grant at {} and the lock has not reported the door since",
            time(*granted_at)
        ),
        Alarm::NotRelocked { unlocked_at } => {
            format!("Not relocked in time (unlocked {})", time(*unlocked_at))
        }
        Alarm::UnlockOutsideVisit { at } => format!("Unlocked outside a visit at {}", time(*at)),
        Alarm::RevokedGrantUsed { at } => format!(
            "Unlocked at {} with a revoked grant (the lock had not synced since); the footage is kept",
            time(*at)
        ),
        Alarm::Tampering {
            kind,
            start_s,
            end_s,
        } => {
            format!(
                "Footage {} from {start_s:.1} s to {end_s:.1} s",
                kind.as_str()
            )
        }
    }
}

/// The visit on one line, with alarms and tamper events as marks: an SVG, so it needs no
/// inline style.
fn timeline(d: &Delivery) -> String {
    let Some((from, to)) = d.recording_span(i64::MAX / 4) else {
        return String::new();
    };
    let span = (to - from).max(1) as f64;
    let x = |t: i64| ((t - from) as f64 / span * 1000.0).clamp(0.0, 1000.0);
    let mut marks = String::new();
    if let (Some(u), r) = (d.visit.unlocked_at, d.visit.relocked_at) {
        let end = r.unwrap_or(to - 30_000);
        marks.push_str(&format!(
            r##"<rect x="{:.0}" y="8" width="{:.0}" height="14" fill="#0b5f56"><title>door open</title></rect>"##,
            x(u),
            (x(end) - x(u)).max(2.0)
        ));
    }
    for e in &d.tamper {
        let s = from + (e.start_s * 1000.0) as i64;
        let t = from + (e.end_s * 1000.0) as i64;
        marks.push_str(&format!(
            r##"<rect class="tamper" x="{:.0}" y="2" width="{:.0}" height="26" fill="#a3261b" opacity="0.7"><title>{}</title></rect>"##,
            x(s),
            (x(t) - x(s)).max(3.0),
            esc(e.kind.as_str())
        ));
    }
    for a in &d.alarms {
        marks.push_str(&format!(
            r##"<line x1="{0:.0}" x2="{0:.0}" y1="0" y2="30" stroke="#a3261b" stroke-width="4"><title>{1}</title></line>"##,
            x(a.at),
            esc(&alarm_text(&a.alarm))
        ));
    }
    format!(
        r##"<svg class="timeline" viewBox="0 0 1000 30" role="img" aria-label="Visit timeline: door open in green, alarms and tampering in red"><rect x="0" y="12" width="1000" height="6" fill="#d9d6cf"></rect>{marks}</svg>"##
    )
}

/// Where the courier's grant stands, in words: a revoked grant still opens the lock until the
/// lock's next sync, and the customer must know that.
fn grant_html(d: &Delivery, h: &Home, now: i64) -> String {
    let Some(g) = &d.grant else {
        return String::new();
    };
    let (class, text) = match g.state(&d.visit, h, now) {
        GrantState::Live => (
            "state-on",
            format!(
                "Grant issued at {}: it opens the lock until {}.",
                time(g.issued_at),
                time(g.lock_accepts_until())
            ),
        ),
        GrantState::Used => (
            "muted",
            format!("Grant issued at {}, used.", time(g.issued_at)),
        ),
        GrantState::RevocationPending => (
            "error",
            format!(
                "Grant revoked at {}, pending: your lock has not synced since, so until it does the grant still opens it (at the latest until {}). The camera is watched meanwhile.",
                time(g.revoked_at.unwrap_or(now)),
                time(g.lock_accepts_until())
            ),
        ),
        GrantState::Revoked => (
            "muted",
            format!(
                "Grant revoked at {}; the lock knows.",
                time(g.revoked_at.unwrap_or(now))
            ),
        ),
        GrantState::Expired => (
            "muted",
            format!("Grant issued at {}, expired unused.", time(g.issued_at)),
        ),
    };
    format!(
        r#"<p class="{class}" id="grant-{}">{}</p>"#,
        esc(&d.id),
        esc(&text)
    )
}

fn visit_html(d: &Delivery, h: &Home, now: i64) -> String {
    let id = esc(&d.id);
    let times: Vec<String> = [
        ("arrived", d.visit.arrived_at),
        ("unlocked", d.visit.unlocked_at),
        ("relocked", d.visit.relocked_at),
    ]
    .iter()
    .filter_map(|(what, t)| t.map(|t| format!("{what} {}", time(t))))
    .collect();
    let alarms: String = d
        .alarms
        .iter()
        .map(|a| format!(r#"<li class="error">{}</li>"#, esc(&alarm_text(&a.alarm))))
        .collect();
    let tamper = match (d.clip.analysed, d.tamper.is_empty()) {
        (false, _) => "Footage not analysed yet.".to_owned(),
        (true, true) => "Footage analysed: no tampering found.".to_owned(),
        (true, false) => format!("Footage analysed: {} tamper event(s).", d.tamper.len()),
    };
    let clip = if d.clip.deleted_at.is_some() {
        r#"<p class="muted">You deleted this visit's footage.</p>"#.to_owned()
    } else if d.visit.recording_window().is_none() {
        String::new()
    } else {
        let (pin_label, pin_next) = if d.clip.pinned {
            ("Unpin", "false")
        } else {
            ("Keep past 72 hours", "true")
        };
        // While a dispute is open the footage is on hold: no delete, no unpin.
        let hold = match d.clip.disputed_at {
            Some(t) => format!(
                r#"<span class="muted">Disputed {}: the footage is kept until you withdraw the dispute.</span>
<form method="post" action="/deliveries/{id}/withdraw-dispute"><input type="hidden" name="confirm" value="WITHDRAW"><button class="secondary" type="submit" id="withdraw-dispute-{id}">Withdraw the dispute</button></form>"#,
                time(t)
            ),
            None => format!(
                r#"<form method="post" action="/deliveries/{id}/pin"><input type="hidden" name="pinned" value="{pin_next}"><button class="secondary" type="submit" id="pin-{id}">{pin_label}</button></form>
<form method="post" action="/deliveries/{id}/dispute"><input type="hidden" name="confirm" value="DISPUTE"><button class="secondary" type="submit" id="dispute-{id}">Open a dispute</button></form>
<form method="post" action="/deliveries/{id}/delete-clip"><input type="hidden" name="confirm" value="DELETE"><button class="danger" type="submit" id="delete-clip-{id}">Delete the footage</button></form>"#
            ),
        };
        format!(
            r#"<div class="actions"><a class="button" href="/api/me/deliveries/{id}/clip" id="clip-{id}">Download the clip (H.264)</a>
{hold}</div>"#
        )
    };
    format!(
        r#"<article class="visit" id="visit-{id}"><h3>{order}</h3>
<p>Visit <strong>{step}</strong>. {times}</p>
{grant}
{timeline}
<ul class="alarms">{alarms}</ul>
<p class="muted">{tamper}</p>
{clip}</article>"#,
        order = esc(&d.order),
        step = d.visit.step.as_str(),
        times = esc(&times.join(", ")),
        grant = grant_html(d, h, now),
        timeline = timeline(d),
    )
}

async fn deliveries_page(state: &AppState, caller: &Caller) -> Result<Response, Problem> {
    let actor = Actor::Subject(caller.subject.clone());
    let home = home::load(&state.vault, &actor, &caller.subject).await?;
    let mut body = String::from("<h1>In-home delivery</h1>\n<h2>My lock and camera</h2>\n");
    let Some((h, _)) = home else {
        let locks = device_options(state, caller, "lock").await?;
        let cameras = device_options(state, caller, "camera").await?;
        body.push_str(&format!(
            r#"<p>Pair a lock and a camera you registered to let couriers in while you are away. Footage is recorded only around a visit and sealed under your key.</p>
<form class="stack" method="post" action="/home/pair">
<label for="pair-lock">Lock<select id="pair-lock" name="lock_device" required>{locks}</select></label>
<label for="pair-camera">Camera<select id="pair-camera" name="camera_device" required>{cameras}</select></label>
<button type="submit" id="pair-submit">Pair</button></form>"#
        ));
        return Ok(page(
            StatusCode::OK,
            "Deliveries",
            Nav::SignedIn(None),
            &body,
        ));
    };
    let pending = if h.lock_epoch_floor < h.epoch {
        r#"<p class="error" id="revocation-pending">Revocation pending: your lock has not synced since grants were revoked (or since it was paired). Until it does, those grants still open it, for minutes at most; the camera is watched meanwhile.</p>"#
    } else {
        ""
    };
    let (standing_label, standing_next) = match h.standing_approval {
        Some(since) => (format!("Standing approval since {}", time(since)), "false"),
        None => ("Each order asks for your approval".to_owned(), "true"),
    };
    body.push_str(&format!(
        r#"<dl class="cert"><dt>Lock</dt><dd id="home-lock">{lock}</dd><dt>Camera</dt><dd id="home-camera">{camera}</dd><dt>Relock within</dt><dd>{relock} s</dd><dt>Grant epoch</dt><dd>{epoch}</dd></dl>
<div class="actions"><span id="standing-state">{standing}</span>
<form method="post" action="/home/standing"><input type="hidden" name="approved" value="{next}"><button class="secondary" type="submit" id="standing-submit">{button}</button></form>
<form method="post" action="/home/revoke"><input type="hidden" name="confirm" value="REVOKE"><button class="danger" type="submit" id="revoke-submit">Revoke every grant</button></form></div>
{pending}
"#,
        lock = esc(&h.lock_device),
        camera = esc(&h.camera_device),
        relock = h.relock_within_s,
        epoch = h.epoch,
        standing = esc(&standing_label),
        next = standing_next,
        button = if h.standing_approval.is_some() { "Withdraw the standing approval" } else { "Approve every order" },
    ));

    let status = live::status(state, &caller.subject).await?;
    let is_live = status["live"] == true;
    body.push_str(&format!(
        r#"<h2>Live view</h2>
<p><span id="live-label" class="{class}">{label}</span></p>
<img id="live-frame" class="{class}" alt="Your camera's newest verified picture" width="320" height="240" src="/api/me/live/frame" data-newest="{newest}">
<script>{js}</script>
"#,
        class = if is_live { "live" } else { "stale" },
        label = esc(status["label"].as_str().unwrap_or_default()),
        newest = status["newest_end"].as_i64().unwrap_or_default(),
        js = LIVE_JS,
    ));

    let all = deliveries::for_customer(&state.vault, &caller.subject).await?;
    let now = state.vault.now();
    body.push_str("<h2>Upcoming deliveries</h2>\n");
    // A courier at the door has not been let in yet: the customer may still decline.
    let upcoming_step = |d: &Delivery| matches!(d.visit.step, Step::Scheduled | Step::Arrived);
    let upcoming: Vec<&Delivery> = all.iter().filter(|d| upcoming_step(d)).collect();
    if upcoming.is_empty() {
        body.push_str(r#"<p class="muted">None.</p>"#);
    }
    for d in upcoming {
        let id = esc(&d.id);
        let approval = d.approval_with(&h);
        let approved = matches!(approval, Approval::ThisOrder | Approval::Standing);
        let state_text = match (approval, d.visit.step) {
            (Approval::ThisOrder, _) => "Courier may come in",
            (Approval::Standing, _) => "Courier may come in (standing approval)",
            (Approval::Declined, _) => "Doorstep only: you declined",
            (Approval::None, _) => "Doorstep only unless you approve",
        };
        let at_door = if d.visit.step == Step::Arrived {
            r#"<br><strong>The courier is at the door.</strong>"#
        } else {
            ""
        };
        body.push_str(&format!(
            r#"<div class="consent" id="upcoming-{id}"><div><strong>{order}</strong><br><span class="muted">{from} to {to}</span>{at_door}{grant}</div>
<div class="actions"><span class="{class}">{state}</span>
<form method="post" action="/deliveries/{id}/approval"><input type="hidden" name="approved" value="true"><button type="submit" id="approve-{id}">Approve</button></form>
<form method="post" action="/deliveries/{id}/approval"><input type="hidden" name="approved" value="false"><button class="secondary" type="submit" id="decline-{id}">Decline</button></form></div></div>
"#,
            order = esc(&d.order),
            from = time(d.window.0),
            to = time(d.window.1),
            class = if approved { "state-on" } else { "state-off" },
            state = state_text,
            grant = grant_html(d, &h, now),
        ));
    }
    body.push_str("<h2>Visit history</h2>\n");
    let mut history: Vec<&Delivery> = all.iter().filter(|d| !upcoming_step(d)).collect();
    history.reverse();
    if history.is_empty() {
        body.push_str(r#"<p class="muted">No visits yet.</p>"#);
    }
    for d in history {
        body.push_str(&visit_html(d, &h, now));
    }
    Ok(page(
        StatusCode::OK,
        "Deliveries",
        Nav::SignedIn(None),
        &body,
    ))
}

pub async fn show(State(state): State<Shared>, caller: Caller) -> Response {
    deliveries_page(&state, &caller)
        .await
        .unwrap_or_else(|p| error(&p))
}

pub async fn approve(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiForm(form): ApiForm<ApprovalForm>,
) -> Response {
    let r = deliveries::approve(&state.vault, &caller.subject, &id, form.approved).await;
    if let Ok(d) = &r {
        api::track(&state, d).await;
    }
    back(r.map_err(Problem::from), "")
}

pub async fn pin(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiForm(form): ApiForm<PinForm>,
) -> Response {
    let r = clips::pin(&state.vault, &caller.subject, &id, form.pinned).await;
    back(r.map_err(Problem::from), &format!("#visit-{id}"))
}

fn confirmed(form: &ConfirmForm, word: &str) -> Result<(), Problem> {
    if form.confirm == word {
        Ok(())
    } else {
        Err(Problem::unprocessable(format!("`confirm` must be {word}")))
    }
}

pub async fn dispute(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Response {
    if let Err(p) = confirmed(&form, "DISPUTE") {
        return error(&p);
    }
    let r = clips::dispute(&state.vault, &caller.subject, &id).await;
    back(r.map_err(Problem::from), &format!("#visit-{id}"))
}

pub async fn withdraw_dispute(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Response {
    if let Err(p) = confirmed(&form, "WITHDRAW") {
        return error(&p);
    }
    let r = clips::withdraw_dispute(&state.vault, &caller.subject, &id).await;
    back(r.map_err(Problem::from), &format!("#visit-{id}"))
}

pub async fn delete_clip(
    State(state): State<Shared>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Response {
    if let Err(p) = confirmed(&form, "DELETE") {
        return error(&p);
    }
    let r = clips::delete(&state.vault, &caller.subject, &id).await;
    back(r.map_err(Problem::from), &format!("#visit-{id}"))
}

pub async fn pair(
    State(state): State<Shared>,
    caller: Caller,
    ApiForm(form): ApiForm<PairForm>,
) -> Response {
    let req = api::HomeRequest {
        lock_device: form.lock_device,
        camera_device: form.camera_device,
        relock_within_s: None,
    };
    back(api::pair(&state, &caller, req).await, "")
}

pub async fn standing(
    State(state): State<Shared>,
    caller: Caller,
    ApiForm(form): ApiForm<ApprovalForm>,
) -> Response {
    back(api::set_standing(&state, &caller, form.approved).await, "")
}

pub async fn revoke(
    State(state): State<Shared>,
    caller: Caller,
    ApiForm(form): ApiForm<ConfirmForm>,
) -> Response {
    if let Err(p) = confirmed(&form, "REVOKE") {
        return error(&p);
    }
    back(api::revoke(&state, &caller).await, "")
}
