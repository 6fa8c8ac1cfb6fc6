//! What serving requests changes besides the actions themselves: rate
//! counters, idempotency keys, when a session or key was last used, which
//! organisation a session is in. None of these is anyone's action, so none is
//! audited; they are here so that the web layer writes nothing itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_store::{Hits, Idempotent, StoreResult, StoredAnswer};

use super::Operations;

/// Where an idempotency key's claim stands.
pub struct IdempotencyWindow {
    pub now: DateTime<Utc>,
    /// A claim still running but started before this is taken over.
    pub stale_before: DateTime<Utc>,
    /// A key older than this is forgotten.
    pub expired_before: DateTime<Utc>,
}

impl Operations {
    /// Counts `n` hits of `key` in its window at `now` (0 reads the count).
    pub async fn count_hits(
        &self,
        key: &str,
        window: Duration,
        n: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Hits> {
        self.store.hit(key, window, n, now).await
    }

    pub async fn forget_hits(&self, key: &str) -> StoreResult<()> {
        self.store.forget_hits(key).await
    }

    pub async fn begin_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
        request_hash: &str,
        w: IdempotencyWindow,
    ) -> StoreResult<Idempotent> {
        self.store
            .begin_idempotent(
                tenant,
                caller,
                key,
                request_hash,
                w.now,
                w.stale_before,
                w.expired_before,
            )
            .await
    }

    pub async fn finish_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
        answer: StoredAnswer,
    ) -> StoreResult<()> {
        self.store
            .finish_idempotent(tenant, caller, key, answer)
            .await
    }

    pub async fn abandon_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
    ) -> StoreResult<()> {
        self.store.abandon_idempotent(tenant, caller, key).await
    }

    /// Records a session's activity; false if there is no such session.
    pub async fn touch_session(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        self.store.touch_session(token_hash, at).await
    }

    /// Records a key's use (callers do it about once a minute per key).
    pub async fn touch_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        self.store.touch_api_key(id, at).await
    }

    /// Moves a session to another organisation its user belongs to (the
    /// caller checked the membership). Not an action: nothing changes but
    /// what the person looks at.
    pub async fn switch_tenant(&self, token_hash: &str, tenant: &TenantId) -> StoreResult<bool> {
        self.store.set_session_tenant(token_hash, tenant).await
    }
}
