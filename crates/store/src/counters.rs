//! Counters for rate limits and login throttling, in fixed windows: how many
//! times a key was hit in the window that holds now, and when it was last.
//! On PostgreSQL they are rows, so every replica counts against the same
//! limit; SQLite serves one process, which keeps them in memory
//! ([`MemoryCounters`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::StoreResult;

/// A key's count in its current window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hits {
    pub count: u64,
    pub window_ends: DateTime<Utc>,
    /// When the key was last hit in this window (None: not yet).
    pub last_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Adds `n` hits (0: only reads) to `key` in the window of length
    /// `window` that holds `now`, and answers the count after.
    async fn hit(
        &self,
        key: &str,
        window: Duration,
        n: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Hits>;
    /// Forgets `key` in every window.
    async fn forget_hits(&self, key: &str) -> StoreResult<()>;
}

/// Where the window of length `window` that holds `now` starts.
pub fn window_start(window: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    let len = TimeDelta::from_std(window).unwrap_or(TimeDelta::minutes(1));
    now.duration_trunc(len).unwrap_or(now)
}

/// A key's window start, count and last hit.
type Entry = (DateTime<Utc>, u64, Option<DateTime<Utc>>);

/// The counters of one process.
#[derive(Default)]
pub struct MemoryCounters {
    keys: Mutex<HashMap<String, Entry>>,
}

/// Most keys kept; past it, those of windows that have ended go.
const MAX_KEYS: usize = 200_000;

impl MemoryCounters {
    pub fn hit(&self, key: &str, window: Duration, n: u32, now: DateTime<Utc>) -> Hits {
        let start = window_start(window, now);
        let ends = start + TimeDelta::from_std(window).unwrap_or_default();
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            keys.retain(|_, (s, _, _)| *s >= start);
        }
        let entry = keys.entry(key.to_owned()).or_insert((start, 0, None));
        if entry.0 != start {
            *entry = (start, 0, None);
        }
        if n > 0 {
            entry.1 += u64::from(n);
            entry.2 = Some(now);
        }
        Hits {
            count: entry.1,
            window_ends: ends,
            last_at: entry.2,
        }
    }

    pub fn forget(&self, key: &str) {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_start_again_in_each_window() {
        let counters = MemoryCounters::default();
        let minute = Duration::from_secs(60);
        let t0: DateTime<Utc> = "2026-12-06T10:00:10Z".parse().unwrap();
        assert_eq!(counters.hit("k", minute, 0, t0).count, 0);
        assert_eq!(counters.hit("k", minute, 1, t0).count, 1);
        let h = counters.hit("k", minute, 1, t0 + TimeDelta::seconds(20));
        assert_eq!(h.count, 2);
        assert_eq!(
            h.window_ends,
            "2026-12-06T10:01:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(h.last_at, Some(t0 + TimeDelta::seconds(20)));
        assert_eq!(
            counters
                .hit("k", minute, 1, t0 + TimeDelta::seconds(50))
                .count,
            1
        );
        assert_eq!(counters.hit("other", minute, 0, t0).count, 0);
        counters.forget("k");
        assert_eq!(
            counters
                .hit("k", minute, 0, t0 + TimeDelta::seconds(50))
                .count,
            0
        );
    }
}
