//! Retention's sweep on SQLite: one batch a write, so other writes queue
//! behind at most one batch.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::rows::time_text;
use super::SqliteStore;
use crate::retention::{Aged, Aging, RetentionStore, Sweep, TenantSweep};
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

    async fn age(
        &self,
        tenant: &ombud_core::TenantId,
        what: Aging,
        before: DateTime<Utc>,
        conversations: u32,
    ) -> StoreResult<Aged> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let before = time_text(before);
            let ids: Vec<String> = {
                let mut stmt = conn.prepare_cached(&what.candidates())?;
                let rows = stmt
                    .query_map(params![tenant.as_str(), before, conversations], |r| {
                        r.get(0)
                    })?;
                rows.collect::<Result<_, _>>()?
            };
            let mut done = Aged::default();
            for id in &ids {
                let mut n = 0;
                for sql in what.statements() {
                    n = conn.prepare_cached(sql)?.execute(params![id, before])?;
                }
                done.messages += n as u64;
                conn.prepare_cached(&what.mark())?
                    .execute(params![id, before])?;
                done.conversations += 1;
            }
            Ok(done)
        })
        .await
    }

    async fn sweep_tenant(
        &self,
        tenant: &ombud_core::TenantId,
        what: TenantSweep,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let n = conn.prepare_cached(what.statement())?.execute(params![
                tenant.as_str(),
                time_text(before),
                limit
            ])?;
            Ok(n as u64)
        })
        .await
    }
}
