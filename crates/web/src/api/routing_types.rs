//! What the routing settings' routes read and write: the areas, teams and
//! rules as JSON, checked into `ombud_core::routing`'s types with each
//! field named, and the "try it" sample and answer.

use std::collections::BTreeMap;

use ombud_core::routing::{Area, Areas, AssignTo, Assignment, Routed, Rule, Strategy, Team, Teams};
use ombud_core::*;
use ombud_engine::ops::routing::{Sample, TryRoute};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiError;

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
    /// Its outline on the map (a ward's polygon): 3 to 500 corners, or
    /// none. A citizen's location pin inside it names this area, before
    /// any words do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 500)]
    pub boundary: Vec<ombud_core::geo::GeoPoint>,
}

/// The area catalogue. A new complaint's area is the one whose outline
/// holds its location pin, else the one its location's words name (by
/// ward number, name or keyword).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreasBody {
    #[schema(max_items = 500)]
    pub areas: Vec<AreaBody>,
}

impl AreasBody {
    pub(super) fn of(a: Areas) -> Self {
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
                    boundary: a.boundary,
                })
                .collect(),
        }
    }

    pub(super) fn areas(self) -> Result<Areas, ApiError> {
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
                    boundary: a.boundary,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(Areas { areas })
    }
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
    pub(super) fn of(t: Teams) -> Self {
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

    pub(super) fn teams(self) -> Result<Teams, ApiError> {
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
    pub(super) fn of(a: Assignment) -> Self {
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

    pub(super) fn assignment(self) -> Result<Assignment, ApiError> {
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

impl TryBody {
    /// The sample, checked.
    pub(super) fn sample(self) -> Result<Sample, ApiError> {
        if self
            .location
            .as_ref()
            .is_some_and(|l| l.chars().count() > 500)
        {
            return Err(ApiError::invalid("location", "at most 500 characters"));
        }
        Ok(Sample {
            category_id: self
                .category_id
                .map(|c| parse("category_id", &c))
                .transpose()?,
            priority: self
                .priority
                .map(|p| Priority::parse(&p).map_err(|e| ApiError::invalid("priority", e.reason)))
                .transpose()?,
            area: self.area.filter(|a| !a.trim().is_empty()),
            location: self.location.filter(|l| !l.trim().is_empty()),
        })
    }
}

impl TryView {
    pub(super) fn of(tried: TryRoute) -> Self {
        let (outcome, rule, team, reason) = match tried.routed {
            Routed::NoRule => ("no_rule", None, None, None),
            Routed::Member { rule, .. } => ("member", Some(rule), None, None),
            Routed::Team { rule, team } => ("team", Some(rule), Some(team.slug), None),
            Routed::Nowhere { rule, reason } => ("nowhere", Some(rule), None, Some(reason)),
        };
        Self {
            area: tried.area,
            outcome: outcome.into(),
            rule,
            rule_name: tried.rule_name,
            team,
            user_id: tried.next.map(|u| u.to_string()),
            reason,
        }
    }
}
