//! What must alarm the customer at once during a visit.
//!
//! - The camera falls silent while the door is open: no verified footage for
//!   [`SILENCE_MS`]. The signed counter carries liveness, so a jammed or unplugged camera is
//!   caught even when the picture would not have moved.
//! - The door is not relocked within the configured time after the unlock.
//! - The lock reports an unlock outside any visit.
//! - Footage analysis finds tampering.
//!
//! [`Watchdog::check`] is pure: the server calls it on every segment and on a timer, and
//! pushes each new alarm to the customer's event stream and webhooks.

use crate::footage::Kind;
use crate::visit::Visit;
use serde::{Deserialize, Serialize};

/// Silence from the camera during an open door that raises the alarm. A camera closes a
/// segment about every second, so two seconds without one is a missed segment and more; the
/// alarm then reaches the customer within three seconds of the last footage, the moment the
/// live view turns STALE.
pub const SILENCE_MS: i64 = 2_000;

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "alarm")]
pub enum Alarm {
    /// No verified footage since `since` (Unix milliseconds) while the door was open.
    CameraSilent { since: i64 },
    /// Unlocked at `unlocked_at` and not relocked within the allowed time.
    NotRelocked { unlocked_at: i64 },
    /// The lock opened at `at` with no visit open.
    UnlockOutsideVisit { at: i64 },
    /// Footage analysis found tampering between `start_s` and `end_s` of the clip.
    Tampering {
        kind: Kind,
        start_s: f64,
        end_s: f64,
    },
}

/// Raises each alarm of a visit once.
#[derive(Clone, Debug, Default)]
pub struct Watchdog {
    /// How long the door may stay unlocked, in milliseconds.
    pub relock_within_ms: i64,
    silent_raised: Option<i64>,
    relock_raised: bool,
}

impl Watchdog {
    pub fn new(relock_within_ms: i64) -> Self {
        Watchdog {
            relock_within_ms,
            ..Watchdog::default()
        }
    }

    /// The alarms newly due at `now`, given the visit and when the camera's newest verified
    /// footage ended. A silence that ends re-arms the alarm for the next one.
    pub fn check(&mut self, visit: &Visit, camera_newest_end: Option<i64>, now: i64) -> Vec<Alarm> {
        let mut out = Vec::new();
        if visit.step.door_open() {
            // Footage from before the unlock does not count as watching the open door.
            let since = camera_newest_end
                .into_iter()
                .chain(visit.unlocked_at)
                .max()
                .unwrap_or(now);
            if now - since >= SILENCE_MS && self.silent_raised != Some(since) {
                self.silent_raised = Some(since);
                out.push(Alarm::CameraSilent { since });
            }
            if let Some(unlocked_at) = visit.unlocked_at
                && now - unlocked_at > self.relock_within_ms
                && !self.relock_raised
            {
                self.relock_raised = true;
                out.push(Alarm::NotRelocked { unlocked_at });
            }
        }
        out
    }
}

/// An unlock the lock reported: an alarm unless a visit with an unlock was open then.
pub fn unlock_reported(open_visit: Option<&Visit>, at: i64) -> Option<Alarm> {
    match open_visit {
        Some(v) if v.step.door_open() || v.unlocked_at.is_some_and(|u| u <= at) => None,
        _ => Some(Alarm::UnlockOutsideVisit { at }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_visit(unlocked_at: i64) -> Visit {
        let mut v = Visit::default();
        v.arrive(unlocked_at - 1_000).unwrap();
        v.unlocked(unlocked_at).unwrap();
        v
    }

    #[test]
    fn a_silent_camera_alarms_within_three_seconds_once() {
        let v = open_visit(10_000);
        let mut w = Watchdog::new(300_000);
        assert!(w.check(&v, Some(11_000), 12_999).is_empty());
        assert_eq!(
            w.check(&v, Some(11_000), 13_000),
            vec![Alarm::CameraSilent { since: 11_000 }]
        );
        assert!(
            w.check(&v, Some(11_000), 20_000).is_empty(),
            "once per silence"
        );
        // Footage again, then a second silence.
        assert!(w.check(&v, Some(21_000), 21_500).is_empty());
        assert_eq!(
            w.check(&v, Some(21_000), 23_000),
            vec![Alarm::CameraSilent { since: 21_000 }]
        );
    }

    #[test]
    fn a_camera_that_never_spoke_after_the_unlock_alarms_too() {
        let v = open_visit(10_000);
        let mut w = Watchdog::new(300_000);
        assert_eq!(
            w.check(&v, Some(2_000), 13_000),
            vec![Alarm::CameraSilent { since: 10_000 }]
        );
    }

    #[test]
    fn a_door_left_unlocked_alarms_once() {
        let mut v = open_visit(10_000);
        let mut w = Watchdog::new(60_000);
        assert!(w.check(&v, Some(70_000), 70_000).is_empty());
        assert_eq!(
            w.check(&v, Some(70_500), 70_500),
            vec![Alarm::NotRelocked {
                unlocked_at: 10_000
            }]
        );
        assert!(w.check(&v, Some(71_000), 71_000).is_empty());
        v.relocked(72_000).unwrap();
        assert!(
            w.check(&v, None, 200_000).is_empty(),
            "relocked: nothing to watch"
        );
    }

    #[test]
    fn an_unlock_outside_a_visit_alarms() {
        assert_eq!(
            unlock_reported(None, 5),
            Some(Alarm::UnlockOutsideVisit { at: 5 })
        );
        let mut scheduled = Visit::default();
        assert!(unlock_reported(Some(&scheduled), 5).is_some());
        scheduled.arrive(1).unwrap();
        scheduled.unlocked(4).unwrap();
        assert_eq!(unlock_reported(Some(&scheduled), 5), None);
    }
}
