//! A courier's visit to a customer's home, step by step.
//!
//! `scheduled → arrived → unlocked → inside → relocked → done`, or `aborted` before the door
//! is unlocked; a reassigned courier sends an arrived visit back to `scheduled`. `relocked` is
//! what the courier says; only the lock's report of the relock ends the visit (`done`). Every step is a method that checks it follows the one before,
//! so a lock report that comes out of order is an error the caller sees, not a silent jump.
//!
//! The visit is watched, and its footage kept, from the moment a grant is issued, not from
//! the lock's unlock report: a lock knocked off the network after the grant opens the door
//! without reporting it, and the camera must not be silenced unnoticed meanwhile.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Scheduled,
    Arrived,
    Unlocked,
    Inside,
    Relocked,
    Done,
    Aborted,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Scheduled => "scheduled",
            Step::Arrived => "arrived",
            Step::Unlocked => "unlocked",
            Step::Inside => "inside",
            Step::Relocked => "relocked",
            Step::Done => "done",
            Step::Aborted => "aborted",
        }
    }

    /// The door is open or may be: the camera must be watching. `Relocked` is the courier's
    /// word only; until the lock confirms it, the door counts as open.
    pub fn door_open(self) -> bool {
        matches!(self, Step::Unlocked | Step::Inside | Step::Relocked)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a visit that is {from}")]
pub struct StepError {
    pub action: &'static str,
    pub from: &'static str,
}

/// Times are Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub step: Step,
    pub arrived_at: Option<i64>,
    /// When the newest grant was issued.
    #[serde(default)]
    pub granted_at: Option<i64>,
    /// Until when a grant of this visit may open the lock (its end plus the lock's skew).
    #[serde(default)]
    pub grant_until: Option<i64>,
    /// Where the visit's footage starts, before the margin: the first grant (or the unlock).
    #[serde(default)]
    pub recording_from: Option<i64>,
    pub unlocked_at: Option<i64>,
    pub relocked_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl Default for Visit {
    fn default() -> Self {
        Visit {
            step: Step::Scheduled,
            arrived_at: None,
            granted_at: None,
            grant_until: None,
            recording_from: None,
            unlocked_at: None,
            relocked_at: None,
            ended_at: None,
        }
    }
}

/// Seconds of footage kept before the unlock and after the relock.
pub const RECORDING_MARGIN_MS: i64 = 30_000;

impl Visit {
    fn go(&mut self, action: &'static str, from: &[Step], to: Step) -> Result<(), StepError> {
        if !from.contains(&self.step) {
            return Err(StepError {
                action,
                from: self.step.as_str(),
            });
        }
        self.step = to;
        Ok(())
    }

    pub fn arrive(&mut self, now: i64) -> Result<(), StepError> {
        self.go("arrive at", &[Step::Scheduled], Step::Arrived)?;
        self.arrived_at = Some(now);
        Ok(())
    }

    /// A grant was issued at `now`, which the lock accepts until `until`.
    pub fn granted(&mut self, now: i64, until: i64) -> Result<(), StepError> {
        if self.step != Step::Arrived {
            return Err(StepError {
                action: "grant entry to",
                from: self.step.as_str(),
            });
        }
        self.granted_at = Some(now);
        self.grant_until = Some(self.grant_until.map_or(until, |u| u.max(until)));
        self.recording_from.get_or_insert(now);
        Ok(())
    }

    /// Another courier takes the delivery: the visit waits for their arrival again.
    pub fn reassigned(&mut self) -> Result<(), StepError> {
        self.go(
            "reassign",
            &[Step::Scheduled, Step::Arrived],
            Step::Scheduled,
        )?;
        self.arrived_at = None;
        Ok(())
    }

    pub fn unlocked(&mut self, now: i64) -> Result<(), StepError> {
        self.go("unlock", &[Step::Arrived], Step::Unlocked)?;
        self.unlocked_at = Some(now);
        self.recording_from.get_or_insert(now);
        Ok(())
    }

    /// A grant was issued and no unlock reported yet, and the lock would still accept it at
    /// `now`: the door may open any moment, reported or not.
    pub fn grant_pending(&self, now: i64) -> bool {
        self.unlocked_at.is_none() && self.grant_until.is_some_and(|u| now <= u)
    }

    /// The camera must be watching: the door is open, or a grant could open it.
    pub fn watching(&self, now: i64) -> bool {
        self.step.door_open() || self.grant_pending(now)
    }

    /// The courier went in (the door opened after the unlock).
    pub fn entered(&mut self) -> Result<(), StepError> {
        self.go("enter", &[Step::Unlocked], Step::Inside)
    }

    pub fn relocked(&mut self, now: i64) -> Result<(), StepError> {
        self.go("relock", &[Step::Unlocked, Step::Inside], Step::Relocked)?;
        self.relocked_at = Some(now);
        Ok(())
    }

    /// The lock confirms the relock at `now`: the recording runs to the later of that and the
    /// courier's word.
    pub fn finish(&mut self, now: i64) -> Result<(), StepError> {
        self.go("finish", &[Step::Relocked], Step::Done)?;
        self.relocked_at = Some(self.relocked_at.map_or(now, |r| r.max(now)));
        self.ended_at = Some(now);
        Ok(())
    }

    /// Calls the visit off. Not once the door was unlocked: that would stop the watch on an
    /// open door; the lock's relock report ends such a visit.
    pub fn abort(&mut self, now: i64) -> Result<(), StepError> {
        self.go("abort", &[Step::Scheduled, Step::Arrived], Step::Aborted)?;
        self.ended_at = Some(now);
        Ok(())
    }

    /// When the recording's last reason ends: the relock (or the end of the visit), or, while
    /// the lock never reported an unlock, the end of the last grant. `None` while the door is
    /// open, or when nothing was ever recorded.
    fn recording_end(&self) -> Option<i64> {
        if self.step.door_open() {
            return None;
        }
        let unreported_grant = self.grant_until.filter(|_| self.unlocked_at.is_none());
        self.relocked_at
            .or(self.ended_at)
            .into_iter()
            .chain(unreported_grant)
            .max()
    }

    /// Whether the visit's recording has closed by `now`: the door is shut, no grant could
    /// open it, and the margin after the relock (or the end of the visit, or of the grant) has
    /// passed. A finished visit with no time on record counts as closed.
    pub fn recording_closed(&self, now: i64) -> bool {
        if self.watching(now) {
            return false;
        }
        match self.recording_end() {
            Some(end) => now > end.saturating_add(RECORDING_MARGIN_MS),
            None => matches!(self.step, Step::Done | Step::Aborted),
        }
    }

    /// The span of footage that belongs to the visit, from [`RECORDING_MARGIN_MS`] before the
    /// first grant (or the unlock) to as long after the relock; open-ended (`i64::MAX`) while
    /// the door is open. `None` before any grant.
    pub fn recording_window(&self) -> Option<(i64, i64)> {
        // Times a lock reports are its own: saturate rather than wrap on absurd ones.
        let from = self
            .recording_from
            .or(self.unlocked_at)?
            .saturating_sub(RECORDING_MARGIN_MS);
        let until = match self.recording_end() {
            _ if self.step.door_open() => i64::MAX,
            Some(end) => end.saturating_add(RECORDING_MARGIN_MS),
            None => from.saturating_add(RECORDING_MARGIN_MS),
        };
        Some((from, until))
    }

    /// Whether the camera may record at `t` for this visit (see [`Visit::recording_window`]).
    pub fn may_record(&self, t: i64) -> bool {
        self.recording_window()
            .is_some_and(|(from, until)| (from..=until).contains(&t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recording_closes_a_margin_after_the_relock_and_never_while_the_door_is_open() {
        let mut v = Visit::default();
        v.arrive(0).unwrap();
        v.unlocked(1_000).unwrap();
        assert!(!v.recording_closed(i64::MAX / 2), "the door is open");
        v.relocked(5_000).unwrap();
        assert!(
            !v.recording_closed(i64::MAX / 2),
            "the courier says relocked; the lock has not confirmed"
        );
        v.finish(6_000).unwrap();
        assert!(!v.recording_closed(6_000 + RECORDING_MARGIN_MS));
        assert!(
            v.recording_closed(6_001 + RECORDING_MARGIN_MS),
            "measured from the lock's relock"
        );

        let mut aborted = Visit::default();
        aborted.arrive(0).unwrap();
        aborted.abort(2_000).unwrap();
        assert!(!aborted.recording_closed(2_000 + RECORDING_MARGIN_MS));
        assert!(aborted.recording_closed(2_001 + RECORDING_MARGIN_MS));
    }

    #[test]
    fn a_whole_visit_goes_step_by_step() {
        let mut v = Visit::default();
        v.arrive(1_000).unwrap();
        v.unlocked(2_000).unwrap();
        v.entered().unwrap();
        v.relocked(62_000).unwrap();
        v.finish(63_000).unwrap();
        assert_eq!(v.step, Step::Done);
        assert_eq!(
            v.abort(64_000),
            Err(StepError {
                action: "abort",
                from: "done"
            })
        );
    }

    #[test]
    fn steps_out_of_order_are_errors() {
        let mut v = Visit::default();
        assert_eq!(
            v.unlocked(1),
            Err(StepError {
                action: "unlock",
                from: "scheduled"
            })
        );
        v.arrive(1).unwrap();
        assert!(v.relocked(2).is_err(), "relock before unlock");
        assert!(v.finish(2).is_err());
        v.unlocked(3).unwrap();
        assert!(v.unlocked(4).is_err(), "a second unlock");
        assert!(v.abort(5).is_err(), "not while the door is open");
        v.relocked(6).unwrap();
        assert!(
            v.abort(7).is_err(),
            "nor before the lock confirms the relock"
        );
        let mut w = Visit::default();
        w.arrive(1).unwrap();
        w.abort(2).unwrap();
        assert_eq!(w.step, Step::Aborted);
    }

    #[test]
    fn recording_is_limited_to_the_visit_and_its_margins() {
        let mut v = Visit::default();
        v.arrive(0).unwrap();
        assert!(!v.may_record(0), "nothing before an unlock");
        v.unlocked(100_000).unwrap();
        assert!(v.may_record(70_000) && !v.may_record(69_999));
        assert!(v.may_record(10_000_000), "open door: keep recording");
        v.relocked(200_000).unwrap();
        assert!(v.may_record(10_000_000), "until the lock confirms");
        v.finish(200_000).unwrap();
        assert!(v.may_record(230_000) && !v.may_record(230_001));
    }

    #[test]
    fn a_grant_starts_the_watch_and_the_recording_before_any_unlock_report() {
        let mut v = Visit::default();
        v.arrive(0).unwrap();
        assert!(!v.watching(1_000));
        v.granted(100_000, 700_000).unwrap();
        assert!(v.watching(100_000) && v.watching(700_000) && !v.watching(700_001));
        assert!(
            v.may_record(70_000) && !v.may_record(69_999),
            "from the grant"
        );
        assert!(
            v.may_record(730_000) && !v.may_record(730_001),
            "until the grant dies"
        );
        assert!(!v.recording_closed(730_000));
        assert!(v.recording_closed(730_001), "a grant never used, and dead");
        // The unlock report comes late: the footage still starts at the grant.
        v.unlocked(650_000).unwrap();
        assert!(v.may_record(70_000) && v.may_record(10_000_000));
        assert!(!v.recording_closed(i64::MAX / 2));
    }

    #[test]
    fn an_abort_or_a_reassignment_after_a_grant_keeps_watching_until_the_grant_dies() {
        let mut v = Visit::default();
        v.arrive(0).unwrap();
        v.granted(10_000, 610_000).unwrap();
        v.reassigned().unwrap();
        assert_eq!((v.step, v.arrived_at), (Step::Scheduled, None));
        assert!(
            v.watching(600_000),
            "the revoked grant may still open an offline lock"
        );
        v.abort(20_000).unwrap();
        assert!(v.watching(610_000) && !v.watching(610_001));
        assert!(!v.recording_closed(610_000 + RECORDING_MARGIN_MS));
        assert!(v.recording_closed(610_001 + RECORDING_MARGIN_MS));
        assert!(
            v.granted(30_000, 40_000).is_err(),
            "no grant once called off"
        );
    }
}
