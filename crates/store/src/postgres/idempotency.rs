//! Idempotency keys on PostgreSQL. The claim is an insert that either wins
//! or finds the row (locked, so two replicas never both start the request).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::TenantId;

use super::PgStore;
use crate::*;

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn begin_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> StoreResult<Idempotent> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("delete from idempotency_keys where created_at < $1")
            .bind(expired_before)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "insert into idempotency_keys (tenant_id, caller, key, request_hash, created_at)
             values ($1, $2, $3, $4, $5) on conflict do nothing",
        )
        .bind(tenant.as_str())
        .bind(caller)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await?;
            return Ok(Idempotent::Started);
        }
        type Row = (
            String,
            Option<i64>,
            Option<String>,
            Option<String>,
            DateTime<Utc>,
        );
        let (stored, status, headers, body, started): Row = sqlx::query_as(
            "select request_hash, status, headers, body, created_at from idempotency_keys
             where tenant_id = $1 and caller = $2 and key = $3 for update",
        )
        .bind(tenant.as_str())
        .bind(caller)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let outcome = match status {
            _ if stored != request_hash => Idempotent::Mismatch,
            None if started < stale_before => {
                sqlx::query(
                    "update idempotency_keys set created_at = $4
                     where tenant_id = $1 and caller = $2 and key = $3",
                )
                .bind(tenant.as_str())
                .bind(caller)
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Idempotent::Started
            }
            None => Idempotent::InProgress,
            Some(status) => Idempotent::Replay(crate::idempotency::answer(
                status,
                headers,
                body,
                &self.sealer,
                tenant,
            )?),
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn finish_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
        answer: StoredAnswer,
    ) -> StoreResult<()> {
        let headers = serde_json::to_string(&answer.headers).map_err(StoreError::internal)?;
        sqlx::query(
            "update idempotency_keys set status = $4, headers = $5, body = $6
             where tenant_id = $1 and caller = $2 and key = $3",
        )
        .bind(tenant.as_str())
        .bind(caller)
        .bind(key)
        .bind(i64::from(answer.status))
        .bind(headers)
        .bind(self.sealer.seal(tenant.as_str(), &answer.body))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn abandon_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "delete from idempotency_keys
             where tenant_id = $1 and caller = $2 and key = $3 and status is null",
        )
        .bind(tenant.as_str())
        .bind(caller)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
