//! What the engine counts for `/metrics`, through the `metrics` facade (the
//! web crate installs the Prometheus recorder and renders it).
//!
//! Labels are bounded: tenant slug, channel kind, runtime kind, outcome. Never
//! a phone number, a message or a URL. Gauges that need the database (the
//! backlog, its size and integrity) are sampled by [`Sampler`] now and then, so
//! a scrape reads only what is in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{counter, gauge, histogram};
use ombud_core::{Channel, ChannelId, ChannelKind, Clock, TenantId};
use ombud_store::{Pending, Store};
use tokio_util::sync::CancellationToken;

pub const MESSAGES: &str = "ombud_messages_total";
pub const REPLY_LATENCY: &str = "ombud_reply_latency_seconds";
pub const RUN_DURATION: &str = "ombud_agent_run_duration_seconds";
pub const QUEUE_DUE: &str = "ombud_queue_due_conversations";
pub const RUNS_ACTIVE: &str = "ombud_agent_runs_active";
pub const WORKERS_LIVE: &str = "ombud_workers_live";
pub const WORKER_CRASHES: &str = "ombud_worker_crashes_total";
pub const OUTBOX_PENDING: &str = "ombud_outbox_pending";
pub const OUTBOX_OLDEST: &str = "ombud_outbox_oldest_pending_age_seconds";
pub const SENDS: &str = "ombud_outbound_sends_total";
pub const WEBHOOK_DELIVERIES: &str = "ombud_webhook_deliveries_total";
pub const WEBHOOK_ENDPOINTS_DISABLED: &str = "ombud_webhook_endpoints_disabled_total";
pub const CHANNEL_FAILURES: &str = "ombud_channel_consecutive_failures";
pub const CHANNEL_LAST_SUCCESS: &str = "ombud_channel_last_success_timestamp_seconds";
pub const ERRORS: &str = "ombud_errors_total";
pub const DB_INTEGRITY: &str = "ombud_db_integrity_ok";
pub const DB_SIZE: &str = "ombud_db_size_bytes";
pub const DISK_FREE: &str = "ombud_disk_free_bytes";
pub const DISK_SIZE: &str = "ombud_disk_size_bytes";

/// Buckets of the latency histograms, in seconds: from a quick intake reply to
/// a model thinking for a minute.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Says what each metric means (the `# HELP` lines). Call once, after the
/// recorder is installed.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(MESSAGES, "Messages stored from people (direction=inbound) and handed to their channel (direction=outbound).");
    describe_histogram!(
        REPLY_LATENCY,
        Unit::Seconds,
        "From a person's message being stored to the reply to it being handed to the channel."
    );
    describe_histogram!(
        RUN_DURATION,
        Unit::Seconds,
        "Agent runs, by runtime kind and outcome (ok, failed, timeout, error)."
    );
    describe_gauge!(
        QUEUE_DUE,
        "Conversations with unanswered messages waiting in this replica's queue."
    );
    describe_gauge!(RUNS_ACTIVE, "Agent runs in progress on this replica.");
    describe_gauge!(
        WORKERS_LIVE,
        "Process agent workers alive on this replica, warm (waiting) or busy (in a run)."
    );
    describe_counter!(
        WORKER_CRASHES,
        "Process agent workers that ended badly: after a failed run, or dead while warm."
    );
    describe_gauge!(
        OUTBOX_PENDING,
        "Items waiting to go out, by kind: message (to people) or webhook (deliveries)."
    );
    describe_gauge!(
        OUTBOX_OLDEST,
        "Age of the oldest item waiting to go out, by kind; 0 when none waits."
    );
    describe_counter!(
        SENDS,
        "Sends to a channel's provider, by channel kind and outcome (sent, retry, failed)."
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts, by outcome (delivered, retry, failed)."
    );
    describe_counter!(
        WEBHOOK_ENDPOINTS_DISABLED,
        "Webhook endpoints disabled after failing for too long."
    );
    describe_counter!(
        crate::ops::retention::REMOVED,
        "Rows the retention sweep removed, by kind (sessions, invitations, password_resets, webhook_deliveries_delivered, webhook_deliveries_failed, events, executions_trimmed)."
    );
    describe_gauge!(
        CHANNEL_FAILURES,
        "Failed sends on a channel since its last successful one, as this replica saw them."
    );
    describe_gauge!(
        CHANNEL_LAST_SUCCESS,
        "When this replica last handed a message to the channel (Unix time)."
    );
    describe_counter!(ERRORS, "Errors, by component and kind.");
    describe_gauge!(
        DB_INTEGRITY,
        "1 if the last integrity check of the database passed, else 0."
    );
    describe_gauge!(DB_SIZE, Unit::Bytes, "The database's size on disk.");
    describe_gauge!(
        DISK_FREE,
        Unit::Bytes,
        "Space left to Ombud on the data directory's filesystem."
    );
    describe_gauge!(
        DISK_SIZE,
        Unit::Bytes,
        "Size of the data directory's filesystem."
    );
    crate::scheduler::describe();
    crate::media::describe();
    for (component, kind) in ERROR_KINDS {
        counter!(ERRORS, "component" => *component, "kind" => *kind).absolute(0);
    }
}

/// Every (component, kind) of `ombud_errors_total`, shown as zero from the
/// start so that rates and dashboards have a series before the first error.
pub const ERROR_KINDS: &[(&str, &str)] = &[
    ("queue", "database"),
    ("runner", "database"),
    ("runner", "agent"),
    ("outbox", "database"),
    ("outbox", "provider"),
    ("webhooks", "database"),
    ("sampler", "database"),
    ("sampler", "disk"),
    ("http", "server_error"),
];

/// Counts an error of `component`; the pair is one of [`ERROR_KINDS`].
pub fn error(component: &'static str, kind: &'static str) {
    debug_assert!(
        ERROR_KINDS.contains(&(component, kind)),
        "{component}/{kind}"
    );
    counter!(ERRORS, "component" => component, "kind" => kind).increment(1);
}

/// Tenant slugs by id, for labels: looked up once per tenant (slugs do not
/// change).
#[derive(Default)]
pub struct TenantNames {
    slugs: RwLock<HashMap<TenantId, Arc<str>>>,
}

impl TenantNames {
    pub async fn slug(&self, store: &dyn Store, tenant: &TenantId) -> Arc<str> {
        if let Some(slug) = self
            .slugs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
        {
            return slug.clone();
        }
        match store.tenant(tenant).await {
            Ok(Some(t)) => {
                let slug: Arc<str> = Arc::from(t.slug.as_str());
                self.slugs
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(tenant.clone(), slug.clone());
                slug
            }
            _ => Arc::from("unknown"),
        }
    }
}

/// Messages stored or sent for a tenant's channel.
pub fn messages(tenant: &str, channel: ChannelKind, direction: &'static str, n: usize) {
    counter!(MESSAGES, "tenant" => tenant.to_owned(), "channel" => channel.as_str(), "direction" => direction)
        .increment(n as u64);
}

/// One agent run of a runtime kind, and how it ended.
pub fn run(runtime: &str, outcome: &'static str, took: Duration) {
    histogram!(RUN_DURATION, "runtime" => runtime.to_owned(), "outcome" => outcome)
        .record(took.as_secs_f64());
}

/// What each channel's sends did lately, as this replica saw them: for the
/// channel metrics, the health check and paging.
#[derive(Default)]
pub struct ChannelHealth {
    channels: RwLock<HashMap<ChannelId, ChannelSends>>,
}

/// One channel's recent sends.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelSends {
    pub channel_id: ChannelId,
    pub tenant: Arc<str>,
    pub kind: ChannelKind,
    pub last_success_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl ChannelHealth {
    /// Records one send's outcome (`error` is none when it went out).
    pub fn record(
        &self,
        channel: &Channel,
        tenant: &Arc<str>,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        let entry = channels
            .entry(channel.id.clone())
            .or_insert_with(|| ChannelSends {
                channel_id: channel.id.clone(),
                tenant: tenant.clone(),
                kind: channel.kind(),
                last_success_at: None,
                consecutive_failures: 0,
                failing_since: None,
                last_error: None,
            });
        match error {
            None => {
                entry.last_success_at = Some(at);
                entry.consecutive_failures = 0;
                entry.failing_since = None;
                entry.last_error = None;
            }
            Some(e) => {
                entry.consecutive_failures += 1;
                entry.failing_since.get_or_insert(at);
                entry.last_error = Some(e.chars().take(200).collect());
            }
        }
        let labels = [
            ("tenant", entry.tenant.to_string()),
            ("channel", entry.kind.as_str().to_owned()),
            ("channel_id", entry.channel_id.to_string()),
        ];
        gauge!(CHANNEL_FAILURES, &labels).set(f64::from(entry.consecutive_failures));
        if let Some(t) = entry.last_success_at {
            gauge!(CHANNEL_LAST_SUCCESS, &labels).set(t.timestamp_micros() as f64 / 1e6);
        }
    }

    /// Every channel this replica has sent on, ordered by id.
    pub fn snapshot(&self) -> Vec<ChannelSends> {
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<ChannelSends> = channels.values().cloned().collect();
        all.sort_by(|a, b| a.channel_id.as_str().cmp(b.channel_id.as_str()));
        all
    }
}

/// How often the sampler looks at the database.
#[derive(Debug, Clone)]
pub struct SampleConfig {
    /// Backlog, database size, queue and workers.
    pub every: Duration,
    /// The integrity check (SQLite's reads every page: not too often).
    pub integrity_every: Duration,
    /// The data directory, whose filesystem's free space is reported.
    pub disk: Option<std::path::PathBuf>,
}

impl Default for SampleConfig {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(15),
            integrity_every: Duration::from_secs(3600),
            disk: None,
        }
    }
}

/// What the sampler found last, shared with paging.
#[derive(Debug, Clone, Default)]
pub struct Sampled {
    pub messages: Pending,
    pub webhooks: Pending,
    pub jobs: ombud_store::JobStats,
    /// When a backup was last verified (None: backups are not scheduled
    /// here); see `Engine::note_backup_verified`.
    pub backup_verified_at: Option<DateTime<Utc>>,
    /// `Err` with what the last integrity check found wrong.
    pub integrity: Option<Result<(), String>>,
}

/// Sets the gauges that need the database, now and then.
pub(crate) struct Sampler {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: SampleConfig,
    pub last: Arc<RwLock<Sampled>>,
}

impl Sampler {
    pub async fn run(self, stop: CancellationToken, engine_gauges: impl Fn()) {
        let mut last_integrity: Option<tokio::time::Instant> = None;
        loop {
            engine_gauges();
            self.backlog().await;
            let due = last_integrity.is_none_or(|t| t.elapsed() >= self.config.integrity_every);
            if due {
                self.integrity().await;
                last_integrity = Some(tokio::time::Instant::now());
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.config.every) => {}
            }
        }
    }

    async fn backlog(&self) {
        let now = self.clock.now();
        match self.store.backlog().await {
            Ok(b) => {
                for (kind, p) in [("message", b.messages), ("webhook", b.webhooks)] {
                    gauge!(OUTBOX_PENDING, "kind" => kind).set(p.count as f64);
                    let age = p
                        .oldest
                        .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                        .unwrap_or(0.0);
                    gauge!(OUTBOX_OLDEST, "kind" => kind).set(age);
                }
                let mut last = self.last.write().unwrap_or_else(|e| e.into_inner());
                last.messages = b.messages;
                last.webhooks = b.webhooks;
            }
            Err(e) => {
                error("sampler", "database");
                tracing::warn!(error = %e, "could not count the outbox backlog");
            }
        }
        match self.store.job_stats(now).await {
            Ok(jobs) => {
                use crate::scheduler::{JOBS_DUE, JOBS_FAILED, JOBS_OLDEST_DUE, JOBS_RUNNING};
                gauge!(JOBS_DUE).set(jobs.due as f64);
                gauge!(JOBS_RUNNING).set(jobs.running as f64);
                gauge!(JOBS_FAILED).set(jobs.failed as f64);
                let age = jobs
                    .oldest_due
                    .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                    .unwrap_or(0.0);
                gauge!(JOBS_OLDEST_DUE).set(age);
                self.last.write().unwrap_or_else(|e| e.into_inner()).jobs = jobs;
            }
            Err(e) => {
                error("sampler", "database");
                tracing::warn!(error = %e, "could not count scheduled jobs");
            }
        }
        if let Some(dir) = &self.config.disk {
            match rustix::fs::statvfs(dir) {
                Ok(fs) => {
                    gauge!(DISK_FREE).set((fs.f_bavail * fs.f_frsize) as f64);
                    gauge!(DISK_SIZE).set((fs.f_blocks * fs.f_frsize) as f64);
                }
                Err(e) => {
                    error("sampler", "disk");
                    tracing::warn!(error = %e, dir = %dir.display(), "could not read the data directory's free space");
                }
            }
        }
        match self.store.database_size().await {
            Ok(bytes) => gauge!(DB_SIZE).set(bytes as f64),
            Err(e) => {
                error("sampler", "database");
                tracing::warn!(error = %e, "could not read the database's size");
            }
        }
    }

    async fn integrity(&self) {
        let found = match self.store.integrity_check().await {
            Ok(found) => found,
            Err(e) => {
                // Not answering is readiness's business, not corruption.
                error("sampler", "database");
                tracing::warn!(error = %e, "could not check the database's integrity");
                return;
            }
        };
        match &found {
            Ok(()) => gauge!(DB_INTEGRITY).set(1.0),
            Err(problem) => {
                gauge!(DB_INTEGRITY).set(0.0);
                tracing::error!(%problem, "the database failed its integrity check");
            }
        }
        self.last
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .integrity = Some(found);
    }
}
