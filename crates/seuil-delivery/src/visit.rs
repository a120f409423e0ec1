//! A courier's visit to a customer's home, step by step.
//!
//! `scheduled → arrived → unlocked → inside → relocked → done`, or `aborted` from any step
//! before `done`. Every step is a method that checks it follows the one before, so a lock
//! report that comes out of order is an error the caller sees, not a silent jump.

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

    /// The door is open or may be: the camera must be watching.
    pub fn door_open(self) -> bool {
        matches!(self, Step::Unlocked | Step::Inside)
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
    pub unlocked_at: Option<i64>,
    pub relocked_at: Option<i64>,
    pub ended_at: Option<i64>,
}

impl Default for Visit {
    fn default() -> Self {
        Visit {
            step: Step::Scheduled,
            arrived_at: None,
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

    pub fn unlocked(&mut self, now: i64) -> Result<(), StepError> {
        self.go("unlock", &[Step::Arrived], Step::Unlocked)?;
        self.unlocked_at = Some(now);
        Ok(())
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

    pub fn finish(&mut self, now: i64) -> Result<(), StepError> {
        self.go("finish", &[Step::Relocked], Step::Done)?;
        self.ended_at = Some(now);
        Ok(())
    }

    pub fn abort(&mut self, now: i64) -> Result<(), StepError> {
        self.go(
            "abort",
            &[
                Step::Scheduled,
                Step::Arrived,
                Step::Unlocked,
                Step::Inside,
                Step::Relocked,
            ],
            Step::Aborted,
        )?;
        self.ended_at = Some(now);
        Ok(())
    }

    /// Whether the visit's recording has closed by `now`: the door is shut and the margin after
    /// the relock (or the end of the visit) has passed. A finished visit with no time on
    /// record counts as closed.
    pub fn recording_closed(&self, now: i64) -> bool {
        match self.relocked_at.or(self.ended_at) {
            Some(end) if !self.step.door_open() => now > end + RECORDING_MARGIN_MS,
            _ => matches!(self.step, Step::Done | Step::Aborted),
        }
    }

    /// Whether the camera may record at `t`: from [`RECORDING_MARGIN_MS`] before the unlock to
    /// as long after the relock, and never outside a visit. While the door is open, always.
    pub fn may_record(&self, t: i64) -> bool {
        let Some(unlocked) = self.unlocked_at else {
            return false;
        };
        let from = unlocked - RECORDING_MARGIN_MS;
        let until = match self.relocked_at {
            Some(relocked) => relocked + RECORDING_MARGIN_MS,
            None if self.step.door_open() => i64::MAX,
            // Aborted while open, without a relock: stop with the abort.
            None => self.ended_at.unwrap_or(unlocked) + RECORDING_MARGIN_MS,
        };
        (from..=until).contains(&t)
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
        assert!(!v.recording_closed(5_000 + RECORDING_MARGIN_MS));
        assert!(v.recording_closed(5_001 + RECORDING_MARGIN_MS));
        v.finish(6_000).unwrap();
        assert!(
            v.recording_closed(5_001 + RECORDING_MARGIN_MS),
            "measured from the relock"
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
        v.abort(5).unwrap();
        assert_eq!(v.step, Step::Aborted);
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
        assert!(v.may_record(230_000) && !v.may_record(230_001));
    }
}
