//! What must alarm the customer at once during a visit.
//!
//! - The camera falls silent while the door is open, or while a grant could open it: no
//!   verified footage for [`SILENCE_MS`]. The signed counter carries liveness, so a jammed or
//!   unplugged camera is caught even when the picture would not have moved; and watching from
//!   the grant, not from the lock's report, catches a lock knocked off the network too.
//! - The lock has not reported the unlock within the configured time after the grant.
//! - The door is not relocked within the configured time after the unlock.
//! - The lock reports an unlock outside any visit (a revoked grant used on a lock that had not
//!   synced yet, say).
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
    /// No verified footage since `since` (Unix milliseconds) while the door was open, or while
    /// a grant could open it.
    CameraSilent { since: i64 },
    /// A grant was issued at `granted_at` and the lock has not reported the unlock since.
    LockSilent { granted_at: i64 },
    /// Unlocked at `unlocked_at` and not relocked within the allowed time.
    NotRelocked { unlocked_at: i64 },
    /// The lock opened at `at` with no visit open.
    UnlockOutsideVisit { at: i64 },
    /// The lock opened at `at` with a grant that had been revoked (the visit called off, the
    /// courier changed, the approval withdrawn), before the lock synced and learnt of it.
    RevokedGrantUsed { at: i64 },
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
    /// How long after a grant the lock must have reported the unlock, in milliseconds.
    pub lock_report_within_ms: i64,
    silent_raised: Option<i64>,
    lock_silent_raised: Option<i64>,
    relock_raised: bool,
}

impl Watchdog {
    pub fn new(relock_within_ms: i64, lock_report_within_ms: i64) -> Self {
        Watchdog {
            relock_within_ms,
            lock_report_within_ms,
            ..Watchdog::default()
        }
    }

    /// The alarms newly due at `now`, given the visit and when the camera's newest verified
    /// footage ended. A silence that ends re-arms the alarm for the next one.
    pub fn check(&mut self, visit: &Visit, camera_newest_end: Option<i64>, now: i64) -> Vec<Alarm> {
        let mut out = Vec::new();
        if visit.watching(now) {
            // Footage from before the grant (or the unlock) does not count as watching.
            let watched_from = if visit.step.door_open() {
                visit.unlocked_at.into_iter().chain(visit.granted_at).min()
            } else {
                visit.granted_at
            };
            let since = camera_newest_end
                .into_iter()
                .chain(watched_from)
                .max()
                .unwrap_or(now);
            if now - since >= SILENCE_MS && self.silent_raised != Some(since) {
                self.silent_raised = Some(since);
                out.push(Alarm::CameraSilent { since });
            }
        }
        // In any step: a visit called off after its grant still has a grant that opens the
        // door, and the lock's silence then matters as much.
        if visit.grant_pending(now)
            && let Some(granted_at) = visit.granted_at
            && now - granted_at > self.lock_report_within_ms
            && self.lock_silent_raised != Some(granted_at)
        {
            self.lock_silent_raised = Some(granted_at);
            out.push(Alarm::LockSilent { granted_at });
        }
        if visit.step.door_open()
            && let Some(unlocked_at) = visit.unlocked_at
            && now - unlocked_at > self.relock_within_ms
            && !self.relock_raised
        {
            self.relock_raised = true;
            out.push(Alarm::NotRelocked { unlocked_at });
        }
        out
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
        let mut w = Watchdog::new(300_000, 60_000);
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
        let mut w = Watchdog::new(300_000, 60_000);
        assert_eq!(
            w.check(&v, Some(2_000), 13_000),
            vec![Alarm::CameraSilent { since: 10_000 }]
        );
    }

    #[test]
    fn a_door_left_unlocked_alarms_once() {
        let mut v = open_visit(10_000);
        let mut w = Watchdog::new(60_000, 60_000);
        assert!(w.check(&v, Some(70_000), 70_000).is_empty());
        assert_eq!(
            w.check(&v, Some(70_500), 70_500),
            vec![Alarm::NotRelocked {
                unlocked_at: 10_000
            }]
        );
        assert!(w.check(&v, Some(71_000), 71_000).is_empty());
        v.relocked(72_000).unwrap();
        v.finish(72_500).unwrap();
        assert!(
            w.check(&v, None, 200_000).is_empty(),
            "relocked, as the lock confirms: nothing to watch"
        );
    }

    #[test]
    fn a_grant_is_watched_before_any_unlock_report() {
        let mut v = Visit::default();
        v.arrive(0).unwrap();
        v.granted(10_000, 610_000).unwrap();
        let mut w = Watchdog::new(300_000, 60_000);
        assert!(w.check(&v, Some(11_000), 12_999).is_empty());
        assert_eq!(
            w.check(&v, Some(11_000), 13_000),
            vec![Alarm::CameraSilent { since: 11_000 }],
            "lock and camera silent after the grant"
        );
        assert_eq!(
            w.check(&v, Some(70_000), 70_001),
            vec![Alarm::LockSilent { granted_at: 10_000 }]
        );
        assert!(w.check(&v, Some(70_500), 70_500).is_empty(), "once");
        // Footage from before the grant does not count.
        let mut fresh = Watchdog::new(300_000, 60_000);
        assert_eq!(
            fresh.check(&v, Some(9_000), 12_000),
            vec![Alarm::CameraSilent { since: 10_000 }]
        );
        // Once the grant is dead and unused, nothing is watched.
        assert!(fresh.check(&v, None, 700_000).is_empty());
    }

    #[test]
    fn calling_the_visit_off_after_the_grant_does_not_silence_the_watch() {
        let mut v = Visit::default();
        v.arrive(0).unwrap();
        v.granted(10_000, 610_000).unwrap();
        v.abort(11_000).unwrap();
        let mut w = Watchdog::new(300_000, 60_000);
        assert_eq!(
            w.check(&v, Some(11_000), 13_000),
            vec![Alarm::CameraSilent { since: 11_000 }]
        );
        assert_eq!(
            w.check(&v, Some(70_000), 70_001),
            vec![Alarm::LockSilent { granted_at: 10_000 }],
            "the grant may have opened an offline lock"
        );
    }
}
