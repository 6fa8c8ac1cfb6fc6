//! Retention's sweep on PostgreSQL: one batch a statement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PgStore;
use crate::retention::{RetentionStore, Sweep};
use crate::StoreResult;

#[async_trait]
impl RetentionStore for PgStore {
    async fn sweep(&self, what: Sweep, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let sql = what.statement().replace('?', "$");
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(before)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }
}
