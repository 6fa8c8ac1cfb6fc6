//! Scheduled work: durable jobs (`ombud_store::jobs`) run by whichever replica
//! claims them. A claim is a lease, renewed while the job runs; a replica that
//! dies leaves its jobs to be claimed again when their leases run out. So a
//! job runs at least once and, rarely, twice (its holder died after the effect
//! and before recording it): a job's effect must be idempotent, keyed by its
//! id and the time it was due. What becomes of a job after a run is
//! `ombud_core::schedule::outcome`'s to say. See `docs/scheduler.md`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use metrics::{counter, histogram};
use ombud_core::schedule::{self, JobOutcome, Schedule};
use ombud_core::{Clock, JobId, TimeZoneName};
use ombud_store::{Job, NewJob, Store, StoreResult};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub const JOB_RUNS: &str = "ombud_job_runs_total";
pub const JOB_DURATION: &str = "ombud_job_duration_seconds";
pub const JOBS_DUE: &str = "ombud_jobs_due";
pub const JOBS_RUNNING: &str = "ombud_jobs_running";
pub const JOBS_FAILED: &str = "ombud_jobs_failed";
pub const JOBS_OLDEST_DUE: &str = "ombud_jobs_oldest_due_age_seconds";

/// What a job of one kind does.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Does the job's work. An error is retried with backoff while attempts
    /// last. The same job may run again after a crash: make the effect
    /// idempotent (keyed by `job.id` and `job.due_at`).
    async fn run(&self, job: &Job) -> Result<(), String>;

    /// Called once a one-off job has failed for good (`error` says why),
    /// including when no try finished because every holder died mid-run:
    /// whatever waits on the job can be told it never will happen.
    async fn gave_up(&self, _job: &Job, _error: &str) {}
}

/// A job that comes back on a schedule, made (or its schedule changed) when
/// the scheduler starts.
#[derive(Debug, Clone)]
pub struct Recurring {
    pub kind: String,
    /// One row per key, shared by every replica.
    pub key: String,
    pub schedule: Schedule,
    pub payload: serde_json::Value,
    pub max_attempts: u32,
}

impl Recurring {
    /// A job of Ombud's own (kind and key `kind`, no payload, 3 attempts)
    /// on `cron` in UTC. The crons are constants: each job's test builds it.
    #[allow(clippy::expect_used)]
    pub fn utc(kind: &str, cron: &str) -> Self {
        let utc = ombud_core::TimeZoneName::parse("UTC").expect("UTC is a zone");
        Self {
            kind: kind.into(),
            key: kind.into(),
            schedule: Schedule::parse(kind, cron, &utc).expect("a schedule"),
            payload: serde_json::json!({}),
            max_attempts: 3,
        }
    }
}

/// Timing of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How often to look for due jobs when nothing wakes the scheduler.
    pub poll_interval: Duration,
    /// A claim's lease; renewed every third of it while the job runs.
    pub lease: Duration,
    /// Jobs run at once on this replica.
    pub concurrency: usize,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            concurrency: 4,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
        }
    }
}

/// The job kinds this process runs, with the recurring jobs it keeps.
#[derive(Default, Clone)]
pub struct Jobs {
    handlers: BTreeMap<String, Arc<dyn JobHandler>>,
    recurring: Vec<Recurring>,
    /// Keys of recurring jobs this configuration turned off.
    retired: Vec<String>,
}

impl Jobs {
    pub fn handle(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind.to_owned(), handler);
        self
    }

    /// Keeps `recurring` scheduled (its kind must be handled).
    pub fn every(mut self, recurring: Recurring) -> Self {
        self.recurring.push(recurring);
        self
    }

    /// Removes the recurring job `key` on start: the feature that scheduled
    /// it is off now, and a row nobody handles would wait, due, for ever
    /// (and page as a stuck job).
    pub fn retire(mut self, key: &str) -> Self {
        self.retired.push(key.to_owned());
        self
    }

    fn kinds(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }
}

/// Schedules a one-off job: `key` makes it once however often it is asked for.
pub fn one_off(kind: &str, key: &str, payload: serde_json::Value, due_at: DateTime<Utc>) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: kind.into(),
        key: key.into(),
        tenant_id: None,
        payload,
        schedule: None,
        due_at,
        max_attempts: 5,
    }
}

pub struct Scheduler {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    jobs: Jobs,
    kinds: Vec<String>,
    config: SchedulerConfig,
    /// Names this process in leases.
    holder: String,
    permits: Arc<Semaphore>,
    /// Looks for due jobs at once when notified.
    wake: Option<Arc<tokio::sync::Notify>>,
}

impl Scheduler {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        jobs: Jobs,
        config: SchedulerConfig,
        holder: String,
    ) -> Self {
        let kinds = jobs.kinds();
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Self {
            store,
            clock,
            jobs,
            kinds,
            config,
            holder,
            permits,
            wake: None,
        }
    }

    /// Looks for due jobs whenever `wake` is notified, not only on its
    /// poll.
    pub fn with_wake(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// Makes the recurring jobs, or moves them to a changed schedule; every
    /// replica does this on start and the first one's row stands.
    pub async fn keep_recurring(&self) -> StoreResult<()> {
        for key in &self.jobs.retired {
            if !self.jobs.recurring.iter().any(|r| &r.key == key)
                && self.store.cancel_job(key).await?
            {
                tracing::info!(key = %key, "a recurring job that is off now was removed");
            }
        }
        let now = self.clock.now();
        for r in &self.jobs.recurring {
            let Some(due_at) = r.schedule.next_after(now) else {
                tracing::warn!(key = %r.key, schedule = r.schedule.as_str(), "the schedule names no time to come; not scheduled");
                continue;
            };
            let zone: TimeZoneName = r.schedule.zone().clone();
            let new = NewJob {
                schedule: Some((r.schedule.as_str().to_owned(), zone)),
                max_attempts: r.max_attempts,
                ..one_off(&r.kind, &r.key, r.payload.clone(), due_at)
            };
            self.store.set_recurring(new, now).await?;
        }
        Ok(())
    }

    /// Claims and runs due jobs until `stop` fires; jobs in flight are
    /// tracked by `tracker` so that shutdown can wait for them.
    pub async fn run(self: Arc<Self>, stop: CancellationToken, tracker: TaskTracker) {
        if self.kinds.is_empty() {
            return;
        }
        for kind in &self.kinds {
            for outcome in ["ok", "retry", "failed"] {
                counter!(JOB_RUNS, "kind" => kind.clone(), "outcome" => outcome).increment(0);
            }
        }
        let claims = crate::claims::ClaimLoop {
            component: "scheduler",
            what: "jobs",
            permits: self.permits.clone(),
            wake: self.wake.clone(),
            poll: self.config.poll_interval,
        };
        let claim = |n| {
            let this = self.clone();
            async move {
                let now = this.clock.now();
                this.store
                    .claim_jobs(&this.holder, &this.kinds, now, now + this.lease(), n)
                    .await
            }
        };
        let next_due = || {
            let this = self.clone();
            async move {
                let at = this.store.next_job_due(&this.kinds).await.ok()??;
                Some((at - this.clock.now()).to_std().unwrap_or_default())
            }
        };
        let handle = |job| {
            let this = self.clone();
            async move { this.execute(job).await }
        };
        claims.run(stop, tracker, claim, next_due, handle).await;
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::minutes(1))
    }

    /// Runs one claimed job with its lease renewed, then records the outcome.
    /// Shutdown waits for it (up to the grace); a job cut short runs again
    /// when its lease runs out.
    async fn execute(&self, job: Job) {
        let span =
            tracing::info_span!("job", kind = %job.kind, key = %job.key, attempt = job.attempts);
        tracing::Instrument::instrument(self.execute_in_span(job), span).await
    }

    async fn execute_in_span(&self, job: Job) {
        let started = std::time::Instant::now();
        let result = if job.attempts > job.max_attempts {
            // Claimed again after every attempt's holder died mid-run.
            Err(format!(
                "gave up: none of its {} attempts finished (did its process stop?)",
                job.max_attempts
            ))
        } else {
            match self.jobs.handlers.get(&job.kind) {
                Some(handler) => {
                    tokio::select! {
                        result = handler.run(&job) => result,
                        () = self.renew_while(&job) => Err("lost its lease while running".into()),
                    }
                }
                None => Err(format!("no handler for jobs of kind {:?}", job.kind)),
            }
        };
        let schedule = job
            .schedule
            .as_ref()
            .and_then(|(s, zone)| Schedule::parse("schedule", s, zone).ok());
        let now = self.clock.now();
        let attempt = job.attempts.min(job.max_attempts);
        let backoff =
            crate::backoff::backoff(attempt, self.config.backoff_base, self.config.backoff_max);
        let outcome = schedule::outcome(
            schedule.as_ref(),
            attempt,
            job.max_attempts,
            result,
            now,
            chrono::Duration::from_std(backoff).unwrap_or_default(),
        );
        let label = match &outcome {
            JobOutcome::Done | JobOutcome::Next { error: None, .. } => "ok",
            JobOutcome::Retry { .. } => "retry",
            JobOutcome::Failed { .. } | JobOutcome::Next { error: Some(_), .. } => "failed",
        };
        match &outcome {
            JobOutcome::Retry { error, at } => {
                tracing::warn!(%error, retry_at = %at, "job failed; it will be retried")
            }
            JobOutcome::Failed { error } => {
                tracing::error!(%error, "job failed and gave up");
                if let Some(handler) = self.jobs.handlers.get(&job.kind) {
                    handler.gave_up(&job, error).await;
                }
            }
            JobOutcome::Next {
                error: Some(error), ..
            } => {
                tracing::error!(%error, "job failed and gave up")
            }
            _ => tracing::info!("job done"),
        }
        counter!(JOB_RUNS, "kind" => job.kind.clone(), "outcome" => label).increment(1);
        histogram!(JOB_DURATION, "kind" => job.kind.clone())
            .record(started.elapsed().as_secs_f64());
        match self
            .store
            .finish_job(&job.id, &self.holder, outcome, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the job's lease ran out before it finished; another replica has it")
            }
            Err(e) => {
                crate::metrics::error("scheduler", "database");
                tracing::error!(error = %e, "could not record the job's outcome; it runs again when its lease runs out");
            }
        }
    }

    /// Renews the job's lease every third of it; returns only if the lease
    /// was lost (another replica took the job).
    async fn renew_while(&self, job: &Job) {
        let every = self.config.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let until = self.clock.now() + self.lease();
            match self.store.renew_job(&job.id, &self.holder, until).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "could not renew a job's lease"),
            }
        }
    }
}

/// Says what the scheduler's metrics mean.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        JOB_RUNS,
        "Scheduled job runs, by kind and outcome (ok, retry, failed)."
    );
    describe_histogram!(
        JOB_DURATION,
        Unit::Seconds,
        "How long scheduled jobs ran, by kind."
    );
    describe_gauge!(
        JOBS_DUE,
        "Scheduled jobs due now that no replica holds yet."
    );
    describe_gauge!(
        JOBS_RUNNING,
        "Scheduled jobs held by a replica under a live lease."
    );
    describe_gauge!(JOBS_FAILED, "Scheduled one-off jobs that gave up.");
    describe_gauge!(
        JOBS_OLDEST_DUE,
        "How long the longest-waiting due job has waited (a job stuck past its lease included); 0 when none waits."
    );
}
