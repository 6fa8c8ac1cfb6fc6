//! Retention's sweep on SQLite: one batch a write, so other writes queue
//! behind at most one batch.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::rows::time_text;
use super::SqliteStore;
use crate::retention::{RetentionStore, Sweep};
use crate::StoreResult;

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn sweep(&self, what: Sweep, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        self.write(move |conn| {
            let n = conn
                .prepare_cached(what.statement())?
                .execute(params![time_text(before), limit])?;
            Ok(n as u64)
        })
        .await
    }
}
