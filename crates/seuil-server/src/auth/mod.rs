//! Who may call what. Every route declares an [`Access`]; the router enforces it with
//! [`authorize`] before the handler runs, and handlers read the result with the [`Caller`] or
//! [`DeviceCaller`] extractors.

pub mod accounts;
pub mod device;
pub mod password;
pub mod rate_limit;
pub mod sessions;

pub use accounts::Role;
pub use device::DeviceCaller;
pub use sessions::{Caller, Via};

use crate::problem::Problem;
use crate::state::Shared;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any signed-in account (customer, courier or operator), on their own data.
    SignedIn,
    Customer,
    Courier,
    Operator,
    /// A registered device, by signed request.
    Device,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::SignedIn => "signed-in",
            Access::Customer => "customer",
            Access::Courier => "courier",
            Access::Operator => "operator",
            Access::Device => "device",
        }
    }

    fn allows(self, role: Role) -> bool {
        match self {
            Access::Public | Access::SignedIn => true,
            Access::Customer => role == Role::Customer,
            Access::Courier => role == Role::Courier,
            Access::Operator => role == Role::Operator,
            Access::Device => false,
        }
    }
}

/// Enforces `access` for one route. Portal pages send people without a session to the
/// sign-in page instead of answering 401.
pub async fn authorize(
    state: Shared,
    access: Access,
    portal: bool,
    mut req: Request,
    next: Next,
) -> Response {
    match access {
        Access::Public => {}
        Access::Device => {
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
                Ok(b) => b,
                Err(_) => {
                    return Problem::from_rejection(StatusCode::PAYLOAD_TOO_LARGE, String::new())
                        .into_response();
                }
            };
            let path = parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
            match device::verify(&state, &parts.method, &path, &parts.headers, &bytes).await {
                Ok(device) => {
                    req = Request::from_parts(parts, Body::from(bytes));
                    req.extensions_mut().insert(device);
                }
                Err(p) => return p.into_response(),
            }
        }
        _ => match sessions::resolve(&state, req.headers()).await {
            Ok(Some(caller)) if access.allows(caller.role) => {
                req.extensions_mut().insert(caller);
            }
            Ok(Some(caller)) => {
                let why = format!(
                    "this page is for {} accounts; you are signed in as {}",
                    access.as_str(),
                    caller.role
                );
                if portal {
                    return crate::portal::layout::refused(&why);
                }
                return Problem::forbidden(why.replace("this page", "this route")).into_response();
            }
            Ok(None) if portal => return Redirect::to("/signin").into_response(),
            Ok(None) => return Problem::unauthorized().into_response(),
            Err(p) => return p.into_response(),
        },
    }
    next.run(req).await
}

/// CSRF defence for browsers: an unsafe request that says where it comes from (`Origin`,
/// `Sec-Fetch-Site`) must come from the public origin. Clients that send neither (curl,
/// devices, server-to-server) are not browsers and are not at risk. The session cookie is
/// also `SameSite=Strict`.
pub async fn csrf(state: Shared, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let h = req.headers();
        // Browsers that send `Sec-Fetch-Site` say exactly where a request comes from; under
        // `Referrer-Policy: no-referrer` their `Origin` is the opaque "null", so it is only
        // consulted for browsers without Fetch Metadata.
        let allowed = match h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            Some(site) => matches!(site, "same-origin" | "none"),
            None => h
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|o| o.trim_end_matches('/') == state.origin),
        };
        if !allowed {
            return Problem::forbidden(format!(
                "cross-site request refused: unsafe requests must come from {}",
                state.origin
            ))
            .into_response();
        }
    }
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(Problem::unauthorized)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DeviceCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts
            .extensions
            .get::<DeviceCaller>()
            .cloned()
            .ok_or_else(Problem::unauthorized)
    }
}

/// The caller if signed in, for public pages that adapt to a session.
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<Shared> for MaybeCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Problem> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(MaybeCaller(Some(c.clone())));
        }
        Ok(MaybeCaller(sessions::resolve(state, &parts.headers).await?))
    }
}
