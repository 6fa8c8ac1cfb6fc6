//! The Assignment page's forms (admins): areas, teams, rules and field
//! verification, read from the form and saved through the operations
//! (`set_areas`, `set_teams`, `set_assignment`,
//! `set_verification_settings`), which hold the rules; a refusal is shown on
//! the page again in the form's words.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::routing::{self, Area, Areas, AssignTo, Assignment, Rule, Strategy, Team, Teams};
use ombud_core::*;
use ombud_store::StoreError;

use super::assignment::{render, View};
use super::login::FieldErrors;
use super::page::{form_value, PageError};
use super::session::Current;
use super::settings::LANGUAGES;
use crate::AppState;

/// Every value of a repeated field (a multiple select).
fn values<'a>(form: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    form.iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// A comma-separated list as typed.
fn list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A slug for a new row from its name, unique among `taken`.
fn new_slug(name: &str, fallback: &str, taken: &[String]) -> String {
    let base = match super::category_forms::slug_of(name) {
        s if s.is_empty() => fallback.to_owned(),
        s => s,
    };
    let mut slug = base.clone();
    let mut n = 2;
    while taken.contains(&slug) {
        slug = format!("{}-{n}", base.chars().take(36).collect::<String>());
        n += 1;
    }
    slug
}

/// A refused list's error in the form's words: `areas[1].wards[0]` is
/// "Area 3 (wards[0]): …" when the second kept area is the form's third row.
fn row_error(what: &str, v: &ValidationError, rows: &[usize]) -> String {
    let Some((index, field)) = v
        .field
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
    else {
        return v.reason.clone();
    };
    let Some(row) = index.parse::<usize>().ok().and_then(|i| rows.get(i)) else {
        return v.reason.clone();
    };
    let field = field.trim_start_matches('.');
    if field.is_empty() {
        format!("{what} {}: {}", row + 1, v.reason)
    } else {
        format!("{what} {} ({field}): {}", row + 1, v.reason)
    }
}

/// A form's end: saved through `set` when the form had no errors, else (or
/// when the operation refused) the page again with the reasons, under the
/// form `what`. `set` runs only when it is awaited.
async fn finish<T>(
    state: &AppState,
    current: &Current,
    mut errors: FieldErrors,
    what: &'static str,
    label: &str,
    rows: &[usize],
    set: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<Response, PageError> {
    if errors.is_empty() {
        match outcome(set.await, what, label, rows)? {
            Ok(done) => return Ok(done),
            Err(refused) => errors = refused,
        }
    }
    let view = View::refused(what, errors);
    render(state, current, view, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// Saves what the operation took, or shows the page again with its refusal.
fn outcome<T>(
    set: Result<T, StoreError>,
    what: &'static str,
    label: &str,
    rows: &[usize],
) -> Result<Result<Response, FieldErrors>, PageError> {
    match set {
        Ok(_) => Ok(Ok(Redirect::to(&format!(
            "/app/settings/assignment?saved={what}#{what}"
        ))
        .into_response())),
        Err(StoreError::Invalid(v)) => {
            let mut errors = FieldErrors::default();
            errors.add(what, row_error(label, &v, rows));
            Ok(Err(errors))
        }
        Err(e) => Err(e.into()),
    }
}

/// The areas form: rows `slug_{i}` (kept from the saved area), `name_{lang}_{i}`,
/// `keywords_{i}` and `wards_{i}` (comma-separated), `staff_{i}` (repeated);
/// a row without a name is left out.
pub async fn set_areas(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let value = |name: String| form_value(&form, &name).trim().to_owned();
    let before = state.engine.ops().routing(&current.tenant.id).await?.areas;
    let mut areas = Vec::new();
    let mut rows = Vec::new();
    let mut errors = FieldErrors::default();
    for i in 0..=routing::AREAS {
        let slug = value(format!("slug_{i}"));
        // Names in languages this form does not show are kept.
        let mut names = before
            .find(&slug)
            .map(|a| a.names.clone())
            .unwrap_or_default();
        for (code, _) in LANGUAGES {
            match value(format!("name_{code}_{i}")) {
                n if n.is_empty() => names.remove(code),
                n => names.insert(code.to_owned(), n),
            };
        }
        if names.is_empty() {
            continue;
        }
        let staff: Result<Vec<UserId>, _> = values(&form, &format!("staff_{i}"))
            .map(str::parse)
            .collect();
        let Ok(field_staff) = staff else {
            errors.add("areas", format!("Area {}: no such member", i + 1));
            continue;
        };
        let taken: Vec<String> = areas.iter().map(|a: &Area| a.slug.clone()).collect();
        let slug = match slug {
            s if !s.is_empty() => s,
            _ => {
                let name = names.get("en").or_else(|| names.values().next());
                new_slug(
                    name.map_or("", String::as_str),
                    &format!("area-{}", i + 1),
                    &taken,
                )
            }
        };
        // An outline drawn through the API is kept (this form shows none).
        let boundary = before
            .find(&slug)
            .map(|a| a.boundary.clone())
            .unwrap_or_default();
        areas.push(Area {
            slug,
            names,
            keywords: list(&value(format!("keywords_{i}"))),
            wards: list(&value(format!("wards_{i}"))),
            field_staff,
            boundary,
        });
        rows.push(i);
    }
    let (ops, acting) = (state.engine.ops(), current.acting());
    let set = ops.set_areas(&acting, &current.tenant.id, Areas { areas });
    finish(&state, &current, errors, "areas", "Area", &rows, set).await
}

/// The teams form: rows `slug_{i}` (kept), `team_name_{i}`, `members_{i}`
/// (repeated), `strategy_{i}`, `capacity_{i}`; a row without a name is left out.
pub async fn set_teams(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let value = |name: String| form_value(&form, &name).trim().to_owned();
    let mut teams = Vec::new();
    let mut rows = Vec::new();
    let mut errors = FieldErrors::default();
    for i in 0..=routing::TEAMS {
        let name = value(format!("team_name_{i}"));
        if name.is_empty() {
            continue;
        }
        let row = |why: &str| format!("Team {}: {why}", i + 1);
        let members: Result<Vec<UserId>, _> = values(&form, &format!("members_{i}"))
            .map(str::parse)
            .collect();
        let strategy = Strategy::parse(&value(format!("strategy_{i}")));
        let capacity = match value(format!("capacity_{i}")) {
            c if c.is_empty() => Ok(None),
            c => c.parse::<u32>().map(Some),
        };
        let (Ok(members), Ok(strategy), Ok(capacity)) = (members, strategy, capacity) else {
            errors.add(
                "teams",
                row("choose members, a way to share, and a capacity as a whole number"),
            );
            continue;
        };
        let taken: Vec<String> = teams.iter().map(|t: &Team| t.slug.clone()).collect();
        let slug = match value(format!("slug_{i}")) {
            s if !s.is_empty() => s,
            _ => new_slug(&name, &format!("team-{}", i + 1), &taken),
        };
        teams.push(Team {
            slug,
            name,
            members,
            strategy,
            capacity,
        });
        rows.push(i);
    }
    let (ops, acting) = (state.engine.ops(), current.acting());
    let set = ops.set_teams(&acting, &current.tenant.id, Teams { teams });
    finish(&state, &current, errors, "teams", "Team", &rows, set).await
}

/// The rules form: rows `rule_name_{i}`, `category_{i}`, `area_{i}`,
/// `priority_{i}`, `to_{i}`, tried in the order shown; a row without a name
/// is left out.
pub async fn set_rules(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let value = |name: String| form_value(&form, &name).trim().to_owned();
    let pick = |name: String| Some(value(name)).filter(|v| !v.is_empty());
    let mut rules = Vec::new();
    let mut rows = Vec::new();
    let mut errors = FieldErrors::default();
    for i in 0..=routing::RULES {
        let name = value(format!("rule_name_{i}"));
        if name.is_empty() {
            continue;
        }
        let to = value(format!("to_{i}"));
        let assign_to = if let Some(id) = to.strip_prefix("member:") {
            id.parse().ok().map(|user_id| AssignTo::Member { user_id })
        } else if let Some(team) = to.strip_prefix("team:") {
            Some(AssignTo::Team {
                team: team.to_owned(),
            })
        } else if to == "area_field_staff" {
            Some(AssignTo::AreaFieldStaff)
        } else {
            None
        };
        let Some(assign_to) = assign_to else {
            errors.add(
                "rules",
                format!("Rule {}: choose where it sends complaints", i + 1),
            );
            continue;
        };
        rules.push(Rule {
            name,
            category_id: pick(format!("category_{i}")).and_then(|c| c.parse().ok()),
            area: pick(format!("area_{i}")),
            priority: pick(format!("priority_{i}")).and_then(|p| Priority::parse(&p).ok()),
            assign_to,
        });
        rows.push(i);
    }
    let (ops, acting) = (state.engine.ops(), current.acting());
    let set = ops.set_assignment(&acting, &current.tenant.id, Assignment { rules });
    finish(&state, &current, errors, "rules", "Rule", &rows, set).await
}

/// The field verification form: `enabled`, `remind_after_hours`,
/// `escalate_after_hours`, `escalate` (`member:{id}`, `team:{slug}` or
/// empty).
pub async fn set_verification(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let mut errors = FieldErrors::default();
    let mut hours = |name: &str| match form_value(&form, name).trim().parse::<u32>() {
        Ok(h) => h,
        Err(_) => {
            errors.add(
                "verification",
                format!("{name}: give a whole number of hours"),
            );
            0
        }
    };
    let remind_after_hours = hours("remind_after_hours");
    let escalate_after_hours = hours("escalate_after_hours");
    let escalate = form_value(&form, "escalate").trim();
    let settings = ombud_core::verification::VerificationSettings {
        enabled: !form_value(&form, "enabled").is_empty(),
        remind_after_hours,
        escalate_after_hours,
        escalate_to: escalate
            .strip_prefix("member:")
            .and_then(|id| id.parse().ok()),
        escalate_to_team: escalate.strip_prefix("team:").map(str::to_owned),
    };
    let (ops, acting) = (state.engine.ops(), current.acting());
    let set = ops.set_verification_settings(&acting, &current.tenant.id, settings);
    finish(
        &state,
        &current,
        errors,
        "verification",
        "Field verification",
        &[],
        set,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_forms_row() {
        let v = ValidationError::new("areas[1].wards[0]", "must be a number");
        assert_eq!(
            row_error("Area", &v, &[0, 2]),
            "Area 3 (wards[0]): must be a number"
        );
        let v = ValidationError::new("teams", "the team “roads” is used by the rule “Roads”");
        assert_eq!(row_error("Team", &v, &[0]), v.reason);
        assert_eq!(
            new_slug("Shivaji Nagar", "area-1", &["shivaji-nagar".into()]),
            "shivaji-nagar-2"
        );
        assert_eq!(new_slug("कोथरूड", "area-4", &[]), "area-4");
        assert_eq!(list("31, 32,\n 33 ,"), ["31", "32", "33"]);
    }
}
