//! In-home delivery: the domain of grants, visits and the footage that proves them.

pub mod footage;
