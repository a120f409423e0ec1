//! The customer portal: server-rendered HTML that works without JavaScript, except the
//! optional in-browser proof check. Every value shown is HTML-escaped.

pub mod layout;
pub mod pages;
pub mod script;
