//! Rate limits' counters on SQLite: one server per file, so in memory (see
//! [`crate::counters`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::{CounterStore, Hits, StoreResult};

#[async_trait]
impl CounterStore for SqliteStore {
    async fn hit(
        &self,
        key: &str,
        window: std::time::Duration,
        n: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Hits> {
        Ok(self.inner.counters.hit(key, window, n, now))
    }

    async fn forget_hits(&self, key: &str) -> StoreResult<()> {
        self.inner.counters.forget(key);
        Ok(())
    }
}
