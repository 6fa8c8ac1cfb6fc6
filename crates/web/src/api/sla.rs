//! Service levels over the API: the tenant's business calendar and its
//! policies (targets by category and priority, in business or calendar
//! time, with warnings and an escalation owner).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use ombud_core::calendar::Calendar;
use ombud_core::sla::{Policy, SlaSettings};
use ombud_core::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::ApiJson;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_calendar, set_calendar))
        .routes(routes!(get_sla, set_sla))
}

/// Opening hours and holidays, read in the tenant's time zone.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarBody {
    /// By day (`mon` … `sun`): spans as `["09:00", "13:00"]`, at most 6 a
    /// day. An end at or before the start runs past midnight; `"24:00"` is
    /// the end of the day. A day left out is closed.
    #[schema(example = json!({"mon": [["09:00", "13:00"], ["14:00", "18:00"]]}))]
    pub hours: BTreeMap<String, Vec<[String; 2]>>,
    /// Dates the office is closed (`YYYY-MM-DD`, at most 400).
    #[serde(default)]
    pub holidays: Vec<String>,
}

impl CalendarBody {
    fn of(c: &Calendar) -> Self {
        serde_json::from_value(c.to_json()).unwrap_or(Self {
            hours: BTreeMap::new(),
            holidays: Vec::new(),
        })
    }
}

/// The tenant's business calendar (weekdays 09:00 to 17:00 until set).
#[utoipa::path(get, path = "/settings/calendar", tag = "complaints",
    responses((status = 200, body = CalendarBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_calendar(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<CalendarBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let c = state.engine.ops().calendar(&caller.tenant.id).await?;
    Ok(Json(CalendarBody::of(&c)))
}

/// Sets the business calendar (admins). Deadlines already running keep
/// their times; new ones count in the new hours.
#[utoipa::path(put, path = "/settings/calendar", tag = "complaints",
    request_body = CalendarBody,
    responses((status = 200, body = CalendarBody)),
    security(("session" = [])))]
async fn set_calendar(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CalendarBody>,
) -> Result<Json<CalendarBody>, ApiError> {
    caller.require_admin()?;
    let json = serde_json::to_value(&body).map_err(|_| ApiError::invalid("hours", "unreadable"))?;
    let calendar = Calendar::from_json(&json).map_err(|e| ApiError::invalid(&e.field, e.reason))?;
    let c = state
        .engine
        .ops()
        .set_calendar(&caller.acting(), &caller.tenant.id, calendar)
        .await?;
    Ok(Json(CalendarBody::of(&c)))
}

/// One policy. A complaint takes the most specific policy that matches it:
/// category and priority, then category, then priority, then any (left
/// out: any). Two policies for the same category and priority are refused.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    #[serde(default)]
    pub category_id: Option<String>,
    /// low, normal, high or urgent.
    #[serde(default)]
    pub priority: Option<String>,
    /// Staff first act on it (it leaves `new`) within this many minutes.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 527040)]
    pub first_response_minutes: Option<u32>,
    /// It is resolved within this many minutes.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 527040)]
    pub resolution_minutes: Option<u32>,
    /// Counted in the business calendar's hours (else around the clock).
    #[serde(default)]
    pub business_hours: bool,
    /// Staff are warned this long before each deadline (0: no warning).
    #[serde(default)]
    pub warn_before_minutes: u32,
    /// The member a breached complaint is assigned to.
    #[serde(default)]
    pub escalate_to: Option<String>,
    /// Or the team (slug) it is sent to: it leaves its assignee, and the
    /// team's next member with room takes it.
    #[serde(default)]
    pub escalate_to_team: Option<String>,
}

/// The tenant's service levels. On a breach the complaint is escalated, its
/// priority raised a step and, if the policy names one, reassigned; staff
/// are told (`complaint.sla_warning`, `complaint.sla_breached`).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaBody {
    pub enabled: bool,
    /// At most 50.
    #[schema(max_items = 50)]
    pub policies: Vec<PolicyBody>,
}

impl SlaBody {
    fn of(s: SlaSettings) -> Self {
        Self {
            enabled: s.enabled,
            policies: s
                .policies
                .into_iter()
                .map(|p| PolicyBody {
                    name: p.name,
                    category_id: p.category_id.map(|c| c.to_string()),
                    priority: p.priority.map(|p| p.as_str().to_owned()),
                    first_response_minutes: p.first_response_minutes,
                    resolution_minutes: p.resolution_minutes,
                    business_hours: p.business_hours,
                    warn_before_minutes: p.warn_before_minutes,
                    escalate_to: p.escalate_to.map(|u| u.to_string()),
                    escalate_to_team: p.escalate_to_team,
                })
                .collect(),
        }
    }

    fn settings(self) -> Result<SlaSettings, ApiError> {
        ombud_core::limits::at_most("policies", self.policies.len(), ombud_core::sla::POLICIES)
            .map_err(|e| ApiError::invalid(&e.field, e.reason))?;
        let policies = self
            .policies
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let bad = |f: &str, e: ValidationError| {
                    ApiError::invalid(&format!("policies[{i}].{f}"), e.reason)
                };
                Ok(Policy {
                    name: p.name.trim().to_owned(),
                    category_id: p
                        .category_id
                        .map(|c| c.parse().map_err(|e| bad("category_id", e)))
                        .transpose()?,
                    priority: p
                        .priority
                        .map(|v| Priority::parse(&v).map_err(|e| bad("priority", e)))
                        .transpose()?,
                    first_response_minutes: p.first_response_minutes,
                    resolution_minutes: p.resolution_minutes,
                    business_hours: p.business_hours,
                    warn_before_minutes: p.warn_before_minutes,
                    escalate_to: p
                        .escalate_to
                        .map(|u| u.parse().map_err(|e| bad("escalate_to", e)))
                        .transpose()?,
                    escalate_to_team: p.escalate_to_team.filter(|t| !t.trim().is_empty()),
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(SlaSettings {
            enabled: self.enabled,
            policies,
        })
    }
}

/// The tenant's service-level policies (one seven-day rule until set).
#[utoipa::path(get, path = "/settings/sla", tag = "complaints",
    responses((status = 200, body = SlaBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_sla(State(state): State<AppState>, caller: Caller) -> Result<Json<SlaBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let s = state.engine.ops().sla_settings(&caller.tenant.id).await?;
    Ok(Json(SlaBody::of(s)))
}

/// Sets the service-level policies (admins). Complaints already running
/// keep their deadlines; new complaints, and staff changes of category or
/// priority, use the new policies.
#[utoipa::path(put, path = "/settings/sla", tag = "complaints",
    request_body = SlaBody,
    responses((status = 200, body = SlaBody)),
    security(("session" = [])))]
async fn set_sla(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SlaBody>,
) -> Result<Json<SlaBody>, ApiError> {
    caller.require_admin()?;
    let settings = body.settings()?;
    let s = state
        .engine
        .ops()
        .set_sla_settings(&caller.acting(), &caller.tenant.id, settings)
        .await?;
    Ok(Json(SlaBody::of(s)))
}
