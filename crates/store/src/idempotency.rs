//! Idempotency keys: the trait, its types, and what the backends share.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::TenantId;

use crate::{StoreError, StoreResult};

/// A stored answer to a request made with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnswer {
    pub status: u16,
    /// The headers worth repeating (content type, location, ETag), as pairs.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What [`IdempotencyStore::begin_idempotent`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Idempotent {
    /// First use: run the request, then finish or abandon it.
    Started,
    /// The same request was answered before: answer the same.
    Replay(StoredAnswer),
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key is still running.
    InProgress,
}

/// Idempotency keys of POSTs, per tenant and caller.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims the key for this request, unless it is known. A key older
    /// than `expired_before` is forgotten first; one still running but
    /// started before `stale_before` (its process died) is taken over.
    #[allow(clippy::too_many_arguments)]
    async fn begin_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<Idempotent>;
    async fn finish_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
        answer: StoredAnswer,
    ) -> StoreResult<()>;
    /// Forgets a claim whose request failed, so that it may be made again.
    async fn abandon_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
    ) -> StoreResult<()>;
}

/// A stored answer from its columns. Bodies are kept sealed (an answer may
/// hold a secret shown once, such as a new API key); see [`crate::sealing`].
pub(crate) fn answer(
    status: i64,
    headers: Option<String>,
    body: Option<String>,
    sealer: &crate::Sealer,
    tenant: &TenantId,
) -> StoreResult<StoredAnswer> {
    let headers: Vec<(String, String)> = match headers {
        Some(h) => serde_json::from_str(&h)
            .map_err(|e| StoreError::Internal(format!("stored answer headers: {e}")))?,
        None => Vec::new(),
    };
    Ok(StoredAnswer {
        status: u16::try_from(status).map_err(StoreError::internal)?,
        headers,
        body: sealer
            .open(tenant.as_str(), &body.unwrap_or_default())?
            .expose()
            .to_owned(),
    })
}
