//! Retention's sweep on PostgreSQL: one batch a statement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PgStore;
use crate::retention::{
    Redacted, RetentionStore, Sweep, REDACTED_UP_TO, REDACT_CANDIDATES, REDACT_MESSAGES,
};
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

    async fn redact_bodies(
        &self,
        tenant: &ombud_core::TenantId,
        before: DateTime<Utc>,
        conversations: u32,
    ) -> StoreResult<Redacted> {
        let pg = |sql: &str| sql.replace('?', "$");
        let mut tx = self.pool.begin().await?;
        let ids: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(pg(REDACT_CANDIDATES)))
            .bind(tenant.as_str())
            .bind(before)
            .bind(i64::from(conversations))
            .fetch_all(&mut *tx)
            .await?;
        let mut done = Redacted::default();
        for (id,) in &ids {
            done.messages += sqlx::query(sqlx::AssertSqlSafe(pg(REDACT_MESSAGES)))
                .bind(id)
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(sqlx::AssertSqlSafe(pg(REDACTED_UP_TO)))
                .bind(id)
                .bind(before)
                .execute(&mut *tx)
                .await?;
            done.conversations += 1;
        }
        tx.commit().await?;
        Ok(done)
    }
}
