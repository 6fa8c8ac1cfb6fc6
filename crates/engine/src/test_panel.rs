//! The test panel: one message of a test chat, run by the same runtime a
//! channel would use for the chat's version, with tools whose effects stay in
//! the chat. Nothing is queued, sent or written to the outbox: the replies are
//! the request's answer, and complaints the agent makes are test complaints,
//! numbered `TEST-…` and kept in the chat (see `ombud_store::test_chats`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_agents::{ComplaintDraft, RunInput, ToolError, Tools};
use ombud_core::*;
use ombud_store::*;

use crate::Runtimes;

/// What test complaints are numbered with, so nobody takes one for real.
const TEST_PREFIX: &str = "TEST";

pub(crate) struct TestPanel<'a> {
    pub store: &'a dyn Store,
    pub runtimes: &'a Runtimes,
    pub clock: &'a dyn Clock,
}

impl TestPanel<'_> {
    /// Runs `text` as the chat's next message and records the turn. Invalid
    /// (`test_chat`) when the chat is full or was handed to staff; Conflict
    /// when another message of the chat was answered meanwhile.
    pub async fn turn(
        &self,
        acting: &ombud_core::audit::Acting,
        tenant: &Arc<Tenant>,
        chat: &TestChatId,
        text: &str,
    ) -> StoreResult<(TestChat, TestTurn)> {
        let chat = self
            .store
            .test_chat(&tenant.id, chat)
            .await?
            .ok_or(StoreError::NotFound("test chat"))?;
        let refuse =
            |reason: String| StoreError::Invalid(ValidationError::new("test_chat", reason));
        if chat.handed_off {
            return Err(refuse(
                "was handed to staff, so the agent stays silent now, as it would on a channel; start another chat".into(),
            ));
        }
        if chat.turns >= TEST_TURNS_MAX {
            return Err(refuse(format!(
                "has had {TEST_TURNS_MAX} messages; start another chat"
            )));
        }
        let version = self
            .store
            .agent_version(&tenant.id, &chat.agent_version_id)
            .await?
            .ok_or(StoreError::NotFound("agent version"))?;
        let now = self.clock.now();
        let seq = chat.turns + 1;
        let tools = TestTools {
            store: self.store,
            tenant,
            chat: &chat,
            now,
            made: Mutex::new(chat.complaints.clone()),
        };
        let input = run_input(tenant, &chat, &version, text, now);
        let started = Instant::now();
        let result = match self.runtimes.get(&version.kind) {
            Some(runtime) => runtime.run(input, &tools).await.map_err(|e| e.to_string()),
            None => Err(format!("no runtime for agent kind {:?}", version.kind)),
        };
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let mut turn = TestTurn {
            seq,
            said: text.to_owned(),
            replies: Vec::new(),
            tool_calls: serde_json::json!([]),
            handoff: false,
            status: "ok".into(),
            error: None,
            latency_ms,
            tokens: None,
            created_at: self.clock.now(),
        };
        let (agent_state, language) = match result {
            Ok(out) => {
                turn.replies = out.replies.into_iter().map(|r| r.text).collect();
                turn.tool_calls = serde_json::to_value(&out.tool_calls).unwrap_or_default();
                turn.handoff = out.handoff;
                turn.tokens = out.tokens;
                if let Some(f) = out.failure {
                    turn.status = if f.timeout { "timeout" } else { "failed" }.into();
                    turn.error = Some(f.error);
                }
                (out.state, out.language.or(chat.language.clone()))
            }
            Err(error) => {
                turn.status = "failed".into();
                turn.error = Some(error);
                (chat.agent_state.clone(), chat.language.clone())
            }
        };
        let commit = TestTurnCommit {
            chat: chat.id.clone(),
            after_turns: chat.turns,
            turn: turn.clone(),
            agent_state,
            language,
            handed_off: turn.handoff,
            // What the tools made is kept even when the run failed after,
            // as a channel's run keeps the complaints it created.
            complaints: tools
                .made
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            audit: vec![acting
                .entry(
                    &tenant.id,
                    now,
                    "test_chat.message_sent",
                    ombud_core::audit::Target::new("test_chat", &chat.id, None),
                )
                .with_changes([ombud_core::audit::FieldChange::set("turn", seq)])],
        };
        let chat = self.store.commit_test_turn(&tenant.id, commit).await?;
        Ok((chat, turn))
    }
}

/// What the runtime is given: the chat's person, conversation and memory, and
/// the message as if it had come in on a channel.
fn run_input(
    tenant: &Arc<Tenant>,
    chat: &TestChat,
    version: &AgentVersion,
    text: &str,
    now: DateTime<Utc>,
) -> RunInput {
    let seq = chat.turns + 1;
    // The chat has no channel; this id names none.
    let channel_id = ChannelId::new();
    let contact = Contact {
        id: chat.contact_id.clone(),
        tenant_id: tenant.id.clone(),
        channel_id: channel_id.clone(),
        external_id: format!("test:{}", chat.id),
        profile_name: Some("Test panel".into()),
        language: chat.language.clone(),
        first_seen_at: chat.created_at,
        last_seen_at: now,
        messages_in: seq,
        messages_out: 0,
        block: None,
    };
    let message = Message {
        id: MessageId::new(),
        tenant_id: tenant.id.clone(),
        channel_id,
        conversation_id: chat.conversation_id.clone(),
        direction: Direction::Inbound,
        seq,
        provider_id: None,
        kind: MessageKind::Text,
        body: text.to_owned(),
        in_reply_to: None,
        status: DeliveryStatus::Received,
        error: None,
        created_at: now,
        payload: None,
        choices: None,
        sender: None,
        session: 1,
        media: None,
    };
    RunInput {
        tenant: tenant.clone(),
        contact,
        conversation_id: chat.conversation_id.clone(),
        state: chat.agent_state.clone(),
        messages: vec![message],
        config: version.config.clone(),
        agent: Some(version.agent_id.clone()),
        version: Some(version.id.clone()),
        now,
    }
}

/// The agent tools for a test chat: categories are the tenant's, and every
/// complaint the agent makes, looks up or adds to is one of the chat's.
struct TestTools<'a> {
    store: &'a dyn Store,
    tenant: &'a Tenant,
    chat: &'a TestChat,
    now: DateTime<Utc>,
    /// The chat's complaints, with those this run makes.
    made: Mutex<Vec<TestComplaint>>,
}

impl TestTools<'_> {
    fn made(&self) -> std::sync::MutexGuard<'_, Vec<TestComplaint>> {
        self.made.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Tools for TestTools<'_> {
    async fn categories(&self) -> Result<Arc<Vec<Category>>, ToolError> {
        self.store
            .categories(&self.tenant.id)
            .await
            .map_err(|e| ToolError(e.to_string()))
    }

    async fn create_complaint(&self, key: &str, d: ComplaintDraft) -> Result<Complaint, ToolError> {
        if let Some(category) = &d.category_id {
            if !self.categories().await?.iter().any(|c| &c.id == category) {
                return Err(ToolError("no such category".into()));
            }
        }
        let prefix = ComplaintPrefix::parse(TEST_PREFIX).map_err(|e| ToolError(e.to_string()))?;
        let mut made = self.made();
        if let Some(earlier) = made.iter().find(|m| m.key == key) {
            return Ok(earlier.complaint.clone());
        }
        let n = u32::try_from(made.len() + 1).unwrap_or(u32::MAX);
        let number = ComplaintNumber::new(&prefix, self.tenant.local_date(self.now), n);
        let mut complaint = d.into_complaint(&self.tenant.id, number, self.now);
        complaint.contact_id = Some(self.chat.contact_id.clone());
        complaint.conversation_id = Some(self.chat.conversation_id.clone());
        made.push(TestComplaint {
            complaint: complaint.clone(),
            key: key.to_owned(),
            notes: Vec::new(),
        });
        Ok(complaint)
    }

    async fn complaint_status(&self, n: &ComplaintNumber) -> Result<Option<Complaint>, ToolError> {
        Ok(self
            .made()
            .iter()
            .find(|m| &m.complaint.number == n)
            .map(|m| m.complaint.clone()))
    }

    async fn open_complaints(&self) -> Result<Vec<Complaint>, ToolError> {
        Ok(self
            .made()
            .iter()
            .rev()
            .filter(|m| m.complaint.status.is_open())
            .take(10)
            .map(|m| m.complaint.clone())
            .collect())
    }

    async fn add_to_complaint(
        &self,
        n: &ComplaintNumber,
        text: &str,
    ) -> Result<Complaint, ToolError> {
        let mut made = self.made();
        let theirs = made
            .iter_mut()
            .find(|m| &m.complaint.number == n)
            .ok_or_else(|| ToolError(format!("the person has no complaint numbered {n}")))?;
        theirs.notes.push(text.to_owned());
        theirs.complaint.updated_at = self.now;
        Ok(theirs.complaint.clone())
    }
}
