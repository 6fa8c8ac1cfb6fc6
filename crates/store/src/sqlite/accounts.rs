//! Staff accounts: users and their memberships.

use async_trait::async_trait;
use chrono::{SubsecRound, Utc};
use ombud_core::*;
use rusqlite::params;

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::*;

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        // Stored to the microsecond, so what this returns is what a read gives.
        let memberships = new.memberships.clone();
        let user = new.into_user(Utc::now().trunc_subsecs(6));
        let u = user.clone();
        self.write(move |conn| {
            conn.execute(
                "insert into users (id, email, name, password_hash, must_change_password, platform_admin, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![u.id.as_str(), u.email.as_str(), u.name, u.password_hash,
                        u.must_change_password, u.platform_admin, time_text(u.created_at)],
            )
            .map_err(|e| conflict(e, "email", "an account with this email exists already"))?;
            for (tenant, role) in &memberships {
                insert_membership(conn, tenant, &u.id, *role, u.created_at)?;
            }
            Ok(())
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

    async fn add_membership(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
    ) -> StoreResult<Membership> {
        let membership = Membership {
            tenant_id: tenant.clone(),
            user_id: user.clone(),
            role,
            // Stored to the microsecond, so what this returns is what a read gives.
            created_at: Utc::now().trunc_subsecs(6),
        };
        let m = membership.clone();
        self.write(move |conn| {
            insert_membership(conn, &m.tenant_id, &m.user_id, m.role, m.created_at)
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
}

fn insert_membership(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    user: &UserId,
    role: Role,
    at: chrono::DateTime<Utc>,
) -> StoreResult<()> {
    conn.execute(
        "insert into memberships (tenant_id, user_id, role, created_at) values (?1, ?2, ?3, ?4)",
        params![tenant.as_str(), user.as_str(), role.as_str(), time_text(at)],
    )
    .map_err(|e| conflict(e, "user", "is a member of this tenant already"))?;
    Ok(())
}

/// A unique-key violation as a conflict on `field`, anything else as it is.
fn conflict(e: rusqlite::Error, field: &str, reason: &str) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict { .. } => StoreError::Conflict {
            field: field.into(),
            reason: reason.into(),
        },
        other => other,
    }
}
