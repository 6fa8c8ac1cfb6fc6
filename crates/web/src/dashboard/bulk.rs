//! Bulk changes from the list: to the selected complaints or to every
//! complaint matching the list's filters (on every page). The first post shows
//! how many will change and asks to confirm; the confirmed post runs the change
//! in batches and reports what changed and what was skipped, and why.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use ombud_core::*;
use ombud_engine::Selection;
use ombud_store::ComplaintChange;

use super::complaints::{list_page, parse_change, Refused};
use super::filters::ListQuery;
use super::page::{html, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// Most skipped complaints the report lists one by one.
const SHOWN_SKIPS: usize = 100;

struct BulkForm {
    action: String,
    value: String,
    matching: bool,
    ids: Vec<String>,
    confirmed: bool,
}

impl BulkForm {
    fn parse(body: &[u8]) -> Self {
        let mut f = BulkForm {
            action: String::new(),
            value: String::new(),
            matching: false,
            ids: Vec::new(),
            confirmed: false,
        };
        let (mut status, mut assignee, mut note) = (String::new(), String::new(), String::new());
        for (k, v) in form_urlencoded::parse(body) {
            match k.as_ref() {
                "action" => f.action = v.into_owned(),
                "status" => status = v.into_owned(),
                "assignee" => assignee = v.into_owned(),
                "note" => note = v.into_owned(),
                "scope" => f.matching = v == "matching",
                "ids" => f.ids.push(v.into_owned()),
                "confirm" => f.confirmed = v == "yes",
                _ => {}
            }
        }
        f.value = match f.action.as_str() {
            "status" => status,
            "assign" => assignee,
            _ => note,
        };
        f
    }
}

#[derive(Template)]
#[template(path = "bulk_confirm.html")]
struct ConfirmPage<'a> {
    chrome: Chrome,
    query: &'a str,
    action: &'a str,
    value: &'a str,
    matching: bool,
    ids: &'a [String],
    what: String,
    count: u64,
    /// For a status change: how many of them can make the move.
    movable: Option<u64>,
}

#[derive(Template)]
#[template(path = "bulk_done.html")]
struct DonePage<'a> {
    chrome: Chrome,
    back: &'a str,
    what: String,
    changed: usize,
    skipped: Vec<(String, String)>,
    more_skipped: usize,
}

fn describe(change: &ComplaintChange, members: &[ombud_store::Member]) -> String {
    match change {
        ComplaintChange::Status(s) => format!("set the status to {}", s.as_str().replace('_', " ")),
        ComplaintChange::Assign(None) => "unassign them".into(),
        ComplaintChange::Assign(Some(id)) => {
            let name = members
                .iter()
                .find(|m| &m.user.id == id)
                .map(|m| super::complaints::display_name(&m.user))
                .unwrap_or_else(|| id.to_string());
            format!("assign them to {name}")
        }
        ComplaintChange::Note(_) => "add an internal note to each".into(),
        other => format!("change their {}", other.field()),
    }
}

pub async fn bulk(
    State(state): State<AppState>,
    current: Current,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let form = BulkForm::parse(&body);
    // What cannot be asked for is said in the bulk bar, on the list.
    let refuse = |reason: String| {
        let refused = Refused {
            reason: Some(reason),
            selected: form.ids.clone(),
        };
        list_page(&state, &current, raw.as_deref(), refused)
    };
    if !matches!(form.action.as_str(), "status" | "assign" | "note") {
        return refuse("Choose what to change: set status, assign to, or add a note.".into()).await;
    }
    let change = match parse_change(&form.action, &form.value) {
        Ok(change) => change,
        Err((field, reason)) => return refuse(format!("{field}: {reason}")).await,
    };
    let (query, errors) = ListQuery::parse(raw.as_deref());
    if !errors.is_empty() {
        return Err(PageError::bad_request(
            "the list's filters could not be read; go back to the list and filter again",
        ));
    }
    let tenant = &current.tenant;
    let filter = super::filters::filter_for(&state, &current, &query).await?;
    let ids: Vec<ComplaintId> = if form.matching {
        Vec::new()
    } else {
        if form.ids.is_empty() {
            return refuse(
                "Select at least one complaint (tick its box), or apply to all matching.".into(),
            )
            .await;
        }
        if form.ids.len() > ombud_core::limits::SELECTED {
            return refuse(format!(
                "At most {} complaints can be selected at once; apply to all matching instead.",
                ombud_core::limits::SELECTED
            ))
            .await;
        }
        match form.ids.iter().map(|s| s.parse()).collect() {
            Ok(ids) => ids,
            Err(_) => return refuse("A selected complaint is not valid.".into()).await,
        }
    };
    let members = state.store.members(&tenant.id).await?;
    let what = describe(&change, &members);
    let back = format!("/app/complaints?{}", query.to_query(None));

    if !form.confirmed {
        let count = if form.matching {
            state.store.count_complaints(&tenant.id, &filter).await?
        } else {
            ids.len() as u64
        };
        let movable = match (&change, form.matching) {
            (ComplaintChange::Status(to), true) => {
                let mut f = filter.clone();
                let from: Vec<ComplaintStatus> = ComplaintStatus::ALL
                    .iter()
                    .copied()
                    .filter(|s| s.can_move_to(*to))
                    .filter(|s| filter.statuses.is_empty() || filter.statuses.contains(s))
                    .collect();
                if from.is_empty() {
                    Some(0)
                } else {
                    f.statuses = from;
                    Some(state.store.count_complaints(&tenant.id, &f).await?)
                }
            }
            _ => None,
        };
        let this_query = query.to_query(None);
        return Ok(html(&ConfirmPage {
            chrome: Chrome::of(&current, "complaints"),
            query: &this_query,
            action: &form.action,
            value: &form.value,
            matching: form.matching,
            ids: &form.ids,
            what,
            count,
            movable,
        }));
    }

    let selection = if form.matching {
        Selection::Matching(filter)
    } else {
        Selection::Ids(ids)
    };
    let report = match state
        .engine
        .change_complaints(&current.acting(), &tenant.id, selection, change)
        .await
    {
        Ok(r) => r,
        Err(ombud_store::StoreError::Invalid(e)) => {
            return Err(PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                e.to_string(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let more_skipped = report.skipped.len().saturating_sub(SHOWN_SKIPS);
    Ok(html(&DonePage {
        chrome: Chrome::of(&current, "complaints"),
        back: &back,
        what,
        changed: report.changed.len(),
        skipped: report
            .skipped
            .into_iter()
            .take(SHOWN_SKIPS)
            .map(|s| {
                (
                    s.number
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| s.id.to_string()),
                    s.reason,
                )
            })
            .collect(),
        more_skipped,
    }))
}
