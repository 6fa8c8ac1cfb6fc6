//! The daily summary: at 09:00 in each tenant's zone, the members who asked
//! for it (on their account page) get by mail what came in and what was
//! resolved since 09:00 the day before, how many are open, and the oldest
//! open ones. Made once per tenant and day across replicas, also after a
//! crash: a quarter-hourly sweep makes the day's `summary.daily` job, and
//! that job each member's mail, all keyed by tenant, day (and member), so
//! asking again makes nothing new.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use ombud_core::*;
use ombud_store::{ComplaintFilter, ComplaintSort, Job, Store, StoreResult};
use serde::{Deserialize, Serialize};

use crate::mail::Mail;
use crate::scheduler::{JobHandler, Recurring};

pub const SWEEP: &str = "summary.sweep";
pub const DAILY: &str = "summary.daily";
/// When the summary goes out, tenant-local.
pub const HOUR: u32 = 9;
/// The oldest open complaints a summary lists.
pub const OLDEST: u32 = 5;

/// Looks every quarter of an hour for tenants whose 09:00 has come.
pub fn sweep_every_quarter_hour() -> Recurring {
    let utc = TimeZoneName::parse("UTC").expect("UTC is a zone");
    Recurring {
        kind: SWEEP.into(),
        key: SWEEP.into(),
        schedule: ombud_core::schedule::Schedule::parse(SWEEP, "*/15 * * * *", &utc)
            .expect("a schedule"),
        payload: serde_json::json!({}),
        max_attempts: 3,
    }
}

/// 09:00 on the local `date`, in UTC (the first 09:00 where clocks change).
fn nine_on(zone: &TimeZoneName, date: NaiveDate) -> DateTime<Utc> {
    use chrono::TimeZone;
    let nine = date.and_time(NaiveTime::from_hms_opt(HOUR, 0, 0).unwrap_or_default());
    (0..3)
        .find_map(|h| {
            zone.tz()
                .from_local_datetime(&(nine + chrono::Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| nine.and_utc())
}

/// An open complaint, as the summary lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OldOpen {
    pub number: String,
    pub status: String,
    pub days: i64,
}

/// A tenant's day in numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Numbers {
    pub new: u64,
    pub resolved: u64,
    pub open: u64,
    pub oldest: Vec<OldOpen>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Day {
    tenant_id: TenantId,
    date: NaiveDate,
}

/// Counts the tenant's day: from 09:00 the day before `date` to 09:00 on it.
pub async fn numbers(store: &dyn Store, tenant: &Tenant, date: NaiveDate) -> StoreResult<Numbers> {
    let to = nine_on(&tenant.timezone, date);
    let from = nine_on(&tenant.timezone, date.pred_opt().unwrap_or(date));
    let new = store
        .count_complaints(
            &tenant.id,
            &ComplaintFilter {
                created_from: Some(from),
                created_before: Some(to),
                ..Default::default()
            },
        )
        .await?;
    let open_filter = ComplaintFilter {
        statuses: ComplaintStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect(),
        ..Default::default()
    };
    let open = store.count_complaints(&tenant.id, &open_filter).await?;
    let oldest = store
        .list_complaints(
            &tenant.id,
            &open_filter,
            ComplaintSort::Oldest,
            None,
            OLDEST,
        )
        .await?
        .into_iter()
        .map(|row| OldOpen {
            number: row.complaint.number.to_string(),
            status: row.complaint.status.to_string(),
            days: (to - row.complaint.created_at).num_days(),
        })
        .collect();
    Ok(Numbers {
        new,
        resolved: store.resolved_between(&tenant.id, from, to).await?,
        open,
        oldest,
    })
}

/// `summary.sweep`: makes the day's summary job of every tenant whose 09:00
/// has come and that has a member who wants it.
pub struct SweepJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl JobHandler for SweepJob {
    async fn run(&self, _job: &Job) -> Result<(), String> {
        let now = self.clock.now();
        let fail = |e: ombud_store::StoreError| e.to_string();
        for tenant in self.store.tenants().await.map_err(fail)? {
            let date = tenant.local_date(now);
            if now < nine_on(&tenant.timezone, date) {
                continue;
            }
            let key = format!("summary:{}:{date}", tenant.id);
            if self.store.job(&key).await.map_err(fail)?.is_some() {
                continue;
            }
            let members = self.store.members(&tenant.id).await.map_err(fail)?;
            if !members.iter().any(|m| m.daily_summary) {
                continue;
            }
            let day = Day {
                tenant_id: tenant.id.clone(),
                date,
            };
            let job = ombud_store::NewJob {
                tenant_id: Some(tenant.id.clone()),
                ..crate::scheduler::one_off(
                    DAILY,
                    &key,
                    serde_json::to_value(&day).unwrap_or_default(),
                    now,
                )
            };
            self.store.schedule_job(job, now).await.map_err(fail)?;
        }
        Ok(())
    }
}

/// `summary.daily`: counts the tenant's day and makes one mail per member
/// who wants it.
pub struct DailyJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

#[async_trait]
impl JobHandler for DailyJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let day: Day =
            serde_json::from_value(job.payload.clone()).map_err(|e| format!("not a day: {e}"))?;
        let fail = |e: ombud_store::StoreError| e.to_string();
        let Some(tenant) = self.store.tenant(&day.tenant_id).await.map_err(fail)? else {
            return Ok(());
        };
        let numbers = numbers(self.store.as_ref(), &tenant, day.date)
            .await
            .map_err(fail)?;
        let now = self.clock.now();
        for member in self.store.members(&tenant.id).await.map_err(fail)? {
            if !member.daily_summary {
                continue;
            }
            let mail = Mail::DailySummary {
                tenant_id: tenant.id.clone(),
                user_id: member.user.id.clone(),
                to: member.user.email.clone(),
                date: day.date,
                numbers: numbers.clone(),
            };
            self.store
                .schedule_job(mail.job(now), now)
                .await
                .map_err(fail)?;
        }
        Ok(())
    }
}
