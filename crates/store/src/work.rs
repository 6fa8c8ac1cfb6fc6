//! Staff work on complaints: the filtered list, paged by keyset, and changes
//! applied to many complaints in one transaction. The list's SQL is built once
//! here for both backends.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ombud_core::*;

use crate::decode::{self, Columns, Decoded};

/// Which complaints a list (or a bulk change) covers. Empty means all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComplaintFilter {
    /// Any of these statuses.
    pub statuses: Vec<ComplaintStatus>,
    pub category: Option<CategoryId>,
    pub priority: Option<Priority>,
    pub assignee: Option<AssigneeFilter>,
    /// Exactly this area.
    pub area: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Part of the number, description, location, or the contact's name or number.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AssigneeFilter {
    Nobody,
    Member(UserId),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ComplaintSort {
    #[default]
    Newest,
    Oldest,
}

/// Where a page ends: the last complaint's creation time and id. The next
/// page starts after it, however many complaints were added meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintCursor {
    pub created_at: DateTime<Utc>,
    pub id: ComplaintId,
}

impl ComplaintCursor {
    pub fn of(c: &Complaint) -> Self {
        Self {
            created_at: c.created_at,
            id: c.id.clone(),
        }
    }

    /// `{microseconds since the epoch}.{id}`, safe in a URL.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.id)
    }

    pub fn decode(s: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("after", "is not a page position from this list");
        let (micros, id) = s.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(Self {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// A complaint as the list shows it, with its contact and assignee.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintRow {
    pub complaint: Complaint,
    pub contact_name: Option<String>,
    /// The contact's address on its channel (a WhatsApp number).
    pub contact_address: Option<String>,
    pub assignee_name: Option<String>,
}

/// One change, applied to each complaint of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum ComplaintChange {
    Status(ComplaintStatus),
    Priority(Priority),
    Category(Option<CategoryId>),
    Assign(Option<UserId>),
    Area(Option<String>),
    /// An internal note (already sanitized): never sent to the citizen.
    Note(String),
}

/// What the citizen is told when staff change the status of their complaints:
/// one notice per conversation and batch, naming every complaint of theirs
/// that changed.
pub trait StatusNotices: Send + Sync {
    fn notice(&self, language: &Language, numbers: &[&str], status: ComplaintStatus) -> String;
}

pub struct ChangeBatch {
    /// `user:<id>` of the member making the change.
    pub actor: String,
    pub change: ComplaintChange,
    pub ids: Vec<ComplaintId>,
    pub notices: Option<Arc<dyn StatusNotices>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChangeOutcome {
    Changed(Box<Complaint>),
    Skipped {
        id: ComplaintId,
        number: Option<ComplaintNumber>,
        reason: String,
    },
}

/// What a change does to one complaint, checked against its current state:
/// the complaint as it will be and the history line, or why it is skipped.
pub(crate) struct Applied {
    pub complaint: Complaint,
    pub action: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub event: Option<EventType>,
}

impl Applied {
    /// The domain event's data: the complaint as it is now, and what changed.
    pub(crate) fn event_data(&self, actor: &str) -> serde_json::Value {
        serde_json::json!({
            "complaint": self.complaint,
            "change": {"action": self.action, "from": self.from, "to": self.to},
            "actor": actor,
        })
    }
}

pub(crate) fn apply(
    current: &Complaint,
    change: &ComplaintChange,
    at: DateTime<Utc>,
) -> Result<Applied, String> {
    let mut next = current.clone();
    next.updated_at = at;
    let same = |what: &str| Err(format!("{what} already"));
    let (action, from, to, event) = match change {
        ComplaintChange::Status(to) => {
            if current.status == *to {
                return same(&format!("is {to}"));
            }
            next.status = current.status.transition(*to).map_err(|e| e.reason)?;
            (
                "status_changed",
                Some(current.status.to_string()),
                Some(to.to_string()),
                Some(EventType::ComplaintStatusChanged),
            )
        }
        ComplaintChange::Priority(p) => {
            if current.priority == *p {
                return same(&format!("is {p} priority"));
            }
            next.priority = *p;
            (
                "priority_changed",
                Some(current.priority.to_string()),
                Some(p.to_string()),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Category(c) => {
            if current.category_id == *c {
                return same("is in this category");
            }
            next.category_id = c.clone();
            (
                "category_changed",
                current.category_id.as_ref().map(|c| c.to_string()),
                c.as_ref().map(|c| c.to_string()),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Assign(u) => {
            if current.assignee_id == *u {
                return same(if u.is_some() {
                    "is assigned to them"
                } else {
                    "is unassigned"
                });
            }
            next.assignee_id = u.clone();
            (
                "assigned",
                current.assignee_id.as_ref().map(|u| u.to_string()),
                u.as_ref().map(|u| u.to_string()),
                Some(EventType::ComplaintAssigned),
            )
        }
        ComplaintChange::Area(a) => {
            if current.area == *a {
                return same("is in this area");
            }
            next.area = a.clone();
            (
                "area_changed",
                current.area.clone(),
                a.clone(),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Note(text) => ("note", None, Some(text.clone()), None),
    };
    Ok(Applied {
        complaint: next,
        action,
        from,
        to,
        event,
    })
}

/// A backend's way of writing parameters and case-blind matching.
pub(crate) struct Dialect {
    pub placeholder: fn(usize) -> String,
    pub ilike: &'static str,
}

pub(crate) const SQLITE: Dialect = Dialect {
    placeholder: |n| format!("?{n}"),
    // LIKE is case-blind for ASCII in SQLite.
    ilike: "like",
};

pub(crate) const POSTGRES: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    ilike: "ilike",
};

/// How free text is matched. `Index` (SQLite's trigram table
/// `complaint_search`) reads only the complaints that contain the text, then
/// sorts them: best when few do. `Scan` reads complaints in list order and
/// keeps those that contain it: best when many do, as a page fills at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextPlan {
    Scan,
    Index,
}

/// Shortest text the trigram index can find.
pub(crate) const INDEXED_MIN_CHARS: usize = 3;

/// The search text as an FTS5 phrase: in double quotes, quotes doubled. With
/// the trigram tokenizer a phrase matches as a case-blind substring.
pub(crate) fn search_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
}

struct Sql<'d> {
    dialect: &'d Dialect,
    plan: TextPlan,
    params: Vec<Param>,
}

impl Sql<'_> {
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        (self.dialect.placeholder)(self.params.len())
    }
}

fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The `where` conditions of a filter, over `complaints c` (and `contacts ct`
/// when the filter has text).
fn conditions(sql: &mut Sql, tenant: &TenantId, f: &ComplaintFilter) -> Vec<String> {
    let mut w = vec![format!(
        "c.tenant_id = {}",
        sql.bind(Param::Text(tenant.to_string()))
    )];
    if !f.statuses.is_empty() {
        let list: Vec<String> = f
            .statuses
            .iter()
            .map(|s| sql.bind(Param::Text(s.to_string())))
            .collect();
        w.push(format!("c.status in ({})", list.join(", ")));
    }
    if let Some(cat) = &f.category {
        w.push(format!(
            "c.category_id = {}",
            sql.bind(Param::Text(cat.to_string()))
        ));
    }
    if let Some(p) = f.priority {
        w.push(format!(
            "c.priority = {}",
            sql.bind(Param::Text(p.to_string()))
        ));
    }
    match &f.assignee {
        Some(AssigneeFilter::Nobody) => w.push("c.assignee_id is null".into()),
        Some(AssigneeFilter::Member(u)) => w.push(format!(
            "c.assignee_id = {}",
            sql.bind(Param::Text(u.to_string()))
        )),
        None => {}
    }
    if let Some(a) = &f.area {
        w.push(format!("c.area = {}", sql.bind(Param::Text(a.clone()))));
    }
    if let Some(t) = f.created_from {
        w.push(format!("c.created_at >= {}", sql.bind(Param::Time(t))));
    }
    if let Some(t) = f.created_before {
        w.push(format!("c.created_at < {}", sql.bind(Param::Time(t))));
    }
    if let Some(text) = &f.text {
        if sql.plan == TextPlan::Index {
            let p = sql.bind(Param::Text(search_phrase(text)));
            w.push(format!("complaint_search match {p}"));
        } else {
            let p = sql.bind(Param::Text(like_pattern(text)));
            let like = sql.dialect.ilike;
            w.push(format!(
                "(c.number {like} {p} escape '\\' or c.description {like} {p} escape '\\'
                  or c.location {like} {p} escape '\\' or ct.external_id {like} {p} escape '\\'
                  or ct.profile_name {like} {p} escape '\\')"
            ));
        }
    }
    w
}

/// One page of the list: `limit` rows after `after`, in `sort` order.
pub(crate) fn list_sql(
    dialect: &Dialect,
    plan: TextPlan,
    tenant: &TenantId,
    filter: &ComplaintFilter,
    sort: ComplaintSort,
    after: Option<&ComplaintCursor>,
    limit: u32,
) -> (String, Vec<Param>) {
    let mut sql = Sql {
        dialect,
        plan,
        params: Vec::new(),
    };
    let mut w = conditions(&mut sql, tenant, filter);
    let (cmp, dir) = match sort {
        ComplaintSort::Newest => ("<", "desc"),
        ComplaintSort::Oldest => (">", "asc"),
    };
    if let Some(cursor) = after {
        let t = sql.bind(Param::Time(cursor.created_at));
        let id = sql.bind(Param::Text(cursor.id.to_string()));
        w.push(format!("(c.created_at, c.id) {cmp} ({t}, {id})"));
    }
    let limit = sql.bind(Param::Int(i64::from(limit)));
    let cols: Vec<String> = decode::COMPLAINT_COLS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect();
    let text = format!(
        "select {}, ct.profile_name as contact_name, ct.external_id as contact_address,
                u.name as assignee_name
         from {}
         left join contacts ct on ct.id = c.contact_id
         left join users u on u.id = c.assignee_id
         where {}
         order by c.created_at {dir}, c.id {dir}
         limit {limit}",
        cols.join(", "),
        from(filter, plan),
        w.join(" and ")
    );
    (text, sql.params)
}

/// How many complaints match, for "this will change N complaints".
pub(crate) fn count_sql(
    dialect: &Dialect,
    plan: TextPlan,
    tenant: &TenantId,
    filter: &ComplaintFilter,
) -> (String, Vec<Param>) {
    let mut sql = Sql {
        dialect,
        plan,
        params: Vec::new(),
    };
    let w = conditions(&mut sql, tenant, filter);
    let join = if filter.text.is_some() && plan == TextPlan::Scan {
        "left join contacts ct on ct.id = c.contact_id"
    } else {
        ""
    };
    (
        format!(
            "select count(*) as n from {} {join} where {}",
            from(filter, plan),
            w.join(" and ")
        ),
        sql.params,
    )
}

/// The complaints a query reads: all of them, or (searching through the
/// index) only those the index names, looked up by id.
fn from(filter: &ComplaintFilter, plan: TextPlan) -> &'static str {
    if filter.text.is_some() && plan == TextPlan::Index {
        "complaint_search cross join complaints c on c.id = complaint_search.complaint_id"
    } else {
        "complaints c"
    }
}

pub(crate) fn complaint_row(r: &dyn Columns) -> Decoded<ComplaintRow> {
    Ok(ComplaintRow {
        complaint: decode::complaint(r)?,
        contact_name: r.opt_text("contact_name")?,
        contact_address: r.opt_text("contact_address")?,
        assignee_name: r.opt_text("assignee_name")?,
    })
}

/// The changed complaints of one conversation, for one notice.
pub(crate) fn notice_groups(
    changed: &[Complaint],
) -> Vec<(ConversationId, ChannelId, Vec<&Complaint>)> {
    let mut groups: Vec<(ConversationId, ChannelId, Vec<&Complaint>)> = Vec::new();
    for c in changed {
        let (Some(conv), Some(chan)) = (&c.conversation_id, &c.channel_id) else {
            continue;
        };
        match groups.iter_mut().find(|(id, _, _)| id == conv) {
            Some((_, _, list)) => list.push(c),
            None => groups.push((conv.clone(), chan.clone(), vec![c])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = ComplaintCursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: ComplaintId::new(),
        };
        assert_eq!(ComplaintCursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "123", "x.cmp_1", "123.notanid"] {
            assert_eq!(ComplaintCursor::decode(bad).unwrap_err().field, "after");
        }
    }

    #[test]
    fn text_is_matched_literally() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn every_value_is_a_parameter_never_sql() {
        let f = ComplaintFilter {
            statuses: vec![ComplaintStatus::New, ComplaintStatus::Escalated],
            text: Some("x' or 1=1 --".into()),
            area: Some("Ward 7".into()),
            ..Default::default()
        };
        let (sql, params) = list_sql(
            &POSTGRES,
            TextPlan::Scan,
            &TenantId::new(),
            &f,
            ComplaintSort::Newest,
            None,
            50,
        );
        assert!(!sql.contains("1=1") && !sql.contains("Ward 7"), "{sql}");
        assert!(sql.contains("c.status in ($2, $3)"), "{sql}");
        assert_eq!(params.len(), 6, "tenant, 2 statuses, area, text, limit");
    }
}
