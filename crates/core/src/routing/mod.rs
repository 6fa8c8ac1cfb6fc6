//! Where a complaint goes: the tenant's areas (so a location names a ward),
//! its teams (named groups of members with a capacity), and the assignment
//! rules that send a new complaint to a member or a team. Within a team a
//! complaint goes to the next member in turn (round-robin) or to the one
//! with the fewest open complaints (least-loaded), never past a member's
//! capacity; one nobody can take waits in the team's queue until someone
//! has room. The rules are here; the store counts and the engine's jobs
//! apply them (`assign.route`, `assign.queues`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::*;

mod location;
#[cfg(test)]
mod tests;

/// Settings keys (tenant settings, JSON).
pub const AREAS_KEY: &str = "areas";
pub const TEAMS_KEY: &str = "teams";
pub const RULES_KEY: &str = "assignment";

/// Routes one new complaint (key `assign.route:{complaint}`).
pub const ROUTE_JOB: &str = "assign.route";
/// Gives a team's waiting complaints to members with room.
pub const DRAIN_JOB: &str = "assign.queues";
/// The actor of what the rules change.
pub const ACTOR: &str = "system:assignment";

/// At most this many areas, teams, rules, members per team.
pub const AREAS: usize = 500;
pub const TEAMS: usize = 100;
pub const RULES: usize = 100;
pub const TEAM_MEMBERS: usize = 200;
/// Ward numbers of one area.
pub const WARDS: usize = 50;
/// The largest capacity a member can be given.
pub const MAX_CAPACITY: u32 = 10_000;

/// A ward, zone or neighbourhood, with what citizens call it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Lower-case letters, digits and dashes; what a complaint's `area` holds.
    pub slug: String,
    /// Its name by language code (at least one).
    pub names: BTreeMap<String, String>,
    /// Words or phrases in a location that mean this area (a landmark, a
    /// street, another spelling).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Ward numbers it covers ("ward 12", "प्रभाग १२").
    #[serde(default)]
    pub wards: Vec<String>,
    /// Members who verify its complaints on the ground.
    #[serde(default)]
    pub field_staff: Vec<UserId>,
    /// Where it is on the map: a polygon's corners (a ward's outline), for
    /// a citizen's location pin to fall in. Empty: not drawn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boundary: Vec<crate::geo::GeoPoint>,
}

/// The most corners an area's outline may have.
pub const BOUNDARY_POINTS: usize = 500;

impl Area {
    /// Whether `p` falls inside the area's outline (even-odd rule, on the
    /// plane of latitude and longitude, which is exact enough at a city's
    /// scale). False without an outline.
    pub fn contains(&self, p: &crate::geo::GeoPoint) -> bool {
        let b = &self.boundary;
        if b.len() < 3 {
            return false;
        }
        let mut inside = false;
        let mut j = b.len() - 1;
        for i in 0..b.len() {
            let (yi, xi) = (b[i].latitude, b[i].longitude);
            let (yj, xj) = (b[j].latitude, b[j].longitude);
            if (yi > p.latitude) != (yj > p.latitude)
                && p.longitude < (xj - xi) * (p.latitude - yi) / (yj - yi) + xi
            {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

impl Area {
    /// The name in `lang`, else English, else the first, else the slug.
    pub fn name_in(&self, lang: &str) -> &str {
        self.names
            .get(lang)
            .or_else(|| self.names.get("en"))
            .or_else(|| self.names.values().next())
            .map_or(&self.slug, String::as_str)
    }
}

/// The tenant's area catalogue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Areas {
    pub areas: Vec<Area>,
}

impl Areas {
    pub fn find(&self, slug: &str) -> Option<&Area> {
        self.areas.iter().find(|a| a.slug == slug)
    }

    /// The one area a citizen's location names (see [`location`]): None when
    /// none matches, or when two match equally well.
    pub fn for_location(&self, text: &str) -> Option<&Area> {
        location::best(&self.areas, text)
    }

    /// The area a location pin falls in: the first whose outline holds it.
    pub fn for_point(&self, p: &crate::geo::GeoPoint) -> Option<&Area> {
        self.areas.iter().find(|a| a.contains(p))
    }

    /// The areas `user` is field staff of.
    pub fn of_field_staff(&self, user: &UserId) -> Vec<String> {
        self.areas
            .iter()
            .filter(|a| a.field_staff.contains(user))
            .map(|a| a.slug.clone())
            .collect()
    }

    /// The name of `area` as staff see it in `lang`: the catalogue's name, or
    /// the text itself for an area outside the catalogue.
    pub fn label<'a>(&'a self, area: &'a str, lang: &str) -> &'a str {
        self.find(area).map_or(area, |a| a.name_in(lang))
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        limits::at_most("areas", self.areas.len(), AREAS)?;
        for (i, a) in self.areas.iter().enumerate() {
            let field = |f: &str| format!("areas[{i}].{f}");
            check_slug(&field("slug"), &a.slug)?;
            if self.areas[..i].iter().any(|b| b.slug == a.slug) {
                return Err(ValidationError::new(
                    field("slug"),
                    "is used by another area",
                ));
            }
            if a.names.is_empty() {
                return Err(ValidationError::new(field("names"), "needs a name"));
            }
            limits::at_most(&field("names"), a.names.len(), limits::LANGUAGES)?;
            for (lang, name) in &a.names {
                Language::parse(lang)
                    .map_err(|e| ValidationError::new(field("names"), e.reason))?;
                check_text(&field(&format!("names.{lang}")), name, 100)?;
            }
            limits::at_most(&field("keywords"), a.keywords.len(), limits::KEYWORDS)?;
            for (k, word) in a.keywords.iter().enumerate() {
                check_text(&field(&format!("keywords[{k}]")), word, 100)?;
            }
            limits::at_most(&field("wards"), a.wards.len(), WARDS)?;
            for (k, ward) in a.wards.iter().enumerate() {
                if location::ward_number(ward).is_none() {
                    return Err(ValidationError::new(
                        field(&format!("wards[{k}]")),
                        "must be a number of 1 to 6 digits",
                    ));
                }
            }
            limits::at_most(&field("field_staff"), a.field_staff.len(), TEAM_MEMBERS)?;
            limits::at_most(&field("boundary"), a.boundary.len(), BOUNDARY_POINTS)?;
            if (1..3).contains(&a.boundary.len()) {
                return Err(ValidationError::new(
                    field("boundary"),
                    "needs at least 3 corners, or none",
                ));
            }
            for (k, p) in a.boundary.iter().enumerate() {
                if crate::geo::GeoPoint::new(p.latitude, p.longitude).is_none() {
                    return Err(ValidationError::new(
                        field(&format!("boundary[{k}]")),
                        "must have a latitude from -90 to 90 and a longitude from -180 to 180",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every member named in the catalogue, with the field that names them.
    pub fn members(&self) -> impl Iterator<Item = (String, &UserId)> {
        self.areas.iter().enumerate().flat_map(|(i, a)| {
            a.field_staff
                .iter()
                .enumerate()
                .map(move |(k, u)| (format!("areas[{i}].field_staff[{k}]"), u))
        })
    }
}

/// How a team shares its complaints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Each member in turn: the one whose last assignment is oldest.
    #[default]
    RoundRobin,
    /// The member with the fewest open complaints.
    LeastLoaded,
}

impl Strategy {
    pub const ALL: [Strategy; 2] = [Strategy::RoundRobin, Strategy::LeastLoaded];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::LeastLoaded => "least_loaded",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| ValidationError::new("strategy", "must be round_robin or least_loaded"))
    }
}

/// A named group of members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub slug: String,
    pub name: String,
    pub members: Vec<UserId>,
    #[serde(default)]
    pub strategy: Strategy,
    /// Open complaints one member may hold before the team's complaints
    /// wait for them (None: no limit).
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// A member's work at the moment of a choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    pub user: UserId,
    /// Their open complaints.
    pub open: u32,
    /// Where their last assignment stands in the tenant's complaint history
    /// (its line's id: lines are numbered in the order they are written,
    /// which on each team is the order of the assignments, whatever the
    /// clock said); None: never assigned.
    pub last_assigned: Option<i64>,
}

impl Team {
    /// One member, without a limit: where a rule naming a member sends.
    pub fn of_one(user: UserId) -> Self {
        Self {
            slug: String::new(),
            name: String::new(),
            members: vec![user],
            strategy: Strategy::RoundRobin,
            capacity: None,
        }
    }

    /// Whether a member with `open` complaints may take one more.
    pub fn has_room(&self, open: u32) -> bool {
        self.capacity.is_none_or(|cap| open < cap)
    }

    /// Who takes the team's next complaint, given each member's load (a
    /// member without one has left the tenant and is passed over): among
    /// those with room, the next in turn or the least loaded; ties go to
    /// the member listed first. None: everybody is full.
    pub fn pick(&self, loads: &[Load]) -> Option<UserId> {
        let candidates = self.members.iter().enumerate().filter_map(|(i, u)| {
            let l = loads.iter().find(|l| &l.user == u)?;
            self.has_room(l.open)
                .then_some((i, u, l.open, l.last_assigned))
        });
        match self.strategy {
            // None sorts before any time: someone never assigned goes first.
            Strategy::RoundRobin => candidates.min_by_key(|&(i, _, _, last)| (last, i)),
            Strategy::LeastLoaded => candidates.min_by_key(|&(i, _, open, last)| (open, last, i)),
        }
        .map(|(_, u, _, _)| u.clone())
    }
}

/// The tenant's teams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Teams {
    pub teams: Vec<Team>,
}

impl Teams {
    pub fn find(&self, slug: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.slug == slug)
    }

    /// The teams `user` belongs to.
    pub fn of_member<'a>(&'a self, user: &'a UserId) -> impl Iterator<Item = &'a Team> {
        self.teams.iter().filter(move |t| t.members.contains(user))
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        limits::at_most("teams", self.teams.len(), TEAMS)?;
        for (i, t) in self.teams.iter().enumerate() {
            let field = |f: &str| format!("teams[{i}].{f}");
            check_slug(&field("slug"), &t.slug)?;
            if self.teams[..i].iter().any(|u| u.slug == t.slug) {
                return Err(ValidationError::new(
                    field("slug"),
                    "is used by another team",
                ));
            }
            check_text(&field("name"), &t.name, 80)?;
            limits::at_most(&field("members"), t.members.len(), TEAM_MEMBERS)?;
            for (k, m) in t.members.iter().enumerate() {
                if t.members[..k].contains(m) {
                    return Err(ValidationError::new(
                        field(&format!("members[{k}]")),
                        "is listed twice",
                    ));
                }
            }
            if let Some(cap) = t.capacity {
                if !(1..=MAX_CAPACITY).contains(&cap) {
                    return Err(ValidationError::new(
                        field("capacity"),
                        format!("must be 1 to {MAX_CAPACITY} (or left out for no limit)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every member named, with the field that names them.
    pub fn members(&self) -> impl Iterator<Item = (String, &UserId)> {
        self.teams.iter().enumerate().flat_map(|(i, t)| {
            t.members
                .iter()
                .enumerate()
                .map(move |(k, u)| (format!("teams[{i}].members[{k}]"), u))
        })
    }
}

/// Where a rule sends a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AssignTo {
    Member {
        user_id: UserId,
    },
    Team {
        team: String,
    },
    /// The area's field staff, as a team of round-robin (the complaint's
    /// area must be set, and have field staff).
    AreaFieldStaff,
}

/// One rule: which complaints (nothing given: any) go where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub category_id: Option<CategoryId>,
    /// An area's slug.
    #[serde(default)]
    pub area: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    pub assign_to: AssignTo,
}

impl Rule {
    /// Whether the rule covers a complaint with these facts.
    pub fn covers(&self, c: &Complaint) -> bool {
        self.category_id
            .as_ref()
            .is_none_or(|id| c.category_id.as_ref() == Some(id))
            && self
                .area
                .as_ref()
                .is_none_or(|a| c.area.as_ref() == Some(a))
            && self.priority.is_none_or(|p| p == c.priority)
    }
}

/// The tenant's rules, tried in order; the first that covers a complaint
/// sends it. With none, complaints wait for staff to assign them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub rules: Vec<Rule>,
}

/// What the rules make of one complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Routed {
    /// No rule covers it: it waits for staff.
    NoRule,
    /// Rule `rule` (0-based) sends it to a member.
    Member { rule: usize, user_id: UserId },
    /// Rule `rule` sends it to a team, whose next member with room takes it.
    Team { rule: usize, team: Team },
    /// The rule names something that is gone (a team deleted since, an
    /// area without field staff): it waits for staff.
    Nowhere { rule: usize, reason: String },
}

impl Assignment {
    /// The first rule that covers `c`, and where it sends it.
    pub fn route(&self, c: &Complaint, teams: &Teams, areas: &Areas) -> Routed {
        let Some((i, rule)) = self.rules.iter().enumerate().find(|(_, r)| r.covers(c)) else {
            return Routed::NoRule;
        };
        let nowhere = |reason: String| Routed::Nowhere { rule: i, reason };
        match &rule.assign_to {
            AssignTo::Member { user_id } => Routed::Member {
                rule: i,
                user_id: user_id.clone(),
            },
            AssignTo::Team { team } => match teams.find(team) {
                Some(t) => Routed::Team {
                    rule: i,
                    team: t.clone(),
                },
                None => nowhere(format!("the team “{team}” no longer exists")),
            },
            AssignTo::AreaFieldStaff => match c.area.as_deref().and_then(|a| areas.find(a)) {
                Some(a) if !a.field_staff.is_empty() => Routed::Team {
                    rule: i,
                    team: a.field_team(),
                },
                Some(a) => nowhere(format!("the area “{}” has no field staff", a.slug)),
                None => nowhere("the complaint has no area from the catalogue".into()),
            },
        }
    }

    pub fn validate(&self, teams: &Teams, areas: &Areas) -> Result<(), ValidationError> {
        limits::at_most("rules", self.rules.len(), RULES)?;
        for (i, r) in self.rules.iter().enumerate() {
            let field = |f: &str| format!("rules[{i}].{f}");
            check_text(&field("name"), &r.name, 80)?;
            if self.rules[..i]
                .iter()
                .any(|q| q.name.trim() == r.name.trim())
            {
                return Err(ValidationError::new(
                    field("name"),
                    "is used by another rule",
                ));
            }
            if let Some(a) = &r.area {
                if areas.find(a).is_none() {
                    return Err(ValidationError::new(field("area"), "no such area"));
                }
            }
            if let AssignTo::Team { team } = &r.assign_to {
                if teams.find(team).is_none() {
                    return Err(ValidationError::new(
                        field("assign_to.team"),
                        "no such team",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every member named, with the field that names them.
    pub fn members(&self) -> impl Iterator<Item = (String, &UserId)> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.assign_to {
                AssignTo::Member { user_id } => {
                    Some((format!("rules[{i}].assign_to.user_id"), user_id))
                }
                _ => None,
            })
    }

    /// The rules that send complaints to team `slug`, by name.
    pub fn naming_team(&self, slug: &str) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| matches!(&r.assign_to, AssignTo::Team { team } if team == slug))
            .map(|r| r.name.as_str())
            .collect()
    }

    /// The rules that match on area `slug`, by name.
    pub fn naming_area(&self, slug: &str) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| r.area.as_deref() == Some(slug))
            .map(|r| r.name.as_str())
            .collect()
    }
}

impl Area {
    /// The area's field staff as a round-robin team without a limit, under
    /// the name `area:{slug}` (a complaint waiting for them carries it).
    pub fn field_team(&self) -> Team {
        Team {
            slug: format!("area:{}", self.slug),
            name: self.name_in("en").to_owned(),
            members: self.field_staff.clone(),
            strategy: Strategy::RoundRobin,
            capacity: None,
        }
    }
}

/// The team a complaint's `team` names: one of the tenant's teams, or an
/// area's field staff (`area:{slug}`).
pub fn team_named(slug: &str, teams: &Teams, areas: &Areas) -> Option<Team> {
    match slug.strip_prefix("area:") {
        Some(area) => areas.find(area).map(Area::field_team),
        None => teams.find(slug).cloned(),
    }
}

fn check_slug(field: &str, slug: &str) -> Result<(), ValidationError> {
    let ok = !slug.is_empty()
        && slug.len() <= 40
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be 1 to 40 lower-case letters, digits and dashes",
        ))
    }
}

fn check_text(field: &str, text: &str, max: usize) -> Result<(), ValidationError> {
    let n = text.trim().chars().count();
    if n == 0 || n > max || text.chars().any(char::is_control) {
        Err(ValidationError::new(
            field,
            format!("must be 1 to {max} characters, without control characters"),
        ))
    } else {
        Ok(())
    }
}
