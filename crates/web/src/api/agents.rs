//! `/api/v1/agents` and `/api/v1/channels/{id}/deployments`: agents, their
//! immutable versions, their runs, and which version each channel runs.
//! Reading needs `agents:read`; saving a version or deploying, `agents:write`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use ombud_core::{AgentId, AgentVersionId, ChannelId, ExecutionId, Scope};
use ombud_store::{Agent, ExecutionCursor};
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
    let agent = state
        .engine
        .ops()
        .create_agent(&caller.acting(), &caller.tenant.id, &body.name, &body.kind)
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
    let changelog = body.changelog.unwrap_or_default();
    let version = state
        .engine
        .ops()
        .save_agent_version(&caller.acting(), &agent, body.config, &changelog)
        .await?;
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
    let deployment = state
        .engine
        .ops()
        .deploy(&caller.acting(), &caller.tenant.id, &channel, &version)
        .await
        .map_err(|e| match e {
            ombud_store::StoreError::NotFound("agent version") => {
                ApiError::invalid("version_id", "no such version of this tenant's agents")
            }
            other => other.into(),
        })?;
    Ok(created(
        format!("/api/v1/channels/{channel}/deployments"),
        DeploymentView::from(&deployment),
    ))
}
