//! Password resets on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::params;

use super::rows::{one, time_text};
use super::SqliteStore;
use crate::resets::{self, PasswordResetStore, RESET_COLS};
use crate::{stored, Audit, NewJob, StoreResult};

#[async_trait]
impl PasswordResetStore for SqliteStore {
    async fn create_password_reset(
        &self,
        r: PasswordReset,
        mail: NewJob,
        audit: Audit,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "insert into password_resets (id, user_id, token_hash, created_at, expires_at)
                 values (?1, ?2, ?3, ?4, ?5)",
                params![
                    r.id.as_str(),
                    r.user_id.as_str(),
                    r.token_hash,
                    time_text(r.created_at),
                    time_text(r.expires_at)
                ],
            )?;
            super::jobs::insert(conn, &mail, r.created_at)?;
            super::audit::append(conn, &audit)
        })
        .await
    }

    async fn password_reset(&self, token_hash: &str) -> StoreResult<Option<PasswordReset>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| {
            let sql = format!("select {RESET_COLS} from password_resets where token_hash = ?1");
            one(conn, &sql, [token_hash.as_str()], resets::reset)
        })
        .await
    }

    async fn password_reset_by_id(
        &self,
        id: &PasswordResetId,
    ) -> StoreResult<Option<PasswordReset>> {
        let id = id.clone();
        self.read(move |conn| {
            let sql = format!("select {RESET_COLS} from password_resets where id = ?1");
            one(conn, &sql, [id.as_str()], resets::reset)
        })
        .await
    }

    async fn password_resets_since(&self, user: &UserId, since: DateTime<Utc>) -> StoreResult<u64> {
        let user = user.clone();
        self.read(move |conn| {
            let n: i64 = conn.query_row(
                "select count(*) from password_resets where user_id = ?1 and created_at >= ?2",
                params![user.as_str(), time_text(since)],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn use_password_reset(
        &self,
        id: &PasswordResetId,
        password_hash: &str,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (id, hash, at) = (id.clone(), password_hash.to_owned(), stored(at));
        self.write(move |conn| {
            let user: Option<String> = conn
                .query_row(
                    "update password_resets set used_at = ?2
                     where id = ?1 and used_at is null and expires_at > ?2
                     returning user_id",
                    params![id.as_str(), time_text(at)],
                    |r| r.get(0),
                )
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?;
            let Some(user) = user else {
                return Ok(false);
            };
            conn.execute(
                "update users set password_hash = ?2, must_change_password = 0, updated_at = ?3
                 where id = ?1",
                params![user, hash, time_text(at)],
            )?;
            conn.execute("delete from sessions where user_id = ?1", [user.as_str()])?;
            super::audit::append(conn, &audit)?;
            Ok(true)
        })
        .await
    }
}
