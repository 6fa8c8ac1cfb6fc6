//! The test panel (admins and owners): chat with any version of an agent,
//! deployed or not, and see each run's replies, tool calls, latency and
//! tokens. It runs through the same functions as the API's test chats.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::*;
use ombud_store::{TestChat, TestTurn};
use serde::Deserialize;

use super::developers::when;
use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use crate::api::test_chats::{self as api, TEST_TEXT_MAX};
use crate::AppState;

pub struct TurnRow {
    pub seq: i64,
    pub said: String,
    pub replies: Vec<String>,
    pub at: String,
    pub status: String,
    pub latency_ms: i64,
    /// "in 120 · out 24", or empty when the runtime counted none.
    pub tokens: String,
    pub tools: Vec<ToolRow>,
    pub handoff: bool,
    pub error: String,
}

pub struct ToolRow {
    pub name: String,
    pub ok: bool,
    /// The call's arguments and result, pretty JSON.
    pub detail: String,
}

pub struct ComplaintRow {
    pub number: String,
    pub description: String,
    pub location: String,
    pub notes: Vec<String>,
}

#[derive(Template)]
#[template(path = "test_chat.html")]
struct TestChatPage {
    chrome: Chrome,
    chat_id: String,
    agent_id: String,
    agent_name: String,
    label: String,
    number: i64,
    handed_off: bool,
    turns: Vec<TurnRow>,
    complaints: Vec<ComplaintRow>,
    draft: String,
    error: Option<String>,
    max: usize,
}

#[derive(Deserialize)]
pub struct MessageForm {
    text: String,
}

/// Starts a test chat with version `number` of the agent and opens it.
pub async fn start(
    State(state): State<AppState>,
    current: Current,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let agent = super::agents::agent_of(&state, &current, &id).await?;
    let chat = api::start(&state, &current.acting(), &current.tenant, &agent, &number).await?;
    Ok(Redirect::to(&format!("/app/test-chats/{}", chat.id)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let chat = chat_of(&state, &current, &id).await?;
    page(&state, &current, chat, None).await
}

/// Runs the message and shows the chat with its answer.
pub async fn send(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<MessageForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let chat = chat_of(&state, &current, &id).await?;
    match api::send(&state, &current.acting(), &current.tenant, &id, &form.text).await {
        Ok((chat, turn)) => Ok(Redirect::to(&format!(
            "/app/test-chats/{}#turn-{}",
            chat.id, turn.seq
        ))
        .into_response()),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            page(&state, &current, chat, Some((form.text, e.message))).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn chat_of(state: &AppState, current: &Current, id: &str) -> Result<TestChat, PageError> {
    let id: TestChatId = id.parse().map_err(|_| PageError::not_found("test chat"))?;
    state
        .store
        .test_chat(&current.tenant.id, &id)
        .await?
        .ok_or_else(|| PageError::not_found("test chat"))
}

async fn page(
    state: &AppState,
    current: &Current,
    chat: TestChat,
    refused: Option<(String, String)>,
) -> Result<Response, PageError> {
    let t = &current.tenant;
    let version = state
        .store
        .agent_version(&t.id, &chat.agent_version_id)
        .await?
        .ok_or_else(|| PageError::not_found("agent version"))?;
    let turns = state.store.test_turns(&t.id, &chat.id).await?;
    let (draft, error, status) = match refused {
        Some((text, why)) => (text, Some(why), StatusCode::UNPROCESSABLE_ENTITY),
        None => (String::new(), None, StatusCode::OK),
    };
    Ok(html_with(
        status,
        &TestChatPage {
            chrome: Chrome::of(current, "agents"),
            chat_id: chat.id.to_string(),
            agent_id: chat.agent_id.to_string(),
            agent_name: version.agent_name.clone(),
            label: format!("{} v{}", version.agent_name, version.number),
            number: version.number,
            handed_off: chat.handed_off,
            turns: turns.iter().map(|x| turn_row(t, x)).collect(),
            complaints: chat
                .complaints
                .iter()
                .map(|c| ComplaintRow {
                    number: c.complaint.number.to_string(),
                    description: c.complaint.description.clone(),
                    location: c.complaint.location.clone().unwrap_or_default(),
                    notes: c.notes.clone(),
                })
                .collect(),
            draft,
            error,
            max: TEST_TEXT_MAX,
        },
    ))
}

fn turn_row(t: &Tenant, turn: &TestTurn) -> TurnRow {
    let tools = turn
        .tool_calls
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|c| ToolRow {
                    name: c["name"].as_str().unwrap_or("?").to_owned(),
                    ok: c["ok"].as_bool().unwrap_or(false),
                    detail: serde_json::to_string_pretty(&serde_json::json!({
                        "arguments": c["arguments"], "result": c["result"],
                    }))
                    .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    TurnRow {
        seq: turn.seq,
        said: turn.said.clone(),
        replies: turn.replies.clone(),
        at: when(t, turn.created_at),
        status: turn.status.clone(),
        latency_ms: turn.latency_ms,
        tokens: turn
            .tokens
            .map(|k| format!("tokens in {} · out {}", k.input, k.output))
            .unwrap_or_default(),
        tools,
        handoff: turn.handoff,
        error: turn.error.clone().unwrap_or_default(),
    }
}
