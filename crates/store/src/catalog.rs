//! The rows that every message's path reads and that rarely change — tenants,
//! channels, categories, agent versions, tenant settings — kept in memory, so a webhook, a run
//! and a send do not read them from the database again for each message.
//!
//! A backend forgets an entry when it writes that row itself, so its own changes
//! are seen at once. Changes made by another process (a CLI command on the same
//! SQLite file, another replica on PostgreSQL) are seen once the entry is older
//! than the catalog's `ttl`. Agent versions never change once saved, so they are
//! kept until the process ends (a tenant has few).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ombud_core::*;

use crate::{AgentVersion, StoreResult};

/// How long a catalog entry is trusted when nothing in this process changed it.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

pub struct Catalog {
    pub tenants: Shelf<TenantId, Tenant>,
    pub channels: Shelf<ChannelId, Channel>,
    /// A tenant's categories, in the order the store lists them.
    pub categories: Shelf<TenantId, Vec<Category>>,
    pub versions: Shelf<AgentVersionId, AgentVersion>,
    /// A tenant's settings by key (service levels, calendar, routing…), read
    /// by every complaint a citizen files.
    pub settings: Shelf<(TenantId, String), Option<serde_json::Value>>,
}

impl Catalog {
    pub fn new(ttl: Duration) -> Self {
        Self {
            tenants: Shelf::new(Some(ttl)),
            channels: Shelf::new(Some(ttl)),
            categories: Shelf::new(Some(ttl)),
            versions: Shelf::new(None),
            settings: Shelf::new(Some(ttl)),
        }
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

/// One kind of row, by key. Never held across an `.await`.
pub struct Shelf<K, V> {
    ttl: Option<Duration>,
    inner: RwLock<ShelfInner<K, V>>,
}

struct ShelfInner<K, V> {
    entries: HashMap<K, (Instant, Arc<V>)>,
    /// Bumped by every `forget`, so a value read from the database before a
    /// change is not put back after it (see [`Shelf::put_if`]).
    generation: u64,
}

impl<K: Eq + Hash + Clone, V> Shelf<K, V> {
    fn new(ttl: Option<Duration>) -> Self {
        Self {
            ttl,
            inner: RwLock::new(ShelfInner {
                entries: HashMap::new(),
                generation: 0,
            }),
        }
    }

    /// The kept value, unless it is older than the shelf's ttl.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let (at, value) = inner.entries.get(key)?;
        match self.ttl {
            Some(ttl) if at.elapsed() > ttl => None,
            _ => Some(value.clone()),
        }
    }

    /// Take before reading a value from the database, and hand to `put_if`.
    pub fn generation(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
    }

    /// Keeps `value` unless something was forgotten since `generation` was
    /// taken (the value may predate that change); returns it either way.
    pub fn put_if(&self, key: K, value: V, generation: u64) -> Arc<V> {
        let value = Arc::new(value);
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.generation == generation {
            inner.entries.insert(key, (Instant::now(), value.clone()));
        }
        value
    }

    /// The kept value, or `load`'s, kept for next time. Nothing is kept for a
    /// key that `load` did not find, so a row made later is found then.
    pub fn get_or_load(
        &self,
        key: &K,
        load: impl FnOnce() -> StoreResult<Option<V>>,
    ) -> StoreResult<Option<Arc<V>>> {
        if let Some(v) = self.get(key) {
            return Ok(Some(v));
        }
        let generation = self.generation();
        Ok(load()?.map(|v| self.put_if(key.clone(), v, generation)))
    }

    /// As [`get_or_load`](Self::get_or_load), for a backend that reads
    /// asynchronously. No lock is held while `fetch` runs.
    pub async fn get_or_fetch<F, Fut>(&self, key: &K, fetch: F) -> StoreResult<Option<Arc<V>>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = StoreResult<Option<V>>>,
    {
        if let Some(v) = self.get(key) {
            return Ok(Some(v));
        }
        let generation = self.generation();
        Ok(fetch()
            .await?
            .map(|v| self.put_if(key.clone(), v, generation)))
    }

    /// Drops the entry: call after writing the row it mirrors.
    pub fn forget(&self, key: &K) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_kept_until_its_ttl_or_until_forgotten() {
        let shelf: Shelf<&str, i32> = Shelf::new(Some(Duration::from_millis(50)));
        let loaded = shelf.get_or_load(&"a", || Ok(Some(1))).unwrap();
        assert_eq!(loaded.as_deref(), Some(&1));
        let again = shelf.get_or_load(&"a", || Ok(Some(2))).unwrap();
        assert_eq!(again.as_deref(), Some(&1), "kept, not loaded again");

        shelf.forget(&"a");
        let after_forget = shelf.get_or_load(&"a", || Ok(Some(3))).unwrap();
        assert_eq!(after_forget.as_deref(), Some(&3));

        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(shelf.get(&"a"), None, "too old to trust");
        let reloaded = shelf.get_or_load(&"a", || Ok(Some(4))).unwrap();
        assert_eq!(reloaded.as_deref(), Some(&4));
    }

    #[test]
    fn a_miss_is_not_kept_and_a_value_read_before_a_change_is_not_put_back() {
        let shelf: Shelf<&str, i32> = Shelf::new(None);
        assert_eq!(shelf.get_or_load(&"a", || Ok(None)).unwrap(), None);
        assert_eq!(
            shelf.get_or_load(&"a", || Ok(Some(1))).unwrap().as_deref(),
            Some(&1)
        );

        let before = shelf.generation();
        shelf.forget(&"b"); // a write lands while the old value was being read
        let stale = shelf.put_if("b", 10, before);
        assert_eq!(*stale, 10, "the caller still gets what it read");
        assert_eq!(shelf.get(&"b"), None, "but it is not kept");
    }
}
