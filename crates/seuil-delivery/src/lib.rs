//! In-home delivery: the footage that proves a visit, from the camera's signed segments to the
//! analysis that finds tampering. Knows nothing of HTTP.

pub mod camera;
pub mod footage;
