//! Field verification over the API: the tenant's settings (read with
//! `complaints:read`, replaced by admins in a session), and a verdict on a
//! complaint waiting for verification (`complaints:write`).

use axum::extract::{Path, State};
use axum::Json;
use ombud_core::verification::{Outcome, VerificationSettings};
use ombud_core::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Via};
use super::complaint_types::ComplaintView;
use super::extract::ApiJson;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, set_settings))
        .routes(routes!(verify))
}

/// Whether new complaints wait for verification on the ground, and when
/// the assignee is reminded and the complaint escalated.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationBody {
    /// New complaints start `pending_validation`.
    pub enabled: bool,
    /// Hours pending before the assignee is reminded (1 to 720; default 12).
    #[schema(minimum = 1, maximum = 720)]
    pub remind_after_hours: u32,
    /// Hours pending before the complaint is escalated (more than the
    /// reminder's; default 24).
    #[schema(minimum = 1, maximum = 720)]
    pub escalate_after_hours: u32,
    /// The member an overdue complaint goes to.
    #[serde(default)]
    pub escalate_to: Option<String>,
    /// Or the team (slug) whose queue takes it.
    #[serde(default)]
    pub escalate_to_team: Option<String>,
}

impl From<VerificationSettings> for VerificationBody {
    fn from(s: VerificationSettings) -> Self {
        Self {
            enabled: s.enabled,
            remind_after_hours: s.remind_after_hours,
            escalate_after_hours: s.escalate_after_hours,
            escalate_to: s.escalate_to.map(|u| u.to_string()),
            escalate_to_team: s.escalate_to_team,
        }
    }
}

impl VerificationBody {
    fn settings(self) -> Result<VerificationSettings, ApiError> {
        let escalate_to = match self.escalate_to.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) => Some(
                id.parse::<UserId>()
                    .map_err(|_| ApiError::invalid("escalate_to", "is not a member's id"))?,
            ),
        };
        Ok(VerificationSettings {
            enabled: self.enabled,
            remind_after_hours: self.remind_after_hours,
            escalate_after_hours: self.escalate_after_hours,
            escalate_to,
            escalate_to_team: self.escalate_to_team.filter(|t| !t.trim().is_empty()),
        })
    }
}

/// A verdict from the ground.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictBody {
    /// validated or rejected.
    #[schema(pattern = "^(validated|rejected)$")]
    pub outcome: String,
    /// What was found (required for a rejection; at most 2000 characters).
    /// Internal: never sent to the citizen.
    #[serde(default)]
    pub note: String,
}

/// The tenant's field verification.
#[utoipa::path(get, path = "/settings/verification", tag = "complaints",
    responses((status = 200, body = VerificationBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<VerificationBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let s = state
        .engine
        .ops()
        .verification_settings(&caller.tenant.id)
        .await?;
    Ok(Json(s.into()))
}

/// Sets the tenant's field verification (admins). Complaints already
/// pending keep their timers.
#[utoipa::path(put, path = "/settings/verification", tag = "complaints",
    request_body = VerificationBody,
    responses((status = 200, body = VerificationBody)),
    security(("session" = [])))]
async fn set_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<VerificationBody>,
) -> Result<Json<VerificationBody>, ApiError> {
    caller.require_admin()?;
    let s = state
        .engine
        .ops()
        .set_verification_settings(&caller.acting(), &caller.tenant.id, body.settings()?)
        .await?;
    Ok(Json(s.into()))
}

/// Marks a complaint waiting for verification (or escalated because nobody
/// verified it in time) validated or rejected; its citizen is told in their
/// language, the note stays internal.
#[utoipa::path(post, path = "/complaints/{id}/verification", tag = "complaints",
    request_body = VerdictBody,
    params(("id" = String, Path)),
    responses((status = 200, body = ComplaintView)),
    security(("api_key" = ["complaints:write"]), ("session" = [])))]
async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VerdictBody>,
) -> Result<Json<ComplaintView>, ApiError> {
    caller.require(Scope::ComplaintsWrite)?;
    let outcome =
        Outcome::parse(&body.outcome).map_err(|e| ApiError::invalid(&e.field, e.reason))?;
    let c = super::complaints::find(&state, &caller, &id).await?;
    let verifier = match &caller.via {
        Via::Session { user, role } => Some(ombud_engine::ops::verification::Verifier {
            user: &user.id,
            role: *role,
        }),
        Via::Key(_) => None,
    };
    let c = state
        .engine
        .ops()
        .verify_complaint(
            &caller.acting(),
            verifier,
            &caller.tenant.id,
            &c.id,
            outcome,
            &body.note,
        )
        .await?;
    Ok(Json(ComplaintView::from(&c)))
}
