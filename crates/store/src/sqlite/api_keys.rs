//! API keys: made, found by the hash of the key, listed, revoked.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::params;

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::error::conflict_on;
use crate::*;

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, k: ApiKey, key_hash: &str, audit: Audit) -> StoreResult<()> {
        let key_hash = key_hash.to_owned();
        self.write(move |conn| {
            conn.execute(
                "insert into api_keys (id, tenant_id, name, prefix, key_hash, scopes, rate_limit_per_minute,
                    created_by, created_at, expires_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![k.id.as_str(), k.tenant_id.as_str(), k.name, k.prefix, key_hash,
                        serde_json::to_string(&k.scopes).map_err(StoreError::internal)?,
                        k.rate_limit_per_minute, k.created_by.as_ref().map(|u| u.as_str()),
                        time_text(k.created_at), k.expires_at.map(time_text)],
            )
            .map_err(conflict_on("key", "this key exists already"))?;
            super::audit::append(conn, &audit)
        })
        .await
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        let key_hash = key_hash.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "select {} from api_keys where key_hash = ?1",
                decode::API_KEY_COLS
            );
            one(conn, &sql, [key_hash.as_str()], decode::api_key)
        })
        .await
    }

    async fn api_keys(&self, tenant: &TenantId) -> StoreResult<Vec<ApiKey>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "select {} from api_keys where tenant_id = ?1 order by created_at desc, id",
                decode::API_KEY_COLS
            );
            all(conn, &sql, [tenant.as_str()], decode::api_key)
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "update api_keys set revoked_at = ?3
                 where tenant_id = ?1 and id = ?2 and revoked_at is null",
                params![tenant.as_str(), id.as_str(), time_text(stored(at))],
            )?;
            if n == 1 {
                super::audit::append(conn, &audit)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn touch_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> StoreResult<()> {
        let id = id.clone();
        self.write(move |conn| {
            conn.execute(
                "update api_keys set last_used_at = ?2 where id = ?1",
                params![id.as_str(), time_text(at)],
            )?;
            Ok(())
        })
        .await
    }
}
