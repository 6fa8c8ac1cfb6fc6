//! `/api/v1/agents` and `/api/v1/channels/{id}/deployments`: agents, their
//! immutable versions, their runs, and which version each channel runs.
//! Reading needs `agents:read`; saving a version or deploying, `agents:write`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use ombud_agents::{AgentKind, ConfigError};
use ombud_core::{AgentId, AgentVersionId, ChannelId, ExecutionId, Scope, TenantId};
use ombud_store::{Agent, ExecutionCursor, NewAgent, NewDeployment, NewVersion, AGENT_NAME_MAX};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_types::*;
use super::auth::Caller;
use super::directory::PageParams;
use super::extract::{created, limit, tagged, ApiJson, ApiQuery, Page};
use crate::{ApiError, AppState};

/// How many deployments a channel's history shows.
const HISTORY: u32 = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent))
        .routes(routes!(list_versions, create_version))
        .routes(routes!(get_version))
        .routes(routes!(agent_executions))
        .routes(routes!(list_deployments, deploy))
}

pub(crate) async fn load_agent(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Agent, ApiError> {
    let id: AgentId = id.parse().map_err(|_| ApiError::not_found("agent"))?;
    state
        .store
        .agent(&caller.tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))
}

async fn load_channel(state: &AppState, caller: &Caller, id: &str) -> Result<ChannelId, ApiError> {
    let id: ChannelId = id.parse().map_err(|_| ApiError::not_found("channel"))?;
    state
        .store
        .channel(&id)
        .await?
        .filter(|c| c.tenant_id == caller.tenant.id)
        .map(|c| c.id.clone())
        .ok_or_else(|| ApiError::not_found("channel"))
}

/// Checks a version's configuration for its kind and returns what to save:
/// defaults filled in, an LLM's plain `api_key` sealed, its URL checked
/// against the outbound policy. The dashboard saves versions the same way.
pub(crate) async fn checked_config(
    state: &AppState,
    tenant: &TenantId,
    kind: &str,
    mut config: Value,
) -> Result<Value, ApiError> {
    let refused = |e: ConfigError| {
        let field = match e.field.as_str() {
            "config" => "config".to_owned(),
            f => format!("config.{f}"),
        };
        ApiError::invalid(&field, e.reason)
    };
    let kind = AgentKind::parse(kind).map_err(|e| ApiError::invalid("kind", e.reason))?;
    if kind == AgentKind::Llm {
        if let Some(plain) = config.as_object_mut().and_then(|c| c.remove("api_key")) {
            let Value::String(plain) = plain else {
                return Err(ApiError::invalid("config.api_key", "must be a string"));
            };
            let seal = state.engine.seal_key().ok_or_else(|| {
                ApiError::invalid(
                    "config.api_key",
                    "this server has no key to seal secrets with",
                )
            })?;
            config["api_key_sealed"] = Value::String(seal.seal(&plain, tenant.as_str()));
        }
    }
    let full = ombud_agents::config::validate(kind, &config).map_err(refused)?;
    if kind == AgentKind::Process {
        let command = full["command"].as_str().unwrap_or_default();
        let why = match state.engine.process_settings() {
            Some(settings) => settings.commands.refuses(command),
            None => Some("this server runs no process agents".to_owned()),
        };
        if let Some(why) = why {
            return Err(ApiError::invalid("config.command", why));
        }
    }
    if kind == AgentKind::Llm {
        if let Some(url) = full["base_url"].as_str() {
            state
                .engine
                .outbound()
                .check_url(url)
                .await
                .map_err(|e| ApiError::invalid("config.base_url", e.to_string()))?;
        }
    }
    Ok(full)
}

/// The tenant's agents by name.
#[utoipa::path(get, path = "/agents", tag = "agents",
    responses((status = 200, body = Page<AgentView>)),
    security(("api_key" = ["agents:read"]), ("session" = [])))]
async fn list_agents(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<AgentView>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let agents = state.store.agents(&caller.tenant.id).await?;
    Ok(Json(Page {
        data: agents.iter().map(AgentView::from).collect(),
        next_cursor: None,
    }))
}

/// Adds an agent; save its first version next.
#[utoipa::path(post, path = "/agents", tag = "agents", request_body = NewAgentBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a POST safely")),
    responses((status = 201, body = AgentView), (status = 409, body = crate::error::ErrorBody)),
    security(("api_key" = ["agents:write"]), ("session" = [])))]
async fn create_agent(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewAgentBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > AGENT_NAME_MAX {
        return Err(ApiError::invalid(
            "name",
            format!("must be 1 to {AGENT_NAME_MAX} characters"),
        ));
    }
    let kind = AgentKind::parse(&body.kind).map_err(|e| ApiError::invalid("kind", e.reason))?;
    let new = NewAgent {
        name: name.to_owned(),
        kind: kind.as_str().to_owned(),
    };
    let agent = state
        .store
        .create_agent(&caller.tenant.id, new, ombud_store::stored_now())
        .await?;
    Ok(created(
        format!("/api/v1/agents/{}", agent.id),
        AgentView::from(&agent),
    ))
}

/// One agent, with an ETag.
#[utoipa::path(get, path = "/agents/{id}", tag = "agents",
    params(("id" = String, Path)),
    responses((status = 200, body = AgentView, headers(("ETag" = String))), (status = 304, description = "Not modified")),
    security(("api_key" = ["agents:read"]), ("session" = [])))]
async fn get_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let agent = load_agent(&state, &caller, &id).await?;
    Ok(tagged(&headers, &AgentView::from(&agent)))
}

/// The agent's versions, newest first.
#[utoipa::path(get, path = "/agents/{id}/versions", tag = "agents",
    params(("id" = String, Path)),
    responses((status = 200, body = Page<VersionView>)),
    security(("api_key" = ["agents:read"]), ("session" = [])))]
async fn list_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Page<VersionView>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let agent = load_agent(&state, &caller, &id).await?;
    let versions = state
        .store
        .agent_versions(&caller.tenant.id, &agent.id)
        .await?;
    Ok(Json(Page {
        data: versions.iter().map(VersionView::from).collect(),
        next_cursor: None,
    }))
}

/// Saves the agent's next version. The configuration is checked for the
/// agent's kind; an error names the field (`config.<field>`).
#[utoipa::path(post, path = "/agents/{id}/versions", tag = "agents", request_body = NewVersionBody,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Repeat a POST safely")),
    responses((status = 201, body = VersionView)),
    security(("api_key" = ["agents:write"]), ("session" = [])))]
async fn create_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewVersionBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let agent = load_agent(&state, &caller, &id).await?;
    let changelog = body.changelog.unwrap_or_default().trim().to_owned();
    if changelog.chars().count() > 2000 {
        return Err(ApiError::invalid(
            "changelog",
            "is longer than 2000 characters",
        ));
    }
    let config = checked_config(&state, &caller.tenant.id, &agent.kind, body.config).await?;
    let new = NewVersion {
        config,
        changelog,
        author: caller.actor(),
    };
    let version = state
        .store
        .add_agent_version(&caller.tenant.id, &agent.id, new, ombud_store::stored_now())
        .await?;
    state.engine.events_written();
    Ok(created(
        format!("/api/v1/agents/{}/versions/{}", agent.id, version.number),
        VersionView::from(&version),
    ))
}

/// One version by its number.
#[utoipa::path(get, path = "/agents/{id}/versions/{number}", tag = "agents",
    params(("id" = String, Path), ("number" = i64, Path, minimum = 1)),
    responses((status = 200, body = VersionView, headers(("ETag" = String))), (status = 304, description = "Not modified")),
    security(("api_key" = ["agents:read"]), ("session" = [])))]
async fn get_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let agent = load_agent(&state, &caller, &id).await?;
    let number: i64 = number
        .parse()
        .map_err(|_| ApiError::not_found("agent version"))?;
    let versions = state
        .store
        .agent_versions(&caller.tenant.id, &agent.id)
        .await?;
    let version = versions
        .iter()
        .find(|v| v.number == number)
        .ok_or_else(|| ApiError::not_found("agent version"))?;
    Ok(tagged(&headers, &VersionView::from(version)))
}

fn cursor_text(c: &ExecutionCursor) -> String {
    format!("{}.{}", c.started_at.timestamp_micros(), c.id)
}

fn parse_cursor(raw: &str) -> Result<ExecutionCursor, ApiError> {
    let bad = || ApiError::invalid("cursor", "is not a page position from this list");
    let (micros, id) = raw.split_once('.').ok_or_else(bad)?;
    Ok(ExecutionCursor {
        started_at: micros
            .parse()
            .ok()
            .and_then(chrono::DateTime::from_timestamp_micros)
            .ok_or_else(bad)?,
        id: id.parse::<ExecutionId>().map_err(|_| bad())?,
    })
}

/// The agent's runs over all its versions, newest first.
#[utoipa::path(get, path = "/agents/{id}/executions", tag = "agents",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = Page<ExecutionView>)),
    security(("api_key" = ["agents:read"]), ("session" = [])))]
async fn agent_executions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<Page<ExecutionView>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let agent = load_agent(&state, &caller, &id).await?;
    let limit = limit(q.limit)?;
    let after = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let runs = state
        .store
        .agent_executions(&caller.tenant.id, &agent.id, after, limit + 1)
        .await?;
    let views: Vec<ExecutionView> = runs.iter().map(ExecutionView::from).collect();
    Ok(Json(Page::of(views, limit, |e| {
        cursor_text(&ExecutionCursor {
            started_at: e.started_at,
            id: e.id.parse().unwrap_or_else(|_| ExecutionId::new()),
        })
    })))
}

/// The channel's deployments, newest first (the first is the active one).
#[utoipa::path(get, path = "/channels/{id}/deployments", tag = "agents",
    params(("id" = String, Path)),
    responses((status = 200, body = Page<DeploymentView>)),
    security(("api_key" = ["agents:read"]), ("session" = [])))]
async fn list_deployments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Page<DeploymentView>>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let channel = load_channel(&state, &caller, &id).await?;
    let history = state
        .store
        .deployments(&caller.tenant.id, &channel, HISTORY)
        .await?;
    Ok(Json(Page {
        data: history.iter().map(DeploymentView::from).collect(),
        next_cursor: None,
    }))
}

/// Runs the version on the channel from the next message on; a run already
/// going finishes on the version it started with. Deploying an earlier
/// version is the rollback.
#[utoipa::path(post, path = "/channels/{id}/deployments", tag = "agents", request_body = DeployBody,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Repeat a POST safely")),
    responses((status = 201, body = DeploymentView)),
    security(("api_key" = ["agents:write"]), ("session" = [])))]
async fn deploy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeployBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::AgentsWrite)?;
    let channel = load_channel(&state, &caller, &id).await?;
    let version: AgentVersionId = body
        .version_id
        .parse()
        .map_err(|_| ApiError::invalid("version_id", "is not an agent version id"))?;
    let new = NewDeployment {
        channel_id: channel.clone(),
        version_id: version,
        actor: caller.actor(),
        at: ombud_store::stored_now(),
    };
    let deployment = state
        .store
        .deploy(&caller.tenant.id, new)
        .await
        .map_err(|e| match e {
            ombud_store::StoreError::NotFound("agent version") => {
                ApiError::invalid("version_id", "no such version of this tenant's agents")
            }
            other => other.into(),
        })?;
    state.engine.events_written();
    Ok(created(
        format!("/api/v1/channels/{channel}/deployments"),
        DeploymentView::from(&deployment),
    ))
}
