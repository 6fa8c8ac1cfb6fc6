//! What goes into and comes out of the store, beyond the domain types themselves.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ombud_core::*;

/// Channels parse into these and agents report these; they live in `core` so
/// that neither depends on the store.
pub use ombud_core::inbound::{InboundBatch, InboundMessage, StatusReport, Tokens};
use serde_json::Value;

use crate::AgentVersion;

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Chosen by the caller, so that what it records names the user.
    pub id: UserId,
    pub email: Email,
    pub name: String,
    pub password_hash: String,
    pub must_change_password: bool,
    pub platform_admin: bool,
    /// Tenants the user joins with the account, in the same transaction.
    pub memberships: Vec<(TenantId, Role)>,
}

/// A time to the microsecond both backends store: what a create returns is
/// what a later read gives.
pub fn stored(at: DateTime<Utc>) -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(at, 6)
}

/// A membership made at `at`.
pub fn new_membership(
    tenant: &TenantId,
    user: &UserId,
    role: Role,
    at: DateTime<Utc>,
) -> Membership {
    Membership {
        tenant_id: tenant.clone(),
        user_id: user.clone(),
        role,
        created_at: stored(at),
        daily_summary: false,
        summary_language: None,
    }
}

impl NewUser {
    pub fn into_user(self, at: DateTime<Utc>) -> User {
        User {
            id: self.id,
            email: self.email,
            name: self.name,
            password_hash: self.password_hash,
            must_change_password: self.must_change_password,
            platform_admin: self.platform_admin,
            created_at: at,
        }
    }
}

/// A dashboard session: who, in which tenant, until when. Found by the hash
/// of the token its cookie carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// SHA-256 of the cookie's token, hex.
    pub token_hash: String,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    /// The synchronizer token its forms and scripts must send back.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end, however active the session is.
    pub expires_at: DateTime<Utc>,
}

/// A session with the user it belongs to and their role in its tenant (none if
/// the membership has been removed since): what every dashboard request needs,
/// read in one query.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
    pub role: Option<Role>,
}

/// Who accepts an invitation: a new account (its memberships are ignored; the
/// invitation gives one), or an existing user.
#[derive(Debug, Clone)]
pub enum Acceptance {
    NewUser(NewUser),
    Existing(UserId),
}

/// Whether an open invitation may still be used at `now`.
pub(crate) fn invitation_usable(
    invitation: &ombud_core::Invitation,
    now: DateTime<Utc>,
) -> crate::StoreResult<()> {
    if invitation.expires_at <= now {
        return Err(crate::StoreError::Invalid(
            ombud_core::ValidationError::new("invitation", "has expired; ask for a new one"),
        ));
    }
    Ok(())
}

/// A member of a tenant, for the team page and the assignee list.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub user: User,
    pub role: Role,
    /// They get the tenant's daily summary by email.
    pub daily_summary: bool,
    /// In this language (None: English).
    pub summary_language: Option<Language>,
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Chosen by the caller, so that what it records names the tenant.
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub complaint_prefix: ComplaintPrefix,
    pub default_language: Language,
    pub timezone: TimeZoneName,
}

/// What a new tenant starts with, made in the tenant's transaction: a
/// tenant is never left half made.
#[derive(Debug, Clone, Default)]
pub struct TenantSetup {
    pub categories: Vec<NewCategory>,
    /// Its first agent version (the built-in intake agent).
    pub agent: Option<crate::NewAgentVersion>,
}

#[derive(Debug, Clone)]
pub struct NewCategory {
    /// Chosen by the caller, so that what it records names the category
    /// (a change keeps the category's own).
    pub id: CategoryId,
    pub slug: String,
    pub names: BTreeMap<String, String>,
    pub keywords: Vec<String>,
    pub default_priority: Priority,
}

#[derive(Debug, Clone)]
pub struct NewChannel {
    /// Chosen by the caller, so that what it records names the channel.
    pub id: ChannelId,
    pub name: String,
    pub config: ChannelConfig,
    pub deployed_version: Option<AgentVersionId>,
    /// Who chose `deployed_version`: the first entry of the channel's
    /// deployment history, written with the channel.
    pub deployed_by: String,
}

/// A channel's configuration as its row keeps it, its secrets sealed; see
/// `migrations/0016_channel_kinds.sql`.
pub struct ChannelColumns<'a> {
    pub kind: &'static str,
    pub phone_number_id: &'a str,
    pub app_secret: String,
    pub verify_token: String,
    pub access_token: String,
    pub graph_url: &'a str,
    pub api_version: &'a str,
    pub settings: serde_json::Value,
}

impl<'a> ChannelColumns<'a> {
    pub fn of(c: &'a Channel, sealer: &crate::Sealer) -> Self {
        let kind = c.kind().as_str();
        let seal = |s: &Secret| sealer.seal(c.tenant_id.as_str(), s.expose());
        match &c.config {
            ChannelConfig::Whatsapp(w) => Self {
                kind,
                phone_number_id: &w.phone_number_id,
                app_secret: seal(&w.app_secret),
                verify_token: seal(&w.verify_token),
                access_token: seal(&w.access_token),
                graph_url: &w.graph_url,
                api_version: &w.api_version,
                settings: Self::settings(&c.config),
            },
            ChannelConfig::Telegram(t) => Self {
                kind,
                phone_number_id: t.bot_id(),
                app_secret: seal(&t.secret_token),
                verify_token: String::new(),
                access_token: seal(&t.bot_token),
                graph_url: &t.api_url,
                api_version: "",
                settings: Self::settings(&c.config),
            },
            ChannelConfig::Webchat(w) => Self {
                kind,
                phone_number_id: c.id.as_str(),
                app_secret: seal(&w.signing_key),
                verify_token: String::new(),
                access_token: String::new(),
                graph_url: "",
                api_version: "",
                settings: Self::settings(&c.config),
            },
        }
    }

    /// A channel's `settings` column: what it keeps that is not a secret
    /// (a WhatsApp number's business account and templates; a web chat's
    /// sites and greetings).
    pub fn settings(config: &ChannelConfig) -> serde_json::Value {
        match config {
            ChannelConfig::Whatsapp(w) => {
                serde_json::json!({"waba_id": w.waba_id, "templates": w.templates})
            }
            ChannelConfig::Telegram(_) => serde_json::json!({}),
            ChannelConfig::Webchat(w) => {
                serde_json::json!({"allowed_origins": w.allowed_origins, "greetings": w.greetings})
            }
        }
    }

    /// The field a second channel with the same key conflicts on.
    pub fn conflict(&self) -> (&'static str, &'static str) {
        match self.kind {
            "telegram" => ("bot_token", "this Telegram bot is already connected"),
            _ => (
                "phone_number_id",
                "this phone number id is already connected",
            ),
        }
    }
}

/// An owned (tenant, conversation) pair: the queue's unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversationKey {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
}

#[derive(Debug, Clone, Default)]
pub struct IngestOutcome {
    pub stored: Vec<MessageId>,
    pub duplicates: usize,
    pub statuses_applied: usize,
    /// Conversations that have new work for the bot.
    pub due: Vec<ConversationKey>,
}

/// Everything an agent run needs, read in one go. Tenant, channel and agent
/// version are shared from the catalog.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub tenant: Arc<Tenant>,
    pub channel: Arc<Channel>,
    pub contact: Contact,
    pub conversation: Conversation,
    /// Inbound messages past the run cursor, in order.
    pub pending: Vec<Message>,
    pub agent_version: Option<Arc<AgentVersion>>,
}

/// How a run's start went (see `RunStore::begin_run`).
#[derive(Debug, Clone)]
pub enum RunStart {
    /// Leased to the caller, with what the run needs (boxed: it is large and
    /// the other answers are empty).
    Ready(Box<RunContext>),
    /// Another owner holds the conversation's lease.
    Busy,
    /// No such conversation for that tenant.
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Ok,
    Failed,
    /// Failed by running past its time limit.
    Timeout,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewExecution {
    pub id: ExecutionId,
    pub agent_version_id: Option<AgentVersionId>,
    pub from_seq: i64,
    pub to_seq: i64,
    /// The inbound messages the run answered.
    pub input_ids: Vec<MessageId>,
    pub status: ExecutionStatus,
    pub output: Value,
    /// The tool calls it made, in order: `{name, arguments, result | error}`.
    pub tool_calls: Value,
    pub tokens: Option<Tokens>,
    pub error: Option<String>,
    pub attempts: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Execution {
    pub id: ExecutionId,
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub agent_id: Option<AgentId>,
    pub agent_version_id: Option<AgentVersionId>,
    pub from_seq: i64,
    pub to_seq: i64,
    pub input_ids: Vec<MessageId>,
    pub status: String,
    pub output: Value,
    pub tool_calls: Value,
    pub tokens: Option<Tokens>,
    pub error: Option<String>,
    pub attempts: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Its output and tool calls were trimmed by retention (its figures
    /// stay).
    pub trimmed: bool,
}

#[derive(Debug, Clone)]
pub struct NewReply {
    pub body: String,
    pub in_reply_to: Option<MessageId>,
    /// Reply buttons it offers.
    pub choices: Option<ombud_core::choice::Choices>,
}

impl NewReply {
    /// The buttons as stored (JSON).
    pub(crate) fn stored_choices(&self) -> crate::StoreResult<Option<String>> {
        crate::work::choices_json(self.choices.as_ref())
    }
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventType,
    pub data: Value,
}

impl NewEvent {
    /// The event of a typed payload.
    pub fn of(payload: &impl ombud_core::event::payload::Payload) -> Self {
        Self {
            kind: payload.kind(),
            data: payload.data(),
        }
    }
}

/// What erasing a person leaves and records (see
/// `DirectoryStore::erase_contact`).
#[derive(Debug, Clone)]
pub struct Erasure {
    /// Their address becomes this.
    pub pseudonym: String,
    pub at: DateTime<Utc>,
    /// The trail's entry, naming them by pseudonym only.
    pub audit: crate::Audit,
    /// `contact.erased`.
    pub event: NewEvent,
}

/// How an erasure went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EraseOutcome {
    Erased(Erased),
    /// Erased before: nothing changed.
    Already,
    /// The tenant has no such contact.
    NotFound,
}

/// What an erasure emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub messages: u64,
    pub complaints: u64,
}

/// The result of an agent run, applied in one transaction: cursor, agent memory,
/// conversation state, replies with their outbox rows, the execution, the events.
/// Applied only if the cursor still stands at `expected_cursor`, so a run can never
/// be committed twice.
#[derive(Debug, Clone)]
pub struct RunCommit {
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub expected_cursor: i64,
    pub new_cursor: i64,
    pub agent_state: Value,
    /// The session the run's messages belong to: its replies join it, and
    /// `agent_state` is that session's.
    pub session: i64,
    pub state: ConversationState,
    pub contact_language: Option<Language>,
    pub replies: Vec<NewReply>,
    pub execution: NewExecution,
    pub events: Vec<NewEvent>,
    /// The citizen's answers to the conversation's survey, if the run read any.
    pub survey: Option<crate::SurveyAnswer>,
    /// The run told the blocked contact that the channel is paused for them.
    pub block_told: bool,
    pub at: DateTime<Utc>,
    /// Claim the replies' sends for the caller until then, so it can send them
    /// at once instead of waiting for the outbox to be polled. Only done when
    /// no earlier send of the conversation is unfinished (sends stay in order);
    /// otherwise the sends wait in the outbox as usual.
    pub claim_sends_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed {
        replies: Vec<MessageId>,
        /// The sends claimed for the caller (see `RunCommit::claim_sends_until`),
        /// in order; the caller completes each, or releases the rest.
        claimed: Vec<OutboxItem>,
    },
    /// Another run moved the cursor first; nothing was written.
    CursorMoved,
}

#[derive(Debug, Clone)]
pub struct NewComplaint {
    /// Makes creation idempotent: the same key returns the complaint made first.
    pub origin_key: Option<String>,
    pub channel_id: Option<ChannelId>,
    pub contact_id: Option<ContactId>,
    pub conversation_id: Option<ConversationId>,
    pub category_id: Option<CategoryId>,
    pub description: String,
    pub location: Option<String>,
    /// Where the citizen's location pin put it.
    pub point: Option<ombud_core::geo::GeoPoint>,
    /// An area of the tenant's catalogue (the location named it).
    pub area: Option<String>,
    pub language: Language,
    pub priority: Priority,
    pub source: Source,
    pub actor: String,
    pub at: DateTime<Utc>,
    /// Who to record in the audit trail (None: the citizen, through an
    /// agent, which is no admin or staff action).
    pub audit: Option<ombud_core::audit::Acting>,
    /// The tenant's service levels: the complaint's clock starts with it
    /// (None: no clock).
    pub sla: Option<ombud_core::sla::SlaRules>,
    /// The tenant has assignment rules: an `assign.route` job is made with
    /// the complaint, in its transaction.
    pub route: bool,
    /// The tenant verifies complaints on the ground: the complaint starts
    /// `pending_validation`, with its reminder and escalation timers.
    pub verification: Option<ombud_core::verification::VerificationSettings>,
    /// Messages of its conversation whose photos or voice notes become
    /// the complaint's (others' are left alone).
    pub media: Vec<MessageId>,
}

impl NewComplaint {
    /// The audit entry of the complaint made, if there is someone to record.
    pub(crate) fn audit_entries(&self, c: &Complaint) -> crate::Audit {
        use ombud_core::audit::{FieldChange, Target};
        self.audit
            .iter()
            .map(|acting| {
                acting
                    .entry(
                        &c.tenant_id,
                        c.created_at,
                        "complaint.created",
                        Target::new("complaint", &c.id, Some(c.number.to_string())),
                    )
                    .with_changes([
                        FieldChange::set("status", c.status.as_str()),
                        FieldChange::set("priority", c.priority.as_str()),
                        FieldChange::set("category_id", &c.category_id),
                    ])
            })
            .collect()
    }
}

/// An outbound message claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: i64,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub message_id: MessageId,
    pub to: String,
    pub body: String,
    /// The approved WhatsApp template it goes as (outside the window).
    pub template: Option<ombud_core::template::TemplateMessage>,
    /// Reply buttons it offers.
    pub choices: Option<ombud_core::choice::Choices>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    /// When the message this one answers came in, for the reply latency a
    /// citizen feels; none for staff messages and notices.
    pub reply_to_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub enum SendOutcome {
    Sent {
        provider_id: String,
    },
    Retry {
        next_attempt_at: DateTime<Utc>,
        error: String,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SchemaStatus {
    pub applied: i64,
    pub expected: i64,
}

/// Work waiting in one outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pending {
    pub count: u64,
    pub oldest: Option<DateTime<Utc>>,
}

/// What waits to go out (see `HealthStore::backlog`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Messages to people, not yet handed to their channel.
    pub messages: Pending,
    /// Webhook deliveries not yet made.
    pub webhooks: Pending,
}

// Turning what a caller asks for into the row a backend stores: the same for every
// backend, so written once here.

impl NewTenant {
    pub fn into_tenant(self, at: DateTime<Utc>) -> Tenant {
        Tenant {
            id: self.id,
            slug: self.slug,
            name: self.name,
            complaint_prefix: self.complaint_prefix,
            default_language: self.default_language,
            timezone: self.timezone,
            created_at: at,
        }
    }
}

impl NewCategory {
    pub fn into_category(self, tenant: &TenantId, at: DateTime<Utc>) -> Category {
        Category {
            id: self.id,
            tenant_id: tenant.clone(),
            slug: self.slug,
            names: self.names,
            keywords: self.keywords,
            default_priority: self.default_priority,
            created_at: at,
        }
    }
}

impl NewChannel {
    pub fn into_channel(self, tenant: &TenantId, at: DateTime<Utc>) -> Channel {
        Channel {
            id: self.id,
            tenant_id: tenant.clone(),
            name: self.name,
            config: self.config,
            deployed_version: self.deployed_version,
            created_at: at,
        }
    }
}

impl NewComplaint {
    /// The complaint, numbered `n` of its tenant-local day; status `new`
    /// (or `pending_validation`); its service-level clock started.
    pub fn into_complaint(self, tenant: &Tenant, n: u32) -> Complaint {
        let day = tenant.local_date(self.at);
        let rules = self.sla;
        let mut c = Complaint {
            id: ComplaintId::new(),
            tenant_id: tenant.id.clone(),
            number: ComplaintNumber::new(&tenant.complaint_prefix, day, n),
            channel_id: self.channel_id,
            contact_id: self.contact_id,
            conversation_id: self.conversation_id,
            category_id: self.category_id,
            description: self.description,
            location: self.location,
            area: self.area,
            assignee_id: None,
            team: None,
            language: self.language,
            priority: self.priority,
            status: match self.verification {
                Some(_) => ComplaintStatus::PendingValidation,
                None => ComplaintStatus::New,
            },
            source: self.source,
            created_at: self.at,
            updated_at: self.at,
            sla: None,
            point: self.point,
        };
        c.sla = rules.and_then(|r| r.start(&c));
        c
    }

    /// The jobs made with complaint `c`: its routing when the tenant has
    /// rules, its verification timers. (Its deadlines need none: the sweep
    /// finds them by the complaint's `sla_next_at`.)
    pub(crate) fn jobs(&self, c: &Complaint) -> Vec<crate::NewJob> {
        let mut jobs = Vec::new();
        if self.route {
            jobs.push(crate::routing::route_job(c));
        }
        if let Some(settings) = &self.verification {
            jobs.extend(crate::verification::timer_jobs(c, settings, c.created_at));
        }
        jobs
    }
}

impl IngestOutcome {
    /// Counts one message of a delivery: stored (and maybe due) or a duplicate.
    pub fn add(&mut self, stored: Option<(MessageId, Option<ConversationKey>)>) {
        match stored {
            Some((id, due)) => {
                self.stored.push(id);
                if let Some(key) = due {
                    if !self.due.contains(&key) {
                        self.due.push(key);
                    }
                }
            }
            None => self.duplicates += 1,
        }
    }
}

/// How a run's reply enters the outbox, on either backend.
pub(crate) struct OutboxEntry {
    pub status: &'static str,
    pub attempts: i64,
    pub lease_until: Option<DateTime<Utc>>,
}

impl RunCommit {
    /// When reply `i` (from 0) is stored: a microsecond apart each, so the
    /// replies of one run read in order wherever messages sort by time and id.
    pub(crate) fn reply_at(&self, i: usize) -> DateTime<Utc> {
        self.at + chrono::Duration::microseconds(i64::try_from(i).unwrap_or(i64::MAX / 1000))
    }

    /// Claimed for the committing run until `claim_until`, or pending for the poller.
    pub(crate) fn outbox_entry(claim_until: Option<DateTime<Utc>>) -> OutboxEntry {
        match claim_until {
            Some(until) => OutboxEntry {
                status: "sending",
                attempts: 1,
                lease_until: Some(until),
            },
            None => OutboxEntry {
                status: "pending",
                attempts: 0,
                lease_until: None,
            },
        }
    }

    /// The send a run claimed as it committed (outbox row `row`).
    pub(crate) fn claimed_send(
        &self,
        row: i64,
        channel_id: &str,
        message_id: &MessageId,
        to: &str,
        reply: &NewReply,
    ) -> crate::StoreResult<OutboxItem> {
        Ok(OutboxItem {
            id: row,
            tenant_id: self.tenant_id.clone(),
            channel_id: crate::decode::stored_id("channel_id", channel_id)?,
            message_id: message_id.clone(),
            to: to.to_owned(),
            body: reply.body.clone(),
            template: None,
            choices: reply.choices.clone(),
            attempts: 1,
            created_at: self.at,
            reply_to_at: None,
        })
    }
}
