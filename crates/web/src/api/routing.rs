//! Areas, teams and assignment rules over the API: read with
//! `complaints:read`, replaced by admins in a session, and tried on a
//! sample complaint (which rule it would hit, and who would take it).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use ombud_core::routing::{Area, Areas, AssignTo, Assignment, Routed, Rule, Strategy, Team, Teams};
use ombud_core::*;
use ombud_engine::ops::routing::Sample;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::ApiJson;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_areas, set_areas))
        .routes(routes!(get_teams, set_teams))
        .routes(routes!(get_assignment, set_assignment))
        .routes(routes!(try_assignment))
}

fn parse<T: std::str::FromStr<Err = ValidationError>>(field: &str, s: &str) -> Result<T, ApiError> {
    s.parse()
        .map_err(|e: ValidationError| ApiError::invalid(field, e.reason))
}

fn invalid(e: ValidationError) -> ApiError {
    ApiError::invalid(&e.field, e.reason)
}

/// A ward, zone or neighbourhood.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaBody {
    /// Lower-case letters, digits and dashes (1 to 40): what a complaint's
    /// `area` holds.
    #[schema(example = "kothrud")]
    pub slug: String,
    /// Its name by language code (`en`, `mr`…), at least one.
    #[schema(example = json!({"en": "Kothrud", "mr": "कोथरूड"}))]
    pub names: BTreeMap<String, String>,
    /// Words in a citizen's location that mean this area (at most 50).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub keywords: Vec<String>,
    /// Ward numbers it covers ("ward 31", "प्रभाग ३१"), at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub wards: Vec<String>,
    /// Members (user ids) who verify its complaints on the ground.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub field_staff: Vec<String>,
}

/// The area catalogue. A new complaint's location fills its area when it
/// names one area of it (by ward number, name or keyword).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreasBody {
    #[schema(max_items = 500)]
    pub areas: Vec<AreaBody>,
}

impl AreasBody {
    fn of(a: Areas) -> Self {
        Self {
            areas: a
                .areas
                .into_iter()
                .map(|a| AreaBody {
                    slug: a.slug,
                    names: a.names,
                    keywords: a.keywords,
                    wards: a.wards,
                    field_staff: a.field_staff.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        }
    }

    fn areas(self) -> Result<Areas, ApiError> {
        ombud_core::limits::at_most("areas", self.areas.len(), ombud_core::routing::AREAS)
            .map_err(invalid)?;
        let areas = self
            .areas
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                ombud_core::limits::at_most(
                    &format!("areas[{i}].field_staff"),
                    a.field_staff.len(),
                    ombud_core::routing::TEAM_MEMBERS,
                )
                .map_err(invalid)?;
                Ok(Area {
                    slug: a.slug.trim().to_owned(),
                    names: a
                        .names
                        .into_iter()
                        .map(|(l, n)| (l, n.trim().to_owned()))
                        .collect(),
                    keywords: a.keywords.iter().map(|k| k.trim().to_owned()).collect(),
                    wards: a.wards.iter().map(|w| w.trim().to_owned()).collect(),
                    field_staff: a
                        .field_staff
                        .iter()
                        .enumerate()
                        .map(|(k, u)| parse(&format!("areas[{i}].field_staff[{k}]"), u))
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Areas { areas })
    }
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

/// A named group of members.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    #[schema(example = "roads")]
    pub slug: String,
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    /// Members' user ids, in the order ties are broken.
    #[schema(max_items = 200)]
    pub members: Vec<String>,
    /// `round_robin` (each in turn, the default) or `least_loaded` (fewest
    /// open complaints).
    #[serde(default)]
    #[schema(pattern = "^(round_robin|least_loaded)$")]
    pub strategy: Option<String>,
    /// Open complaints one member may hold; past it the team's complaints
    /// wait in its queue (left out: no limit).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    pub capacity: Option<u32>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamsBody {
    #[schema(max_items = 100)]
    pub teams: Vec<TeamBody>,
}

impl TeamsBody {
    fn of(t: Teams) -> Self {
        Self {
            teams: t
                .teams
                .into_iter()
                .map(|t| TeamBody {
                    slug: t.slug,
                    name: t.name,
                    members: t.members.iter().map(ToString::to_string).collect(),
                    strategy: Some(t.strategy.as_str().to_owned()),
                    capacity: t.capacity,
                })
                .collect(),
        }
    }

    fn teams(self) -> Result<Teams, ApiError> {
        ombud_core::limits::at_most("teams", self.teams.len(), ombud_core::routing::TEAMS)
            .map_err(invalid)?;
        let teams = self
            .teams
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let field = |f: &str| format!("teams[{i}].{f}");
                ombud_core::limits::at_most(
                    &field("members"),
                    t.members.len(),
                    ombud_core::routing::TEAM_MEMBERS,
                )
                .map_err(invalid)?;
                Ok(Team {
                    slug: t.slug.trim().to_owned(),
                    name: t.name.trim().to_owned(),
                    members: t
                        .members
                        .iter()
                        .enumerate()
                        .map(|(k, u)| parse(&field(&format!("members[{k}]")), u))
                        .collect::<Result<_, _>>()?,
                    strategy: match t.strategy.as_deref() {
                        None => Strategy::default(),
                        Some(s) => Strategy::parse(s)
                            .map_err(|e| ApiError::invalid(&field("strategy"), e.reason))?,
                    },
                    capacity: t.capacity,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Teams { teams })
    }
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

/// Where a rule sends a complaint.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignToBody {
    /// `member` (with `user_id`), `team` (with `team`), or
    /// `area_field_staff` (the complaint's area's field staff, in turn).
    #[schema(pattern = "^(member|team|area_field_staff)$")]
    pub kind: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
}

/// One rule: the complaints it covers (left out: any) and where they go.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    #[serde(default)]
    pub category_id: Option<String>,
    /// An area's slug.
    #[serde(default)]
    pub area: Option<String>,
    #[serde(default)]
    #[schema(pattern = "^(low|normal|high|urgent)$")]
    pub priority: Option<String>,
    pub assign_to: AssignToBody,
}

/// The assignment rules, tried in order on each new complaint: the first
/// that covers it sends it.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentBody {
    #[schema(max_items = 100)]
    pub rules: Vec<RuleBody>,
}

impl AssignmentBody {
    fn of(a: Assignment) -> Self {
        Self {
            rules: a
                .rules
                .into_iter()
                .map(|r| RuleBody {
                    name: r.name,
                    category_id: r.category_id.map(|c| c.to_string()),
                    area: r.area,
                    priority: r.priority.map(|p| p.as_str().to_owned()),
                    assign_to: match r.assign_to {
                        AssignTo::Member { user_id } => AssignToBody {
                            kind: "member".into(),
                            user_id: Some(user_id.to_string()),
                            team: None,
                        },
                        AssignTo::Team { team } => AssignToBody {
                            kind: "team".into(),
                            user_id: None,
                            team: Some(team),
                        },
                        AssignTo::AreaFieldStaff => AssignToBody {
                            kind: "area_field_staff".into(),
                            user_id: None,
                            team: None,
                        },
                    },
                })
                .collect(),
        }
    }

    fn assignment(self) -> Result<Assignment, ApiError> {
        ombud_core::limits::at_most("rules", self.rules.len(), ombud_core::routing::RULES)
            .map_err(invalid)?;
        let rules = self
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let field = |f: &str| format!("rules[{i}].{f}");
                let to = &r.assign_to;
                let assign_to = match to.kind.as_str() {
                    "member" => AssignTo::Member {
                        user_id: parse(
                            &field("assign_to.user_id"),
                            to.user_id.as_deref().unwrap_or_default(),
                        )?,
                    },
                    "team" => AssignTo::Team {
                        team: to.team.clone().ok_or_else(|| {
                            ApiError::invalid(&field("assign_to.team"), "is required")
                        })?,
                    },
                    "area_field_staff" => AssignTo::AreaFieldStaff,
                    _ => {
                        return Err(ApiError::invalid(
                            &field("assign_to.kind"),
                            "must be member, team or area_field_staff",
                        ))
                    }
                };
                Ok(Rule {
                    name: r.name.trim().to_owned(),
                    category_id: r
                        .category_id
                        .map(|c| parse(&field("category_id"), &c))
                        .transpose()?,
                    area: r.area.map(|a| a.trim().to_owned()),
                    priority: r
                        .priority
                        .map(|p| {
                            Priority::parse(&p)
                                .map_err(|e| ApiError::invalid(&field("priority"), e.reason))
                        })
                        .transpose()?,
                    assign_to,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Assignment { rules })
    }
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

/// A sample complaint to try the rules on.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TryBody {
    #[serde(default)]
    pub category_id: Option<String>,
    /// Default: the category's default priority, else normal.
    #[serde(default)]
    #[schema(pattern = "^(low|normal|high|urgent)$")]
    pub priority: Option<String>,
    /// An area's slug; left out, the location's area.
    #[serde(default)]
    pub area: Option<String>,
    /// Where the citizen says it is.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub location: Option<String>,
}

/// What the rules would do with it.
#[derive(Serialize, ToSchema)]
pub struct TryView {
    /// The area given, or the one the location names.
    pub area: Option<String>,
    /// `member`, `team`, `no_rule` (it waits for staff) or `nowhere` (the
    /// rule's team or field staff is gone).
    pub outcome: String,
    /// The rule it hits: its place (0-based) and name.
    pub rule: Option<usize>,
    pub rule_name: Option<String>,
    pub team: Option<String>,
    /// Who would take it now (null for a team whose members are all full:
    /// it would wait in the team's queue).
    pub user_id: Option<String>,
    pub reason: Option<String>,
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
    if body
        .location
        .as_ref()
        .is_some_and(|l| l.chars().count() > 500)
    {
        return Err(ApiError::invalid("location", "at most 500 characters"));
    }
    let sample = Sample {
        category_id: body
            .category_id
            .map(|c| parse("category_id", &c))
            .transpose()?,
        priority: body
            .priority
            .map(|p| Priority::parse(&p).map_err(|e| ApiError::invalid("priority", e.reason)))
            .transpose()?,
        area: body.area.filter(|a| !a.trim().is_empty()),
        location: body.location.filter(|l| !l.trim().is_empty()),
    };
    let tried = state.engine.ops().try_route(&caller.tenant, sample).await?;
    let rules = state
        .engine
        .ops()
        .routing(&caller.tenant.id)
        .await?
        .assignment
        .rules;
    let name = |i: usize| rules.get(i).map(|r| r.name.clone());
    let next = tried.next.as_ref().map(ToString::to_string);
    let view = |outcome: &str,
                rule: Option<usize>,
                team: Option<String>,
                reason: Option<String>| TryView {
        area: tried.area.clone(),
        outcome: outcome.into(),
        rule,
        rule_name: rule.and_then(name),
        team,
        user_id: next.clone(),
        reason,
    };
    Ok(Json(match &tried.routed {
        Routed::NoRule => view("no_rule", None, None, None),
        Routed::Member { rule, .. } => view("member", Some(*rule), None, None),
        Routed::Team { rule, team } => view("team", Some(*rule), Some(team.slug.clone()), None),
        Routed::Nowhere { rule, reason } => {
            view("nowhere", Some(*rule), None, Some(reason.clone()))
        }
    }))
}
