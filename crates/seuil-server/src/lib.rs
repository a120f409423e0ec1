//! The HTTP side of Seuil: the JSON API under `/api`, the customer portal, authentication,
//! notifications (SSE and signed webhooks through the store outbox), metrics and the OpenAPI
//! document. It composes the domain crates and the vault; they know nothing of HTTP.
//!
//! The binary builds an [`App`] over a vault, serves [`App::router`] and starts
//! [`App::spawn_background`]:
//!
//! ```ignore
//! let app = seuil_server::App::new(vault, seuil_server::ServerConfig::new("https://seuil.example"));
//! app.spawn_background(); // outbox worker (webhooks) + retention sweeper
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! app.serve(listener).await?; // = axum::serve(listener, app.router() with ConnectInfo)
//! ```
//!
//! Routes, who may call them and their schemas live in one table ([`routes::table`]); the
//! router and `/api/openapi.json` are both built from it.

#![recursion_limit = "256"] // the OpenAPI schemas are large `json!` literals

pub mod auth;
mod config;
pub mod extract;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod portal;
mod problem;
pub mod routes;
mod state;
pub mod watch;

pub use auth::{Access, Role};
pub use config::ServerConfig;
pub use notify::NotifyReport;
pub use problem::{ApiResult, Problem};
pub use state::{App, AppState, Background, Shared};
