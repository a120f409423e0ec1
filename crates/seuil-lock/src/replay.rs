//! Which of an issuer's grant sequence numbers were already used.
//!
//! The issuer numbers its grants in order, but couriers do not use them in order: a grant
//! issued later may open the door before an earlier one. So besides the highest number used,
//! the window remembers which of the [`WINDOW`] numbers below it were used too. Anything
//! further below is refused as too old: it was issued long enough ago that it cannot be told
//! apart from a replay.

/// Sequence numbers remembered below the highest one used.
pub const WINDOW: u64 = 64;

/// Anti-replay state for one issuer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    /// The highest sequence number used, if any was.
    pub(crate) highest: Option<u64>,
    /// Bit `i` set: `highest - i` was used.
    pub(crate) seen: u64,
}

/// Why a sequence number cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// It was used already.
    Used,
    /// It is [`WINDOW`] or more below the highest used: too old to tell.
    TooOld,
}

impl ReplayWindow {
    /// Whether `sequence` may be used now. Changes nothing.
    pub fn check(&self, sequence: u64) -> Result<(), ReplayError> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if sequence > highest {
            return Ok(());
        }
        let below = highest - sequence;
        if below >= WINDOW {
            return Err(ReplayError::TooOld);
        }
        if self.seen & (1 << below) != 0 {
            return Err(ReplayError::Used);
        }
        Ok(())
    }

    /// Records `sequence` as used. Call only after [`ReplayWindow::check`] passed.
    pub fn mark(&mut self, sequence: u64) {
        match self.highest {
            Some(highest) if sequence <= highest => {
                let below = highest - sequence;
                if below < WINDOW {
                    self.seen |= 1 << below;
                }
            }
            Some(highest) => {
                let shift = sequence - highest;
                self.seen = if shift >= WINDOW {
                    0
                } else {
                    self.seen << shift
                };
                self.seen |= 1;
                self.highest = Some(sequence);
            }
            None => {
                self.seen = 1;
                self.highest = Some(sequence);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_use_within_the_window_is_fine_once() {
        let mut w = ReplayWindow::default();
        for seq in [10, 12, 11, 5] {
            assert_eq!(w.check(seq), Ok(()), "{seq}");
            w.mark(seq);
            assert_eq!(w.check(seq), Err(ReplayError::Used), "{seq}");
        }
        assert_eq!(w.check(13), Ok(()));
        w.mark(12 + WINDOW);
        assert_eq!(w.check(12), Err(ReplayError::TooOld));
        assert_eq!(w.check(13), Ok(()));
        assert_eq!(w.check(12 + WINDOW), Err(ReplayError::Used));
    }

    #[test]
    fn a_far_jump_forgets_everything_below() {
        let mut w = ReplayWindow::default();
        w.mark(1);
        w.mark(u64::MAX);
        assert_eq!(w.check(1), Err(ReplayError::TooOld));
        assert_eq!(w.check(u64::MAX - 1), Ok(()));
        assert_eq!(w.check(u64::MAX), Err(ReplayError::Used));
    }
}
