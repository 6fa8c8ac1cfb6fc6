//! The complaint list's SQL, built once for both backends: the filter's
//! conditions, keyset paging, counts, and the two ways of matching free text.

use chrono::{DateTime, Utc};
use ombud_core::*;

use crate::decode::{self, Columns, Decoded};
use crate::work::{ComplaintCursor, ComplaintFilter, ComplaintRow, ComplaintSort};
use crate::AssigneeFilter;

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
    Null,
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
    if let Some(areas) = &f.area_in {
        if areas.is_empty() {
            w.push("1 = 0".into());
        } else {
            let list: Vec<String> = areas
                .iter()
                .map(|a| sql.bind(Param::Text(a.clone())))
                .collect();
            w.push(format!("c.area in ({})", list.join(", ")));
        }
    }
    if let Some(t) = &f.team {
        w.push(format!("c.team = {}", sql.bind(Param::Text(t.clone()))));
    }
    if let Some(state) = f.sla {
        w.push(format!(
            "c.sla_state = {}",
            sql.bind(Param::Text(state.as_str().into()))
        ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ComplaintSort;

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
