//! Integration tests of the HTTP server, in one binary (one link on a small machine).

mod authz;
mod bad_input;
mod browser_verify;
mod camera;
mod common;
mod delivery;
mod flows;
mod portal;
mod sessions;
mod webhooks;
