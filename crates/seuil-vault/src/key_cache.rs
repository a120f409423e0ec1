//! Unwrapped data keys, kept so that a hot subject costs one AEAD operation less per read.
//!
//! The cache is only ever asked about a wrapped key that was just read from the store, and an
//! entry answers only for those exact wrapped bytes. So it can never outlive the store's
//! truth: a shredded subject has no wrapped key left to ask with, and a rewrapped one (KEK
//! rotation, or another instance's new key) misses and is unwrapped afresh. Keys leave memory
//! zeroized when evicted, like every other copy of a data key.

use crate::aead::DataKey;
use std::collections::HashMap;
use std::sync::Mutex;

/// Subjects whose keys are kept. A data key and its wrapped copy take about 150 bytes.
const CAPACITY: usize = 4096;

pub(crate) struct KeyCache {
    entries: Mutex<HashMap<String, (Vec<u8>, DataKey)>>,
}

impl KeyCache {
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, DataKey)>> {
        // Every update is a single insert or remove, so a panic elsewhere cannot leave the
        // map half-changed.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key `wrapped` unwraps to, if it was unwrapped before.
    pub fn get(&self, subject: &str, wrapped: &[u8]) -> Option<DataKey> {
        match self.entries().get(subject) {
            Some((w, key)) if w == wrapped => Some(key.clone()),
            _ => None,
        }
    }

    pub fn put(&self, subject: &str, wrapped: &[u8], key: &DataKey) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY && !entries.contains_key(subject) {
            // Any entry will do: a miss costs one unwrap, not a wrong answer.
            if let Some(victim) = entries.keys().next().cloned() {
                entries.remove(&victim);
            }
        }
        entries.insert(subject.to_owned(), (wrapped.to_vec(), key.clone()));
    }

    /// Forgets a subject's key (after a shred, so no copy of it stays in memory).
    pub fn forget(&self, subject: &str) {
        self.entries().remove(subject);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn answers_only_for_the_same_wrapped_bytes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let cache = KeyCache::new();
        let key = DataKey::generate(&mut rng);
        cache.put("s1", b"wrapped-1", &key);
        assert_eq!(
            cache.get("s1", b"wrapped-1").map(|k| *k.as_bytes()),
            Some(*key.as_bytes())
        );
        assert!(cache.get("s1", b"wrapped-2").is_none(), "a rewrapped key");
        assert!(cache.get("s2", b"wrapped-1").is_none(), "another subject");
        cache.forget("s1");
        assert!(cache.get("s1", b"wrapped-1").is_none());
    }

    #[test]
    fn stays_within_its_capacity() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let cache = KeyCache::new();
        let key = DataKey::generate(&mut rng);
        for i in 0..CAPACITY + 10 {
            cache.put(&format!("s{i}"), b"w", &key);
        }
        assert_eq!(cache.entries().len(), CAPACITY);
        let last = format!("s{}", CAPACITY + 9);
        assert!(cache.get(&last, b"w").is_some(), "the newest entry is kept");
    }
}
