//! What the backends share for idempotency keys.

use crate::{StoreError, StoreResult, StoredAnswer};

/// A stored answer from its columns.
pub(crate) fn answer(
    status: i64,
    headers: Option<String>,
    body: Option<String>,
) -> StoreResult<StoredAnswer> {
    let headers: Vec<(String, String)> = match headers {
        Some(h) => serde_json::from_str(&h)
            .map_err(|e| StoreError::Internal(format!("stored answer headers: {e}")))?,
        None => Vec::new(),
    };
    Ok(StoredAnswer {
        status: u16::try_from(status).map_err(StoreError::internal)?,
        headers,
        body: body.unwrap_or_default(),
    })
}
