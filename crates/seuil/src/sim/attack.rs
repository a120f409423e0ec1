//! What a compromised camera does, as `seuil sim camera --attack` spells it.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attack {
    /// From `start` for `seconds`, one picture held.
    Freeze { start: f64, seconds: f64 },
    /// From `start` for `seconds`, a dark picture (a hand over the lens).
    Cover { start: f64, seconds: f64 },
    /// From `start` for `seconds`, the clip's opening played again.
    Replay { start: f64, seconds: f64 },
    /// From `start` on, nothing: the camera is jammed.
    Jam { start: f64 },
}

impl Attack {
    pub fn start(&self) -> f64 {
        match *self {
            Attack::Freeze { start, .. }
            | Attack::Cover { start, .. }
            | Attack::Replay { start, .. }
            | Attack::Jam { start } => start,
        }
    }

    /// Whether the attack covers time `t` (seconds from the clip's start).
    pub fn covers(&self, t: f64) -> bool {
        match *self {
            Attack::Freeze { start, seconds }
            | Attack::Cover { start, seconds }
            | Attack::Replay { start, seconds } => t >= start && t < start + seconds,
            Attack::Jam { start } => t >= start,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct ParseAttackError(String);

impl fmt::Display for ParseAttackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; write freeze@START+DUR, cover@START+DUR, replay@START+DUR or jam@START, in seconds (freeze@12+1.5)",
            self.0
        )
    }
}

impl std::error::Error for ParseAttackError {}

fn seconds(s: &str, what: &str) -> Result<f64, ParseAttackError> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| ParseAttackError(format!("{what} `{s}` is not a number of seconds")))
}

impl FromStr for Attack {
    type Err = ParseAttackError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, at) = s
            .split_once('@')
            .ok_or_else(|| ParseAttackError(format!("`{s}` has no `@`")))?;
        if kind == "jam" {
            return Ok(Attack::Jam {
                start: seconds(at, "the start")?,
            });
        }
        let (start, dur) = at
            .split_once('+')
            .ok_or_else(|| ParseAttackError(format!("`{s}` has no `+DURATION`")))?;
        let (start, seconds) = (seconds(start, "the start")?, seconds(dur, "the duration")?);
        if seconds == 0.0 {
            return Err(ParseAttackError(format!("`{s}` lasts no time")));
        }
        match kind {
            "freeze" => Ok(Attack::Freeze { start, seconds }),
            "cover" => Ok(Attack::Cover { start, seconds }),
            "replay" => Ok(Attack::Replay { start, seconds }),
            other => Err(ParseAttackError(format!("unknown attack `{other}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attack_parses() {
        assert_eq!(
            "freeze@12+1.5".parse(),
            Ok(Attack::Freeze {
                start: 12.0,
                seconds: 1.5
            })
        );
        assert_eq!(
            "cover@3+6".parse(),
            Ok(Attack::Cover {
                start: 3.0,
                seconds: 6.0
            })
        );
        assert_eq!(
            "replay@10+10".parse(),
            Ok(Attack::Replay {
                start: 10.0,
                seconds: 10.0
            })
        );
        assert_eq!("jam@5".parse(), Ok(Attack::Jam { start: 5.0 }));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("freeze", "no `@`"),
            ("freeze@3", "no `+DURATION`"),
            ("melt@1+2", "unknown attack `melt`"),
            ("cover@x+2", "the start `x`"),
            ("cover@1+-2", "the duration `-2`"),
            ("cover@1+0", "lasts no time"),
            ("jam@NaN", "the start `NaN`"),
        ] {
            let err = spec.parse::<Attack>().unwrap_err().to_string();
            assert!(err.contains(says), "{spec}: {err}");
            assert!(err.contains("freeze@START+DUR"), "{err}");
        }
    }
}
