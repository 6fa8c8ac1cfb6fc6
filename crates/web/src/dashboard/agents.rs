//! Agents (admins and owners): which version each channel runs, deploying and
//! rolling back, every agent's versions, and an agent's recent runs. Agents
//! and versions are saved through the API (docs/agents.md).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_agents::AgentKind;
use ombud_core::*;
use ombud_store::{Agent, AgentVersion, StoreError, AGENT_NAME_MAX};
use serde::Deserialize;

use super::developers::when;
use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// Deployments shown per channel, and runs and test chats on an agent's page.
const HISTORY: u32 = 5;
const RUNS: u32 = 50;
const TEST_CHATS: u32 = 10;

pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// The version it runs, as "agent vN"; the built-in defaults when none.
    pub running: String,
    pub running_id: String,
    pub history: Vec<DeployRow>,
}

pub struct DeployRow {
    pub at: String,
    pub what: String,
    pub actor: String,
}

pub struct VersionRow {
    pub id: String,
    pub number: i64,
    pub label: String,
    pub author: String,
    pub created: String,
    pub changelog: String,
    pub config: String,
}

pub struct AgentRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub versions: Vec<VersionRow>,
}

/// A test chat on its agent's page.
pub struct TestChatRow {
    pub id: String,
    pub label: String,
}

pub struct RunRow {
    pub at: String,
    pub status: String,
    pub duration_ms: i64,
    pub version: String,
    pub tools: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "agents.html")]
struct AgentsPage {
    chrome: Chrome,
    channels: Vec<ChannelRow>,
    agents: Vec<AgentRow>,
    /// Every version a channel may be given, newest first: (id, label).
    choices: Vec<(String, String)>,
    notice: Option<String>,
    kinds: Vec<&'static str>,
    /// Why the new-agent form was refused.
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentPage {
    chrome: Chrome,
    agent: AgentRow,
    runs: Vec<RunRow>,
    test_chats: Vec<TestChatRow>,
    notice: Option<String>,
    /// The new version's form: the configuration as typed, its changelog,
    /// and why it was refused.
    draft: String,
    changelog: String,
    error: Option<String>,
}

fn label(v: &AgentVersion) -> String {
    format!("{} v{}", v.agent_name, v.number)
}

fn version_row(t: &Tenant, v: &AgentVersion) -> VersionRow {
    VersionRow {
        id: v.id.to_string(),
        number: v.number,
        label: label(v),
        author: v.author.clone(),
        created: when(t, v.created_at),
        changelog: v.changelog.clone(),
        config: serde_json::to_string_pretty(v.config.as_ref()).unwrap_or_default(),
    }
}

async fn agent_rows(state: &AppState, t: &Tenant) -> Result<Vec<AgentRow>, PageError> {
    let mut rows = Vec::new();
    for a in state.store.agents(&t.id).await? {
        let versions = state.store.agent_versions(&t.id, &a.id).await?;
        rows.push(AgentRow {
            id: a.id.to_string(),
            name: a.name.clone(),
            kind: a.kind.clone(),
            versions: versions.iter().map(|v| version_row(t, v)).collect(),
        });
    }
    Ok(rows)
}

#[derive(Deserialize)]
pub struct Notice {
    #[serde(default)]
    notice: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    current: Current,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    agents_page(&state, &current, q.notice, None).await
}

async fn agents_page(
    state: &AppState,
    current: &Current,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let t = &current.tenant;
    let agents = agent_rows(state, t).await?;
    let choices = agents
        .iter()
        .flat_map(|a| a.versions.iter().map(|v| (v.id.clone(), v.label.clone())))
        .collect();
    let members = state.store.members(&t.id).await?;
    // `user:<id>` as the member's name, `system` (the deployment made with
    // the channel) as Ombud, keys as they are.
    let who = |actor: &str| {
        let found = actor.strip_prefix("user:").and_then(|id| {
            members.iter().find(|m| m.user.id.as_str() == id).map(|m| {
                if m.user.name.is_empty() {
                    m.user.email.as_str().to_owned()
                } else {
                    m.user.name.clone()
                }
            })
        });
        match (found, actor) {
            (Some(name), _) => name,
            (None, "system") => "Ombud".to_owned(),
            (None, _) => actor.to_owned(),
        }
    };
    let mut channels = Vec::new();
    for c in state.store.channels(&t.id).await? {
        let running = match &c.deployed_version {
            Some(id) => state.store.agent_version(&t.id, id).await?,
            None => None,
        };
        let history = state
            .store
            .deployments(&t.id, &c.id, HISTORY)
            .await?
            .iter()
            .map(|d| DeployRow {
                at: when(t, d.created_at),
                what: format!("{} v{}", d.agent_name, d.version_number),
                actor: who(&d.actor),
            })
            .collect();
        channels.push(ChannelRow {
            id: c.id.to_string(),
            name: c.name.clone(),
            kind: c.kind().as_str().to_owned(),
            running: running
                .as_ref()
                .map_or("the built-in intake agent's defaults".into(), label),
            running_id: running.map(|v| v.id.to_string()).unwrap_or_default(),
            history,
        });
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(html_with(
        status,
        &AgentsPage {
            chrome: Chrome::of(current, "agents"),
            channels,
            agents,
            choices,
            notice,
            kinds: AgentKind::ALL.iter().map(|k| k.as_str()).collect(),
            error,
        },
    ))
}

#[derive(Deserialize)]
pub struct DeployForm {
    channel_id: String,
    version_id: String,
}

/// Deploys (or rolls back to) a version on a channel, from the next message on.
pub async fn deploy(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<DeployForm>,
) -> Result<Redirect, PageError> {
    current.require(Role::Admin)?;
    let bad = |what: &str| PageError::bad_request(format!("no such {what} in this organisation"));
    let channel: ChannelId = form.channel_id.parse().map_err(|_| bad("channel"))?;
    let version: AgentVersionId = form.version_id.parse().map_err(|_| bad("agent version"))?;
    let deployed = state
        .engine
        .ops()
        .deploy(&current.acting(), &current.tenant.id, &channel, &version)
        .await;
    let d = match deployed {
        Ok(d) => d,
        Err(StoreError::NotFound(what)) => return Err(bad(what)),
        Err(e) => return Err(e.into()),
    };
    let notice = format!(
        "{} v{} answers the next message on this channel.",
        d.agent_name, d.version_number
    );
    let notice: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    Ok(Redirect::to(&format!("/app/agents?notice={notice}")))
}

pub async fn show_agent(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let agent = agent_of(&state, &current, &id).await?;
    agent_page(&state, &current, agent, q.notice, None).await
}

pub(super) async fn agent_of(
    state: &AppState,
    current: &Current,
    id: &str,
) -> Result<Agent, PageError> {
    let id: AgentId = id.parse().map_err(|_| PageError::not_found("agent"))?;
    state
        .store
        .agent(&current.tenant.id, &id)
        .await?
        .ok_or_else(|| PageError::not_found("agent"))
}

/// A starting point for a kind's first version.
fn skeleton(kind: &str) -> serde_json::Value {
    match kind {
        "llm" => serde_json::json!({"base_url": "https://", "model": "", "api_key": ""}),
        "process" => serde_json::json!({"command": "/usr/bin/python3", "args": []}),
        _ => serde_json::json!({}),
    }
}

async fn agent_page(
    state: &AppState,
    current: &Current,
    agent: Agent,
    notice: Option<String>,
    refused: Option<(NewVersionForm, String)>,
) -> Result<Response, PageError> {
    let t = &current.tenant;
    let versions = state.store.agent_versions(&t.id, &agent.id).await?;
    let number = |v: &Option<AgentVersionId>| {
        versions
            .iter()
            .find(|x| Some(&x.id) == v.as_ref())
            .map_or(String::new(), |x| format!("v{}", x.number))
    };
    let runs = state
        .store
        .agent_executions(&t.id, &agent.id, None, RUNS)
        .await?
        .iter()
        .map(|e| RunRow {
            at: when(t, e.started_at),
            status: e.status.clone(),
            duration_ms: (e.finished_at - e.started_at).num_milliseconds(),
            version: number(&e.agent_version_id),
            tools: if e.trimmed {
                "(removed by retention)".into()
            } else {
                e.tool_calls
                    .as_array()
                    .map(|calls| {
                        calls
                            .iter()
                            .filter_map(|c| c["name"].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            },
            error: e.error.clone().unwrap_or_default(),
        })
        .collect();
    let test_chats = state
        .store
        .test_chats(&t.id, &agent.id, TEST_CHATS)
        .await?
        .iter()
        .map(|c| TestChatRow {
            id: c.id.to_string(),
            label: format!(
                "{} · {} message{} · {}",
                number(&Some(c.agent_version_id.clone())),
                c.turns,
                if c.turns == 1 { "" } else { "s" },
                when(t, c.created_at)
            ),
        })
        .collect();
    let (draft, changelog, error, status) = match refused {
        Some((form, why)) => (
            form.config,
            form.changelog,
            Some(why),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        None => {
            let newest = versions
                .first()
                .map_or_else(|| skeleton(&agent.kind), |v| v.config.as_ref().clone());
            let text = serde_json::to_string_pretty(&newest).unwrap_or_default();
            (text, String::new(), None, StatusCode::OK)
        }
    };
    Ok(html_with(
        status,
        &AgentPage {
            chrome: Chrome::of(current, "agents"),
            agent: AgentRow {
                id: agent.id.to_string(),
                name: agent.name.clone(),
                kind: agent.kind.clone(),
                versions: versions.iter().map(|v| version_row(t, v)).collect(),
            },
            runs,
            test_chats,
            notice,
            draft,
            changelog,
            error,
        },
    ))
}

#[derive(Deserialize)]
pub struct NewAgentForm {
    name: String,
    kind: String,
}

/// Adds an agent; its page then takes the first version.
pub async fn create_agent(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<NewAgentForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let refuse = |why: String| agents_page(&state, &current, None, Some(why));
    let made = state
        .engine
        .ops()
        .create_agent(
            &current.acting(),
            &current.tenant.id,
            &form.name,
            &form.kind,
        )
        .await;
    match made {
        Ok(agent) => Ok(Redirect::to(&format!("/app/agents/{}", agent.id)).into_response()),
        Err(StoreError::Invalid(v)) if v.field == "name" => {
            refuse(format!(
                "The name must be 1 to {AGENT_NAME_MAX} characters."
            ))
            .await
        }
        Err(StoreError::Invalid(v)) if v.field == "kind" => {
            refuse("Choose intake, llm or process.".into()).await
        }
        Err(StoreError::Conflict { reason, .. }) => refuse(format!("{reason}.")).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct NewVersionForm {
    config: String,
    #[serde(default)]
    changelog: String,
}

/// Saves the agent's next version from the form, checked as the API checks it.
pub async fn save_version(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<NewVersionForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let agent = agent_of(&state, &current, &id).await?;
    let saved = match serde_json::from_str::<serde_json::Value>(&form.config) {
        Err(e) => Err(format!("config: not JSON ({e})")),
        Ok(value) => match state
            .engine
            .ops()
            .save_agent_version(&current.acting(), &agent, value, &form.changelog)
            .await
        {
            Ok(v) => Ok(v),
            Err(StoreError::Invalid(v)) => Err(v.to_string()),
            Err(e) => return Err(e.into()),
        },
    };
    let v = match saved {
        Ok(v) => v,
        Err(why) => return agent_page(&state, &current, agent, None, Some((form, why))).await,
    };
    let notice = format!(
        "Saved {} v{}. Deploy it to a channel on the Agents page.",
        v.agent_name, v.number
    );
    let notice: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    Ok(Redirect::to(&format!("/app/agents/{}?notice={notice}", agent.id)).into_response())
}
