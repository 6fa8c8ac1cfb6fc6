//! Storage for Ombud behind backend-neutral traits. Every method that touches tenant
//! data takes the tenant first; the only unscoped look-ups are the entry points that
//! *find* the tenant (a channel by its id, a tenant by its slug).
//!
//! `sqlite` is the embedded default; a PostgreSQL backend implements the same traits.
//!
//! The store decides nothing about time: every write is handed its moment
//! (`at`) by the operation in `ombud-engine` that makes it, which reads the
//! engine's clock, so tests move time instead of backdating rows.

pub mod accounts;
pub mod agents;
pub mod attachments;
pub mod audit;
pub mod catalog;
mod complaint_store;
pub mod copy;
pub mod counters;
mod decode;
mod erase;
mod error;
pub mod handoff;
pub mod idempotency;
pub mod jobs;
mod list_query;
pub mod model;
pub mod postgres;
pub mod reminders;
pub mod report;
pub mod resets;
pub mod retention;
pub mod routing;
mod sealing;
pub mod sla;
pub mod sqlite;
pub mod surveys;
pub mod templates;
pub mod test_chats;
mod verification;
pub mod webhooks;
pub mod work;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

pub use accounts::{AccountStore, ApiKeyStore, SessionStore};
pub use agents::{
    Agent, AgentStore, AgentVersion, Deployment, ExecutionCursor, NewAgent, NewAgentVersion,
    NewDeployment, NewVersion, AGENT_NAME_MAX,
};
/// The audit entries a write records with its change, in its transaction
/// (written only if the change is).
pub type Audit = Vec<ombud_core::audit::NewAuditEntry>;

/// Why a send that was waiting did not go (`DirectoryStore::erase_contact`).
pub(crate) const ERASED_SEND: &str = "not sent: the person was erased";

pub use attachments::{Attachment, AttachmentStore, Settled};
pub use audit::{AuditFilter, AuditStore, ChainHead, AUDIT_PAGE_MAX};
pub use complaint_store::ComplaintStore;
pub use counters::{CounterStore, Hits};
pub use error::{StoreError, StoreResult};
pub use handoff::{
    HandedOver, InboxFilter, InboxItem, LiveEvent, StaffReply, INBOX_LIMIT, LIVE_PAGE,
};
pub use idempotency::{IdempotencyStore, Idempotent, StoredAnswer};
pub use jobs::{Job, JobState, JobStats, JobStore, NewJob};
pub use model::*;
pub use ombud_core::change::StatusNotice;
pub use reminders::{RemindCitizen, Reminded};
pub use report::Overview;
pub use resets::PasswordResetStore;
pub use retention::{Aged, Aging, RetentionStore, Sweep, TenantSweep};
pub use sealing::Sealer;
pub use sla::{SlaDue, SlaFired, SlaPending};
pub use surveys::{AskSurvey, Asked, CsatGroup, CsatLine, CsatReport, SurveyAnswer, SurveyStore};
pub use templates::{NotifyFailures, TemplateStore};
pub use test_chats::{
    NewTestChat, TestChat, TestChatStore, TestComplaint, TestTurn, TestTurnCommit, TEST_TURNS_MAX,
};
pub use webhooks::{
    AttemptOutcome, AttemptRecord, DueDelivery, EndpointChange, WebhookAttempt, WebhookDelivery,
    WebhookStatus, WebhookStore,
};
pub use work::{
    AssigneeFilter, ChangeBatch, ChangeOutcome, ComplaintChange, ComplaintCursor, ComplaintFilter,
    ComplaintRow, ComplaintSort, FollowUps,
};

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// The tenant with what it starts with, in one transaction; the agent
    /// version made, if the setup asks for one.
    async fn create_tenant(
        &self,
        new: NewTenant,
        setup: TenantSetup,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<(Tenant, Option<AgentVersion>)>;
    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    async fn tenant_by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>>;
    async fn tenants(&self) -> StoreResult<Vec<Tenant>>;

    async fn create_category(
        &self,
        tenant: &TenantId,
        new: NewCategory,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Category>;
    /// The tenant's categories, shared from the catalog (see [`catalog`]).
    async fn categories(&self, tenant: &TenantId) -> StoreResult<Arc<Vec<Category>>>;
    /// Replaces a category's names, keywords and default priority (its slug
    /// stays). NotFound if the tenant has no such category.
    async fn update_category(
        &self,
        tenant: &TenantId,
        id: &CategoryId,
        change: NewCategory,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Category>;
    /// The first-run guide's steps the tenant has done, by name.
    async fn onboarding_steps(&self, tenant: &TenantId) -> StoreResult<Vec<String>>;
    /// Records a step as done (again is no change).
    async fn mark_onboarding_step(
        &self,
        tenant: &TenantId,
        step: &str,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()>;
    /// Whether anyone has written to any of the tenant's channels yet.
    async fn has_conversations(&self, tenant: &TenantId) -> StoreResult<bool>;

    /// Saves the next version of the named agent (creating the agent on first use).
    async fn create_agent_version(
        &self,
        tenant: &TenantId,
        new: NewAgentVersion,
        at: DateTime<Utc>,
    ) -> StoreResult<AgentVersion>;
    async fn latest_agent_version(
        &self,
        tenant: &TenantId,
        agent_name: &str,
    ) -> StoreResult<Option<AgentVersion>>;
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    async fn create_channel(
        &self,
        tenant: &TenantId,
        new: NewChannel,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Channel>;
    /// Keeps what `channel` (of `tenant`, of the same kind) holds beside its
    /// secrets: a WhatsApp number's business account and templates, a web
    /// chat's sites and greetings. NotFound for another tenant's channel.
    async fn set_channel_settings(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Channel>;
    /// Unscoped: a webhook names only the channel, and the channel names its tenant.
    /// Shared from the catalog (see [`catalog`]).
    async fn channel(&self, id: &ChannelId) -> StoreResult<Option<Arc<Channel>>>;
    async fn channels(&self, tenant: &TenantId) -> StoreResult<Vec<Channel>>;
}

#[async_trait]
pub trait InboundStore: Send + Sync {
    /// Stores a channel delivery in one transaction: contacts and conversations are
    /// made as needed, messages deduplicated on their provider id, status reports
    /// applied to our outbound messages. Durable when this returns. A
    /// message after `idle` of quiet, or after staff closed the session,
    /// starts the conversation's next session (`SessionIdle::starts_new`).
    async fn ingest(
        &self,
        channel: &Channel,
        batch: InboundBatch,
        at: DateTime<Utc>,
        idle: SessionIdle,
    ) -> StoreResult<IngestOutcome>;
}

#[async_trait]
pub trait RunStore: Send + Sync {
    /// Every conversation the bot owes an answer whose lease is free or expired at
    /// `now`: crash recovery on start, and the periodic sweep that takes over the
    /// work of a replica that died.
    async fn due_conversations(&self, now: DateTime<Utc>) -> StoreResult<Vec<ConversationKey>>;
    /// Takes (or renews) the conversation's lease for `owner` until `until`, unless
    /// another owner holds a lease that has not expired at `now`.
    async fn lease_conversation(
        &self,
        key: &ConversationKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Gives the lease up, if `owner` still holds it.
    async fn release_conversation(&self, key: &ConversationKey, owner: &str) -> StoreResult<()>;
    async fn load_run(&self, key: &ConversationKey) -> StoreResult<Option<RunContext>>;
    /// Takes the lease (as [`lease_conversation`](Self::lease_conversation)) and
    /// reads the run's context (as [`load_run`](Self::load_run)) in one step, the
    /// way every run starts. The lease is released again unless `Ready`.
    async fn begin_run(
        &self,
        key: &ConversationKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<RunStart> {
        if !self.lease_conversation(key, owner, now, until).await? {
            return Ok(RunStart::Busy);
        }
        load_leased(self, key, owner).await
    }
    async fn commit_run(&self, commit: RunCommit) -> StoreResult<CommitOutcome>;
    async fn conversations(&self, tenant: &TenantId) -> StoreResult<Vec<Conversation>>;
    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<Message>>;
    async fn executions(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<Execution>>;
}

/// The rest of `begin_run` once `owner` holds the lease: the context, or the
/// lease given back.
async fn load_leased<S: RunStore + ?Sized>(
    store: &S,
    key: &ConversationKey,
    owner: &str,
) -> StoreResult<RunStart> {
    let loaded = store.load_run(key).await;
    if !matches!(loaded, Ok(Some(_))) {
        store.release_conversation(key, owner).await?;
    }
    Ok(match loaded? {
        Some(ctx) => RunStart::Ready(Box::new(ctx)),
        None => RunStart::Missing,
    })
}

/// Conversations in the hands of people (state `human`).
#[async_trait]
pub trait HandoffStore: Send + Sync {
    /// The tenant's handed-over conversations, the latest message first
    /// (at most [`INBOX_LIMIT`]).
    async fn handed_over(&self, tenant: &TenantId) -> StoreResult<Vec<HandedOver>>;
    /// One conversation of the tenant, whatever its state.
    async fn conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> StoreResult<Option<HandedOver>>;
    /// A staff member's message into a handed-over conversation, with its
    /// outbox row, in one transaction. With `take_over`, a conversation the
    /// bot answers is handed to people first (the citizen's answers then
    /// go to the inbox); without, Invalid (field `conversation`) unless the
    /// conversation is in the hands of people.
    async fn staff_reply(
        &self,
        tenant: &TenantId,
        reply: StaffReply<'_>,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<MessageId>;
    /// Gives the conversation back to the bot, which answers from the next
    /// message on (what people already answered is not answered again).
    /// False unless it was handed over.
    async fn hand_back(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool>;
    /// Ends the conversation's current session: the citizen's next message
    /// starts the next one. A conversation in the hands of people goes back
    /// to the bot (what people answered is not answered again); one the bot
    /// answers keeps its cursor, so a message that came in just before is
    /// still answered, in the session it joined. False if the session was
    /// closed already, or there is no such conversation.
    async fn close_session(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool>;
    /// The inbox as `user` reads it: the conversations `filter` picks, the
    /// citizen's latest message first (at most [`INBOX_LIMIT`]).
    async fn inbox(
        &self,
        tenant: &TenantId,
        user: &UserId,
        filter: InboxFilter,
    ) -> StoreResult<Vec<InboxItem>>;
    /// Conversations in the hands of people whose citizen wrote after
    /// `user` last read them.
    async fn unread_count(&self, tenant: &TenantId, user: &UserId) -> StoreResult<u64>;
    /// `user` has read the conversation up to `upto` (a read mark never
    /// moves back). Nothing for a conversation of another tenant.
    async fn mark_read(
        &self,
        tenant: &TenantId,
        user: &UserId,
        conversation: &ConversationId,
        upto: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The tenant's events after `after` (a time and an event id; `""`
    /// for every event at that time), oldest first (at most
    /// [`LIVE_PAGE`]), with what each touched, for the live dashboard.
    async fn live_events(
        &self,
        tenant: &TenantId,
        after: (DateTime<Utc>, &str),
    ) -> StoreResult<Vec<LiveEvent>>;
    /// When the tenant's latest event happened (None: it has none).
    async fn latest_event_at(&self, tenant: &TenantId) -> StoreResult<Option<DateTime<Utc>>>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` due sends, each leased until `lease_until`.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>>;
    async fn complete_outbox(
        &self,
        id: i64,
        outcome: SendOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Returns claimed sends to the outbox untried (an earlier send of their
    /// conversation did not go through, so they must wait their turn).
    async fn release_outbox(&self, ids: Vec<i64>) -> StoreResult<()>;
    /// When the next pending send falls due, if any.
    async fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Frees what a dead process left claimed (outbox sends, conversation leases)
    /// where the backend knows no other process can hold any: SQLite, one server
    /// per file. Shared backends release nothing and let leases expire. Sends are
    /// made again with the same idempotency key.
    async fn release_claims(&self) -> StoreResult<u64>;
}

/// Contacts, conversations and messages page by page, for the API. Pages run
/// newest first by id (ids sort by creation); messages oldest first by
/// (time, id), after the `after` message.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> StoreResult<Option<Contact>>;
    /// Blocks the contact (`Some`, told afresh) or ends its block (`None`),
    /// with the audit entries, in one transaction; None (and nothing
    /// written) when the tenant has no such contact.
    async fn set_contact_block(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        block: Option<ombud_core::conversation::Block>,
        audit: Audit,
    ) -> StoreResult<Option<Contact>>;
    /// The contact's conversation (one per contact: a contact is an address
    /// on one channel).
    async fn conversation_of_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> StoreResult<Option<ConversationId>>;
    /// The newest conversation of whoever writes from `address` (a phone
    /// number, a Telegram chat, a web chat visitor) on the channel.
    async fn conversation_of_address(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        address: &str,
    ) -> StoreResult<Option<ConversationId>>;
    /// Erases a person, in one transaction: their address becomes the
    /// pseudonym and their name goes; their messages' words (and template
    /// parameters, provider ids, buttons tapped), their complaints'
    /// descriptions and locations (in the search index and the events'
    /// payloads too), notes and survey comments on those complaints, their
    /// runs' outputs and their conversation's agent memory are emptied; sends
    /// not yet made are dropped; the conversation is closed for good (the
    /// same address writing again is a new contact). With the event and the
    /// audit entry. Numbers, categories, statuses, dates, areas and service
    /// levels stay. On SQLite nothing erased stays in the database file or
    /// its WAL once this returns.
    async fn erase_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        erasure: Erasure,
    ) -> StoreResult<EraseOutcome>;
    async fn contact_page(
        &self,
        tenant: &TenantId,
        before: Option<&ContactId>,
        limit: u32,
    ) -> StoreResult<Vec<Contact>>;
    async fn conversation_page(
        &self,
        tenant: &TenantId,
        state: Option<ConversationState>,
        before: Option<&ConversationId>,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>>;
    async fn message_page(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: Option<(DateTime<Utc>, MessageId)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
}

#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Answers only if the database does; says which schema version is applied.
    async fn schema_status(&self) -> StoreResult<SchemaStatus>;
    /// What waits to go out: unsent messages and webhook deliveries, each with
    /// the time of the oldest. For metrics, sampled now and then (not per
    /// scrape); it counts over the status indexes.
    async fn backlog(&self) -> StoreResult<Backlog>;
    /// The database's size on disk, in bytes (SQLite: the file and its WAL).
    async fn database_size(&self) -> StoreResult<u64>;
    /// Looks for corruption: SQLite's `quick_check`; on PostgreSQL, the page
    /// checksum failures the server has counted (none are counted when the
    /// cluster runs without data checksums). `Err` says what is wrong.
    async fn integrity_check(&self) -> StoreResult<Result<(), String>>;
}

/// Everything Ombud stores, as one object the engine and the web layer share.
pub trait Store:
    TenantStore
    + AccountStore
    + ApiKeyStore
    + SessionStore
    + ChannelStore
    + InboundStore
    + RunStore
    + ComplaintStore
    + HandoffStore
    + OutboxStore
    + WebhookStore
    + IdempotencyStore
    + DirectoryStore
    + AgentStore
    + TestChatStore
    + HealthStore
    + CounterStore
    + AuditStore
    + JobStore
    + PasswordResetStore
    + TemplateStore
    + SurveyStore
    + RetentionStore
    + AttachmentStore
{
}

impl<T> Store for T where
    T: TenantStore
        + AccountStore
        + ApiKeyStore
        + SessionStore
        + ChannelStore
        + InboundStore
        + RunStore
        + ComplaintStore
        + HandoffStore
        + OutboxStore
        + WebhookStore
        + IdempotencyStore
        + DirectoryStore
        + AgentStore
        + TestChatStore
        + HealthStore
        + CounterStore
        + AuditStore
        + JobStore
        + PasswordResetStore
        + TemplateStore
        + SurveyStore
        + RetentionStore
        + AttachmentStore
{
}

/// The store traits, for `use ombud_store::prelude::*` where methods are called.
pub mod prelude {
    pub use crate::{
        AccountStore, ApiKeyStore, AuditStore, ChannelStore, ComplaintStore, CounterStore,
        DirectoryStore, HandoffStore, HealthStore, IdempotencyStore, InboundStore, OutboxStore,
        PasswordResetStore, RetentionStore, RunStore, SessionStore, Store, SurveyStore,
        TenantStore, WebhookStore,
    };
}
