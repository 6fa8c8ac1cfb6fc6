//! Assignment (admins): the page that shows the area catalogue, the teams,
//! the rules that send new complaints to a member, a team or an area's field
//! staff, and field verification, with a "try it" that shows which rule a
//! sample complaint would hit. Its forms are read in `assignment_forms`.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ombud_core::routing::{self, Area, AssignTo, Routed, Strategy};
use ombud_core::*;
use ombud_engine::ops::routing::Sample;

use super::login::FieldErrors;
use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// The languages an area's names are typed in on this page (names in
/// others, set through the API, are kept).
use super::settings::LANGUAGES;

pub struct AreaRow {
    pub i: usize,
    pub slug: String,
    /// (language, label, name)
    pub names: Vec<(&'static str, &'static str, String)>,
    pub keywords: String,
    pub wards: String,
    pub staff: Vec<String>,
}

pub struct TeamRow {
    pub i: usize,
    pub slug: String,
    pub name: String,
    pub members: Vec<String>,
    pub strategy: &'static str,
    pub capacity: String,
}

pub struct RuleRow {
    pub i: usize,
    pub name: String,
    pub category: String,
    pub area: String,
    pub priority: String,
    /// `member:{id}`, `team:{slug}` or `area_field_staff`.
    pub to: String,
}

/// What the "try it" form asked, and the answer in words.
#[derive(Default)]
pub struct Tried {
    pub location: String,
    pub category: String,
    pub priority: String,
    pub answer: Option<String>,
}

#[derive(Template)]
#[template(path = "assignment.html")]
struct AssignmentPage {
    chrome: Chrome,
    areas: Vec<AreaRow>,
    teams: Vec<TeamRow>,
    rules: Vec<RuleRow>,
    categories: Vec<(String, String)>,
    priorities: &'static [Priority],
    members: Vec<(String, String)>,
    /// Where a rule may send: (value, label).
    targets: Vec<(String, String)>,
    area_options: Vec<(String, String)>,
    /// `areas`, `teams` or `rules`: which form the errors belong to.
    errors_for: &'static str,
    errors: FieldErrors,
    saved: &'static str,
    tried: Tried,
    verification: ombud_core::verification::VerificationSettings,
    /// Where an overdue verification may go: (value, label).
    escalation_targets: Vec<(String, String)>,
    /// The value of the one chosen (empty: nobody new).
    escalate: String,
}

#[derive(serde::Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    saved: String,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    category: String,
    #[serde(default)]
    priority: String,
}

/// The page; `?saved=areas|teams|rules` after a save says so, and
/// `?location=…&category=…&priority=…` tries the rules on that sample.
pub async fn page(
    State(state): State<AppState>,
    current: Current,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let saved = match q.saved.as_str() {
        "areas" => "areas",
        "teams" => "teams",
        "rules" => "rules",
        "verification" => "verification",
        _ => "",
    };
    let tried = match q.location {
        None => Tried::default(),
        Some(location) => try_sample(&state, &current, location, q.category, q.priority).await?,
    };
    let view = View {
        errors_for: "",
        errors: FieldErrors::default(),
        saved,
        tried,
    };
    render(&state, &current, view, StatusCode::OK).await
}

pub(super) struct View {
    errors_for: &'static str,
    errors: FieldErrors,
    saved: &'static str,
    tried: Tried,
}

impl View {
    pub(super) fn refused(errors_for: &'static str, errors: FieldErrors) -> Self {
        Self {
            errors_for,
            errors,
            saved: "",
            tried: Tried::default(),
        }
    }
}

async fn try_sample(
    state: &AppState,
    current: &Current,
    location: String,
    category: String,
    priority: String,
) -> Result<Tried, PageError> {
    let sample = Sample {
        category_id: category.parse().ok(),
        priority: Priority::parse(&priority).ok(),
        area: None,
        location: Some(location.trim().chars().take(500).collect::<String>())
            .filter(|l| !l.is_empty()),
    };
    let ops = state.engine.ops();
    let tried = ops.try_route(&current.tenant, sample).await?;
    let routing = ops.routing(&current.tenant.id).await?;
    let members = state.store.members(&current.tenant.id).await?;
    let who = |u: &UserId| {
        members.iter().find(|m| &m.user.id == u).map_or_else(
            || u.to_string(),
            |m| super::complaints::display_name(&m.user),
        )
    };
    let lang = current.tenant.default_language.as_str();
    let area = match &tried.area {
        Some(a) => format!("Area: {}. ", routing.areas.label(a, lang)),
        None => "The location names no area of the catalogue. ".to_owned(),
    };
    let rule = tried.rule_name.as_deref().unwrap_or_default();
    let answer = match &tried.routed {
        Routed::NoRule => "No rule covers it: it would wait for staff to assign it.".to_owned(),
        Routed::Nowhere { reason, .. } => {
            format!("Rule “{rule}” covers it, but {reason}: it would wait for staff.")
        }
        Routed::Member { user_id, .. } => {
            format!("Rule “{rule}” sends it to {}.", who(user_id))
        }
        Routed::Team { team, .. } => match &tried.next {
            Some(u) => format!("Rule “{rule}” sends it to {}; {} would take it now.", team.name, who(u)),
            None => format!(
                "Rule “{rule}” sends it to {}; everyone there is full, so it would wait in the team's queue.",
                team.name
            ),
        },
    };
    Ok(Tried {
        location,
        category,
        priority,
        answer: Some(format!("{area}{answer}")),
    })
}

pub(super) async fn render(
    state: &AppState,
    current: &Current,
    view: View,
    status: StatusCode,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let routing = state.engine.ops().routing(&tenant.id).await?;
    let mut areas: Vec<AreaRow> = routing
        .areas
        .areas
        .iter()
        .enumerate()
        .map(|(i, a)| area_row(i, a))
        .collect();
    if areas.len() < routing::AREAS {
        areas.push(area_row(areas.len(), &blank_area()));
    }
    let mut teams: Vec<TeamRow> = routing
        .teams
        .teams
        .iter()
        .enumerate()
        .map(|(i, t)| TeamRow {
            i,
            slug: t.slug.clone(),
            name: t.name.clone(),
            members: t.members.iter().map(ToString::to_string).collect(),
            strategy: t.strategy.as_str(),
            capacity: t.capacity.map(|c| c.to_string()).unwrap_or_default(),
        })
        .collect();
    if teams.len() < routing::TEAMS {
        teams.push(TeamRow {
            i: teams.len(),
            slug: String::new(),
            name: String::new(),
            members: Vec::new(),
            strategy: Strategy::default().as_str(),
            capacity: String::new(),
        });
    }
    let mut rules: Vec<RuleRow> = routing
        .assignment
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleRow {
            i,
            name: r.name.clone(),
            category: r
                .category_id
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            area: r.area.clone().unwrap_or_default(),
            priority: r
                .priority
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            to: match &r.assign_to {
                AssignTo::Member { user_id } => format!("member:{user_id}"),
                AssignTo::Team { team } => format!("team:{team}"),
                AssignTo::AreaFieldStaff => "area_field_staff".into(),
            },
        })
        .collect();
    if rules.len() < routing::RULES {
        rules.push(RuleRow {
            i: rules.len(),
            name: String::new(),
            category: String::new(),
            area: String::new(),
            priority: String::new(),
            to: String::new(),
        });
    }
    let lang = tenant.default_language.as_str();
    let categories =
        super::complaints::category_options(&state.store.categories(&tenant.id).await?, tenant);
    let members = super::complaints::member_options(&state.store.members(&tenant.id).await?);
    let mut targets: Vec<(String, String)> = routing
        .teams
        .teams
        .iter()
        .map(|t| (format!("team:{}", t.slug), format!("Team: {}", t.name)))
        .collect();
    targets.push(("area_field_staff".into(), "The area's field staff".into()));
    targets.extend(
        members
            .iter()
            .map(|(id, name)| (format!("member:{id}"), name.clone())),
    );
    let area_options = routing
        .areas
        .areas
        .iter()
        .map(|a| (a.slug.clone(), a.name_in(lang).to_owned()))
        .collect();
    let verification = state.engine.ops().verification_settings(&tenant.id).await?;
    let escalation_targets = targets
        .iter()
        .filter(|(value, _)| value != "area_field_staff")
        .cloned()
        .collect();
    let escalate = match (&verification.escalate_to, &verification.escalate_to_team) {
        (Some(user), _) => format!("member:{user}"),
        (None, Some(team)) => format!("team:{team}"),
        (None, None) => String::new(),
    };
    let page = AssignmentPage {
        chrome: Chrome::of(current, "settings"),
        areas,
        teams,
        rules,
        categories,
        priorities: Priority::ALL,
        members,
        targets,
        area_options,
        errors_for: view.errors_for,
        errors: view.errors,
        saved: view.saved,
        tried: view.tried,
        verification,
        escalation_targets,
        escalate,
    };
    Ok(html_with(status, &page))
}

fn blank_area() -> Area {
    Area {
        slug: String::new(),
        names: BTreeMap::new(),
        keywords: Vec::new(),
        wards: Vec::new(),
        field_staff: Vec::new(),
        boundary: Vec::new(),
    }
}

fn area_row(i: usize, a: &Area) -> AreaRow {
    AreaRow {
        i,
        slug: a.slug.clone(),
        names: LANGUAGES
            .iter()
            .map(|(code, label)| {
                (
                    *code,
                    *label,
                    a.names.get(*code).cloned().unwrap_or_default(),
                )
            })
            .collect(),
        keywords: a.keywords.join(", "),
        wards: a.wards.join(", "),
        staff: a.field_staff.iter().map(ToString::to_string).collect(),
    }
}
