//! Scheduled work, durable: a job is a row with its kind, payload and due
//! time, claimed with a lease so that it runs on one replica at a time and
//! again after a crash. What a job does and what becomes of it after a run
//! are decided elsewhere (the engine's scheduler, `ombud_core::schedule`);
//! the store claims and records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::schedule::JobOutcome;
use ombud_core::*;
use serde_json::Value;

use crate::decode::{self, Columns, Decoded};
use crate::StoreResult;

/// Work to schedule.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    /// What runs it (`audit.checkpoint`, `backup.create`…).
    pub kind: String,
    /// One job per key: scheduling a key that exists changes nothing (for a
    /// recurring job, see [`JobStore::set_recurring`]).
    pub key: String,
    pub tenant_id: Option<TenantId>,
    pub payload: Value,
    /// A recurring job's cron schedule and zone (`ombud_core::schedule`).
    pub schedule: Option<(String, TimeZoneName)>,
    pub due_at: DateTime<Utc>,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Due,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub key: String,
    pub tenant_id: Option<TenantId>,
    pub payload: Value,
    pub schedule: Option<(String, TimeZoneName)>,
    pub due_at: DateTime<Utc>,
    /// Attempts of the current run, this one included once claimed.
    pub attempts: u32,
    pub max_attempts: u32,
    pub state: JobState,
    pub leased_by: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_run_at: Option<DateTime<Utc>>,
    /// Runs finished, every outcome counted.
    pub runs: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The queue at a glance, for the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Due now and nobody's (waiting for a free runner).
    pub due: u64,
    /// Held under a live lease.
    pub running: u64,
    /// Gave up.
    pub failed: u64,
    /// When the longest-waiting job was due (due now, not held).
    pub oldest_due: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Adds the job unless its key exists; whether it was added.
    async fn schedule_job(&self, new: NewJob, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Adds a recurring job, or changes an existing one's schedule (and its
    /// due time, to `new.due_at`) when the schedule differs; one of the same
    /// schedule is left as it is, so that every replica may call this on start.
    async fn set_recurring(&self, new: NewJob, at: DateTime<Utc>) -> StoreResult<()>;
    /// Removes the job with this key; false if there is none.
    async fn cancel_job(&self, key: &str) -> StoreResult<bool>;
    async fn job(&self, key: &str) -> StoreResult<Option<Job>>;
    /// Leases up to `limit` due jobs of these kinds to `holder` until
    /// `lease_until`, the longest waiting first: jobs due at `now` and held by
    /// nobody, or held under a lease that ran out (its holder died). Each
    /// claim counts an attempt.
    async fn claim_jobs(
        &self,
        holder: &str,
        kinds: &[String],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Notes on a job `holder` still holds what its run is about to do (kept
    /// as its last error until the run finishes), so that a run after a
    /// crash can tell how far the dead one got; false if it lost the job.
    async fn note_job(&self, id: &JobId, holder: &str, note: &str) -> StoreResult<bool>;
    /// Extends the lease of a job `holder` still holds; false if it lost it.
    async fn renew_job(
        &self,
        id: &JobId,
        holder: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Records a run's outcome and frees the job, if `holder` still holds it;
    /// false if it does not (its lease ran out and another took it).
    async fn finish_job(
        &self,
        id: &JobId,
        holder: &str,
        outcome: JobOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// When the next job of these kinds falls due (held ones: when their
    /// lease runs out); None if none waits.
    async fn next_job_due(&self, kinds: &[String]) -> StoreResult<Option<DateTime<Utc>>>;
    async fn job_stats(&self, now: DateTime<Utc>) -> StoreResult<JobStats>;
}

pub(crate) const JOB_COLS: &str = "id, kind, key, tenant_id, payload, schedule, timezone, due_at, \
     attempts, max_attempts, state, leased_by, lease_until, last_error, last_run_at, runs, \
     created_at, updated_at";

pub(crate) fn job(r: &dyn Columns) -> Decoded<Job> {
    let bad = |col: &str, e: String| {
        crate::StoreError::Internal(format!("stored {col} is unreadable: {e}"))
    };
    let schedule = match (r.opt_text("schedule")?, r.opt_text("timezone")?) {
        (Some(s), Some(z)) => Some((
            s,
            TimeZoneName::parse(&z).map_err(|e| bad("timezone", e.reason))?,
        )),
        _ => None,
    };
    let state = match r.text("state")?.as_str() {
        "due" => JobState::Due,
        "done" => JobState::Done,
        "failed" => JobState::Failed,
        other => return Err(bad("state", other.to_owned())),
    };
    let count = |col: &str| -> Decoded<u32> {
        u32::try_from(r.int(col)?).map_err(|e| bad(col, e.to_string()))
    };
    Ok(Job {
        id: decode::id(r, "id")?,
        kind: r.text("kind")?,
        key: r.text("key")?,
        tenant_id: r
            .opt_text("tenant_id")?
            .map(|t| decode::stored_id("tenant_id", &t))
            .transpose()?,
        payload: r.json("payload")?,
        schedule,
        due_at: r.time("due_at")?,
        attempts: count("attempts")?,
        max_attempts: count("max_attempts")?,
        state,
        leased_by: r.opt_text("leased_by")?,
        lease_until: r.opt_time("lease_until")?,
        last_error: r.opt_text("last_error")?,
        last_run_at: r.opt_time("last_run_at")?,
        runs: u64::try_from(r.int("runs")?).map_err(|e| bad("runs", e.to_string()))?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

/// The columns an outcome sets, for both backends: (state, due_at,
/// attempts reset, last_error).
pub(crate) struct Finish {
    pub state: JobState,
    pub due_at: Option<DateTime<Utc>>,
    pub reset_attempts: bool,
    pub error: Option<String>,
}

impl From<JobOutcome> for Finish {
    fn from(o: JobOutcome) -> Self {
        match o {
            JobOutcome::Done => Finish {
                state: JobState::Done,
                due_at: None,
                reset_attempts: false,
                error: None,
            },
            JobOutcome::Next { at, error } => Finish {
                state: JobState::Due,
                due_at: Some(at),
                reset_attempts: true,
                error,
            },
            JobOutcome::Retry { at, error } => Finish {
                state: JobState::Due,
                due_at: Some(at),
                reset_attempts: false,
                error: Some(error),
            },
            JobOutcome::Failed { error } => Finish {
                state: JobState::Failed,
                due_at: None,
                reset_attempts: false,
                error: Some(error),
            },
        }
    }
}

/// A stored error is kept short: the first 2,000 characters.
pub(crate) fn clip(error: Option<String>) -> Option<String> {
    error.map(|e| e.chars().take(2000).collect())
}
