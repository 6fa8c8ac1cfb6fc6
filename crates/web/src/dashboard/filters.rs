//! The complaint list's query string: filters, sort and page position, read
//! from the URL and written back into links so that every page can be
//! bookmarked and shared.

use ombud_core::*;
use ombud_store::{AssigneeFilter, ComplaintCursor, ComplaintFilter, ComplaintSort};

use super::login::FieldErrors;

/// What the list's URL asks for, as typed (so the form can show it again).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub statuses: Vec<ComplaintStatus>,
    pub category: String,
    pub priority: String,
    /// A member's id, `none` (unassigned) or `me`.
    pub assignee: String,
    /// An area (a catalogue slug, or text before there was a catalogue), or
    /// `mine`: the areas whose field staff include the member.
    pub area: String,
    /// A team's slug (`area:{slug}` for an area's field staff).
    pub team: String,
    /// `due_soon`, `breached` or `on_track` (the service level).
    pub sla: String,
    /// `YYYY-MM-DD` in the tenant's time zone, inclusive.
    pub from: String,
    pub to: String,
    pub q: String,
    pub sort: ComplaintSort,
    pub after: Option<ComplaintCursor>,
}

const MAX_TEXT: usize = 200;

impl ListQuery {
    /// Reads the query string; values that cannot be understood are reported
    /// against their field.
    pub fn parse(raw: Option<&str>) -> (Self, FieldErrors) {
        let mut q = ListQuery::default();
        let mut errors = FieldErrors::default();
        let mut statuses = 0;
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let value = value.trim();
            match key.as_ref() {
                _ if value.is_empty() => {}
                "status" => {
                    statuses += 1;
                    match ComplaintStatus::parse(value) {
                        Ok(s) if !q.statuses.contains(&s) => q.statuses.push(s),
                        Ok(_) => {}
                        Err(e) => errors.add("status", e.reason),
                    }
                }
                "category" => q.category = value.to_owned(),
                "priority" => q.priority = value.to_owned(),
                "assignee" => q.assignee = value.to_owned(),
                "area" | "q" if value.contains('\0') => {
                    let field = if key == "area" { "area" } else { "q" };
                    errors.add(field, "must not contain NUL characters");
                }
                "area" => q.area = value.chars().take(MAX_TEXT).collect(),
                "team" => q.team = value.chars().take(MAX_TEXT).collect(),
                "sla" => match ombud_core::sla::SlaState::parse("sla", value) {
                    Ok(state) => q.sla = state.as_str().to_owned(),
                    Err(e) => errors.add("sla", e.reason),
                },
                "from" => q.from = value.to_owned(),
                "to" => q.to = value.to_owned(),
                "q" => q.q = value.chars().take(MAX_TEXT).collect(),
                "sort" => match value {
                    "newest" => q.sort = ComplaintSort::Newest,
                    "oldest" => q.sort = ComplaintSort::Oldest,
                    _ => errors.add("sort", "must be newest or oldest"),
                },
                "after" => match ComplaintCursor::decode(value) {
                    Ok(c) => q.after = Some(c),
                    Err(e) => errors.add("after", e.reason),
                },
                _ => {}
            }
        }
        if let Err(e) = limits::at_most("status", statuses, limits::STATUSES) {
            errors.add("status", e.reason);
        }
        if !q.category.is_empty() && q.category.parse::<CategoryId>().is_err() {
            errors.add("category", "is not a category of this organisation");
        }
        if !q.priority.is_empty() {
            if let Err(e) = Priority::parse(&q.priority) {
                errors.add("priority", e.reason);
            }
        }
        if !matches!(q.assignee.as_str(), "" | "none" | "me")
            && q.assignee.parse::<UserId>().is_err()
        {
            errors.add("assignee", "is not a member of this organisation");
        }
        for (field, value) in [("from", &q.from), ("to", &q.to)] {
            if !value.is_empty() && chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
                errors.add(field, "must be a date like 2026-11-23");
            }
        }
        (q, errors)
    }

    /// The store's filter; dates are whole local days of the tenant;
    /// `mine` are the areas of the member's field work (for `area=mine`).
    pub fn filter(&self, tenant: &Tenant, me: &UserId, mine: &[String]) -> ComplaintFilter {
        let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        ComplaintFilter {
            statuses: self.statuses.clone(),
            category: self.category.parse().ok(),
            priority: Priority::parse(&self.priority).ok(),
            assignee: match self.assignee.as_str() {
                "" => None,
                "none" => Some(AssigneeFilter::Nobody),
                "me" => Some(AssigneeFilter::Member(me.clone())),
                id => id.parse().ok().map(AssigneeFilter::Member),
            },
            area: (!self.area.is_empty() && self.area != "mine").then(|| self.area.clone()),
            area_in: (self.area == "mine").then(|| mine.to_vec()),
            team: (!self.team.is_empty()).then(|| self.team.clone()),
            sla: ombud_core::sla::SlaState::parse("sla", &self.sla).ok(),
            created_from: date(&self.from).map(|d| tenant.timezone.start_of_date(d)),
            created_before: date(&self.to)
                .and_then(|d| d.succ_opt())
                .map(|d| tenant.timezone.start_of_date(d)),
            text: (!self.q.is_empty()).then(|| self.q.clone()),
        }
    }

    /// The query string of this list (without the page position, or with `after`).
    pub fn to_query(&self, after: Option<&ComplaintCursor>) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for status in &self.statuses {
            s.append_pair("status", status.as_str());
        }
        for (key, value) in [
            ("category", &self.category),
            ("priority", &self.priority),
            ("assignee", &self.assignee),
            ("area", &self.area),
            ("team", &self.team),
            ("sla", &self.sla),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ] {
            if !value.is_empty() {
                s.append_pair(key, value);
            }
        }
        if self.sort == ComplaintSort::Oldest {
            s.append_pair("sort", "oldest");
        }
        if let Some(after) = after {
            s.append_pair("after", &after.encode());
        }
        s.finish()
    }

    pub fn has_status(&self, status: &ComplaintStatus) -> bool {
        self.statuses.contains(status)
    }

    pub fn oldest_first(&self) -> bool {
        self.sort == ComplaintSort::Oldest
    }

    /// Whether any filter narrows the list.
    pub fn is_filtered(&self) -> bool {
        !self.to_query(None).replace("sort=oldest", "").is_empty()
    }
}

/// The store's filter of `query` for the member signed in: their areas
/// read only when the list asks for them (`area=mine`).
pub async fn filter_for(
    state: &crate::AppState,
    current: &super::session::Current,
    query: &ListQuery,
) -> Result<ComplaintFilter, super::page::PageError> {
    let mine = if query.area == "mine" {
        let routing = state.engine.ops().routing(&current.tenant.id).await?;
        routing.areas.of_field_staff(&current.user.id)
    } else {
        Vec::new()
    };
    Ok(query.filter(&current.tenant, &current.user.id, &mine))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_round_trips_and_bad_values_are_named() {
        let raw = "status=new&status=escalated&priority=high&assignee=none&q=street+light&from=2026-11-01&sort=oldest";
        let (q, errors) = ListQuery::parse(Some(raw));
        assert!(errors.is_empty());
        assert_eq!(
            q.statuses,
            vec![ComplaintStatus::New, ComplaintStatus::Escalated]
        );
        let (again, _) = ListQuery::parse(Some(&q.to_query(None)));
        assert_eq!(again.to_query(None), q.to_query(None));

        let (_, errors) = ListQuery::parse(Some(
            "status=lost&priority=asap&from=yesterday&after=x&assignee=bob",
        ));
        for field in ["status", "priority", "from", "after", "assignee"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn dates_are_whole_local_days() {
        let tenant = Tenant {
            id: TenantId::new(),
            slug: TenantSlug::parse("pune").unwrap(),
            name: "Pune".into(),
            complaint_prefix: ComplaintPrefix::parse("PUNE").unwrap(),
            default_language: Language::en(),
            timezone: TimeZoneName::parse("Asia/Kolkata").unwrap(),
            created_at: chrono::Utc::now(),
        };
        let (q, _) = ListQuery::parse(Some("from=2026-11-23&to=2026-11-23"));
        let f = q.filter(&tenant, &UserId::new(), &[]);
        // Midnight in India is 18:30 UTC the day before.
        assert_eq!(
            f.created_from.unwrap().to_rfc3339(),
            "2026-11-22T18:30:00+00:00"
        );
        assert_eq!(
            f.created_before.unwrap().to_rfc3339(),
            "2026-11-23T18:30:00+00:00"
        );
    }
}
