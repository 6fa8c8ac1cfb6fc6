//! The satisfaction survey over the API: the tenant's settings, a
//! complaint's surveys with their answers, and CSAT over a period; and the
//! time of the daily summary and the reminders to citizens whose complaint
//! is on hold, tenant settings kept the same way.

use axum::extract::{Path, State};
use axum::Json;
use ombud_core::reminder::ReminderSettings;
use ombud_core::survey::{Survey, SurveyRepeat, SurveySettings};
use ombud_core::*;
use ombud_store::{CsatLine, CsatReport};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, set_settings))
        .routes(routes!(get_summary_settings, set_summary_settings))
        .routes(routes!(get_reminder_settings, set_reminder_settings))
        .routes(routes!(complaint_surveys))
        .routes(routes!(csat))
}

/// When and how often citizens are asked how their complaint was handled.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveySettingsBody {
    /// Off: no survey is asked.
    pub enabled: bool,
    /// Hours after a resolution the question goes out (1 to 720).
    #[schema(minimum = 1, maximum = 720)]
    pub delay_hours: u32,
    /// each_resolution (every resolution still standing when its survey is
    /// due) or once_per_complaint.
    pub repeat: String,
}

impl From<SurveySettings> for SurveySettingsBody {
    fn from(s: SurveySettings) -> Self {
        Self {
            enabled: s.enabled,
            delay_hours: s.delay_hours,
            repeat: s.repeat.as_str().into(),
        }
    }
}

/// A survey and the citizen's answers.
#[derive(Serialize, ToSchema)]
pub struct SurveyView {
    pub id: String,
    pub complaint_id: String,
    /// The resolution it asks about.
    pub resolved_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: chrono::DateTime<chrono::Utc>,
    pub language: String,
    /// What it waits for: rating, solved, comment; or done.
    pub stage: String,
    /// 1 (very poor) to 5 (very good).
    pub rating: Option<u8>,
    /// Asked after a rating of 2 or less.
    pub solved: Option<bool>,
    pub comment: Option<String>,
    /// The complaint was reopened because the citizen said it is not solved.
    pub reopened: bool,
    pub answered_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<Survey> for SurveyView {
    fn from(s: Survey) -> Self {
        Self {
            id: s.id.to_string(),
            complaint_id: s.complaint_id.to_string(),
            resolved_at: s.resolved_at,
            sent_at: s.sent_at,
            language: s.language.to_string(),
            stage: s.stage.as_str().into(),
            rating: s.rating,
            solved: s.solved,
            comment: s.comment,
            reopened: s.reopened,
            answered_at: s.answered_at,
        }
    }
}

/// Ratings added up.
#[derive(Serialize, ToSchema)]
pub struct CsatFigures {
    pub ratings: u64,
    /// The average rating, 1 to 5.
    pub average: Option<f64>,
    /// The share of ratings of 4 or 5, in percent.
    pub csat: Option<f64>,
}

impl From<&CsatLine> for CsatFigures {
    fn from(l: &CsatLine) -> Self {
        Self {
            ratings: l.ratings,
            average: l.average(),
            csat: l.csat(),
        }
    }
}

/// One group's figures: a category, a member or a month.
#[derive(Serialize, ToSchema)]
pub struct CsatGroupView {
    /// The category's or member's id (null: none), or the month (YYYY-MM,
    /// tenant-local).
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: CsatFigures,
}

/// Satisfaction over a period.
#[derive(Serialize, ToSchema)]
pub struct CsatView {
    pub days: u32,
    #[serde(flatten)]
    pub total: CsatFigures,
    pub by_category: Vec<CsatGroupView>,
    /// By the member the complaint is assigned to.
    pub by_assignee: Vec<CsatGroupView>,
    /// By the team the complaint was sent to (`null`: none).
    pub by_team: Vec<CsatGroupView>,
    pub by_month: Vec<CsatGroupView>,
}

impl CsatView {
    pub fn of(days: u32, r: &CsatReport) -> Self {
        fn groups<K>(
            list: &[(K, CsatLine)],
            key: impl Fn(&K) -> Option<String>,
        ) -> Vec<CsatGroupView> {
            list.iter()
                .map(|(k, l)| CsatGroupView {
                    key: key(k),
                    figures: l.into(),
                })
                .collect()
        }
        Self {
            days,
            total: (&r.total).into(),
            by_category: groups(&r.by_category, |k| k.as_ref().map(|c| c.to_string())),
            by_assignee: groups(&r.by_assignee, |k| k.as_ref().map(|u| u.to_string())),
            by_team: groups(&r.by_team, Clone::clone),
            by_month: groups(&r.by_month, |m| Some(m.clone())),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsatParams {
    /// The period, in days back from now (1 to 400; default 90).
    pub days: Option<u32>,
}

/// The tenant's survey settings.
#[utoipa::path(get, path = "/settings/survey", tag = "complaints",
    responses((status = 200, body = SurveySettingsBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SurveySettingsBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let s = state
        .engine
        .ops()
        .survey_settings(&caller.tenant.id)
        .await?;
    Ok(Json(s.into()))
}

/// Sets when and how often citizens are asked (admins).
#[utoipa::path(put, path = "/settings/survey", tag = "complaints",
    request_body = SurveySettingsBody,
    responses((status = 200, body = SurveySettingsBody)),
    security(("session" = [])))]
async fn set_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SurveySettingsBody>,
) -> Result<Json<SurveySettingsBody>, ApiError> {
    caller.require_admin()?;
    let repeat =
        SurveyRepeat::parse(&body.repeat).map_err(|e| ApiError::invalid(&e.field, e.reason))?;
    let settings = SurveySettings {
        enabled: body.enabled,
        delay_hours: body.delay_hours,
        repeat,
    };
    let s = state
        .engine
        .ops()
        .set_survey_settings(&caller.acting(), &caller.tenant.id, settings)
        .await?;
    Ok(Json(s.into()))
}

/// When the daily summary goes out, tenant-local (a quarter hour).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummarySettingsBody {
    #[schema(minimum = 0, maximum = 23)]
    pub hour: u32,
    /// 0, 15, 30 or 45.
    pub minute: u32,
}

/// When the tenant's daily summary (mail and `summary.daily` event) goes out.
#[utoipa::path(get, path = "/settings/summary", tag = "complaints",
    responses((status = 200, body = SummarySettingsBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_summary_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SummarySettingsBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let s = state
        .engine
        .ops()
        .summary_settings(&caller.tenant.id)
        .await?;
    Ok(Json(SummarySettingsBody {
        hour: s.hour,
        minute: s.minute,
    }))
}

/// Sets the daily summary's time (admins).
#[utoipa::path(put, path = "/settings/summary", tag = "complaints",
    request_body = SummarySettingsBody,
    responses((status = 200, body = SummarySettingsBody)),
    security(("session" = [])))]
async fn set_summary_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SummarySettingsBody>,
) -> Result<Json<SummarySettingsBody>, ApiError> {
    caller.require_admin()?;
    let settings = ombud_core::summary::SummarySettings {
        hour: body.hour,
        minute: body.minute,
    };
    let s = state
        .engine
        .ops()
        .set_summary_settings(&caller.acting(), &caller.tenant.id, settings)
        .await?;
    Ok(Json(SummarySettingsBody {
        hour: s.hour,
        minute: s.minute,
    }))
}

/// A complaint's satisfaction surveys, the latest first.
#[utoipa::path(get, path = "/complaints/{id}/surveys", tag = "complaints",
    params(("id" = String, Path, description = "cmp_… or the complaint number")),
    responses((status = 200, body = Vec<SurveyView>)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn complaint_surveys(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<SurveyView>>, ApiError> {
    let c = super::complaints::find(&state, &caller, &id).await?;
    let list = state
        .store
        .complaint_surveys(&caller.tenant.id, &c.id)
        .await?;
    Ok(Json(list.into_iter().map(SurveyView::from).collect()))
}

/// Satisfaction (CSAT) over the last `days`: overall, by category, by
/// assignee and by month.
#[utoipa::path(get, path = "/csat", tag = "complaints", params(CsatParams),
    responses((status = 200, body = CsatView)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn csat(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CsatParams>,
) -> Result<Json<CsatView>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let days = q.days.unwrap_or(90);
    if !(1..=400).contains(&days) {
        return Err(ApiError::invalid("days", "must be 1 to 400"));
    }
    let now = state.engine.now();
    let groups = state
        .store
        .csat(
            &caller.tenant,
            now - chrono::Duration::days(i64::from(days)),
            now,
        )
        .await?;
    Ok(Json(CsatView::of(days, &CsatReport::of(&groups))))
}

/// Whether, and after how many hours on hold without a word from the
/// citizen, they are reminded that their answer is awaited (once per hold).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderSettingsBody {
    /// Off (the default): no reminder is sent.
    pub enabled: bool,
    /// Hours on hold before the reminder (1 to 720).
    #[schema(minimum = 1, maximum = 720)]
    pub after_hours: u32,
}

impl From<ReminderSettings> for ReminderSettingsBody {
    fn from(s: ReminderSettings) -> Self {
        Self {
            enabled: s.enabled,
            after_hours: s.after_hours,
        }
    }
}

/// The tenant's reminders to citizens whose complaint is on hold.
#[utoipa::path(get, path = "/settings/reminder", tag = "complaints",
    responses((status = 200, body = ReminderSettingsBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_reminder_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ReminderSettingsBody>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let s = state
        .engine
        .ops()
        .reminder_settings(&caller.tenant.id)
        .await?;
    Ok(Json(s.into()))
}

/// Turns the reminders on or off and sets their wait (admins).
#[utoipa::path(put, path = "/settings/reminder", tag = "complaints",
    request_body = ReminderSettingsBody,
    responses((status = 200, body = ReminderSettingsBody)),
    security(("session" = [])))]
async fn set_reminder_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ReminderSettingsBody>,
) -> Result<Json<ReminderSettingsBody>, ApiError> {
    caller.require_admin()?;
    let settings = ReminderSettings {
        enabled: body.enabled,
        after_hours: body.after_hours,
    };
    let s = state
        .engine
        .ops()
        .set_reminder_settings(&caller.acting(), &caller.tenant.id, settings)
        .await?;
    Ok(Json(s.into()))
}
