//! `GET /api/v1/conversations/{id}/executions`: the agent runs that answered a
//! conversation. (Agents, versions and deployments get their routes with the
//! agent platform.)

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use ombud_core::{ConversationId, Scope};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_executions))
}

/// One agent run over a batch of the conversation's inbound messages.
#[derive(Serialize, ToSchema)]
pub struct ExecutionView {
    pub id: String,
    pub agent_version_id: Option<String>,
    /// The inbound messages it answered, by their position in the conversation.
    pub from_seq: i64,
    pub to_seq: i64,
    /// ok or failed.
    pub status: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ExecutionList {
    pub data: Vec<ExecutionView>,
}

/// The conversation's agent runs, oldest first.
#[utoipa::path(get, path = "/conversations/{id}/executions", tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 200, body = ExecutionList)),
    security(("api_key" = ["agents:read"]), ("session" = [])))]
async fn list_executions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExecutionList>, ApiError> {
    caller.require(Scope::AgentsRead)?;
    let id: ConversationId = id
        .parse()
        .map_err(|_| ApiError::not_found("conversation"))?;
    state
        .store
        .conversation(&caller.tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    let runs = state.store.executions(&caller.tenant.id, &id).await?;
    Ok(Json(ExecutionList {
        data: runs
            .iter()
            .map(|e| ExecutionView {
                id: e.id.to_string(),
                agent_version_id: e.agent_version_id.as_ref().map(|v| v.to_string()),
                from_seq: e.from_seq,
                to_seq: e.to_seq,
                status: e.status.clone(),
                error: e.error.clone(),
                attempts: e.attempts,
                started_at: e.started_at,
                finished_at: e.finished_at,
            })
            .collect(),
    }))
}
