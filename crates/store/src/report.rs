//! The overview page's numbers: complaints per day by status, open ones by
//! category and by age, and how long first responses and resolutions take.
//! The SQL is shared by both backends; only the day arithmetic differs.

use chrono::{DateTime, NaiveDate, Utc};
use ombud_core::*;

use crate::decode::{Columns, Decoded};
use crate::list_query::Param;
use crate::work::OPEN;
use crate::StoreError;

/// Ages the "open by age" chart buckets by, in days: under 1, 1–3, 3–7, 7–30, 30+.
pub const AGE_BUCKETS: [i64; 4] = [1, 3, 7, 30];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    /// (tenant-local day, status, complaints created that day now in that status).
    pub per_day: Vec<(NaiveDate, ComplaintStatus, u64)>,
    /// Open complaints per category (None: no category).
    pub open_by_category: Vec<(Option<CategoryId>, u64)>,
    /// Open complaints by age, one count per bucket of [`AGE_BUCKETS`] plus the last.
    pub open_by_age: Vec<u64>,
    /// Seconds from creation to the first action by a member, per complaint
    /// created in the period that has one.
    pub first_response_secs: Vec<i64>,
    /// Seconds from creation to resolution, per complaint created in the period
    /// that was resolved.
    pub resolution_secs: Vec<i64>,
    /// The service-level clocks of the complaints created in the period,
    /// with their category and team (`ombud_core::sla::SlaReport` tallies them).
    pub sla: Vec<(
        Option<CategoryId>,
        Option<String>,
        ombud_core::sla::SlaClock,
    )>,
}

pub(crate) struct Queries {
    pub per_day: (String, Vec<Param>),
    pub by_category: (String, Vec<Param>),
    pub by_age: (String, Vec<Param>),
    pub first_response: (String, Vec<Param>),
    pub resolution: (String, Vec<Param>),
    pub sla: (String, Vec<Param>),
}

/// `local_day(col, offset_param)`: the backend's expression for the local date of a
/// UTC time shifted by the tenant's offset in minutes.
pub(crate) fn queries(
    placeholder: fn(usize) -> String,
    local_day: fn(&str, &str) -> String,
    tenant: &TenantId,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    offset_minutes: i64,
) -> Queries {
    let p = |n| placeholder(n);
    let t = || Param::Text(tenant.to_string());
    let per_day = (
        format!(
            "select {day} as day, c.status as status, count(*) as n from complaints c
             where c.tenant_id = {} and c.created_at >= {}
             group by 1, 2 order by 1, 2",
            p(1),
            p(2),
            day = local_day("c.created_at", &p(3)),
        ),
        vec![t(), Param::Time(since), Param::Int(offset_minutes)],
    );
    let by_category = (
        format!(
            "select c.category_id as category_id, count(*) as n from complaints c
             where c.tenant_id = {} and c.{OPEN} group by 1 order by 2 desc",
            p(1)
        ),
        vec![t()],
    );
    let mut age_params = vec![t()];
    let mut cases = Vec::new();
    for (i, days) in AGE_BUCKETS.iter().enumerate() {
        age_params.push(Param::Time(now - chrono::Duration::days(*days)));
        let lower = if i == 0 {
            String::new()
        } else {
            format!(" and c.created_at <= {}", p(i + 1))
        };
        cases.push(format!(
            "coalesce(sum(case when c.created_at > {}{lower} then 1 else 0 end), 0) as b{i}",
            p(i + 2)
        ));
    }
    let last = AGE_BUCKETS.len();
    cases.push(format!(
        "coalesce(sum(case when c.created_at <= {} then 1 else 0 end), 0) as b{last}",
        p(last + 1)
    ));
    let by_age = (
        format!(
            "select {} from complaints c where c.tenant_id = {} and c.{OPEN}",
            cases.join(", "),
            p(1)
        ),
        age_params,
    );
    let durations = |event: &str| {
        (
            format!(
                "select c.created_at as created_at, min(e.created_at) as first_at
                 from complaints c join complaint_events e on e.complaint_id = c.id
                 where c.tenant_id = {} and c.created_at >= {} and {event}
                 group by c.id, c.created_at",
                p(1),
                p(2)
            ),
            vec![t(), Param::Time(since)],
        )
    };
    let sla = (
        format!(
            "select c.category_id as category_id, c.team as team, c.sla as sla from complaints c
             where c.tenant_id = {} and c.created_at >= {} and c.sla is not null",
            p(1),
            p(2)
        ),
        vec![t(), Param::Time(since)],
    );
    Queries {
        per_day,
        by_category,
        by_age,
        sla,
        first_response: durations("e.actor like 'user:%'"),
        resolution: durations("e.action = 'status_changed' and e.to_value = 'resolved'"),
    }
}

pub(crate) fn day_row(r: &dyn Columns) -> Decoded<(NaiveDate, ComplaintStatus, u64)> {
    let day = r.text("day")?;
    let day = NaiveDate::parse_from_str(&day[..day.len().min(10)], "%Y-%m-%d")
        .map_err(|e| StoreError::Internal(format!("day {day}: {e}")))?;
    let status = ComplaintStatus::parse(&r.text("status")?)
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok((day, status, r.int("n")? as u64))
}

type SlaRow = (
    Option<CategoryId>,
    Option<String>,
    ombud_core::sla::SlaClock,
);

pub(crate) fn sla_row(r: &dyn Columns) -> Decoded<SlaRow> {
    let (category, _) = category_of(r)?;
    let clock = serde_json::from_str(&r.text("sla")?)
        .map_err(|e| StoreError::Internal(format!("a complaint's sla: {e}")))?;
    Ok((category, r.opt_text("team")?, clock))
}

fn category_of(r: &dyn Columns) -> Decoded<(Option<CategoryId>, ())> {
    let category = r
        .opt_text("category_id")?
        .map(|s| {
            s.parse()
                .map_err(|e: ValidationError| StoreError::Internal(e.to_string()))
        })
        .transpose()?;
    Ok((category, ()))
}

pub(crate) fn category_row(r: &dyn Columns) -> Decoded<(Option<CategoryId>, u64)> {
    let (category, _) = category_of(r)?;
    Ok((category, r.int("n")? as u64))
}

pub(crate) fn age_row(r: &dyn Columns) -> Decoded<Vec<u64>> {
    (0..=AGE_BUCKETS.len())
        .map(|i| Ok(r.int(&format!("b{i}"))? as u64))
        .collect()
}

pub(crate) fn duration_row(r: &dyn Columns) -> Decoded<i64> {
    Ok((r.time("first_at")? - r.time("created_at")?).num_seconds())
}

/// The median of `values` (sorted in place); None when empty.
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2
    } else {
        values[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [9, 1, 5]), Some(5));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
    }
}
