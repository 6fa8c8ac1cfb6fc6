//! Signing in and out, and passwords people change themselves. Failed logins
//! are the one refused action that is recorded: in every organisation the
//! account belongs to (an address with no account belongs to none, so it is
//! only logged).

use ombud_core::audit::{Actor, FieldChange, Target};
use ombud_core::*;
use ombud_store::{Session, StoreResult};

use super::{Acting, Operations};

fn user_target(user: &User) -> Target {
    Target::new("user", &user.id, Some(user.email.as_str().to_owned()))
}

/// Why a login was refused, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    WrongPassword,
    /// Too many failures: the account or address is locked out for a while.
    LockedOut,
}

impl Operations {
    /// Starts a dashboard session. A login is recorded (`login.succeeded`,
    /// in the session's tenant); a session that follows another action (a
    /// password change, an accepted invitation) is that action's.
    pub async fn start_session(
        &self,
        login: Option<&Acting>,
        user: &User,
        session: Session,
    ) -> StoreResult<()> {
        let entries = login
            .map(|acting| {
                acting.entry(
                    &session.tenant_id,
                    self.now(),
                    "login.succeeded",
                    user_target(user),
                )
            })
            .into_iter()
            .collect();
        self.store.create_session(session, entries).await
    }

    /// Ends a session that ran out, or one a new login replaces: not an
    /// action anyone took, so nothing is recorded.
    pub async fn drop_session(&self, token_hash: &str) -> StoreResult<()> {
        self.store.delete_session(token_hash, Vec::new()).await
    }

    /// Ends a session (`logout`); nothing is recorded if it had ended already.
    pub async fn sign_out(
        &self,
        acting: &Acting,
        user: &User,
        tenant: &TenantId,
        token_hash: &str,
    ) -> StoreResult<()> {
        let entry = acting.entry(tenant, self.now(), "logout", user_target(user));
        self.store.delete_session(token_hash, vec![entry]).await
    }

    /// Records a refused login of `user` in each of `tenants`.
    pub async fn login_refused(
        &self,
        origin: &ombud_core::audit::Origin,
        user: &User,
        tenants: &[TenantId],
        why: LoginRefusal,
    ) -> StoreResult<()> {
        if tenants.is_empty() {
            return Ok(());
        }
        let acting = Acting::new(Actor::anonymous(user.email.as_str()), origin.clone());
        let action = match why {
            LoginRefusal::WrongPassword => "login.failed",
            LoginRefusal::LockedOut => "login.locked_out",
        };
        let now = self.now();
        let entries = tenants
            .iter()
            .map(|t| acting.entry(t, now, action, user_target(user)))
            .collect();
        self.store.record_audit(entries).await
    }

    /// Someone changed their own password (recorded in the tenant they are
    /// signed in to, if any); their sessions end.
    pub async fn change_password(
        &self,
        acting: &Acting,
        user: &User,
        tenant: Option<&TenantId>,
        password_hash: &str,
    ) -> StoreResult<()> {
        let now = self.now();
        let entries = tenant
            .map(|t| {
                acting
                    .entry(t, now, "password.changed", user_target(user))
                    .with_changes([FieldChange::new("password", None, Some("changed".into()))])
            })
            .into_iter()
            .collect();
        self.store
            .set_password(&user.id, password_hash, false, now, entries)
            .await?;
        self.store.delete_sessions_of(&user.id).await?;
        Ok(())
    }
}
