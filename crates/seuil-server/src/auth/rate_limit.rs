//! Throttling of sign-ins and sign-ups.
//!
//! - **Per source address, a progressive delay.** A few failures are free; then each further
//!   one doubles the wait before the next attempt is even looked at (1 s, 2 s, 4 s, … up to
//!   15 min). An address is forgiven an hour after its last failure.
//! - **Per account, a softer limit.** After ten failures the wait doubles from 2 s to at most
//!   30 s. A guesser spread over many addresses gets about two tries a minute at one account,
//!   and the account's owner waits half a minute at worst: nobody can keep a chosen user out.
//! - **An attempt counts from the moment it starts**, and is taken back when it succeeds, so
//!   guesses sent in parallel cannot all pass the check while the first ones are still in
//!   Argon2.
//!
//! Sign-ups are throttled per source the same way: a sign-up says whether an email has an
//! account, so it must not be an unlimited oracle.
//!
//! In memory and so **per instance**: behind a load balancer with N instances an attacker gets
//! up to N times the budget. A shared limiter (in the database) is the upgrade path.

use seuil_store::Millis;
use std::collections::HashMap;
use std::sync::Mutex;

/// How a key is throttled.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Failures before any wait.
    pub free: u32,
    /// The first wait, doubled with each failure after it.
    pub first_ms: Millis,
    pub cap_ms: Millis,
    /// A key with no failure for this long starts again from nothing.
    pub forget_ms: Millis,
}

pub const SOURCE: Policy = Policy {
    free: 5,
    first_ms: 1_000,
    cap_ms: 15 * 60_000,
    forget_ms: 60 * 60_000,
};

pub const ACCOUNT: Policy = Policy {
    free: 10,
    first_ms: 2_000,
    cap_ms: 30_000,
    forget_ms: 15 * 60_000,
};

/// The policies a server throttles by.
#[derive(Clone, Copy, Debug)]
pub struct Throttling {
    pub sign_in_source: Policy,
    pub sign_in_account: Policy,
    pub sign_up_source: Policy,
}

impl Default for Throttling {
    fn default() -> Self {
        Throttling {
            sign_in_source: SOURCE,
            sign_in_account: ACCOUNT,
            sign_up_source: SOURCE,
        }
    }
}

/// Beyond this many tracked keys, forgotten ones are dropped before adding more.
const MAX_KEYS: usize = 100_000;

impl Policy {
    fn delay(&self, failures: u32) -> Millis {
        if failures <= self.free {
            return 0;
        }
        let doublings = (failures - self.free - 1).min(40);
        self.first_ms
            .saturating_mul(1i64 << doublings)
            .min(self.cap_ms)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    failures: u32,
    last: Millis,
    next_allowed: Millis,
}

/// Failures per key under one policy.
struct Keys {
    policy: Policy,
    entries: HashMap<String, Entry>,
}

impl Keys {
    fn new(policy: Policy) -> Self {
        Keys {
            policy,
            entries: HashMap::new(),
        }
    }

    /// The wait before `key` may try again, in milliseconds (0: now).
    fn wait(&mut self, key: &str, now: Millis) -> Millis {
        let forget = self.policy.forget_ms;
        match self.entries.get(key) {
            Some(e) if now - e.last > forget => {
                self.entries.remove(key);
                0
            }
            Some(e) => (e.next_allowed - now).max(0),
            None => 0,
        }
    }

    fn count(&mut self, key: &str, now: Millis) {
        if self.entries.len() >= MAX_KEYS {
            let forget = self.policy.forget_ms;
            self.entries.retain(|_, e| now - e.last <= forget);
        }
        let delay = |f| self.policy.delay(f);
        let e = self.entries.entry(key.to_owned()).or_default();
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        e.next_allowed = now.saturating_add(delay(e.failures));
    }

    /// Takes back one attempt counted by [`Keys::count`].
    fn take_back(&mut self, key: &str) {
        let policy = self.policy;
        if let Some(e) = self.entries.get_mut(key) {
            e.failures = e.failures.saturating_sub(1);
            e.next_allowed = e.last.saturating_add(policy.delay(e.failures));
            if e.failures == 0 {
                self.entries.remove(key);
            }
        }
    }
}

fn seconds(ms: Millis) -> u64 {
    (ms.max(0) as u64).div_ceil(1000).max(1)
}

/// Sign-ins, by source address and by account.
pub struct LoginLimiter {
    keys: Mutex<(Keys, Keys)>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(SOURCE, ACCOUNT)
    }
}

impl LoginLimiter {
    pub fn new(source: Policy, account: Policy) -> Self {
        LoginLimiter {
            keys: Mutex::new((Keys::new(source), Keys::new(account))),
        }
    }

    /// Starts a sign-in from `source` to `account` at `now`: refused with the seconds to
    /// wait, or counted as a failure until [`LoginLimiter::succeeded`] takes it back.
    pub fn begin(&self, source: &str, account: &str, now: Millis) -> Result<(), u64> {
        let mut guard = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let (sources, accounts) = &mut *guard;
        let wait = sources.wait(source, now).max(accounts.wait(account, now));
        if wait > 0 {
            return Err(seconds(wait));
        }
        sources.count(source, now);
        accounts.count(account, now);
        Ok(())
    }

    /// The sign-in begun from `source` to `account` succeeded: it was no failure, and the
    /// account's owner starts afresh. (The source keeps its other failures: succeeding on an
    /// account of one's own must not buy more guesses at someone else's.)
    pub fn succeeded(&self, source: &str, account: &str) {
        let mut guard = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let (sources, accounts) = &mut *guard;
        sources.take_back(source);
        accounts.entries.remove(account);
    }
}

/// Sign-ups, by source address: every attempt counts.
pub struct SignUpLimiter {
    keys: Mutex<Keys>,
}

impl Default for SignUpLimiter {
    fn default() -> Self {
        Self::new(SOURCE)
    }
}

impl SignUpLimiter {
    pub fn new(policy: Policy) -> Self {
        SignUpLimiter {
            keys: Mutex::new(Keys::new(policy)),
        }
    }

    /// Counts a sign-up from `source` at `now`, or refuses it with the seconds to wait.
    pub fn begin(&self, source: &str, now: Millis) -> Result<(), u64> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let wait = keys.wait(source, now);
        if wait > 0 {
            return Err(seconds(wait));
        }
        keys.count(source, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_a_few_free_tries_then_waits_that_double_up_to_the_cap() {
        let l = LoginLimiter::default();
        let mut now = 1_000_000;
        // Each at another account, so only the source's limit is met.
        let mut account = 0;
        let mut next = || {
            account += 1;
            format!("acct:{account}")
        };
        for _ in 0..6 {
            assert_eq!(l.begin("ip:1", &next(), now), Ok(()));
        }
        let mut waits = Vec::new();
        for _ in 0..14 {
            let wait = l.begin("ip:1", &next(), now).unwrap_err();
            waits.push(wait);
            now += i64::try_from(wait).unwrap() * 1_000;
            assert_eq!(l.begin("ip:1", &next(), now), Ok(()));
        }
        assert_eq!(&waits[..5], &[1, 2, 4, 8, 16], "{waits:?}");
        assert_eq!(*waits.last().unwrap(), 15 * 60, "capped at 15 minutes");
        // Another address is not concerned; an hour of quiet forgives.
        assert_eq!(l.begin("ip:2", &next(), now), Ok(()));
        assert_eq!(l.begin("ip:1", &next(), now + 76 * 60_000), Ok(()));
    }

    #[test]
    fn an_account_under_attack_from_everywhere_waits_at_most_half_a_minute() {
        let l = LoginLimiter::default();
        let mut now = 5_000_000;
        let mut refused = 0;
        // A thousand addresses, each trying once a second.
        for i in 0..1_000 {
            match l.begin(&format!("ip:{i}"), "acct:victim", now) {
                Ok(()) => {}
                Err(wait) => {
                    refused += 1;
                    assert!(wait <= 30, "the owner would wait {wait} s");
                }
            }
            now += 1_000;
        }
        assert!(refused > 900, "{refused} refused: the guesser is slowed");
        // The owner, from their own address, gets in within 30 s of the last guess.
        let owner = (0..=30)
            .find(|s| l.begin("ip:owner", "acct:victim", now + s * 1_000).is_ok())
            .expect("the owner is not kept out");
        assert!(owner <= 30);
        l.succeeded("ip:owner", "acct:victim");
        assert_eq!(l.begin("ip:owner2", "acct:victim", now + 31_000), Ok(()));
    }

    #[test]
    fn parallel_attempts_are_counted_as_they_start() {
        let l = LoginLimiter::default();
        // Twenty guesses at once, none finished: only the free ones and the first delayed
        // one are looked at.
        let passed = (0..20)
            .filter(|i| l.begin("ip:1", &format!("acct:{i}"), 1_000).is_ok())
            .count();
        assert_eq!(passed, 6);
        // One that succeeds is taken back.
        let l = LoginLimiter::default();
        for _ in 0..10 {
            assert_eq!(l.begin("ip:1", "acct:me", 1_000), Ok(()));
            l.succeeded("ip:1", "acct:me");
        }
    }

    #[test]
    fn sign_ups_are_throttled_per_source() {
        let l = SignUpLimiter::default();
        for _ in 0..6 {
            assert_eq!(l.begin("ip:1", 1_000), Ok(()));
        }
        assert_eq!(l.begin("ip:1", 1_000), Err(1));
        assert_eq!(l.begin("ip:2", 1_000), Ok(()));
    }
}
