use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use serde_json::Value;

/// What a run is given: who is writing, the agent's memory, the new messages.
#[derive(Debug, Clone)]
pub struct RunInput {
    pub tenant: Arc<Tenant>,
    pub contact: Contact,
    pub conversation_id: ConversationId,
    /// The agent's memory from the previous run (`{}` at first).
    pub state: Value,
    /// Inbound messages in order; never empty.
    pub messages: Vec<Message>,
    /// The deployed version's configuration.
    pub config: Arc<Value>,
    /// The agent the version belongs to, if saved.
    pub agent: Option<AgentId>,
    /// The saved version the configuration belongs to, if any. Versions never
    /// change, so a runtime may keep what it derives from the configuration
    /// under this id.
    pub version: Option<AgentVersionId>,
    pub now: DateTime<Utc>,
}

impl RunInput {
    /// The person's language, else the tenant's.
    pub fn language(&self) -> Language {
        self.contact
            .language
            .clone()
            .unwrap_or_else(|| self.tenant.default_language.clone())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub text: String,
    pub in_reply_to: Option<MessageId>,
    /// Reply buttons offered with it (the channel draws them its way).
    pub choices: Option<ombud_core::choice::Choices>,
}

/// What a run produced. Nothing here has happened yet: the engine commits it all in
/// one transaction (tool calls that create things are idempotent on their own).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOutput {
    pub replies: Vec<Reply>,
    pub state: Value,
    /// Hand the conversation to staff; the bot stays silent until handed back.
    pub handoff: bool,
    /// The contact's language, when the run learnt it.
    pub language: Option<Language>,
    /// The tools it called, in order (runtimes that call tools by name).
    pub tool_calls: Vec<crate::ToolCall>,
    /// What the model provider counted, for runtimes that use one.
    pub tokens: Option<ombud_core::inbound::Tokens>,
    /// The run failed but still has something to say (a fallback reply): the
    /// engine sends the replies and records a failed execution.
    pub failure: Option<RunFailure>,
    /// What the runtime notes about the run for its execution (a worker's pid).
    pub runtime: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunFailure {
    pub error: String,
    /// It failed by running out of time.
    pub timeout: bool,
}

/// A new complaint as an agent describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintDraft {
    pub category_id: Option<CategoryId>,
    pub description: String,
    pub location: Option<String>,
    /// Where the citizen's location pin put it.
    pub point: Option<ombud_core::geo::GeoPoint>,
    pub language: Language,
    pub priority: Priority,
    /// Messages of the conversation whose photos become the complaint's.
    pub media: Vec<MessageId>,
    /// The problem was told in a voice note (the complaint's source).
    pub voice: bool,
}

impl ComplaintDraft {
    /// The complaint as a store that keeps it elsewhere than the complaints
    /// table makes it (the test panel, the benchmark): new, numbered
    /// `number`, tied to no channel or contact yet.
    pub fn into_complaint(
        self,
        tenant: &TenantId,
        number: ComplaintNumber,
        at: DateTime<Utc>,
    ) -> Complaint {
        Complaint {
            id: ComplaintId::new(),
            tenant_id: tenant.clone(),
            number,
            channel_id: None,
            contact_id: None,
            conversation_id: None,
            category_id: self.category_id,
            description: self.description,
            location: self.location,
            area: None,
            assignee_id: None,
            team: None,
            language: self.language,
            priority: self.priority,
            status: ComplaintStatus::New,
            source: Source::Text,
            created_at: at,
            updated_at: at,
            sla: None,
            point: self.point,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(pub String);

/// The tools every runtime calls, bound by the engine to one tenant, contact and
/// conversation, so an agent cannot reach outside them.
#[async_trait]
pub trait Tools: Send + Sync {
    async fn categories(&self) -> Result<Arc<Vec<Category>>, ToolError>;
    /// Idempotent on `key`: a retried run gets the complaint its first try made.
    async fn create_complaint(
        &self,
        key: &str,
        draft: ComplaintDraft,
    ) -> Result<Complaint, ToolError>;
    /// One of the contact's own complaints by number.
    async fn complaint_status(
        &self,
        number: &ComplaintNumber,
    ) -> Result<Option<Complaint>, ToolError>;
    async fn open_complaints(&self) -> Result<Vec<Complaint>, ToolError>;
    /// Adds the contact's words to one of their own complaints; an error
    /// if it is not theirs.
    async fn add_to_complaint(
        &self,
        number: &ComplaintNumber,
        text: &str,
    ) -> Result<Complaint, ToolError>;
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AgentError {
    #[error("invalid agent configuration: {0}")]
    Config(String),
    #[error("tool failed: {0}")]
    Tool(#[from] ToolError),
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait AgentRuntime: Send + Sync {
    async fn run(&self, input: RunInput, tools: &dyn Tools) -> Result<RunOutput, AgentError>;

    /// The memory a conversation's next session starts from, given what the
    /// last run of the previous one left: by default nothing, so the agent
    /// meets the person afresh and no dialogue is resumed.
    fn new_session(&self, _previous: &Value) -> Value {
        Value::Object(Default::default())
    }

    /// The runtime's worker processes now, for metrics; none for runtimes that
    /// run in Ombud's own process.
    fn workers(&self) -> WorkerCounts {
        WorkerCounts::default()
    }
}

/// A runtime's worker processes (see [`AgentRuntime::workers`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerCounts {
    /// Alive and waiting for their conversation's next message.
    pub warm: usize,
    /// In a run, or being started for one.
    pub busy: usize,
    /// Workers that ended badly so far: after a failed run, or found dead
    /// while warm. Rising fast, it is a crash loop.
    pub crashed: u64,
}
