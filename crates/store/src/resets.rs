//! "Forgot password": a reset is made with the mail that carries its link,
//! in one transaction, and used once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use crate::decode::{self, Columns, Decoded};
use crate::{Audit, NewJob, StoreResult};

#[async_trait]
pub trait PasswordResetStore: Send + Sync {
    /// Records the reset and schedules its mail, all or nothing.
    async fn create_password_reset(
        &self,
        reset: PasswordReset,
        mail: NewJob,
        audit: Audit,
    ) -> StoreResult<()>;
    /// Unscoped: the link names only its token.
    async fn password_reset(&self, token_hash: &str) -> StoreResult<Option<PasswordReset>>;
    async fn password_reset_by_id(
        &self,
        id: &PasswordResetId,
    ) -> StoreResult<Option<PasswordReset>>;
    /// How many resets were made for the user since `since`.
    async fn password_resets_since(&self, user: &UserId, since: DateTime<Utc>) -> StoreResult<u64>;
    /// Uses the reset once, all or nothing: marks it used if it is unused and
    /// not expired at `at`, gives the user `password_hash` (theirs, so no
    /// change is asked for at the next login) and ends all their sessions.
    /// False, and nothing changed, if it was used or has expired.
    async fn use_password_reset(
        &self,
        id: &PasswordResetId,
        password_hash: &str,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool>;
}

pub(crate) const RESET_COLS: &str = "id, user_id, token_hash, created_at, expires_at, used_at";

pub(crate) fn reset(r: &dyn Columns) -> Decoded<PasswordReset> {
    Ok(PasswordReset {
        id: decode::id(r, "id")?,
        user_id: decode::id(r, "user_id")?,
        token_hash: r.text("token_hash")?,
        created_at: r.time("created_at")?,
        expires_at: r.time("expires_at")?,
        used_at: r.opt_time("used_at")?,
    })
}
