//! Password resets on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use super::{decode_opt, PgStore};
use crate::resets::{self, PasswordResetStore, RESET_COLS};
use crate::{stored, Audit, NewJob, StoreResult};

#[async_trait]
impl PasswordResetStore for PgStore {
    async fn create_password_reset(
        &self,
        r: PasswordReset,
        mail: NewJob,
        audit: Audit,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into password_resets (id, user_id, token_hash, created_at, expires_at)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(r.id.as_str())
        .bind(r.user_id.as_str())
        .bind(&r.token_hash)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&mut *tx)
        .await?;
        super::jobs::insert(&mut tx, &mail, r.created_at).await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn password_reset(&self, token_hash: &str) -> StoreResult<Option<PasswordReset>> {
        let sql = format!("select {RESET_COLS} from password_resets where token_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, resets::reset)
    }

    async fn password_reset_by_id(
        &self,
        id: &PasswordResetId,
    ) -> StoreResult<Option<PasswordReset>> {
        let sql = format!("select {RESET_COLS} from password_resets where id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, resets::reset)
    }

    async fn password_resets_since(&self, user: &UserId, since: DateTime<Utc>) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from password_resets where user_id = $1 and created_at >= $2",
        )
        .bind(user.as_str())
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }

    async fn use_password_reset(
        &self,
        id: &PasswordResetId,
        password_hash: &str,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let at = stored(at);
        let mut tx = self.pool.begin().await?;
        let user: Option<String> = sqlx::query_scalar(
            "update password_resets set used_at = $2
             where id = $1 and used_at is null and expires_at > $2
             returning user_id",
        )
        .bind(id.as_str())
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user) = user else {
            return Ok(false);
        };
        sqlx::query(
            "update users set password_hash = $2, must_change_password = false, updated_at = $3
             where id = $1",
        )
        .bind(&user)
        .bind(password_hash)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from sessions where user_id = $1")
            .bind(&user)
            .execute(&mut *tx)
            .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
