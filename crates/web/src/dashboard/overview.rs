//! The overview: the last 7, 30 or 90 days at a glance, as charts, and the
//! filtered list as CSV.

use std::collections::HashMap;

use askama::Template;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use ombud_core::*;
use ombud_store::report::{median, AGE_BUCKETS};
use ombud_store::{ComplaintCursor, ComplaintFilter};

use super::charts::{self, Series};
use super::complaints::local;
use super::filters::ListQuery;
use super::page::{html, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// The periods the overview offers, in days; 30 unless asked.
const PERIODS: [i64; 3] = [7, 30, 90];
const DAYS: i64 = 30;
/// The fewest days the chart of complaints per day spans: fewer days of
/// data would draw a few bars as wide as the card.
const MIN_DAYS_DRAWN: usize = 7;

#[derive(serde::Deserialize)]
pub struct OverviewQuery {
    days: Option<String>,
}
#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    /// The period, in days, and the periods offered.
    days: i64,
    periods: [i64; 3],
    per_day: String,
    by_category: String,
    by_age: String,
    first_response: String,
    resolution: String,
    created: u64,
    open: u64,
    csat: CsatTables,
    sla: SlaTables,
}

/// Service levels over the period, as the overview shows them.
struct SlaTables {
    /// "92% of 40", or that none was decided yet.
    first_response: String,
    resolution: String,
    /// By category: (name, first response, resolution).
    rows: Vec<(String, String, String)>,
    /// By team, the same (empty when no complaint went to a team).
    teams: Vec<(String, String, String)>,
    /// Breaches per week, as a bar chart (empty: none).
    weeks: String,
}

impl SlaTables {
    fn of(
        tenant: &Tenant,
        categories: &[Category],
        routing: &ombud_engine::ops::routing::Routing,
        o: &ombud_store::report::Overview,
    ) -> Self {
        use ombud_core::sla::{Met, SlaReport};
        let r = SlaReport::of(
            &tenant.timezone,
            o.sla.iter().map(|(c, t, k)| (c.as_ref(), t.as_deref(), k)),
        );
        let share = |m: &Met| match m.percent() {
            Some(p) => format!("{p:.0}% of {}", m.met + m.missed),
            None => "—".into(),
        };
        let rows = r
            .by_category
            .iter()
            .map(|(id, (first, resolution))| {
                let name = id
                    .as_ref()
                    .and_then(|id| categories.iter().find(|c| &c.id == id))
                    .map(|c| c.name_in(&tenant.default_language).to_owned())
                    .unwrap_or_else(|| "no category".into());
                (name, share(first), share(resolution))
            })
            .collect();
        let teams = if r.by_team.keys().all(Option::is_none) {
            Vec::new()
        } else {
            r.by_team
                .iter()
                .map(|(slug, (first, resolution))| {
                    let name = slug.as_deref().map_or_else(
                        || "no team".to_owned(),
                        |s| routing.team(s).map_or_else(|| s.to_owned(), |t| t.name),
                    );
                    (name, share(first), share(resolution))
                })
                .collect()
        };
        let weeks: Vec<(String, u64)> = r
            .breaches_per_week
            .iter()
            .map(|(monday, n)| (format!("week of {}", monday.format("%d %b")), *n))
            .collect();
        Self {
            first_response: share(&r.first_response),
            resolution: share(&r.resolution),
            rows,
            teams,
            weeks: if weeks.is_empty() {
                String::new()
            } else {
                charts::bars("Deadlines missed per week", &weeks, "#b00020")
            },
        }
    }
}

/// Citizens' satisfaction over the last year, as the overview shows it.
struct CsatTables {
    /// "80% satisfied (average 4.1 of 5, 25 ratings)", or that none came.
    total: String,
    /// By category, by the member assigned and by month (none without
    /// ratings).
    tables: Vec<CsatTable>,
}

struct CsatTable {
    title: &'static str,
    column: &'static str,
    rows: Vec<CsatRow>,
}

struct CsatRow {
    name: String,
    csat: String,
    average: String,
    ratings: u64,
}

/// Days of ratings the overview reads.
const CSAT_DAYS: i64 = 365;

impl CsatRow {
    fn of(name: String, l: &ombud_store::CsatLine) -> Self {
        Self {
            name,
            csat: l.csat().map_or("—".into(), |p| format!("{p:.0}%")),
            average: l.average().map_or("—".into(), |a| format!("{a:.1}")),
            ratings: l.ratings,
        }
    }
}

async fn csat_tables(
    state: &AppState,
    tenant: &ombud_core::Tenant,
    categories: &[ombud_core::Category],
    routing: &ombud_engine::ops::routing::Routing,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CsatTables, PageError> {
    let groups = state
        .store
        .csat(tenant, now - Duration::days(CSAT_DAYS), now)
        .await?;
    let r = ombud_store::CsatReport::of(&groups);
    let members = state.store.members(&tenant.id).await?;
    let total = match (r.total.csat(), r.total.average()) {
        (Some(p), Some(a)) => format!(
            "{p:.0}% satisfied (average {a:.1} of 5, {} rating{})",
            r.total.ratings,
            if r.total.ratings == 1 { "" } else { "s" }
        ),
        _ => "No ratings yet: citizens are asked after their complaint is resolved.".into(),
    };
    if r.total.ratings == 0 {
        return Ok(CsatTables {
            total,
            tables: Vec::new(),
        });
    }
    let table = |title, column, rows| CsatTable {
        title,
        column,
        rows,
    };
    let by_category = r
        .by_category
        .iter()
        .map(|(id, l)| {
            let name = id
                .as_ref()
                .and_then(|id| categories.iter().find(|c| &c.id == id))
                .map(|c| c.name_in(&tenant.default_language).to_owned())
                .unwrap_or_else(|| "no category".into());
            CsatRow::of(name, l)
        })
        .collect();
    let by_member = r
        .by_assignee
        .iter()
        .map(|(id, l)| {
            let name = id
                .as_ref()
                .and_then(|id| members.iter().find(|m| &m.user.id == id))
                .map(|m| super::complaints::display_name(&m.user))
                .unwrap_or_else(|| "nobody".into());
            CsatRow::of(name, l)
        })
        .collect();
    let by_month = r
        .by_month
        .iter()
        .map(|(m, l)| CsatRow::of(m.clone(), l))
        .collect();
    let mut tables = vec![
        table("By category", "Category", by_category),
        table("By member", "Assigned to", by_member),
    ];
    // By team, once a rated complaint went to one.
    if r.by_team.iter().any(|(team, _)| team.is_some()) {
        let by_team = r
            .by_team
            .iter()
            .map(|(slug, l)| {
                let name = slug.as_deref().map_or_else(
                    || "no team".to_owned(),
                    |s| routing.team(s).map_or_else(|| s.to_owned(), |t| t.name),
                );
                CsatRow::of(name, l)
            })
            .collect();
        tables.push(table("By team", "Team", by_team));
    }
    tables.push(table("By month", "Month", by_month));
    Ok(CsatTables { total, tables })
}

fn color(status: ComplaintStatus) -> &'static str {
    super::palette::status(status).fill
}

/// A duration for people: "2 h 5 min", "3 days 4 h".
fn human(secs: Option<i64>) -> String {
    let Some(s) = secs else {
        return "no data yet".into();
    };
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{} min", m.max(1)),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} days {h} h"),
    }
}

pub async fn page(
    State(state): State<AppState>,
    current: Current,
    axum::extract::Query(q): axum::extract::Query<OverviewQuery>,
) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let days_asked = match q.days.as_deref() {
        None => DAYS,
        Some(d) => d
            .parse()
            .ok()
            .filter(|d| PERIODS.contains(d))
            .ok_or_else(|| PageError::bad_request("days: choose 7, 30 or 90"))?,
    };
    let tenant = &current.tenant;
    let now = state.engine.now();
    let since = tenant.timezone.start_of_local_day(now) - Duration::days(days_asked - 1);
    let mut o = state.store.overview(tenant, since, now).await?;
    let categories = state.store.categories(&tenant.id).await?;
    let routing = state.engine.ops().routing(&tenant.id).await?;

    let first_day = tenant.timezone.local_date(since);
    let days: Vec<chrono::NaiveDate> = (0..days_asked)
        .filter_map(|i| first_day.checked_add_signed(Duration::days(i)))
        .collect();
    let index: HashMap<chrono::NaiveDate, usize> =
        days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let statuses = ComplaintStatus::ALL;
    let mut values = vec![vec![0u64; statuses.len()]; days.len()];
    let mut created = 0;
    for (day, status, n) in &o.per_day {
        if let (Some(i), Some(s)) = (index.get(day), statuses.iter().position(|x| x == status)) {
            values[*i][s] += n;
            created += n;
        }
    }
    let names: Vec<String> = statuses
        .iter()
        .map(|s| s.as_str().replace('_', " "))
        .collect();
    let series: Vec<Series> = statuses
        .iter()
        .zip(names.iter())
        .map(|(s, name)| Series {
            name,
            color: color(*s),
        })
        .collect();
    // The axis starts at the first day with a complaint (at least a week).
    let first = values
        .iter()
        .position(|v| v.iter().any(|n| *n > 0))
        .unwrap_or(values.len());
    let start = first.min(values.len().saturating_sub(MIN_DAYS_DRAWN));
    let labels: Vec<String> = days[start..]
        .iter()
        .map(|d| d.format("%-d %b").to_string())
        .collect();
    let per_day = charts::stacked_columns(
        "Complaints per day, by current status",
        &labels,
        &series,
        &values[start..],
    );
    let by_category: Vec<(String, u64)> = o
        .open_by_category
        .iter()
        .map(|(id, n)| {
            let name = id
                .as_ref()
                .and_then(|id| categories.iter().find(|c| &c.id == id))
                .map(|c| c.name_in(&tenant.default_language).to_owned())
                .unwrap_or_else(|| "no category".into());
            (name, *n)
        })
        .collect();
    let open: u64 = o.open_by_age.iter().sum();
    let mut age_labels: Vec<String> = Vec::new();
    let mut lower = 0;
    for upper in AGE_BUCKETS {
        age_labels.push(if lower == 0 {
            format!("under {upper} day(s)")
        } else {
            format!("{lower}–{upper} days")
        });
        lower = upper;
    }
    age_labels.push(format!("over {lower} days"));
    let by_age: Vec<(String, u64)> = age_labels
        .into_iter()
        .zip(o.open_by_age.iter().copied())
        .collect();
    Ok(html(&OverviewPage {
        chrome: Chrome::of(&current, "overview"),
        days: days_asked,
        periods: PERIODS,
        per_day,
        by_category: charts::bars("Open complaints by category", &by_category, "#0b5cad"),
        by_age: charts::bars("Open complaints by age", &by_age, "#e0a800"),
        first_response: human(median(&mut o.first_response_secs)),
        resolution: human(median(&mut o.resolution_secs)),
        created,
        open,
        csat: csat_tables(&state, tenant, &categories, &routing, now).await?,
        sla: SlaTables::of(tenant, &categories, &routing, &o),
    }))
}

/// A CSV field: always quoted, quotes doubled (RFC 4180), and a leading
/// `= + - @` neutralised so a spreadsheet does not run it as a formula.
fn field(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

const CSV_PAGE: u32 = 1000;

/// Every complaint matching the list's filters (all pages), streamed as CSV.
pub async fn csv(
    State(state): State<AppState>,
    current: Current,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let (query, errors) = ListQuery::parse(raw.as_deref());
    if !errors.is_empty() {
        return Err(PageError::bad_request(
            "the list's filters could not be read; filter the list again and export from there",
        ));
    }
    let filter: ComplaintFilter = super::filters::filter_for(&state, &current, &query).await?;
    let sort = query.sort;
    let tenant = current.tenant.clone();
    let store = state.store.clone();
    let categories = store.categories(&tenant.id).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(4);
    tokio::spawn(async move {
        let header = "number,status,priority,category,assignee,area,created,citizen,citizen_number,location,description\r\n";
        if tx.send(Ok(header.to_owned())).await.is_err() {
            return;
        }
        let mut after: Option<ComplaintCursor> = None;
        loop {
            let rows = match store
                .list_complaints(&tenant.id, &filter, sort, after.as_ref(), CSV_PAGE)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "CSV export stopped");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            };
            let full = rows.len() == CSV_PAGE as usize;
            after = rows.last().map(|r| ComplaintCursor::of(&r.complaint));
            let mut chunk = String::new();
            for r in rows {
                let c = &r.complaint;
                let category = c
                    .category_id
                    .as_ref()
                    .and_then(|id| categories.iter().find(|k| &k.id == id))
                    .map(|k| k.name_in(&tenant.default_language))
                    .unwrap_or("");
                let cells = [
                    c.number.as_str(),
                    c.status.as_str(),
                    c.priority.as_str(),
                    category,
                    r.assignee_name.as_deref().unwrap_or(""),
                    c.area.as_deref().unwrap_or(""),
                    &local(&tenant, c.created_at),
                    r.contact_name.as_deref().unwrap_or(""),
                    r.contact_address.as_deref().unwrap_or(""),
                    c.location.as_deref().unwrap_or(""),
                    &c.description,
                ];
                let line: Vec<String> = cells.iter().map(|s| field(s)).collect();
                chunk.push_str(&line.join(","));
                chunk.push_str("\r\n");
            }
            if tx.send(Ok(chunk)).await.is_err() || !full {
                return;
            }
        }
    });
    let stream = tokio_stream_from(rx);
    let filename = format!("complaints-{}.csv", current.tenant.slug);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<String, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(field("plain"), "\"plain\"");
        assert_eq!(field("say \"hi\", ok"), "\"say \"\"hi\"\", ok\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-5"), "\"'-5\"");
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(human(None), "no data yet");
        assert_eq!(human(Some(30)), "1 min");
        assert_eq!(human(Some(2 * 3600 + 5 * 60)), "2 h 5 min");
        assert_eq!(human(Some(3 * 86_400 + 4 * 3600)), "3 days 4 h");
    }
}
