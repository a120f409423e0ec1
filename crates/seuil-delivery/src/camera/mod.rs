//! Camera streams: signed segments in, verified and sealed footage out.

pub mod ingest;
pub mod stream;

pub use ingest::{IngestError, Ingested, PairedCamera, ingest};
pub use stream::{Flag, Rejection, StreamState, Verdict};
