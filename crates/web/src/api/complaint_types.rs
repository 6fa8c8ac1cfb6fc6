//! What the complaint routes read and write: the complaint as JSON, the
//! list's filter, and the changes an update or a bulk change asks for.

use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_store::{AssigneeFilter, ComplaintChange, ComplaintFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ApiError;

const MAX_TEXT: usize = 200;

/// A complaint.
#[derive(Serialize, ToSchema)]
pub struct ComplaintView {
    pub id: String,
    #[schema(example = "PUNE-20261123-0001")]
    pub number: String,
    /// new, pending_validation, validated, acknowledged, in_progress, on_hold,
    /// escalated, resolved, closed, rejected.
    pub status: String,
    /// low, normal, high, urgent.
    pub priority: String,
    pub category_id: Option<String>,
    pub description: String,
    pub location: Option<String>,
    /// Where the citizen's location pin put it (null: no pin).
    pub point: Option<ombud_core::geo::GeoPoint>,
    /// An area's slug from the catalogue (free text before there was one).
    pub area: Option<String>,
    pub assignee_id: Option<String>,
    /// The team it was sent to (`area:{slug}`: that area's field staff);
    /// without an assignee it waits in the team's queue.
    pub team: Option<String>,
    pub language: String,
    /// text, voice, api, staff.
    pub source: String,
    pub contact_id: Option<String>,
    pub conversation_id: Option<String>,
    pub channel_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its service level (null: no policy covers it).
    pub sla: Option<SlaView>,
}

/// A complaint's service level: its policy, where it stands, and its deadlines.
#[derive(Serialize, ToSchema)]
pub struct SlaView {
    pub policy: String,
    /// on_track, due_soon (staff were warned) or breached.
    pub state: String,
    pub first_response: Option<DeadlineView>,
    pub resolution: Option<DeadlineView>,
    /// Set while the complaint is on hold: the deadlines wait.
    pub paused_at: Option<DateTime<Utc>>,
}

/// One deadline: when it falls, when staff are warned, and what happened.
#[derive(Serialize, ToSchema)]
pub struct DeadlineView {
    pub due_at: DateTime<Utc>,
    pub warn_at: Option<DateTime<Utc>>,
    /// When it was met (the first response, the resolution).
    pub met_at: Option<DateTime<Utc>>,
    pub warned_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
}

impl From<&ombud_core::sla::SlaClock> for SlaView {
    fn from(c: &ombud_core::sla::SlaClock) -> Self {
        let deadline = |d: &Option<ombud_core::sla::Deadline>| {
            d.as_ref().map(|d| DeadlineView {
                due_at: d.due_at,
                warn_at: d.warn_at,
                met_at: d.met_at,
                warned_at: d.warned_at,
                breached_at: d.breached_at,
            })
        };
        Self {
            policy: c.policy.clone(),
            state: c.state().as_str().into(),
            first_response: deadline(&c.first_response),
            resolution: deadline(&c.resolution),
            paused_at: c.paused_at,
        }
    }
}

impl From<&Complaint> for ComplaintView {
    fn from(c: &Complaint) -> Self {
        let s = |x: Option<&dyn std::fmt::Display>| x.map(|v| v.to_string());
        Self {
            id: c.id.to_string(),
            number: c.number.as_str().to_owned(),
            status: c.status.as_str().to_owned(),
            priority: c.priority.as_str().to_owned(),
            category_id: s(c.category_id.as_ref().map(|v| v as _)),
            description: c.description.clone(),
            location: c.location.clone(),
            point: c.point,
            area: c.area.clone(),
            assignee_id: s(c.assignee_id.as_ref().map(|v| v as _)),
            team: c.team.clone(),
            language: c.language.as_str().to_owned(),
            source: c.source.as_str().to_owned(),
            contact_id: s(c.contact_id.as_ref().map(|v| v as _)),
            conversation_id: s(c.conversation_id.as_ref().map(|v| v as _)),
            channel_id: s(c.channel_id.as_ref().map(|v| v as _)),
            created_at: c.created_at,
            updated_at: c.updated_at,
            sla: c.sla.as_ref().map(SlaView::from),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Statuses, comma-separated (any of them; at most 20).
    pub status: Option<String>,
    pub category_id: Option<String>,
    pub priority: Option<String>,
    /// A member's user id, or `none` for unassigned.
    pub assignee: Option<String>,
    pub area: Option<String>,
    /// A team's slug: complaints sent to it.
    pub team: Option<String>,
    /// Service level: on_track, due_soon or breached.
    pub sla: Option<String>,
    /// Created at or after this time.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Part of the number, description, location, or the contact's name or number.
    pub q: Option<String>,
    /// `newest` (default) or `oldest`.
    pub sort: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// The filter both the list and the bulk change take.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    /// Any of these statuses (at most 20 entries).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub status: Option<Vec<String>>,
    #[serde(default)]
    pub category_id: Option<String>,
    #[serde(default)]
    pub priority: Option<String>,
    /// A member's user id, or `none`.
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub area: Option<String>,
    /// A team's slug.
    #[serde(default)]
    pub team: Option<String>,
    /// Service level: on_track, due_soon (staff were warned) or breached.
    #[serde(default)]
    pub sla: Option<String>,
    #[serde(default)]
    pub created_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_before: Option<DateTime<Utc>>,
    #[serde(default)]
    pub q: Option<String>,
}

impl FilterBody {
    pub(super) fn filter(self) -> Result<ComplaintFilter, ApiError> {
        let bad = |v: ValidationError, field: &str| ApiError::invalid(field, v.reason);
        let statuses = ComplaintStatus::parse_list("status", &self.status.unwrap_or_default())
            .map_err(|v| bad(v, "status"))?;
        let text = |field: &str, v: Option<String>| -> Result<Option<String>, ApiError> {
            match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
                Some(s) if s.chars().count() > MAX_TEXT => {
                    Err(ApiError::invalid(field, "at most 200 characters"))
                }
                other => Ok(other),
            }
        };
        Ok(ComplaintFilter {
            statuses,
            category: self
                .category_id
                .map(|c| c.parse().map_err(|v| bad(v, "category_id")))
                .transpose()?,
            priority: self
                .priority
                .map(|p| Priority::parse(&p).map_err(|v| bad(v, "priority")))
                .transpose()?,
            assignee: match self.assignee.as_deref() {
                None => None,
                Some("none") => Some(AssigneeFilter::Nobody),
                Some(id) => Some(AssigneeFilter::Member(
                    id.parse().map_err(|v| bad(v, "assignee"))?,
                )),
            },
            area: text("area", self.area)?,
            area_in: None,
            team: text("team", self.team)?,
            sla: self
                .sla
                .map(|s| ombud_core::sla::SlaState::parse("sla", &s).map_err(|v| bad(v, "sla")))
                .transpose()?,
            created_from: self.created_from,
            created_before: self.created_before,
            text: text("q", self.q)?,
        })
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComplaintBody {
    #[schema(min_length = 1, max_length = 4000)]
    pub description: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub location: Option<String>,
    #[serde(default)]
    pub category_id: Option<String>,
    /// Default: the category's default priority, else normal.
    #[serde(default)]
    #[schema(pattern = "^(low|normal|high|urgent)$")]
    pub priority: Option<String>,
    /// The contact it is filed for (their channel and conversation are linked).
    #[serde(default)]
    pub contact_id: Option<String>,
    /// en, hi or mr; default the contact's, else the tenant's.
    #[serde(default)]
    pub language: Option<String>,
}

/// Changes; absent fields stay as they are. `null` clears category,
/// assignee and area.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ComplaintUpdate {
    #[serde(default)]
    #[schema(
        pattern = "^(new|pending_validation|validated|acknowledged|in_progress|on_hold|escalated|resolved|closed|rejected)$"
    )]
    pub status: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^(low|normal|high|urgent)$")]
    pub priority: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub category_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Option<Option<String>>,
    /// An area of the catalogue (any text while the catalogue is empty).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub area: Option<Option<String>>,
    /// Sends it to a team's queue (`null`: out of it).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub team: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// Internal: never sent to the citizen.
    #[schema(min_length = 1, max_length = 4000)]
    pub note: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// Which complaints: every one matching (across all pages).
    pub filter: FilterBody,
    /// One change for each of them.
    pub change: ComplaintUpdate,
}

/// What a bulk change did.
#[derive(Serialize, ToSchema)]
pub struct BulkReport {
    pub changed: u64,
    pub skipped: Vec<SkippedView>,
}

#[derive(Serialize, ToSchema)]
pub struct SkippedView {
    pub id: String,
    pub number: Option<String>,
    pub reason: String,
}

/// One line of a complaint's history.
#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// `contact:<id>`, `user:<id>`, `api:<key id>`, `agent`, `system`.
    pub actor: String,
    /// created, status_changed, priority_changed, assigned, note, …
    pub action: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct EventList {
    pub data: Vec<EventView>,
}

/// A field that is present, even as `null` (then `Some(None)`).
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The changes an update asks for, checked, in a fixed order.
pub(super) fn changes(body: ComplaintUpdate) -> Result<Vec<ComplaintChange>, ApiError> {
    let mut out = Vec::new();
    if let Some(s) = body.status {
        out.push(ComplaintChange::Status(
            ComplaintStatus::parse(&s).map_err(|v| ApiError::invalid("status", v.reason))?,
        ));
    }
    if let Some(p) = body.priority {
        out.push(ComplaintChange::Priority(
            Priority::parse(&p).map_err(|v| ApiError::invalid("priority", v.reason))?,
        ));
    }
    if let Some(c) = body.category_id {
        out.push(ComplaintChange::Category(
            c.map(|c| c.parse()).transpose().map_err(|_| {
                ApiError::invalid("category_id", "is not a category of this organisation")
            })?,
        ));
    }
    if let Some(a) = body.assignee_id {
        out.push(ComplaintChange::Assign(
            a.map(|a| a.parse()).transpose().map_err(|_| {
                ApiError::invalid("assignee_id", "is not a member of this organisation")
            })?,
        ));
    }
    if let Some(area) = body.area {
        let area = area.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
        if area.as_ref().is_some_and(|a| a.chars().count() > 100) {
            return Err(ApiError::invalid("area", "at most 100 characters"));
        }
        out.push(ComplaintChange::Area(area));
    }
    if let Some(team) = body.team {
        let team = team.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if team.as_ref().is_some_and(|t| t.chars().count() > 100) {
            return Err(ApiError::invalid("team", "at most 100 characters"));
        }
        out.push(ComplaintChange::Team(team));
    }
    if out.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "name at least one field to change",
        ));
    }
    Ok(out)
}
