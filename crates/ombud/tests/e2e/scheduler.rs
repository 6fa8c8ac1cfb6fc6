//! Scheduled work, on the configured backend: retries back off, a recurring
//! job that every replica missed for hours runs once, and the audit trail's
//! hourly checkpoint is such a job. Time moves by the injected clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ombud_core::schedule::Schedule;
use ombud_core::{Clock, TimeZoneName};
use ombud_engine::scheduler::{one_off, JobHandler, Jobs, Recurring, Scheduler, SchedulerConfig};
use ombud_store::{Job, JobState, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::helpers::*;

/// A clock that stands still until the test moves it.
struct Manual(Mutex<DateTime<Utc>>);

impl Manual {
    fn at(s: &str) -> Arc<Self> {
        Arc::new(Self(Mutex::new(utc(s))))
    }
    fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap() = to;
    }
}

impl Clock for Manual {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Fails its first `fails` runs, then succeeds; counts every run.
struct Flaky {
    fails: AtomicU32,
    runs: AtomicU32,
}

#[async_trait::async_trait]
impl JobHandler for Flaky {
    async fn run(&self, _job: &Job) -> Result<(), String> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let left = self.fails.load(Ordering::SeqCst);
        if left > 0 {
            self.fails.store(left - 1, Ordering::SeqCst);
            return Err("the receiver refused".into());
        }
        Ok(())
    }
}

fn config() -> SchedulerConfig {
    SchedulerConfig {
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(30),
        concurrency: 2,
        backoff_base: Duration::from_secs(30),
        backoff_max: Duration::from_secs(3600),
    }
}

/// Waits (on the store, a few ms at a time, for at most 10 s) until the
/// job with `key` satisfies `done`.
async fn until(store: &dyn Store, key: &str, done: impl Fn(&Job) -> bool) -> Job {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(job) = store.job(key).await.unwrap() {
            if done(&job) {
                return job;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {key} never got there"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn start(
    store: Arc<dyn Store>,
    clock: Arc<Manual>,
    jobs: Jobs,
) -> (Arc<Scheduler>, CancellationToken) {
    let scheduler = Arc::new(Scheduler::new(store, clock, jobs, config(), "test".into()));
    let stop = CancellationToken::new();
    tokio::spawn(scheduler.clone().run(stop.clone(), TaskTracker::new()));
    (scheduler, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_effect_failed_is_retried_with_backoff_until_it_holds() {
    let db = TestDb::new().await;
    let store = ombud::app::open_store(&test_config(&db)).await.unwrap();
    let clock = Manual::at("2026-12-06T09:00:00Z");
    let flaky = Arc::new(Flaky {
        fails: AtomicU32::new(2),
        runs: AtomicU32::new(0),
    });
    let t0 = clock.now();
    store
        .schedule_job(
            one_off("test.flaky", "flaky", serde_json::json!({}), t0),
            t0,
        )
        .await
        .unwrap();
    let (_, stop) = start(
        store.clone(),
        clock.clone(),
        Jobs::default().handle("test.flaky", flaky.clone()),
    );

    // First attempt fails: back in 30 s (±20 %), not before.
    let job = until(store.as_ref(), "flaky", |j| j.runs == 1).await;
    let wait = (job.due_at - t0).num_milliseconds();
    assert!((24_000..=36_000).contains(&wait), "{wait} ms");
    assert_eq!(
        (job.state, job.attempts, job.last_error.as_deref()),
        (JobState::Due, 1, Some("the receiver refused"))
    );
    assert_eq!(
        flaky.runs.load(Ordering::SeqCst),
        1,
        "not again before its time"
    );
    // Second fails: twice as long.
    clock.set(job.due_at);
    let second = until(store.as_ref(), "flaky", |j| j.runs == 2).await;
    let wait = (second.due_at - job.due_at).num_milliseconds();
    assert!((48_000..=72_000).contains(&wait), "{wait} ms");
    // Third holds.
    clock.set(second.due_at);
    let done = until(store.as_ref(), "flaky", |j| j.state == JobState::Done).await;
    assert_eq!((done.runs, done.attempts), (3, 3));
    assert_eq!(flaky.runs.load(Ordering::SeqCst), 3);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recurring_job_missed_while_every_replica_was_down_runs_once() {
    let db = TestDb::new().await;
    let store = ombud::app::open_store(&test_config(&db)).await.unwrap();
    let clock = Manual::at("2026-12-06T09:30:00Z");
    let counter = Arc::new(Flaky {
        fails: AtomicU32::new(0),
        runs: AtomicU32::new(0),
    });
    let hourly = Recurring {
        kind: "test.count".into(),
        key: "hourly".into(),
        schedule: Schedule::parse(
            "x",
            "0 * * * *",
            &TimeZoneName::parse("Asia/Kolkata").unwrap(),
        )
        .unwrap(),
        payload: serde_json::json!({}),
        max_attempts: 3,
    };
    let jobs = Jobs::default()
        .handle("test.count", counter.clone())
        .every(hourly);
    // A replica made it (due on the hour in India: 10:30 UTC) and went down
    // with every other.
    let first = Scheduler::new(
        store.clone(),
        clock.clone(),
        jobs.clone(),
        config(),
        "gone".into(),
    );
    first.keep_recurring().await.unwrap();
    assert_eq!(
        store.job("hourly").await.unwrap().unwrap().due_at,
        utc("2026-12-06T10:30:00Z")
    );

    // Back five hours later: it runs once, and next at the coming hour.
    clock.set(utc("2026-12-06T15:10:00Z"));
    let (scheduler, stop) = start(store.clone(), clock.clone(), jobs);
    scheduler.keep_recurring().await.unwrap();
    let job = until(store.as_ref(), "hourly", |j| j.runs == 1).await;
    assert_eq!(
        (job.state, job.due_at, job.attempts),
        (JobState::Due, utc("2026-12-06T15:30:00Z"), 0)
    );
    assert_eq!(
        counter.runs.load(Ordering::SeqCst),
        1,
        "once for the five missed hours"
    );
    // And then at its time.
    clock.set(utc("2026-12-06T15:30:00Z"));
    let job = until(store.as_ref(), "hourly", |j| j.runs == 2).await;
    assert_eq!(job.due_at, utc("2026-12-06T16:30:00Z"));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_is_signed_every_hour_by_a_recurring_job() {
    let graph = crate::fake_graph::FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    app.api_key(&t.tenant.id, &[ombud_core::Scope::ComplaintsRead])
        .await;
    let job = app
        .store
        .job(ombud_engine::ops::audit::CHECKPOINT_JOB)
        .await
        .unwrap()
        .expect("scheduled on start");
    assert_eq!(
        job.schedule.as_ref().map(|s| s.0.as_str()),
        Some("0 * * * *")
    );
    assert!(app
        .store
        .checkpoints(&t.tenant.id)
        .await
        .unwrap()
        .is_empty());
    // An hour passes: the chain heads are signed, once, by whichever replica.
    app.pass(chrono::Duration::minutes(61)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app
        .store
        .checkpoints(&t.tenant.id)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no checkpoint after an hour"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = until(
        app.store.as_ref(),
        ombud_engine::ops::audit::CHECKPOINT_JOB,
        |j| j.runs == 1,
    )
    .await;
    assert!(after.due_at > app.engine.now(), "next at the coming hour");
    app.stop().await;
}
