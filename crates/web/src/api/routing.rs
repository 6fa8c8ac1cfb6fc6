//! Areas, teams and assignment rules over the API: read with
//! `complaints:read`, replaced by admins in a session, and tried on a
//! sample complaint (which rule it would hit, and who would take it).

use axum::extract::State;
use axum::Json;
use ombud_core::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::ApiJson;
use super::routing_types::*;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_areas, set_areas))
        .routes(routes!(get_teams, set_teams))
        .routes(routes!(get_assignment, set_assignment))
        .routes(routes!(try_assignment))
}

/// The area catalogue (empty until set).
#[utoipa::path(get, path = "/settings/areas", tag = "complaints",
    responses((status = 200, body = AreasBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_areas(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AreasBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let r = state.engine.ops().routing(&caller.tenant.id).await?;
    Ok(Json(AreasBody::of(r.areas)))
}

/// Replaces the area catalogue (admins). An area a rule matches on cannot
/// be taken out.
#[utoipa::path(put, path = "/settings/areas", tag = "complaints",
    request_body = AreasBody,
    responses((status = 200, body = AreasBody)),
    security(("session" = [])))]
async fn set_areas(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AreasBody>,
) -> Result<Json<AreasBody>, ApiError> {
    caller.require_admin()?;
    let areas = body.areas()?;
    let saved = state
        .engine
        .ops()
        .set_areas(&caller.acting(), &caller.tenant.id, areas)
        .await?;
    Ok(Json(AreasBody::of(saved)))
}

/// The teams (none until set).
#[utoipa::path(get, path = "/settings/teams", tag = "complaints",
    responses((status = 200, body = TeamsBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_teams(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TeamsBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let r = state.engine.ops().routing(&caller.tenant.id).await?;
    Ok(Json(TeamsBody::of(r.teams)))
}

/// Replaces the teams (admins). A team a rule sends complaints to cannot
/// be taken out; a capacity raised lets waiting complaints through at once.
#[utoipa::path(put, path = "/settings/teams", tag = "complaints",
    request_body = TeamsBody,
    responses((status = 200, body = TeamsBody)),
    security(("session" = [])))]
async fn set_teams(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TeamsBody>,
) -> Result<Json<TeamsBody>, ApiError> {
    caller.require_admin()?;
    let teams = body.teams()?;
    let saved = state
        .engine
        .ops()
        .set_teams(&caller.acting(), &caller.tenant.id, teams)
        .await?;
    Ok(Json(TeamsBody::of(saved)))
}

/// The assignment rules (none until set: complaints wait for staff).
#[utoipa::path(get, path = "/settings/assignment", tag = "complaints",
    responses((status = 200, body = AssignmentBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_assignment(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AssignmentBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let r = state.engine.ops().routing(&caller.tenant.id).await?;
    Ok(Json(AssignmentBody::of(r.assignment)))
}

/// Replaces the assignment rules (admins). New complaints are routed by
/// them; complaints already filed stay where they are.
#[utoipa::path(put, path = "/settings/assignment", tag = "complaints",
    request_body = AssignmentBody,
    responses((status = 200, body = AssignmentBody)),
    security(("session" = [])))]
async fn set_assignment(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AssignmentBody>,
) -> Result<Json<AssignmentBody>, ApiError> {
    caller.require_admin()?;
    let assignment = body.assignment()?;
    let saved = state
        .engine
        .ops()
        .set_assignment(&caller.acting(), &caller.tenant.id, assignment)
        .await?;
    Ok(Json(AssignmentBody::of(saved)))
}

/// Tries the rules on a sample complaint; nothing is changed.
#[utoipa::path(post, path = "/settings/assignment/try", tag = "complaints",
    request_body = TryBody,
    responses((status = 200, body = TryView)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn try_assignment(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TryBody>,
) -> Result<Json<TryView>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let tried = state
        .engine
        .ops()
        .try_route(&caller.tenant, body.sample()?)
        .await?;
    Ok(Json(TryView::of(tried)))
}
