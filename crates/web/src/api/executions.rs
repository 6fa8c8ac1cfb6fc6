//! `GET /api/v1/conversations/{id}/executions`: the agent runs that answered a
//! conversation. An agent's runs are at `/agents/{id}/executions`.

use axum::extract::{Path, State};
use axum::Json;
use ombud_core::{ConversationId, Scope};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent_types::ExecutionView;
use super::auth::Caller;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_executions))
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
        data: runs.iter().map(ExecutionView::from).collect(),
    }))
}
