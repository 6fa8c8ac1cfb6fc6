//! Deadlines (admins): the business calendar and the service-level
//! policies, on a settings page of their own. The rules are the operations'
//! (`set_calendar`, `set_sla_settings`); this page reads the forms and says
//! what was refused, and why, in the form's words.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::calendar::Calendar;
use ombud_core::sla::{Policy, SlaSettings, POLICIES};
use ombud_core::*;
use ombud_store::StoreError;

use super::login::FieldErrors;
use super::page::{form_value, html_with, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// Each day's key in the calendar, its name, and its box in the form.
const DAYS: [(&str, &str, &str); 7] = [
    ("mon", "Monday", "hours_mon"),
    ("tue", "Tuesday", "hours_tue"),
    ("wed", "Wednesday", "hours_wed"),
    ("thu", "Thursday", "hours_thu"),
    ("fri", "Friday", "hours_fri"),
    ("sat", "Saturday", "hours_sat"),
    ("sun", "Sunday", "hours_sun"),
];

pub struct DayRow {
    pub key: &'static str,
    pub label: &'static str,
    /// `09:00-13:00, 14:00-18:00`; empty: closed.
    pub spans: String,
    /// Why its box was refused.
    pub error: Option<String>,
}

pub struct PolicyRow {
    pub i: usize,
    pub name: String,
    pub category: String,
    pub priority: String,
    pub first_hours: String,
    pub resolution_hours: String,
    pub business: bool,
    pub warn_hours: String,
    pub owner: String,
}

#[derive(Template)]
#[template(path = "deadlines.html")]
struct DeadlinesPage {
    chrome: Chrome,
    zone: String,
    days: Vec<DayRow>,
    holidays: String,
    enabled: bool,
    /// The policies, then an empty row for a new one.
    policies: Vec<PolicyRow>,
    categories: Vec<(String, String)>,
    priorities: &'static [Priority],
    members: Vec<(String, String)>,
    /// `calendar` or `sla`: which form the errors belong to.
    errors_for: &'static str,
    errors: FieldErrors,
    /// What was saved (`calendar`, `sla`) when the page follows a save.
    saved: &'static str,
}

/// Minutes as the form shows them, in hours: `8`, `0.5`, `1.25`.
fn hours(minutes: Option<u32>) -> String {
    let Some(m) = minutes else {
        return String::new();
    };
    let text = format!("{:.2}", f64::from(m) / 60.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Hours as typed (`8`, `0.5`), in whole minutes; empty is none.
fn minutes(text: &str) -> Result<Option<u32>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.replace(',', ".").parse::<f64>() {
        Ok(h)
            if h.is_finite() && h > 0.0 && h <= f64::from(ombud_core::sla::MAX_MINUTES) / 60.0 =>
        {
            Ok(Some((h * 60.0).round() as u32))
        }
        _ => Err("must be a number of hours such as 8 or 0.5"),
    }
}

/// The page; `?saved=calendar` or `?saved=sla` after a save says so.
pub async fn page(
    State(state): State<AppState>,
    current: Current,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let saved = match query.as_deref() {
        Some("saved=calendar") => "calendar",
        Some("saved=sla") => "sla",
        _ => "",
    };
    render(
        &state,
        &current,
        "",
        FieldErrors::default(),
        saved,
        StatusCode::OK,
    )
    .await
}

async fn render(
    state: &AppState,
    current: &Current,
    errors_for: &'static str,
    errors: FieldErrors,
    saved: &'static str,
    status: StatusCode,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let ops = state.engine.ops();
    let calendar = ops.calendar(&tenant.id).await?;
    let sla = ops.sla_settings(&tenant.id).await?;
    let json = calendar.to_json();
    let days = DAYS
        .iter()
        .map(|(key, label, field)| DayRow {
            key,
            label,
            error: (errors_for == "calendar")
                .then(|| errors.get(field).map(str::to_owned))
                .flatten(),
            spans: json["hours"][key]
                .as_array()
                .map(|spans| {
                    spans
                        .iter()
                        .map(|s| {
                            format!(
                                "{}-{}",
                                s[0].as_str().unwrap_or(""),
                                s[1].as_str().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        })
        .collect();
    let holidays = calendar
        .holidays
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let mut policies: Vec<PolicyRow> = sla
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| PolicyRow {
            i,
            name: p.name.clone(),
            category: p
                .category_id
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            priority: p
                .priority
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            first_hours: hours(p.first_response_minutes),
            resolution_hours: hours(p.resolution_minutes),
            business: p.business_hours,
            warn_hours: hours((p.warn_before_minutes > 0).then_some(p.warn_before_minutes)),
            owner: match (&p.escalate_to, &p.escalate_to_team) {
                (Some(u), _) => u.to_string(),
                (None, Some(team)) => format!("team:{team}"),
                (None, None) => String::new(),
            },
        })
        .collect();
    if policies.len() < POLICIES {
        policies.push(PolicyRow {
            i: policies.len(),
            name: String::new(),
            category: String::new(),
            priority: String::new(),
            first_hours: String::new(),
            resolution_hours: String::new(),
            business: true,
            warn_hours: String::new(),
            owner: String::new(),
        });
    }
    let categories =
        super::complaints::category_options(&state.store.categories(&tenant.id).await?, tenant);
    let mut members = super::complaints::member_options(&state.store.members(&tenant.id).await?);
    // A breach may go to a team's queue as well as to a member.
    let teams = ops.routing(&tenant.id).await?.teams.teams;
    members.splice(
        0..0,
        teams
            .into_iter()
            .map(|t| (format!("team:{}", t.slug), format!("Team: {}", t.name))),
    );
    let page = DeadlinesPage {
        chrome: Chrome::of(current, "settings"),
        zone: tenant.timezone.as_str().to_owned(),
        days,
        holidays,
        enabled: sla.enabled,
        policies,
        categories,
        priorities: Priority::ALL,
        members,
        errors_for,
        errors,
        saved,
    };
    Ok(html_with(status, &page))
}

/// The calendar form: each day's spans (`09:00-13:00, 14:00-18:00`) and the
/// holidays, one date a line.
pub async fn set_calendar(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let value = |name: &str| form_value(&form, name);
    let mut errors = FieldErrors::default();
    let mut hours = serde_json::Map::new();
    for (key, label, field) in DAYS {
        let text = value(&format!("hours_{key}"));
        let mut spans = Vec::new();
        for span in text
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match span.split_once(['-', '–']) {
                Some((a, b)) => spans.push(serde_json::json!([a.trim(), b.trim()])),
                None => errors.add(
                    field,
                    format!("{label}: write spans as 09:00-13:00, separated by commas"),
                ),
            }
        }
        if !spans.is_empty() {
            hours.insert(key.to_owned(), serde_json::Value::Array(spans));
        }
    }
    let holidays: Vec<&str> = value("holidays")
        .split(['\n', ',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let json = serde_json::json!({"hours": hours, "holidays": holidays});
    if errors.is_empty() {
        match Calendar::from_json(&json) {
            Err(e) => errors.add(calendar_field(&e.field), e.reason),
            Ok(calendar) => {
                let set = state
                    .engine
                    .ops()
                    .set_calendar(&current.acting(), &current.tenant.id, calendar)
                    .await;
                match set {
                    Ok(_) => {
                        return Ok(
                            Redirect::to("/app/settings/deadlines?saved=calendar#calendar")
                                .into_response(),
                        )
                    }
                    Err(StoreError::Invalid(v)) => errors.add(calendar_field(&v.field), v.reason),
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    render(
        &state,
        &current,
        "calendar",
        errors,
        "",
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// The form's field for a calendar error (`hours.mon[1]` is Monday's box).
fn calendar_field(field: &str) -> &'static str {
    if field.starts_with("holidays") {
        return "holidays";
    }
    let day = field
        .strip_prefix("hours.")
        .and_then(|rest| rest.split('[').next());
    DAYS.iter()
        .find(|(key, _, _)| Some(*key) == day)
        .map_or("hours", |(_, _, box_)| box_)
}

/// The policies form: rows `name_{i}`, `category_{i}`, `priority_{i}`,
/// `first_{i}`, `resolution_{i}` and `warn_{i}` (hours), `business_{i}`,
/// `owner_{i}`; a row without a name is left out.
pub async fn set_sla(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let value = |name: String| form_value(&form, &name).trim().to_owned();
    let mut errors = FieldErrors::default();
    let mut policies = Vec::new();
    // The form's row of each policy kept, for the errors.
    let mut rows = Vec::new();
    for i in 0..=POLICIES {
        let name = value(format!("name_{i}"));
        if name.is_empty() {
            continue;
        }
        let row = |what: &str, why: &str| format!("Policy {} ({what}): {why}", i + 1);
        let mut hours_of = |field: &str, what: &str| match minutes(&value(format!("{field}_{i}"))) {
            Ok(m) => m,
            Err(why) => {
                errors.add("policies", row(what, why));
                None
            }
        };
        let first = hours_of("first", "first response");
        let resolution = hours_of("resolution", "resolution");
        let warn = hours_of("warn", "warning");
        let pick = |field: &str| Some(value(format!("{field}_{i}"))).filter(|v| !v.is_empty());
        policies.push(Policy {
            name,
            category_id: pick("category").and_then(|c| c.parse().ok()),
            priority: pick("priority").and_then(|p| Priority::parse(&p).ok()),
            first_response_minutes: first,
            resolution_minutes: resolution,
            business_hours: pick("business").is_some(),
            warn_before_minutes: warn.unwrap_or(0),
            escalate_to: pick("owner").and_then(|u| u.parse().ok()),
            escalate_to_team: pick("owner")
                .and_then(|o| o.strip_prefix("team:").map(str::to_owned)),
        });
        rows.push(i);
    }
    if errors.is_empty() {
        let settings = SlaSettings {
            enabled: value("enabled".into()) == "on",
            policies,
        };
        let set = state
            .engine
            .ops()
            .set_sla_settings(&current.acting(), &current.tenant.id, settings)
            .await;
        match set {
            Ok(_) => {
                return Ok(Redirect::to("/app/settings/deadlines?saved=sla#sla").into_response())
            }
            Err(StoreError::Invalid(v)) => errors.add("policies", policy_error(&v, &rows)),
            Err(e) => return Err(e.into()),
        }
    }
    render(
        &state,
        &current,
        "sla",
        errors,
        "",
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// A policy's error in the form's words: `policies[1].warn_before_minutes`
/// is "Policy 3 (warning): …" when the second kept policy is the form's third row.
fn policy_error(v: &ValidationError, rows: &[usize]) -> String {
    let Some(rest) = v.field.strip_prefix("policies[") else {
        return v.reason.clone();
    };
    let (index, field) = rest.split_once("].").unwrap_or((rest, ""));
    let row = index
        .parse::<usize>()
        .ok()
        .and_then(|i| rows.get(i))
        .map_or(0, |r| r + 1);
    let what = match field {
        "name" => "name",
        "first_response_minutes" => "first response",
        "resolution_minutes" => "resolution",
        "warn_before_minutes" => "warning",
        "category_id" => "category",
        "escalate_to" => "escalate to",
        "escalate_to_team" => "escalate to",
        other => other,
    };
    format!("Policy {row} ({what}): {}", v.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_are_read_and_written_as_people_type_them() {
        assert_eq!(minutes("8"), Ok(Some(480)));
        assert_eq!(minutes(" 0.5 "), Ok(Some(30)));
        assert_eq!(minutes("1,25"), Ok(Some(75)));
        assert_eq!(minutes(""), Ok(None));
        assert!(minutes("-1").is_err() && minutes("soon").is_err() && minutes("NaN").is_err());
        assert_eq!(hours(Some(480)), "8");
        assert_eq!(hours(Some(30)), "0.5");
        assert_eq!(hours(Some(75)), "1.25");
        assert_eq!(hours(None), "");
        assert_eq!(calendar_field("hours.tue[1]"), "hours_tue");
        assert_eq!(calendar_field("holidays[3]"), "holidays");
        let v = ValidationError::new("policies[1].warn_before_minutes", "too long");
        assert_eq!(policy_error(&v, &[0, 2]), "Policy 3 (warning): too long");
    }
}
