//! seuil-walkout: see ARCHITECTURE.md. This crate is an empty library until its issue is taken up.
