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

/// What a tenant's retention takes from its old conversations, one
/// conversation at a time (`?1` the conversation, `?2` the cut-off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aging {
    /// Messages' words (body, buttons tapped, template parameters), and
    /// the output and tool calls of the agent's runs on them (which hold
    /// the same words). The messages stay.
    Bodies,
    /// Messages themselves, with their finished sends and the agent's runs
    /// on them. A message whose send is still pending stays.
    Messages,
}

impl Aging {
    /// A conversation's column that says up to when this was done to it.
    /// A conversation is visited again only once something happened in it
    /// since (its `updated_at`, which every message moves), so a sweep does
    /// not walk every old conversation again.
    fn marker(self) -> &'static str {
        match self {
            Self::Bodies => "redacted_before",
            Self::Messages => "forgotten_before",
        }
    }

    /// The conversations to visit (`?1` the tenant, `?2` the cut-off, `?3`
    /// how many).
    pub(crate) fn candidates(self) -> String {
        let done = self.marker();
        format!(
            "select id from conversations
             where tenant_id = ?1 and created_at < ?2
               and ({done} is null or ({done} < ?2 and updated_at > {done}))
             order by created_at limit ?3"
        )
    }

    /// What is done to one conversation, in order; the messages counted
    /// are the last statement's rows.
    pub(crate) fn statements(self) -> &'static [&'static str] {
        match self {
            Self::Bodies => &[
                "update executions set output = '{}', tool_calls = '[]', trimmed = 1
                 where tenant_id = (select tenant_id from conversations where id = ?1)
                   and conversation_id = ?1 and started_at < ?2 and trimmed = 0",
                // Voice notes' words are words too (the notes stay).
                "update attachments set transcript = null
                 where conversation_id = ?1 and created_at < ?2 and transcript is not null",
                "update messages set media = null
                 where conversation_id = ?1 and created_at < ?2
                   and media like '%\"transcript\"%'",
                "update messages set body = '', payload = null, template = null
                 where conversation_id = ?1 and created_at < ?2 and body <> ''",
            ],
            Self::Messages => &[
                "delete from outbox
                 where message_id in
                     (select id from messages where conversation_id = ?1 and created_at < ?2)
                   and status in ('sent', 'failed')",
                "delete from executions
                 where tenant_id = (select tenant_id from conversations where id = ?1)
                   and conversation_id = ?1 and started_at < ?2",
                "update messages set in_reply_to = null
                 where conversation_id = ?1 and in_reply_to in
                   (select m.id from messages m
                    where m.conversation_id = ?1 and m.created_at < ?2
                      and not exists (select 1 from outbox o where o.message_id = m.id))",
                // Their photos and voice notes go with them (the rows by
                // cascade; the stored objects to the media.collect job).
                "insert into media_garbage (tenant_id, sha256, created_at)
                 select a.tenant_id, a.sha256, ?2 from attachments a
                 join messages m on m.id = a.message_id
                 where m.conversation_id = ?1 and m.created_at < ?2 and a.sha256 is not null
                   and not exists (select 1 from outbox o where o.message_id = m.id)
                 on conflict do nothing",
                "delete from messages
                 where conversation_id = ?1 and created_at < ?2
                   and not exists (select 1 from outbox o where o.message_id = messages.id)",
            ],
        }
    }

    /// Records that the conversation was done up to the cut-off.
    pub(crate) fn mark(self) -> String {
        format!(
            "update conversations set {} = ?2 where id = ?1",
            self.marker()
        )
    }

    /// The metric's `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bodies => "message_bodies",
            Self::Messages => "messages",
        }
    }
}

/// A tenant's webhook payloads go with its messages' words: domain events
/// (which hold what citizens wrote) and the finished deliveries that refer
/// to them, once older than the tenant's retention for words, however long
/// the operator keeps them for others. Pending deliveries, and their
/// events, stay. (`?1` the tenant, `?2` the cut-off, `?3` the batch.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantSweep {
    Deliveries,
    Events,
}

impl TenantSweep {
    /// Deliveries first, so their events can go in the same sweep.
    pub const ALL: [TenantSweep; 2] = [Self::Deliveries, Self::Events];

    pub(crate) fn statement(self) -> &'static str {
        match self {
            Self::Deliveries => {
                "delete from webhook_deliveries where id in
                   (select d.id from events e join webhook_deliveries d on d.event_id = e.id
                    where e.tenant_id = ?1 and e.created_at < ?2
                      and d.status in ('delivered', 'failed')
                    limit ?3)"
            }
            Self::Events => {
                "delete from events where id in
                   (select e.id from events e
                    where e.tenant_id = ?1 and e.created_at < ?2
                      and not exists (select 1 from webhook_deliveries d where d.event_id = e.id)
                    limit ?3)"
            }
        }
    }

    /// The metric's `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deliveries => "webhook_deliveries_with_old_words",
            Self::Events => "events_with_old_words",
        }
    }
}

/// What one batch of a tenant's [`Aging`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Aged {
    pub conversations: u64,
    pub messages: u64,
}

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Removes (or trims) at most `limit` rows of `what` older than
    /// `before`, in one short transaction; how many (fewer than `limit`:
    /// done).
    async fn sweep(&self, what: Sweep, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
    /// Does `what` to the tenant's messages written before `before`, in at
    /// most `conversations` conversations, in one short transaction (fewer
    /// visited than asked: done).
    async fn age(
        &self,
        tenant: &ombud_core::TenantId,
        what: Aging,
        before: DateTime<Utc>,
        conversations: u32,
    ) -> StoreResult<Aged>;
    /// Removes at most `limit` of the tenant's rows of `what` older than
    /// `before`, in one short transaction; how many.
    async fn sweep_tenant(
        &self,
        tenant: &ombud_core::TenantId,
        what: TenantSweep,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u64>;
}
