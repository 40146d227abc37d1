//! Counts per key in fixed windows (failed logins per address per hour, connections per
//! minute, …), bounded in memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Keys counted at most; past it, those whose window has run out are forgotten first, then
/// all (a flood from many addresses must not grow memory).
const MAX_KEYS: usize = 65_536;

/// How many times each key was counted in its current window.
#[derive(Debug)]
pub(super) struct Counts<K> {
    map: HashMap<K, (u32, Instant)>,
    window: Duration,
}

impl<K: Hash + Eq> Counts<K> {
    pub(super) fn new(window: Duration) -> Self {
        Self {
            map: HashMap::new(),
            window,
        }
    }

    /// Counts in windows of `window` from now on (a reload).
    pub(super) fn set_window(&mut self, window: Duration) {
        self.window = window;
    }

    /// Counts one more for `key` (in a new window when its last one has run out); the count
    /// in the window, this one included.
    pub(super) fn hit(&mut self, key: K, now: Instant) -> u32 {
        if self.map.len() >= MAX_KEYS {
            let window = self.window;
            self.map.retain(|_, (_, since)| now - *since < window);
            if self.map.len() >= MAX_KEYS {
                self.map.clear();
            }
        }
        let entry = self.map.entry(key).or_insert((0, now));
        if now - entry.1 >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
        entry.0
    }

    /// The count of `key` in its current window.
    pub(super) fn get(&self, key: &K, now: Instant) -> u32 {
        match self.map.get(key) {
            Some(&(n, since)) if now - since < self.window => n,
            _ => 0,
        }
    }

    pub(super) fn forget(&mut self, key: &K) {
        self.map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_start_again_when_the_window_runs_out() {
        let mut c = Counts::new(Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(c.hit("a", t), 1);
        assert_eq!(c.hit("a", t + Duration::from_secs(30)), 2);
        assert_eq!(c.get(&"a", t + Duration::from_secs(59)), 2);
        assert_eq!(c.get(&"a", t + Duration::from_secs(60)), 0);
        assert_eq!(c.hit("a", t + Duration::from_secs(61)), 1);
        c.forget(&"a");
        assert_eq!(c.get(&"a", t), 0);
        let mut many = Counts::new(Duration::from_secs(60));
        for i in 0..MAX_KEYS + 10 {
            many.hit(i, t);
        }
        assert!(many.map.len() <= MAX_KEYS);
    }
}
