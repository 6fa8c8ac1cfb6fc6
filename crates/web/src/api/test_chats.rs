//! The test panel's API: chat with any saved version of an agent, deployed or
//! not, in a conversation no channel sees. Starting a chat and sending to it
//! need `agents:write` (a message runs the agent, which may cost model
//! tokens); reading one, `agents:read`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use ombud_core::{Scope, Tenant, TestChatId};
use ombud_store::{Agent, TestChat, TestComplaint, TestTurn};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::{created, ApiJson};
use crate::{ApiError, AppState};

/// Longest message a test chat takes, as long as a WhatsApp text.
pub(crate) const TEST_TEXT_MAX: usize = 4096;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_test_chat))
        .routes(routes!(get_test_chat))
        .routes(routes!(send_test_message))
}

/// A conversation with one agent version in the test panel.
#[derive(Serialize, ToSchema)]
pub struct TestChatView {
    #[schema(example = "tch_01JD8Y3M6V4ZB2T9W0XK5Q7R1C")]
    pub id: String,
    pub agent_id: String,
    pub version_id: String,
    /// `user:…` or `api:…`.
    pub created_by: String,
    /// The language the agent settled on for the person.
    pub language: Option<String>,
    /// The agent handed the chat to staff; it takes no more messages.
    pub handed_off: bool,
    /// The test complaints the agent made, numbered `TEST-…`. They are not
    /// complaints of the tenant: no list, report or webhook sees them.
    pub complaints: Vec<TestComplaintView>,
    /// The messages said so far and what the agent did with each, oldest first.
    pub turns: Vec<TestTurnView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct TestComplaintView {
    #[schema(example = "TEST-20261202-0001")]
    pub number: String,
    pub description: String,
    pub location: Option<String>,
    pub category_id: Option<String>,
    pub priority: String,
    pub status: String,
    /// What the person added with `add_to_complaint`.
    pub notes: Vec<String>,
}

/// One message and the run that answered it.
#[derive(Serialize, ToSchema)]
pub struct TestTurnView {
    pub seq: i64,
    pub said: String,
    pub replies: Vec<String>,
    /// Its tool calls in order: name, arguments, result, ok.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: Value,
    pub handoff: bool,
    /// ok, failed or timeout.
    pub status: String,
    pub error: Option<String>,
    /// From the message to the run's end.
    pub latency_ms: i64,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMessageBody {
    /// What the person says.
    #[schema(min_length = 1, max_length = 4096)]
    pub text: String,
}

impl TestChatView {
    fn new(chat: &TestChat, turns: &[TestTurn]) -> Self {
        Self {
            id: chat.id.to_string(),
            agent_id: chat.agent_id.to_string(),
            version_id: chat.agent_version_id.to_string(),
            created_by: chat.created_by.clone(),
            language: chat.language.as_ref().map(|l| l.as_str().to_owned()),
            handed_off: chat.handed_off,
            complaints: chat
                .complaints
                .iter()
                .map(TestComplaintView::from)
                .collect(),
            turns: turns.iter().map(TestTurnView::from).collect(),
            created_at: chat.created_at,
            updated_at: chat.updated_at,
        }
    }
}

impl From<&TestComplaint> for TestComplaintView {
    fn from(t: &TestComplaint) -> Self {
        let c = &t.complaint;
        Self {
            number: c.number.to_string(),
            description: c.description.clone(),
            location: c.location.clone(),
            category_id: c.category_id.as_ref().map(|v| v.to_string()),
            priority: c.priority.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            notes: t.notes.clone(),
        }
    }
}

impl From<&TestTurn> for TestTurnView {
    fn from(t: &TestTurn) -> Self {
        Self {
            seq: t.seq,
            said: t.said.clone(),
            replies: t.replies.clone(),
            tool_calls: t.tool_calls.clone(),
            handoff: t.handoff,
            status: t.status.clone(),
            error: t.error.clone(),
            latency_ms: t.latency_ms,
            tokens_in: t.tokens.map(|k| k.input),
            tokens_out: t.tokens.map(|k| k.output),
            created_at: t.created_at,
        }
    }
}

/// A message for a test chat: not blank, at most [`TEST_TEXT_MAX`] characters.
pub(crate) fn checked_text(raw: &str) -> Result<String, ApiError> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > TEST_TEXT_MAX || text.contains('\0') {
        return Err(ApiError::invalid(
            "text",
            format!("must be 1 to {TEST_TEXT_MAX} characters, without NUL"),
        ));
    }
    Ok(text.to_owned())
}

/// Starts a test chat with version `number` (as the path gives it) of the
/// tenant's agent, for `acting`. The dashboard starts them the same way.
pub(crate) async fn start(
    state: &AppState,
    acting: &ombud_engine::Acting,
    tenant: &Tenant,
    agent: &Agent,
    number: &str,
) -> Result<TestChat, ApiError> {
    let number: i64 = number
        .parse()
        .map_err(|_| ApiError::not_found("agent version"))?;
    let version = state
        .store
        .agent_versions(&tenant.id, &agent.id)
        .await?
        .into_iter()
        .find(|v| v.number == number)
        .ok_or_else(|| ApiError::not_found("agent version"))?;
    Ok(state.engine.ops().start_test_chat(acting, &version).await?)
}

/// Sends one message to a test chat and waits for the agent's answer.
pub(crate) async fn send(
    state: &AppState,
    acting: &ombud_engine::Acting,
    tenant: &Tenant,
    chat: &str,
    text: &str,
) -> Result<(TestChat, TestTurn), ApiError> {
    let chat: TestChatId = chat.parse().map_err(|_| ApiError::not_found("test chat"))?;
    let text = checked_text(text)?;
    let tenant = Arc::new(tenant.clone());
    Ok(state
        .engine
        .test_turn(acting, &tenant, &chat, &text)
        .await?)
}

/// Starts a conversation with this version, deployed or not, that no channel
/// sees. Send it messages with `POST /test-chats/{id}/messages`.
#[utoipa::path(post, path = "/agents/{id}/versions/{number}/test-chats", tag = "agents",
    params(("id" = String, Path), ("number" = i64, Path, minimum = 1),
           ("Idempotency-Key" = Option<String>, Header, description = "Repeat a POST safely")),
    responses((status = 201, body = TestChatView)),
    security(("api_key" = ["agents:write"]), ("session" = [])))]
async fn start_test_chat(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let agent = super::agents::load_agent(&state, &caller, &id).await?;
    let chat = start(&state, &caller.acting(), &caller.tenant, &agent, &number).await?;
    Ok(created(
        format!("/api/v1/test-chats/{}", chat.id),
        TestChatView::new(&chat, &[]),
    ))
}

/// A test chat with its turns: what was said, the replies, the tool calls,
/// the latency and the tokens of each run.
#[utoipa::path(get, path = "/test-chats/{id}", tag = "agents",
    params(("id" = String, Path)),
    responses((status = 200, body = TestChatView)),
    security(("api_key" = ["agents:read"]), ("session" = [])))]
async fn get_test_chat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TestChatView>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let id: TestChatId = id.parse().map_err(|_| ApiError::not_found("test chat"))?;
    let chat = state
        .store
        .test_chat(&caller.tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("test chat"))?;
    let turns = state.store.test_turns(&caller.tenant.id, &id).await?;
    Ok(Json(TestChatView::new(&chat, &turns)))
}

/// Runs the chat's version on the message, with the same runtime and tools a
/// channel would use, and answers with the turn when the run ends. Nothing is
/// sent anywhere; complaints it makes are test complaints. 422 on
/// `test_chat` once the chat was handed to staff or is full; 409 when
/// another message of the chat was answered meanwhile.
#[utoipa::path(post, path = "/test-chats/{id}/messages", tag = "agents", request_body = TestMessageBody,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Repeat a POST safely")),
    responses((status = 201, body = TestTurnView)),
    security(("api_key" = ["agents:write"]), ("session" = [])))]
async fn send_test_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TestMessageBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let (chat, turn) = send(&state, &caller.acting(), &caller.tenant, &id, &body.text).await?;
    Ok(created(
        format!("/api/v1/test-chats/{}", chat.id),
        TestTurnView::from(&turn),
    ))
}
