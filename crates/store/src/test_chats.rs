//! The test panel's conversations: a person on the tenant's team chats with
//! any saved agent version, deployed or not, and no channel sees it.
//!
//! A chat keeps what a conversation keeps between runs (the agent's memory,
//! the person's language, whether it was handed to staff) and the complaints
//! its tools made. Those are test complaints: they live in the chat, numbered
//! `TEST-…`, and never in the complaints table, so the tenant's numbering, its
//! reports, its inbox and its webhooks never see them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{StoreError, StoreResult, Tokens};

/// Most turns one test chat keeps; start another chat after that.
pub const TEST_TURNS_MAX: i64 = 200;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestChat {
    pub id: TestChatId,
    pub tenant_id: TenantId,
    pub agent_id: AgentId,
    pub agent_version_id: AgentVersionId,
    /// The synthetic person and conversation the runtime sees; no channel
    /// has either.
    pub contact_id: ContactId,
    pub conversation_id: ConversationId,
    /// `user:…` or `api:…`.
    pub created_by: String,
    pub agent_state: Value,
    pub language: Option<Language>,
    pub handed_off: bool,
    /// What the chat's tools made, oldest first.
    pub complaints: Vec<TestComplaint>,
    /// How many turns it has had.
    pub turns: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A complaint made in the test panel, with the notes added to it there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestComplaint {
    pub complaint: Complaint,
    /// The key its tool call gave, so a repeated call returns it.
    pub key: String,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One message said in a test chat and what the agent did with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestTurn {
    pub seq: i64,
    pub said: String,
    pub replies: Vec<String>,
    /// The tools it called, as an execution keeps them.
    pub tool_calls: Value,
    pub handoff: bool,
    /// ok, failed or timeout.
    pub status: String,
    pub error: Option<String>,
    /// From the message to the run's end, in milliseconds.
    pub latency_ms: i64,
    pub tokens: Option<Tokens>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewTestChat {
    /// Chosen by the caller, so that what it records names the chat.
    pub id: TestChatId,
    pub version: AgentVersionId,
    pub created_by: String,
    pub at: DateTime<Utc>,
}

/// A turn and what it leaves in its chat, written together.
#[derive(Debug, Clone)]
pub struct TestTurnCommit {
    pub chat: TestChatId,
    /// The chat's turn count the run started from; the commit is refused
    /// (Conflict) if another turn was written meanwhile.
    pub after_turns: i64,
    pub turn: TestTurn,
    pub agent_state: Value,
    pub language: Option<Language>,
    pub handed_off: bool,
    pub complaints: Vec<TestComplaint>,
    /// Recorded with the turn.
    pub audit: crate::Audit,
}

#[async_trait]
pub trait TestChatStore: Send + Sync {
    /// NotFound("agent version") when the version is not the tenant's.
    async fn create_test_chat(
        &self,
        tenant: &TenantId,
        new: NewTestChat,
        audit: crate::Audit,
    ) -> StoreResult<TestChat>;
    async fn test_chat(&self, tenant: &TenantId, id: &TestChatId) -> StoreResult<Option<TestChat>>;
    /// The chat's turns, oldest first.
    async fn test_turns(&self, tenant: &TenantId, id: &TestChatId) -> StoreResult<Vec<TestTurn>>;
    /// The agent's newest test chats, at most `limit`.
    async fn test_chats(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        limit: u32,
    ) -> StoreResult<Vec<TestChat>>;
    /// Writes the turn and the chat's new state, or nothing: NotFound when
    /// the chat is not the tenant's, Conflict when its turn count moved.
    async fn commit_test_turn(
        &self,
        tenant: &TenantId,
        commit: TestTurnCommit,
    ) -> StoreResult<TestChat>;
}

impl NewTestChat {
    pub fn into_chat(self, tenant: &TenantId, agent: AgentId) -> TestChat {
        TestChat {
            id: self.id,
            tenant_id: tenant.clone(),
            agent_id: agent,
            agent_version_id: self.version,
            contact_id: ContactId::new(),
            conversation_id: ConversationId::new(),
            created_by: self.created_by,
            agent_state: serde_json::json!({}),
            language: None,
            handed_off: false,
            complaints: Vec::new(),
            turns: 0,
            created_at: self.at,
            updated_at: self.at,
        }
    }
}

impl TestTurnCommit {
    /// The chat as the commit leaves it.
    pub fn apply(self, mut chat: TestChat) -> TestChat {
        chat.agent_state = self.agent_state;
        chat.language = self.language;
        chat.handed_off = self.handed_off;
        chat.complaints = self.complaints;
        chat.turns = self.turn.seq;
        chat.updated_at = self.turn.created_at;
        chat
    }
}

/// The commit's answer when another turn was written first.
pub(crate) fn turn_moved() -> StoreError {
    StoreError::Conflict {
        field: "test_chat".into(),
        reason: "another message was answered in this chat meanwhile; send yours again".into(),
    }
}
