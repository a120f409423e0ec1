//! Failed sign-in limiting, per client address and per account (email blind index).
//!
//! In memory and so **per instance**: behind a load balancer with N instances an attacker gets
//! up to N times the budget. Good enough against online guessing with Argon2id hashes; a shared
//! limiter (in the database) is the upgrade path.

use seuil_store::Millis;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const WINDOW_MS: Millis = 60_000;
/// Beyond this many tracked keys, stale ones are dropped before adding more.
const MAX_KEYS: usize = 100_000;

pub struct LoginLimiter {
    per_window: usize,
    failures: Mutex<HashMap<String, VecDeque<Millis>>>,
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_window: per_minute.max(1) as usize,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait if any of `keys` is over its budget.
    pub fn check(&self, keys: &[String], now: Millis) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait: Option<Millis> = None;
        for key in keys {
            if let Some(times) = map.get_mut(key) {
                prune(times, now);
                if times.len() >= self.per_window
                    && let Some(oldest) = times.front()
                {
                    let w = oldest + WINDOW_MS - now;
                    wait = Some(wait.map_or(w, |x| x.max(w)));
                }
            }
        }
        wait.map(|ms| (ms.max(0) as u64).div_ceil(1000).max(1))
    }

    pub fn fail(&self, keys: &[String], now: Millis) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| {
                prune(times, now);
                !times.is_empty()
            });
        }
        for key in keys {
            let times = map.entry(key.clone()).or_default();
            prune(times, now);
            times.push_back(now);
        }
    }

    pub fn succeed(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

fn prune(times: &mut VecDeque<Millis>, now: Millis) {
    while times.front().is_some_and(|t| *t + WINDOW_MS <= now) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_then_wait() {
        let l = LoginLimiter::new(5);
        let keys = vec!["ip:1".to_string(), "email:x".to_string()];
        for i in 0..5 {
            assert_eq!(l.check(&keys, 1000 + i), None);
            l.fail(&keys, 1000 + i);
        }
        let wait = l.check(&keys, 2000).unwrap();
        assert!((59..=60).contains(&wait), "{wait}");
        assert_eq!(l.check(&["ip:2".to_string()], 2000), None);
        assert_eq!(l.check(&keys, 1000 + WINDOW_MS), None);
    }
}
