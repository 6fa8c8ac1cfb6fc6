//! Staff accounts: users, their memberships, and their dashboard sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use super::{decode_all, decode_opt, PgStore};
use crate::decode;
use crate::error::conflict_on;
use crate::model::invitation_usable;
use crate::*;

#[async_trait]
impl AccountStore for PgStore {
    async fn create_user(
        &self,
        new: NewUser,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<User> {
        let memberships = new.memberships.clone();
        let u = new.into_user(stored(at));
        let mut tx = self.pool.begin().await?;
        insert_user(&mut tx, &u).await?;
        for (tenant, role) in &memberships {
            insert_membership(&mut tx, tenant, &u.id, *role, u.created_at).await?;
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(u)
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let sql = format!("select {} from users where email = $1", decode::USER_COLS);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::user)
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let sql = format!("select {} from users where id = $1", decode::USER_COLS);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::user)
    }

    async fn add_membership(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Membership> {
        let m = new_membership(tenant, user, role, at);
        let mut tx = self.pool.begin().await?;
        insert_membership(&mut tx, &m.tenant_id, &m.user_id, m.role, m.created_at).await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(m)
    }

    async fn memberships(&self, user: &UserId) -> StoreResult<Vec<Membership>> {
        let sql = format!(
            "select {} from memberships where user_id = $1 order by created_at, tenant_id",
            decode::MEMBERSHIP_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::membership)
    }

    async fn members(&self, tenant: &TenantId) -> StoreResult<Vec<Member>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(decode::member_sql("$1")))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::member)
    }

    async fn set_role(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("update memberships set role = $3 where tenant_id = $1 and user_id = $2")
                .bind(tenant.as_str())
                .bind(user.as_str())
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn remove_member(
        &self,
        tenant: &TenantId,
        user: &UserId,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("delete from sessions where tenant_id = $1 and user_id = $2")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("delete from memberships where tenant_id = $1 and user_id = $2")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_daily_summary(
        &self,
        tenant: &TenantId,
        user: &UserId,
        on: bool,
        language: Option<Language>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "update memberships set daily_summary = $3, summary_language = $4
             where tenant_id = $1 and user_id = $2",
        )
        .bind(tenant.as_str())
        .bind(user.as_str())
        .bind(on)
        .bind(language.as_ref().map(|l| l.as_str()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            super::audit::append(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn create_invitation(
        &self,
        i: Invitation,
        mail: Option<NewJob>,
        audit: Audit,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(mail) = &mail {
            super::jobs::insert(&mut tx, mail, i.created_at).await?;
        }
        sqlx::query(
            "insert into invitations (id, tenant_id, email, role, invited_by, token_hash, created_at, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(i.id.as_str())
        .bind(i.tenant_id.as_str())
        .bind(i.email.as_str())
        .bind(i.role.as_str())
        .bind(i.invited_by.as_str())
        .bind(&i.token_hash)
        .bind(i.created_at)
        .bind(i.expires_at)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn invitation(&self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        let sql = format!(
            "select {} from invitations where token_hash = $1",
            decode::INVITATION_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::invitation)
    }

    async fn open_invitations(&self, tenant: &TenantId) -> StoreResult<Vec<Invitation>> {
        let sql = format!(
            "select {} from invitations where tenant_id = $1 and accepted_at is null
             order by created_at desc",
            decode::INVITATION_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::invitation)
    }

    async fn revoke_invitation(
        &self,
        tenant: &TenantId,
        id: &InvitationId,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "delete from invitations where tenant_id = $1 and id = $2 and accepted_at is null",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        account: Acceptance,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<User> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "select {} from invitations where token_hash = $1 and accepted_at is null for update",
            decode::INVITATION_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let invitation =
            decode_opt(row, decode::invitation)?.ok_or(StoreError::NotFound("invitation"))?;
        invitation_usable(&invitation, now)?;
        sqlx::query("update invitations set accepted_at = $2 where id = $1")
            .bind(invitation.id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let at = stored(now);
        let user = match account {
            Acceptance::NewUser(new) => {
                let u = new.into_user(at);
                insert_user(&mut tx, &u).await?;
                u
            }
            Acceptance::Existing(id) => {
                let sql = format!("select {} from users where id = $1", decode::USER_COLS);
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                decode_opt(row, decode::user)?.ok_or(StoreError::NotFound("user"))?
            }
        };
        insert_membership(
            &mut tx,
            &invitation.tenant_id,
            &user.id,
            invitation.role,
            at,
        )
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn set_password(
        &self,
        user: &UserId,
        password_hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update users set password_hash = $2, must_change_password = $3, updated_at = $4
             where id = $1",
        )
        .bind(user.as_str())
        .bind(password_hash)
        .bind(must_change)
        .bind(stored(at))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_user(conn: &mut sqlx::PgConnection, u: &User) -> StoreResult<()> {
    sqlx::query(
        "insert into users (id, email, name, password_hash, must_change_password, platform_admin, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(u.id.as_str())
    .bind(u.email.as_str())
    .bind(&u.name)
    .bind(&u.password_hash)
    .bind(u.must_change_password)
    .bind(u.platform_admin)
    .bind(u.created_at)
    .execute(conn)
    .await
    .map_err(conflict_on("email", "an account with this email exists already"))?;
    Ok(())
}

async fn insert_membership(
    conn: &mut sqlx::PgConnection,
    tenant: &TenantId,
    user: &UserId,
    role: Role,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "insert into memberships (tenant_id, user_id, role, created_at) values ($1, $2, $3, $4)",
    )
    .bind(tenant.as_str())
    .bind(user.as_str())
    .bind(role.as_str())
    .bind(at)
    .execute(conn)
    .await
    .map_err(conflict_on("user", "is a member of this tenant already"))?;
    Ok(())
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, s: Session, audit: Audit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into sessions (token_hash, user_id, tenant_id, csrf_token, created_at, last_seen_at, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id.as_str())
        .bind(s.tenant_id.as_str())
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<SignedIn>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(decode::signed_in_sql("$1")))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::signed_in)
    }

    async fn set_session_tenant(&self, token_hash: &str, tenant: &TenantId) -> StoreResult<bool> {
        let done = sqlx::query("update sessions set tenant_id = $2 where token_hash = $1")
            .bind(token_hash)
            .bind(tenant.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_session(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query("update sessions set last_seen_at = $2 where token_hash = $1")
            .bind(token_hash)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_session(&self, token_hash: &str, audit: Audit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("delete from sessions where token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            super::audit::append(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_sessions_of(&self, user: &UserId) -> StoreResult<u64> {
        let done = sqlx::query("delete from sessions where user_id = $1")
            .bind(user.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
