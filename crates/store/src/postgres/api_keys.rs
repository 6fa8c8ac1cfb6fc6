//! API keys: made, found by the hash of the key, listed, revoked.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use super::{decode_all, decode_opt, PgStore};
use crate::decode;
use crate::error::conflict_on;
use crate::*;

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn create_api_key(&self, k: ApiKey, key_hash: &str, audit: Audit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into api_keys (id, tenant_id, name, prefix, key_hash, scopes, rate_limit_per_minute,
                created_by, created_at, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(k.id.as_str())
        .bind(k.tenant_id.as_str())
        .bind(&k.name)
        .bind(&k.prefix)
        .bind(key_hash)
        .bind(serde_json::to_value(&k.scopes).map_err(StoreError::internal)?)
        .bind(i64::from(k.rate_limit_per_minute))
        .bind(k.created_by.as_ref().map(|u| u.as_str()))
        .bind(k.created_at)
        .bind(k.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict_on("key", "this key exists already"))?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        let sql = format!(
            "select {} from api_keys where key_hash = $1",
            decode::API_KEY_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::api_key)
    }

    async fn api_keys(&self, tenant: &TenantId) -> StoreResult<Vec<ApiKey>> {
        let sql = format!(
            "select {} from api_keys where tenant_id = $1 order by created_at desc, id",
            decode::API_KEY_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::api_key)
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update api_keys set revoked_at = $3
             where tenant_id = $1 and id = $2 and revoked_at is null",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(stored(at))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn touch_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("update api_keys set last_used_at = $2 where id = $1")
            .bind(id.as_str())
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
