//! Retention's sweep on PostgreSQL: one batch a statement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PgStore;
use crate::retention::{Aged, Aging, RetentionStore, Sweep, TenantSweep};
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

    async fn age(
        &self,
        tenant: &ombud_core::TenantId,
        what: Aging,
        before: DateTime<Utc>,
        conversations: u32,
    ) -> StoreResult<Aged> {
        let pg = |sql: &str| sql.replace('?', "$");
        let mut tx = self.pool.begin().await?;
        let ids: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(pg(&what.candidates())))
            .bind(tenant.as_str())
            .bind(before)
            .bind(i64::from(conversations))
            .fetch_all(&mut *tx)
            .await?;
        let mut done = Aged::default();
        for (id,) in &ids {
            let mut n = 0;
            for sql in what.statements() {
                n = sqlx::query(sqlx::AssertSqlSafe(pg(sql)))
                    .bind(id)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            done.messages += n;
            sqlx::query(sqlx::AssertSqlSafe(pg(&what.mark())))
                .bind(id)
                .bind(before)
                .execute(&mut *tx)
                .await?;
            done.conversations += 1;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn sweep_tenant(
        &self,
        tenant: &ombud_core::TenantId,
        what: TenantSweep,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64> {
        let sql = what.statement().replace('?', "$");
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(before)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }
}
