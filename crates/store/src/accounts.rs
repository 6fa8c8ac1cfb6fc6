//! Staff accounts, their API keys and their dashboard sessions: the traits
//! both backends implement.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use crate::{Acceptance, ApiKey, Audit, Member, NewJob, NewUser, Session, SignedIn, StoreResult};

/// Staff accounts. Users are not a tenant's: one person may belong to several
/// tenants, each through a membership with a role.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates the user and its memberships, all or nothing. Conflict on
    /// `email` if the address has an account already.
    async fn create_user(&self, new: NewUser, at: DateTime<Utc>, audit: Audit)
        -> StoreResult<User>;
    /// Unscoped: the login's entry point, which finds the user before any tenant.
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    async fn user(&self, id: &UserId) -> StoreResult<Option<User>>;
    /// Conflict on `user` if they are a member of the tenant already.
    async fn add_membership(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Membership>;
    /// The user's memberships, one per tenant, in the order they were made.
    async fn memberships(&self, user: &UserId) -> StoreResult<Vec<Membership>>;
    /// The tenant's members by name.
    async fn members(&self, tenant: &TenantId) -> StoreResult<Vec<Member>>;
    /// Changes a member's role; false if they are no member of the tenant.
    async fn set_role(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        audit: Audit,
    ) -> StoreResult<bool>;
    /// Removes a member from the tenant and ends their sessions in it; false
    /// if they were no member.
    async fn remove_member(
        &self,
        tenant: &TenantId,
        user: &UserId,
        audit: Audit,
    ) -> StoreResult<bool>;
    /// Records the invitation, with the mail that carries its link when
    /// there is one, all or nothing.
    /// Whether the member gets the tenant's daily summary; false if they
    /// are no member.
    async fn set_daily_summary(
        &self,
        tenant: &TenantId,
        user: &UserId,
        on: bool,
        language: Option<Language>,
        audit: Audit,
    ) -> StoreResult<bool>;
    async fn create_invitation(
        &self,
        invitation: Invitation,
        mail: Option<NewJob>,
        audit: Audit,
    ) -> StoreResult<()>;
    /// Unscoped: the link names only its token.
    async fn invitation(&self, token_hash: &str) -> StoreResult<Option<Invitation>>;
    /// The tenant's invitations not yet accepted, newest first.
    async fn open_invitations(&self, tenant: &TenantId) -> StoreResult<Vec<Invitation>>;
    /// Deletes an invitation that was not accepted; false if there is none.
    async fn revoke_invitation(
        &self,
        tenant: &TenantId,
        id: &InvitationId,
        audit: Audit,
    ) -> StoreResult<bool>;
    /// Uses the invitation once, all or nothing: marks it accepted and makes
    /// the new account (with the membership) or adds the membership to an
    /// existing one. NotFound if there is no such open invitation, Invalid
    /// (field `invitation`) if it has expired, Conflict if already a member.
    async fn accept_invitation(
        &self,
        token_hash: &str,
        account: Acceptance,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<User>;
    /// Replaces the password hash; `must_change` asks for a new one at the next
    /// login (a reset by an admin). NotFound if there is no such user.
    async fn set_password(
        &self,
        user: &UserId,
        password_hash: &str,
        must_change: bool,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()>;
}

/// API keys. Found by the hash of the key (unscoped: a request names only its
/// key), listed and revoked within a tenant.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Conflict on `key` if the hash is taken (a key made twice).
    async fn create_api_key(&self, key: ApiKey, key_hash: &str, audit: Audit) -> StoreResult<()>;
    async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;
    /// The tenant's keys, newest first, revoked ones too.
    async fn api_keys(&self, tenant: &TenantId) -> StoreResult<Vec<ApiKey>>;
    /// Revokes at once; false (and no audit entry) if the tenant has no such
    /// live key.
    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool>;
    /// Records a use (callers write it at most about once a minute per key).
    async fn touch_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> StoreResult<()>;
}

/// Dashboard sessions, by the hash of their token.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: Session, audit: Audit) -> StoreResult<()>;
    /// Unscoped: a request names only its cookie, and the session names the
    /// user and tenant.
    async fn session(&self, token_hash: &str) -> StoreResult<Option<SignedIn>>;
    /// Moves the session to another tenant (the caller checked the membership).
    async fn set_session_tenant(&self, token_hash: &str, tenant: &TenantId) -> StoreResult<bool>;
    /// Records activity; false if there is no such session.
    async fn touch_session(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    async fn delete_session(&self, token_hash: &str, audit: Audit) -> StoreResult<()>;
    /// Ends every session of the user (a password change or reset).
    async fn delete_sessions_of(&self, user: &UserId) -> StoreResult<u64>;
}
