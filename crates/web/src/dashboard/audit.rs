//! The Audit page: the organisation's trail for its admins, newest first,
//! filtered by actor, action, target and dates, a page at a time, each entry
//! with what it changed.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use ombud_core::audit::AuditEntry;
use ombud_core::Role;
use ombud_store::AuditFilter;
use serde::Deserialize;

use super::complaints::local;
use super::page::{html, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// Entries per page.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    /// From this local date (YYYY-MM-DD).
    #[serde(default)]
    from: String,
    /// Through this local date.
    #[serde(default)]
    to: String,
    /// The page before this entry (its `seq`).
    #[serde(default)]
    before: Option<i64>,
}

pub struct Row {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub actor_id: String,
    pub action: String,
    pub target: String,
    pub target_id: String,
    pub changes: Vec<(String, String, String)>,
    pub origin: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    chrome: Chrome,
    q: &'a AuditQuery,
    rows: Vec<Row>,
    /// The query string of the next page, if there is one.
    next: Option<String>,
    error: Option<String>,
}

fn shown(v: &Option<serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "—".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn row(current: &Current, e: &AuditEntry) -> Row {
    let n = &e.entry;
    Row {
        seq: e.seq,
        at: local(&current.tenant, n.at),
        actor: n.actor.label(),
        actor_id: n.actor.id.clone().unwrap_or_default(),
        action: n.action.clone(),
        target: match &n.target.label {
            Some(label) => format!("{} {label}", n.target.kind.replace('_', " ")),
            None => format!("{} {}", n.target.kind.replace('_', " "), n.target.id),
        },
        target_id: n.target.id.clone(),
        changes: n
            .changes
            .iter()
            .map(|c| (c.field.clone(), shown(&c.before), shown(&c.after)))
            .collect(),
        origin: [n.origin.address.clone(), n.origin.request_id.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
    }
}

fn date(field: &str, raw: &str) -> Result<Option<NaiveDate>, String> {
    match raw.trim() {
        "" => Ok(None),
        d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{field}: a date like 2026-12-06")),
    }
}

fn trimmed(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty()).then(|| t.chars().take(200).collect())
}

pub async fn page(
    State(state): State<AppState>,
    current: Current,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let tz = &current.tenant.timezone;
    let dates = date("from", &q.from).and_then(|f| Ok((f, date("to", &q.to)?)));
    let (from, to) = match dates {
        Ok(d) => d,
        Err(why) => {
            return Ok(html(&AuditPage {
                chrome: Chrome::of(&current, "audit"),
                q: &q,
                rows: Vec::new(),
                next: None,
                error: Some(why),
            }))
        }
    };
    let filter = AuditFilter {
        actor: trimmed(&q.actor),
        action: trimmed(&q.action),
        target: trimmed(&q.target),
        since: from.map(|d| tz.start_of_date(d)),
        until: to.and_then(|d| d.succ_opt()).map(|d| tz.start_of_date(d)),
    };
    let mut found = state
        .store
        .audit_events(&current.tenant.id, &filter, q.before, PAGE + 1)
        .await?;
    let next = if found.len() > PAGE as usize {
        found.truncate(PAGE as usize);
        found.last().map(|last| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in [
                ("actor", &q.actor),
                ("action", &q.action),
                ("target", &q.target),
                ("from", &q.from),
                ("to", &q.to),
            ] {
                if !v.is_empty() {
                    s.append_pair(k, v);
                }
            }
            s.append_pair("before", &last.seq.to_string());
            s.finish()
        })
    } else {
        None
    };
    let rows = found.iter().map(|e| row(&current, e)).collect();
    Ok(html(&AuditPage {
        chrome: Chrome::of(&current, "audit"),
        q: &q,
        rows,
        next,
        error: None,
    }))
}
