//! Camera streams: signed segments in, verified and sealed footage out.

pub mod ingest;
pub mod stream;

pub use ingest::{
    FOOTAGE, IngestError, Ingested, Keep, PURPOSE, PairedCamera, STREAM, ingest, segment_id,
};
pub use stream::{Flag, Rejection, StreamState, Verdict};
