//! Idempotency keys on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::TenantId;
use rusqlite::params;

use super::rows::{one, time_text};
use super::SqliteStore;
use crate::*;

#[async_trait]
impl IdempotencyStore for SqliteStore {
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
        let (tenant, caller, key, hash) = (
            tenant.clone(),
            caller.to_owned(),
            key.to_owned(),
            request_hash.to_owned(),
        );
        let sealer = self.sealer();
        self.write(move |conn| {
            conn.prepare_cached("delete from idempotency_keys where created_at < ?1")?
                .execute([time_text(expired_before)])?;
            let found = one(
                conn,
                "select request_hash, status, headers, body, created_at from idempotency_keys
                 where tenant_id = ?1 and caller = ?2 and key = ?3",
                params![tenant.as_str(), caller, key],
                |r| {
                    Ok((
                        r.text("request_hash")?,
                        r.opt_int("status")?,
                        r.opt_text("headers")?,
                        r.opt_text("body")?,
                        r.time("created_at")?,
                    ))
                },
            )?;
            let outcome = match found {
                None => {
                    conn.prepare_cached(
                        "insert into idempotency_keys (tenant_id, caller, key, request_hash, created_at)
                         values (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![tenant.as_str(), caller, key, hash, time_text(now)])?;
                    Idempotent::Started
                }
                Some((stored, _, _, _, _)) if stored != hash => Idempotent::Mismatch,
                Some((_, None, _, _, started)) if started < stale_before => {
                    conn.prepare_cached(
                        "update idempotency_keys set created_at = ?4
                         where tenant_id = ?1 and caller = ?2 and key = ?3",
                    )?
                    .execute(params![tenant.as_str(), caller, key, time_text(now)])?;
                    Idempotent::Started
                }
                Some((_, None, _, _, _)) => Idempotent::InProgress,
                Some((_, Some(status), headers, body, _)) => {
                    Idempotent::Replay(crate::idempotency::answer(
                        status, headers, body, &sealer, &tenant,
                    )?)
                }
            };
            Ok(outcome)
        })
        .await
    }

    async fn finish_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
        answer: StoredAnswer,
    ) -> StoreResult<()> {
        let (tenant, caller, key) = (tenant.clone(), caller.to_owned(), key.to_owned());
        let headers = serde_json::to_string(&answer.headers).map_err(StoreError::internal)?;
        let body = self.sealer().seal(tenant.as_str(), &answer.body);
        self.write(move |conn| {
            conn.prepare_cached(
                "update idempotency_keys set status = ?4, headers = ?5, body = ?6
                 where tenant_id = ?1 and caller = ?2 and key = ?3",
            )?
            .execute(params![
                tenant.as_str(),
                caller,
                key,
                answer.status,
                headers,
                body
            ])?;
            Ok(())
        })
        .await
    }

    async fn abandon_idempotent(
        &self,
        tenant: &TenantId,
        caller: &str,
        key: &str,
    ) -> StoreResult<()> {
        let (tenant, caller, key) = (tenant.clone(), caller.to_owned(), key.to_owned());
        self.write(move |conn| {
            conn.prepare_cached(
                "delete from idempotency_keys
                 where tenant_id = ?1 and caller = ?2 and key = ?3 and status is null",
            )?
            .execute(params![tenant.as_str(), caller, key])?;
            Ok(())
        })
        .await
    }
}
