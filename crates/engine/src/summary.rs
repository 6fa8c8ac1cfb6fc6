//! The daily summary: at the tenant's summary time (09:00 in its zone unless
//! an admin chose another quarter hour), what came in and what was resolved
//! since that time the day before, how many are open, the oldest open ones
//! and the day's CSAT go out as the `summary.daily` webhook event and, by
//! mail, to the members who asked for it (on their account page). Made once
//! per tenant and day across replicas, also after a crash: a quarter-hourly
//! sweep makes the day's `summary.daily` job; that job writes the event
//! under an id derived from the tenant and day, and each member's mail as a
//! job keyed by tenant, day and member, so running it again makes nothing
//! new.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use ombud_core::event::payload::{OldOpen, Payload, SummaryDaily};
use ombud_core::summary::SummarySettings;
use ombud_core::*;
use ombud_store::{ComplaintFilter, ComplaintSort, CsatReport, Job, Store, StoreResult};
use serde::{Deserialize, Serialize};

use crate::mail::Mail;
use crate::scheduler::{JobHandler, Recurring};

pub const SWEEP: &str = "summary.sweep";
pub const DAILY: &str = "summary.daily";
/// The oldest open complaints a summary lists.
pub const OLDEST: u32 = 5;

/// Looks every quarter of an hour for tenants whose summary time has come.
pub fn sweep_every_quarter_hour() -> Recurring {
    Recurring::utc(SWEEP, "*/15 * * * *")
}

/// `time` on the local `date`, in UTC (where clocks skip it, the first
/// moment after).
fn time_on(zone: &TimeZoneName, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    use chrono::TimeZone;
    let at = date.and_time(time);
    (0..3)
        .find_map(|h| {
            zone.tz()
                .from_local_datetime(&(at + chrono::Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| at.and_utc())
}

/// A tenant's summary settings (the defaults until an admin sets them).
pub async fn settings(store: &dyn Store, tenant: &TenantId) -> StoreResult<SummarySettings> {
    crate::ops::settings::read_setting(store, tenant, ombud_core::summary::SETTINGS_KEY).await
}

/// A tenant's day in numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Numbers {
    pub new: u64,
    pub resolved: u64,
    pub open: u64,
    pub oldest: Vec<OldOpen>,
    /// The summary time (`09:00`): the day runs from it to it.
    #[serde(default = "nine")]
    pub at: String,
    /// Survey ratings given in the day, and how many were 4 or 5.
    #[serde(default)]
    pub ratings: u64,
    #[serde(default)]
    pub satisfied: u64,
    /// Complaints that missed a service-level deadline in the day.
    #[serde(default)]
    pub breached: u64,
}

fn nine() -> String {
    "09:00".into()
}

impl Numbers {
    /// CSAT of the day's ratings, in percent.
    pub fn csat(&self) -> Option<f64> {
        let day = ombud_store::CsatLine {
            ratings: self.ratings,
            satisfied: self.satisfied,
            sum: 0,
        };
        day.csat()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Day {
    tenant_id: TenantId,
    date: NaiveDate,
}

/// Counts the tenant's day: from its summary time the day before `date` to
/// that time on it.
pub async fn numbers(
    store: &dyn Store,
    tenant: &Tenant,
    date: NaiveDate,
    settings: &SummarySettings,
) -> StoreResult<(Numbers, DateTime<Utc>, DateTime<Utc>)> {
    let time = settings.time();
    let to = time_on(&tenant.timezone, date, time);
    let from = time_on(&tenant.timezone, date.pred_opt().unwrap_or(date), time);
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
        statuses: ComplaintStatus::open(),
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
    let csat = CsatReport::of(&store.csat(tenant, from, to).await?).total;
    let numbers = Numbers {
        new,
        resolved: store
            .complaints_with_line(&tenant.id, "status_changed", Some("resolved"), from, to)
            .await?,
        breached: store
            .complaints_with_line(&tenant.id, "sla_breached", None, from, to)
            .await?,
        open,
        oldest,
        at: time.format("%H:%M").to_string(),
        ratings: csat.ratings,
        satisfied: csat.satisfied,
    };
    Ok((numbers, from, to))
}

/// `summary.sweep`: makes the day's summary job of every tenant whose
/// summary time has come.
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
            let time = settings(self.store.as_ref(), &tenant.id)
                .await
                .map_err(fail)?
                .time();
            if now < time_on(&tenant.timezone, date, time) {
                continue;
            }
            let key = day_key(&tenant.id, date);
            if self.store.job(&key).await.map_err(fail)?.is_some() {
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

/// The day's job key, and the id its event is derived from.
fn day_key(tenant: &TenantId, date: NaiveDate) -> String {
    format!("summary:{tenant}:{date}")
}

/// `summary.daily`: counts the tenant's day, writes its `summary.daily`
/// event once, and makes one mail per member who wants it (with mail on).
pub struct DailyJob {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub mail: bool,
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
        let settings = settings(self.store.as_ref(), &tenant.id)
            .await
            .map_err(fail)?;
        let (numbers, from, to) = numbers(self.store.as_ref(), &tenant, day.date, &settings)
            .await
            .map_err(fail)?;
        let now = self.clock.now();
        let event = SummaryDaily {
            date: day.date,
            from,
            to,
            new: numbers.new,
            resolved: numbers.resolved,
            breached: numbers.breached,
            open: numbers.open,
            oldest: numbers.oldest.clone(),
            ratings: numbers.ratings,
            csat: numbers.csat(),
        };
        let id = EventId::derived(&day_key(&tenant.id, day.date));
        self.store
            .emit_once(&tenant.id, id, event.kind(), event.data(), now)
            .await
            .map_err(fail)?;
        if !self.mail {
            return Ok(());
        }
        for member in self.store.members(&tenant.id).await.map_err(fail)? {
            // The summary covers every complaint: not for a member who
            // sees only their own (who may have become one since asking).
            if !member.daily_summary || member.role.sees_only_own() {
                continue;
            }
            let mail = Mail::DailySummary {
                tenant_id: tenant.id.clone(),
                user_id: member.user.id.clone(),
                to: member.user.email.clone(),
                date: day.date,
                numbers: numbers.clone(),
                language: member.summary_language.clone(),
            };
            self.store
                .schedule_job(mail.job(now), now)
                .await
                .map_err(fail)?;
        }
        Ok(())
    }
}
