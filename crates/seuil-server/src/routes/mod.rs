//! The route table: every route of the API and the portal, with who may call it and what it
//! takes and returns. The router *and* the OpenAPI document are built from this one list, so
//! a route cannot exist without being documented, nor be documented without existing, and
//! its declared [`Access`] is what [`authorize`](crate::auth::authorize) enforces.

pub mod account;
pub mod audit;
pub mod camera;
pub mod delivery;
pub mod devices;
pub mod events;
pub mod live;
pub mod ops;
pub mod privacy;
pub mod webhooks;

use crate::auth::{self, Access};
use crate::metrics;
use crate::portal;
use crate::problem::Problem;
use crate::state::Shared;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use std::collections::BTreeMap;

/// What a route takes in its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// `application/json`, validated against the named schema (unknown fields refused).
    Json(&'static str),
    /// `application/x-www-form-urlencoded` (portal forms).
    Form(&'static str),
    /// `application/octet-stream`, described in words (its layout is a wire format).
    Binary(&'static str),
}

/// What a route answers when it succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    Json(u16, &'static str),
    Empty,
    Html,
    /// `303 See Other` (portal form posts).
    Redirect,
    Tar,
    EventStream,
    Text,
    /// Media of the given content type (a picture, footage).
    Media(&'static str),
}

/// A query parameter: name, type (`integer`/`string`), description, and whether it is
/// required.
pub type Param = (&'static str, &'static str, &'static str, bool);

pub struct RouteSpec {
    pub method: Method,
    /// The axum/OpenAPI path template, e.g. `/api/devices/{id}`.
    pub path: &'static str,
    pub access: Access,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub body: Option<Body>,
    pub reply: Reply,
    pub query: &'static [Param],
    handler: MethodRouter<Shared>,
}

impl RouteSpec {
    pub fn portal(&self) -> bool {
        self.tag == "portal"
    }

    /// The path parameters of the template (`{id}` → `id`).
    pub fn path_params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect()
    }

    fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    fn query(mut self, params: &'static [Param]) -> Self {
        self.query = params;
        self
    }
}

#[allow(clippy::too_many_arguments)]
fn route<H, T>(
    method: Method,
    path: &'static str,
    access: Access,
    tag: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    reply: Reply,
    handler: H,
) -> RouteSpec
where
    H: Handler<T, Shared>,
    T: 'static,
{
    let filter = match method {
        Method::GET => MethodFilter::GET,
        Method::POST => MethodFilter::POST,
        Method::PUT => MethodFilter::PUT,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        _ => panic!("route table: method {method} is not supported"),
    };
    RouteSpec {
        method,
        path,
        access,
        operation_id,
        summary,
        tag,
        body: None,
        reply,
        query: &[],
        handler: on(filter, handler),
    }
}

/// Every route. Add new routes here, nowhere else. One line per route, hence no rustfmt.
#[rustfmt::skip]
pub fn table() -> Vec<RouteSpec> {
    use Access::*;
    use Method as M;
    use Reply::*;
    vec![
        // ---- accounts and sessions -------------------------------------------------------
        route(M::POST, "/api/accounts", Public, "accounts", "signUp", "Create a customer account and sign in", Json(201, "SessionInfo"), account::sign_up)
            .body(Body::Json("SignUpRequest")),
        route(M::POST, "/api/sessions", Public, "accounts", "signIn", "Sign in (sets the session cookie)", Json(200, "SessionInfo"), account::sign_in)
            .body(Body::Json("SignInRequest")),
        route(M::DELETE, "/api/sessions/current", SignedIn, "accounts", "signOut", "End the current session", Empty, account::sign_out),
        route(M::POST, "/api/tokens", SignedIn, "accounts", "createToken", "Create an API token for `Authorization: Bearer` (the password is asked again)", Json(201, "Token"), account::create_token)
            .body(Body::Json("TokenRequest")),
        route(M::GET, "/api/me/sessions", SignedIn, "accounts", "listSessions", "Your signed-in sessions and API tokens", Json(200, "SessionList"), account::list_sessions),
        route(M::DELETE, "/api/me/sessions/{id}", SignedIn, "accounts", "revokeSession", "End one of your sessions or tokens", Empty, account::revoke_session),
        route(M::POST, "/api/me/sessions/revoke-all", SignedIn, "accounts", "signOutEverywhere", "End every session and token of your account, this one too", Empty, account::sign_out_everywhere),
        route(M::PUT, "/api/me/password", SignedIn, "accounts", "changePassword", "Change your password (the current one is asked); your other sessions end", Empty, account::change_password)
            .body(Body::Json("PasswordChange")),
        route(M::GET, "/api/me", SignedIn, "accounts", "getMe", "Your account", Json(200, "Me"), account::me),
        route(M::DELETE, "/api/me", SignedIn, "privacy", "eraseMe", "Erase your account (crypto-shredding; the password is asked again) and get the certificate", Json(200, "ErasureCertificate"), account::erase_me)
            .body(Body::Json("EraseRequest")),
        // ---- privacy ---------------------------------------------------------------------
        route(M::GET, "/api/me/consents", SignedIn, "privacy", "listConsents", "Your decision for every purpose that needs consent", Json(200, "ConsentList"), privacy::list_consents),
        route(M::PUT, "/api/me/consents/{purpose}", SignedIn, "privacy", "setConsent", "Grant or withdraw consent for a purpose", Json(200, "Consent"), privacy::set_consent)
            .body(Body::Json("ConsentDecision")),
        route(M::GET, "/api/me/access-log", SignedIn, "privacy", "getAccessLog", "Accesses to your data, newest page first, with Merkle leaf hashes", Json(200, "AccessLog"), privacy::access_log)
            .query(privacy::LOG_PAGE_PARAMS),
        route(M::POST, "/api/me/access-log/verify", SignedIn, "privacy", "verifyAccessLog", "Verify a page of your events against the signed checkpoint, server-side", Json(200, "VerifyResult"), privacy::verify)
            .query(privacy::LOG_PAGE_PARAMS),
        route(M::GET, "/api/me/export", SignedIn, "privacy", "exportMe", "Download everything held about you (tar)", Tar, privacy::export),
        route(M::GET, "/api/erasure-certificates/{subject}", Public, "privacy", "getErasureCertificate", "The erasure certificate of an erased subject", Json(200, "ErasureCertificate"), privacy::certificate),
        // ---- audit log -------------------------------------------------------------------
        route(M::GET, "/api/audit/checkpoint", Public, "audit", "getCheckpoint", "The latest signed checkpoint and the log public key", Json(200, "Checkpoint"), audit::checkpoint),
        route(M::GET, "/api/audit/proof/inclusion", SignedIn, "audit", "getInclusionProof", "Inclusion proof for one of your events", Json(200, "InclusionProof"), audit::inclusion)
            .query(&[("index", "integer", "leaf index of the event", true), ("size", "integer", "tree size of the checkpoint", true)]),
        route(M::GET, "/api/audit/proof/consistency", Public, "audit", "getConsistencyProof", "Consistency proof between two checkpoints", Json(200, "ConsistencyProof"), audit::consistency)
            .query(&[("old", "integer", "older tree size", true), ("new", "integer", "newer tree size", true)]),
        route(M::POST, "/api/ops/audit/verify", Operator, "ops", "verifyAuditLog", "Verify the whole audit log (every leaf, node and checkpoint)", Json(200, "AuditVerifyReport"), audit::verify_all),
        // ---- notifications ---------------------------------------------------------------
        route(M::GET, "/api/me/events", SignedIn, "notifications", "streamEvents", "Live events (Server-Sent Events)", EventStream, events::stream),
        route(M::POST, "/api/me/webhooks", SignedIn, "notifications", "createWebhook", "Subscribe a URL to your events (the secret is shown once)", Json(201, "WebhookCreated"), webhooks::create)
            .body(Body::Json("WebhookRequest")),
        route(M::GET, "/api/me/webhooks", SignedIn, "notifications", "listWebhooks", "Your webhooks", Json(200, "WebhookList"), webhooks::list),
        route(M::DELETE, "/api/me/webhooks/{id}", SignedIn, "notifications", "deleteWebhook", "Delete one of your webhooks", Empty, webhooks::delete),
        // ---- devices ---------------------------------------------------------------------
        route(M::POST, "/api/devices", Customer, "devices", "registerDevice", "Register a device (lock, camera, scanner) and its Ed25519 key", Json(201, "Device"), devices::register)
            .body(Body::Json("DeviceRequest")),
        route(M::GET, "/api/devices", Customer, "devices", "listDevices", "Your devices", Json(200, "DeviceList"), devices::list),
        route(M::GET, "/api/devices/{id}", Customer, "devices", "getDevice", "One of your devices", Json(200, "Device"), devices::get),
        route(M::DELETE, "/api/devices/{id}", Customer, "devices", "deleteDevice", "Remove one of your devices", Empty, devices::delete),
        route(M::POST, "/api/device/heartbeat", Device, "devices", "deviceHeartbeat", "A signed device says it is alive", Json(200, "Heartbeat"), devices::heartbeat),
        route(M::POST, "/api/device/segments", Device, "devices", "cameraSegment", "A camera sends one signed segment of footage", Json(200, "SegmentReceipt"), camera::segment)
            .body(Body::Binary("the segment's signed header (seuil-proto `Segment`, 226 bytes), then its H.264 footage")),
        route(M::POST, "/api/device/lock/sync", Device, "devices", "lockSync", "A lock reports its events and gets signed time, its epoch floor and the keys it trusts", Json(200, "LockSyncReply"), delivery::lock_sync)
            .body(Body::Json("LockSyncRequest")),
        // ---- in-home delivery: the customer ------------------------------------------------
        route(M::PUT, "/api/me/home", Customer, "delivery", "pairHome", "Pair your lock and camera (registered devices) for in-home delivery", Json(200, "Home"), delivery::pair_home)
            .body(Body::Json("HomeRequest")),
        route(M::GET, "/api/me/home", Customer, "delivery", "getHome", "Your paired lock and camera", Json(200, "Home"), delivery::get_home),
        route(M::PUT, "/api/me/home/standing-approval", Customer, "delivery", "setStandingApproval", "Approve in-home delivery for every order until withdrawn, or withdraw", Json(200, "Home"), delivery::standing_approval)
            .body(Body::Json("ApprovalRequest")),
        route(M::POST, "/api/me/home/revoke-grants", Customer, "delivery", "revokeGrants", "Revoke every grant issued for your lock (at its next sync)", Json(200, "Home"), delivery::revoke_grants),
        route(M::GET, "/api/me/deliveries", Customer, "delivery", "listMyDeliveries", "Your deliveries, with visits, alarms and tamper events", Json(200, "DeliveryList"), delivery::my_deliveries),
        route(M::GET, "/api/me/deliveries/{id}", Customer, "delivery", "getMyDelivery", "One of your deliveries", Json(200, "Delivery"), delivery::my_delivery),
        route(M::PUT, "/api/me/deliveries/{id}/approval", Customer, "delivery", "approveDelivery", "Approve or decline in-home delivery for this order", Json(200, "Delivery"), delivery::approve)
            .body(Body::Json("ApprovalRequest")),
        route(M::GET, "/api/me/deliveries/{id}/clip", Customer, "delivery", "getClip", "The visit's footage as raw H.264 (each read is in your access log)", Media("video/h264"), delivery::clip),
        route(M::DELETE, "/api/me/deliveries/{id}/clip", Customer, "delivery", "deleteClip", "Delete the visit's footage for good (not while a dispute is open)", Json(200, "Delivery"), delivery::delete_clip),
        route(M::PUT, "/api/me/deliveries/{id}/clip/pin", Customer, "delivery", "pinClip", "Keep the footage past 72 hours, or let it lapse", Json(200, "Delivery"), delivery::pin_clip)
            .body(Body::Json("PinRequest")),
        route(M::POST, "/api/me/deliveries/{id}/dispute", Customer, "delivery", "openDispute", "Dispute the visit: its footage is kept (it cannot be deleted until the dispute is withdrawn) and an operator may view it", Json(200, "Delivery"), delivery::dispute),
        route(M::DELETE, "/api/me/deliveries/{id}/dispute", Customer, "delivery", "withdrawDispute", "Withdraw your dispute: operators may no longer view the footage, and you may delete it", Json(200, "Delivery"), delivery::withdraw_dispute),
        route(M::GET, "/api/me/live", Customer, "delivery", "getLiveView", "Your camera's newest verified footage: LIVE, or STALE since when", Json(200, "LiveView"), live::live),
        route(M::GET, "/api/me/live/frame", Customer, "delivery", "getLiveFrame", "The newest verified picture of your camera", Media("image/bmp"), live::frame),
        // ---- in-home delivery: operator and courier ----------------------------------------
        route(M::POST, "/api/ops/deliveries", Operator, "delivery", "createDelivery", "Create a delivery for a customer, with its window and courier", Json(201, "DeliveryCreated"), delivery::create_delivery)
            .body(Body::Json("DeliveryRequest")),
        route(M::PUT, "/api/ops/deliveries/{id}/courier", Operator, "delivery", "assignCourier", "Assign or reassign the courier, before the door is unlocked (a grant already issued is revoked)", Json(200, "DeliveryCreated"), delivery::assign_courier)
            .body(Body::Json("AssignRequest")),
        route(M::POST, "/api/ops/deliveries/{id}/abort", Operator, "delivery", "abortDelivery", "Call a visit off (not while the door is open); its grant is revoked at the lock's next sync, and the customer is told", Json(200, "DeliveryCreated"), delivery::abort_delivery),
        route(M::GET, "/api/ops/deliveries/{id}/clip", Operator, "delivery", "getDisputedClip", "A visit's footage, only inside a dispute the customer opened (audited)", Media("video/h264"), delivery::operator_clip),
        route(M::GET, "/api/courier/deliveries", Courier, "delivery", "listCourierDeliveries", "The deliveries assigned to you", Json(200, "CourierDeliveryList"), delivery::courier_deliveries),
        route(M::POST, "/api/courier/deliveries/{id}/arrive", Courier, "delivery", "arrive", "You are at the door", Json(200, "CourierDelivery"), delivery::arrive),
        route(M::POST, "/api/courier/deliveries/{id}/grant", Courier, "delivery", "getGrant", "Get the one-time grant for the lock (only while every condition holds)", Json(200, "GrantReply"), delivery::grant)
            .body(Body::Json("GrantRequest")),
        route(M::POST, "/api/courier/deliveries/{id}/abort", Courier, "delivery", "abortVisit", "Call the visit off before the door is unlocked", Json(200, "CourierDelivery"), delivery::abort),
        route(M::POST, "/api/courier/deliveries/{id}/relock", Courier, "delivery", "reportRelock", "You locked the door again", Json(200, "CourierDelivery"), delivery::relock),
        // ---- ops -------------------------------------------------------------------------
        route(M::GET, "/api/openapi.json", Public, "ops", "getOpenApi", "This document", Json(200, "OpenApi"), ops::openapi),
        route(M::GET, "/healthz", Public, "ops", "health", "Liveness and store check", Json(200, "Health"), ops::healthz),
        route(M::GET, "/metrics", Public, "ops", "metrics", "Prometheus metrics (no ids or personal data): from this machine, or with an operator's token", Text, ops::metrics),
        // ---- portal (HTML) ---------------------------------------------------------------
        route(M::GET, "/", Public, "portal", "portalHome", "What Seuil is", Html, portal::pages::home),
        route(M::GET, "/signup", Public, "portal", "portalSignUpForm", "Sign-up form", Html, portal::pages::signup_form),
        route(M::POST, "/signup", Public, "portal", "portalSignUp", "Create an account, then go to My data", Redirect, portal::pages::signup)
            .body(Body::Form("SignUpForm")),
        route(M::GET, "/signin", Public, "portal", "portalSignInForm", "Sign-in form", Html, portal::pages::signin_form),
        route(M::POST, "/signin", Public, "portal", "portalSignIn", "Sign in, then go to My data", Redirect, portal::pages::signin)
            .body(Body::Form("SignInForm")),
        route(M::POST, "/signout", SignedIn, "portal", "portalSignOut", "Sign out", Redirect, portal::pages::signout),
        route(M::GET, "/my-data", SignedIn, "portal", "portalMyData", "Consents, access log with proofs, export, deletion", Html, portal::pages::my_data),
        route(M::POST, "/my-data/consents/{purpose}", SignedIn, "portal", "portalSetConsent", "Toggle consent for a purpose", Redirect, portal::pages::set_consent)
            .body(Body::Form("ConsentForm")),
        route(M::POST, "/my-data/verify", SignedIn, "portal", "portalVerify", "Verify the access log server-side (no JavaScript)", Html, portal::pages::verify),
        route(M::POST, "/my-data/password", SignedIn, "portal", "portalChangePassword", "Change the password (the current one is asked)", Redirect, portal::pages::change_password)
            .body(Body::Form("PasswordForm")),
        route(M::POST, "/my-data/sessions/{id}/revoke", SignedIn, "portal", "portalRevokeSession", "End one session or token", Redirect, portal::pages::revoke_session)
            .body(Body::Form("SignOutForm")),
        route(M::POST, "/my-data/sessions/revoke-all", SignedIn, "portal", "portalSignOutEverywhere", "End every session and token", Redirect, portal::pages::sign_out_everywhere)
            .body(Body::Form("SignOutForm")),
        route(M::GET, "/my-data/delete", SignedIn, "portal", "portalDeleteForm", "Confirm account deletion", Html, portal::pages::delete_form),
        route(M::POST, "/my-data/delete", SignedIn, "portal", "portalDelete", "Delete the account and show the erasure certificate", Html, portal::pages::delete)
            .body(Body::Form("AccountDeleteForm")),
        route(M::GET, "/deliveries", Customer, "portal", "portalDeliveries", "Lock and camera, live view, deliveries to approve, visit history", Html, portal::deliveries::show),
        route(M::POST, "/deliveries/{id}/approval", Customer, "portal", "portalApproveDelivery", "Approve or decline letting the courier in", Redirect, portal::deliveries::approve)
            .body(Body::Form("ApprovalForm")),
        route(M::POST, "/deliveries/{id}/pin", Customer, "portal", "portalPinClip", "Keep a visit's footage past 72 hours, or let it lapse", Redirect, portal::deliveries::pin)
            .body(Body::Form("PinForm")),
        route(M::POST, "/deliveries/{id}/dispute", Customer, "portal", "portalDispute", "Open a dispute about a visit", Redirect, portal::deliveries::dispute)
            .body(Body::Form("DisputeForm")),
        route(M::POST, "/deliveries/{id}/withdraw-dispute", Customer, "portal", "portalWithdrawDispute", "Withdraw a dispute about a visit", Redirect, portal::deliveries::withdraw_dispute)
            .body(Body::Form("WithdrawForm")),
        route(M::POST, "/deliveries/{id}/delete-clip", Customer, "portal", "portalDeleteClip", "Delete a visit's footage", Redirect, portal::deliveries::delete_clip)
            .body(Body::Form("DeleteForm")),
        route(M::POST, "/home/pair", Customer, "portal", "portalPairHome", "Pair a lock and a camera", Redirect, portal::deliveries::pair)
            .body(Body::Form("PairForm")),
        route(M::POST, "/home/standing", Customer, "portal", "portalStandingApproval", "Give or withdraw the standing approval", Redirect, portal::deliveries::standing)
            .body(Body::Form("ApprovalForm")),
        route(M::POST, "/home/revoke", Customer, "portal", "portalRevokeGrants", "Revoke every grant for the lock", Redirect, portal::deliveries::revoke)
            .body(Body::Form("RevokeForm")),
    ]
}

/// Builds the router from [`table`], with access control per route and, around everything,
/// metrics and logs, CSRF checks, security headers and the body limit.
pub fn router(state: Shared) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<Shared>> = BTreeMap::new();
    for spec in table() {
        let (access, portal) = (spec.access, spec.portal());
        let st = state.clone();
        let guarded =
            spec.handler
                .route_layer(middleware::from_fn(move |req: Request, next: Next| {
                    auth::authorize(st.clone(), access, portal, req, next)
                }));
        let merged = match by_path.remove(spec.path) {
            Some(existing) => existing.merge(guarded),
            None => guarded,
        };
        by_path.insert(spec.path, merged);
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        router = router.route(path, methods);
    }
    let (csrf_state, track_state) = (state.clone(), state.clone());
    // Over HTTPS, browsers are told to come back only over HTTPS.
    let hsts = state.config.public_url.starts_with("https://");
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            auth::csrf(csrf_state.clone(), req, next)
        }))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            security_headers(hsts, req, next)
        }))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            metrics::track(track_state.clone(), req, next)
        }))
        .with_state(state)
}

async fn not_found() -> Problem {
    Problem::not_found("no such route; see /api/openapi.json for the list")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "method not allowed",
        "this route does not take that method; see /api/openapi.json",
    )
}

async fn security_headers(hsts: bool, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await.into_response();
    let h = res.headers_mut();
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_no_duplicates_and_unique_operation_ids() {
        let t = table();
        let mut seen = std::collections::HashSet::new();
        let mut ops = std::collections::HashSet::new();
        for r in &t {
            assert!(
                seen.insert((r.method.clone(), r.path)),
                "duplicate {} {}",
                r.method,
                r.path
            );
            assert!(
                ops.insert(r.operation_id),
                "duplicate operation id {}",
                r.operation_id
            );
        }
    }
}
