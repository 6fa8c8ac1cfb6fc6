//! Staff accounts: users, their memberships, and their dashboard sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::params;

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::error::conflict_on;
use crate::model::invitation_usable;
use crate::*;

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_user(
        &self,
        new: NewUser,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<User> {
        let memberships = new.memberships.clone();
        let user = new.into_user(stored(at));
        let u = user.clone();
        self.write(move |conn| {
            insert_user(conn, &u)?;
            for (tenant, role) in &memberships {
                insert_membership(conn, tenant, &u.id, *role, u.created_at)?;
            }
            super::audit::append(conn, &audit)
        })
        .await?;
        Ok(user)
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let email = email.clone();
        self.read(move |conn| {
            let sql = format!("select {} from users where email = ?1", decode::USER_COLS);
            one(conn, &sql, [email.as_str()], decode::user)
        })
        .await
    }

    async fn user(&self, id: &UserId) -> StoreResult<Option<User>> {
        let id = id.clone();
        self.read(move |conn| {
            let sql = format!("select {} from users where id = ?1", decode::USER_COLS);
            one(conn, &sql, [id.as_str()], decode::user)
        })
        .await
    }

    async fn add_membership(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Membership> {
        let membership = new_membership(tenant, user, role, at);
        let m = membership.clone();
        self.write(move |conn| {
            insert_membership(conn, &m.tenant_id, &m.user_id, m.role, m.created_at)?;
            super::audit::append(conn, &audit)
        })
        .await?;
        Ok(membership)
    }

    async fn memberships(&self, user: &UserId) -> StoreResult<Vec<Membership>> {
        let user = user.clone();
        self.read(move |conn| {
            let sql = format!(
                "select {} from memberships where user_id = ?1 order by created_at, tenant_id",
                decode::MEMBERSHIP_COLS
            );
            all(conn, &sql, [user.as_str()], decode::membership)
        })
        .await
    }

    async fn members(&self, tenant: &TenantId) -> StoreResult<Vec<Member>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            all(
                conn,
                &decode::member_sql("?1"),
                [tenant.as_str()],
                decode::member,
            )
        })
        .await
    }

    async fn set_role(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, user) = (tenant.clone(), user.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "update memberships set role = ?3 where tenant_id = ?1 and user_id = ?2",
                params![tenant.as_str(), user.as_str(), role.as_str()],
            )?;
            if n == 1 {
                super::audit::append(conn, &audit)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn remove_member(
        &self,
        tenant: &TenantId,
        user: &UserId,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, user) = (tenant.clone(), user.clone());
        self.write(move |conn| {
            conn.execute(
                "delete from sessions where tenant_id = ?1 and user_id = ?2",
                params![tenant.as_str(), user.as_str()],
            )?;
            let n = conn.execute(
                "delete from memberships where tenant_id = ?1 and user_id = ?2",
                params![tenant.as_str(), user.as_str()],
            )?;
            if n == 1 {
                super::audit::append(conn, &audit)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn set_daily_summary(
        &self,
        tenant: &TenantId,
        user: &UserId,
        on: bool,
        language: Option<Language>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, user) = (tenant.clone(), user.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "update memberships set daily_summary = ?3, summary_language = ?4
                 where tenant_id = ?1 and user_id = ?2",
                params![
                    tenant.as_str(),
                    user.as_str(),
                    on,
                    language.as_ref().map(|l| l.as_str())
                ],
            )?;
            if n == 1 {
                super::audit::append(conn, &audit)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn create_invitation(
        &self,
        i: Invitation,
        mail: Option<NewJob>,
        audit: Audit,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            if let Some(mail) = &mail {
                super::jobs::insert(conn, mail, i.created_at)?;
            }
            conn.execute(
                "insert into invitations (id, tenant_id, email, role, invited_by, token_hash, created_at, expires_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![i.id.as_str(), i.tenant_id.as_str(), i.email.as_str(), i.role.as_str(),
                        i.invited_by.as_str(), i.token_hash, time_text(i.created_at), time_text(i.expires_at)],
            )?;
            super::audit::append(conn, &audit)
        })
        .await
    }

    async fn invitation(&self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "select {} from invitations where token_hash = ?1",
                decode::INVITATION_COLS
            );
            one(conn, &sql, [token_hash.as_str()], decode::invitation)
        })
        .await
    }

    async fn open_invitations(&self, tenant: &TenantId) -> StoreResult<Vec<Invitation>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "select {} from invitations where tenant_id = ?1 and accepted_at is null
                 order by created_at desc",
                decode::INVITATION_COLS
            );
            all(conn, &sql, [tenant.as_str()], decode::invitation)
        })
        .await
    }

    async fn revoke_invitation(
        &self,
        tenant: &TenantId,
        id: &InvitationId,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "delete from invitations where tenant_id = ?1 and id = ?2 and accepted_at is null",
                params![tenant.as_str(), id.as_str()],
            )?;
            if n == 1 {
                super::audit::append(conn, &audit)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        account: Acceptance,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<User> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            let sql = format!(
                "select {} from invitations where token_hash = ?1 and accepted_at is null",
                decode::INVITATION_COLS
            );
            let invitation = one(conn, &sql, [token_hash.as_str()], decode::invitation)?
                .ok_or(StoreError::NotFound("invitation"))?;
            invitation_usable(&invitation, now)?;
            conn.execute(
                "update invitations set accepted_at = ?2 where id = ?1",
                params![invitation.id.as_str(), time_text(now)],
            )?;
            let at = stored(now);
            let user = match account.clone() {
                Acceptance::NewUser(new) => {
                    let u = new.into_user(at);
                    insert_user(conn, &u)?;
                    u
                }
                Acceptance::Existing(id) => {
                    let sql = format!("select {} from users where id = ?1", decode::USER_COLS);
                    one(conn, &sql, [id.as_str()], decode::user)?
                        .ok_or(StoreError::NotFound("user"))?
                }
            };
            insert_membership(conn, &invitation.tenant_id, &user.id, invitation.role, at)?;
            super::audit::append(conn, &audit)?;
            Ok(user)
        })
        .await
    }

    async fn set_password(
        &self,
        user: &UserId,
        password_hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()> {
        let (user, hash) = (user.clone(), password_hash.to_owned());
        self.write(move |conn| {
            let n = conn.execute(
                "update users set password_hash = ?2, must_change_password = ?3, updated_at = ?4
                 where id = ?1",
                params![user.as_str(), hash, must_change, time_text(stored(at))],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("user"));
            }
            super::audit::append(conn, &audit)
        })
        .await
    }
}

fn insert_user(conn: &rusqlite::Connection, u: &User) -> StoreResult<()> {
    conn.execute(
        "insert into users (id, email, name, password_hash, must_change_password, platform_admin, created_at, updated_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![u.id.as_str(), u.email.as_str(), u.name, u.password_hash,
                u.must_change_password, u.platform_admin, time_text(u.created_at)],
    )
    .map_err(conflict_on("email", "an account with this email exists already"))?;
    Ok(())
}

fn insert_membership(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    user: &UserId,
    role: Role,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    conn.execute(
        "insert into memberships (tenant_id, user_id, role, created_at) values (?1, ?2, ?3, ?4)",
        params![tenant.as_str(), user.as_str(), role.as_str(), time_text(at)],
    )
    .map_err(conflict_on("user", "is a member of this tenant already"))?;
    Ok(())
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: Session, audit: Audit) -> StoreResult<()> {
        self.write(move |conn| {
            let s = &session;
            conn.execute(
                "insert into sessions (token_hash, user_id, tenant_id, csrf_token, created_at, last_seen_at, expires_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![s.token_hash, s.user_id.as_str(), s.tenant_id.as_str(), s.csrf_token,
                        time_text(s.created_at), time_text(s.last_seen_at), time_text(s.expires_at)],
            )?;
            super::audit::append(conn, &audit)
        })
        .await
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<SignedIn>> {
        let token_hash = token_hash.to_owned();
        self.read(move |conn| {
            one(
                conn,
                &decode::signed_in_sql("?1"),
                [token_hash.as_str()],
                decode::signed_in,
            )
        })
        .await
    }

    async fn set_session_tenant(&self, token_hash: &str, tenant: &TenantId) -> StoreResult<bool> {
        let (token_hash, tenant) = (token_hash.to_owned(), tenant.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "update sessions set tenant_id = ?2 where token_hash = ?1",
                params![token_hash, tenant.as_str()],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn touch_session(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            let n = conn.execute(
                "update sessions set last_seen_at = ?2 where token_hash = ?1",
                params![token_hash, time_text(at)],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str, audit: Audit) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            if conn.execute("delete from sessions where token_hash = ?1", [&token_hash])? == 1 {
                super::audit::append(conn, &audit)?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_sessions_of(&self, user: &UserId) -> StoreResult<u64> {
        let user = user.clone();
        self.write(move |conn| {
            Ok(conn.execute("delete from sessions where user_id = ?1", [user.as_str()])? as u64)
        })
        .await
    }
}
