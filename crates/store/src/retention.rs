//! Retention: what the sweep removes once it is old enough, kind by kind, in
//! small batches so the writer is never held for long. The rules are here
//! once, as SQL both backends run (`?1` is the cut-off, `?2` the batch).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

/// One kind of row the sweep removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sweep {
    /// Dashboard sessions past their expiry.
    Sessions,
    /// Invitations expired, or accepted, before the cut-off.
    Invitations,
    /// Password-reset links expired before the cut-off.
    PasswordResets,
    /// Webhook deliveries delivered before the cut-off, with their attempts.
    DeliveredWebhooks,
    /// Webhook deliveries that failed for good before the cut-off, with
    /// their attempts. Pending and sending ones are never removed.
    FailedWebhooks,
    /// Domain events older than the cut-off that no delivery refers to any
    /// more (delivered everywhere and swept, or never for any endpoint).
    Events,
    /// Executions started before the cut-off: their output and tool calls
    /// are trimmed (the rows and their figures stay).
    Executions,
}

impl Sweep {
    pub const ALL: [Sweep; 7] = [
        Self::Sessions,
        Self::Invitations,
        Self::PasswordResets,
        Self::DeliveredWebhooks,
        Self::FailedWebhooks,
        Self::Events,
        Self::Executions,
    ];

    /// The metric's `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sessions => "sessions",
            Self::Invitations => "invitations",
            Self::PasswordResets => "password_resets",
            Self::DeliveredWebhooks => "webhook_deliveries_delivered",
            Self::FailedWebhooks => "webhook_deliveries_failed",
            Self::Events => "events",
            Self::Executions => "executions_trimmed",
        }
    }

    /// The statement that removes one batch, with SQLite's placeholders
    /// (`?1` the cut-off, `?2` the batch; PostgreSQL's are `$1`, `$2`).
    /// A delivery's attempts go with it (`on delete cascade`).
    pub(crate) fn statement(self) -> &'static str {
        match self {
            Self::Sessions => {
                "delete from sessions where token_hash in
                   (select token_hash from sessions where expires_at < ?1 limit ?2)"
            }
            Self::Invitations => {
                "delete from invitations where id in
                   (select id from invitations
                    where expires_at < ?1 or accepted_at < ?1 limit ?2)"
            }
            Self::PasswordResets => {
                "delete from password_resets where id in
                   (select id from password_resets where expires_at < ?1 limit ?2)"
            }
            Self::DeliveredWebhooks => {
                "delete from webhook_deliveries where id in
                   (select id from webhook_deliveries
                    where status = 'delivered' and next_attempt_at < ?1
                      and coalesce(delivered_at, updated_at) < ?1
                    limit ?2)"
            }
            Self::FailedWebhooks => {
                "delete from webhook_deliveries where id in
                   (select id from webhook_deliveries
                    where status = 'failed' and next_attempt_at < ?1 and updated_at < ?1
                    limit ?2)"
            }
            // `tenant_id in (…)` lets both backends walk the events index
            // (tenant_id, created_at) tenant by tenant, not the whole table.
            Self::Events => {
                "delete from events where id in
                   (select e.id from events e
                    where e.tenant_id in (select id from tenants) and e.created_at < ?1
                      and not exists (select 1 from webhook_deliveries d where d.event_id = e.id)
                    limit ?2)"
            }
            Self::Executions => {
                "update executions set output = '{}', tool_calls = '[]', trimmed = 1
                 where id in
                   (select id from executions where trimmed = 0 and started_at < ?1 limit ?2)"
            }
        }
    }
}

/// A tenant's message bodies older than its retention go conversation by
/// conversation. `conversations.redacted_before` says up to when a
/// conversation's words are gone; one is visited again only once something
/// happened in it since (its `updated_at`, which every message moves), so
/// a sweep does not walk every old conversation again. (`?1` the tenant or
/// the conversation, `?2` the cut-off, `?3` the batch.)
pub(crate) const REDACT_CANDIDATES: &str = "select id from conversations
     where tenant_id = ?1 and created_at < ?2
       and (redacted_before is null or (redacted_before < ?2 and updated_at > redacted_before))
     order by created_at limit ?3";
pub(crate) const REDACT_MESSAGES: &str =
    "update messages set body = '', payload = null, template = null
     where conversation_id = ?1 and created_at < ?2 and body <> ''";
pub(crate) const REDACTED_UP_TO: &str =
    "update conversations set redacted_before = ?2 where id = ?1";

/// What one batch of redaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redacted {
    pub conversations: u64,
    pub messages: u64,
}

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Removes (or trims) at most `limit` rows of `what` older than
    /// `before`, in one short transaction; how many (fewer than `limit`:
    /// done).
    async fn sweep(&self, what: Sweep, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Empties the words (body, buttons tapped, template parameters) of the
    /// tenant's messages written before `before`, in at most
    /// `conversations` conversations, in one short transaction (fewer
    /// visited than asked: done).
    async fn redact_bodies(
        &self,
        tenant: &ombud_core::TenantId,
        before: DateTime<Utc>,
        conversations: u32,
    ) -> StoreResult<Redacted>;
}
