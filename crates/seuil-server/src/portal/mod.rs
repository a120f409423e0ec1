//! The customer portal: server-rendered HTML that works without JavaScript, except the
//! optional in-browser proof check and the live view's refresh. Every value shown is HTML-escaped.

pub mod deliveries;
pub mod layout;
pub mod pages;
pub mod script;
