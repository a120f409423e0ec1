//! In-home delivery: the domain of a courier's visit, from the grant that opens the door to
//! the footage that proves what happened, and the alarms in between. Knows nothing of HTTP.
//!
//! - [`home`]: the lock and camera a customer paired, and their standing approval;
//! - [`deliveries`]: each delivery from the operator's order to the lock's relock report;
//! - [`grants`]: when a grant may be issued, and signing it;
//! - [`visit`]: the visit's steps and its recording window;
//! - [`camera`]: the camera's signed segments, verified and sealed under the customer's key;
//! - [`clips`]: a visit's footage: claimed, shown, pinned, deleted, disputed, analysed;
//! - [`alarms`]: a silent camera, a door left open, an unlock outside a visit, tampering;
//! - [`footage`]: H.264 decoding and tamper analysis.

pub mod alarms;
pub mod camera;
pub mod clips;
pub mod deliveries;
pub mod footage;
pub mod grants;
pub mod home;
pub mod visit;
