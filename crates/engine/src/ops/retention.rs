//! Retention: the sweep that keeps the database bounded, removing what is
//! old enough kind by kind (expired sessions, invitations and reset links;
//! webhook deliveries delivered 30 days ago or failed 90 days ago, with their
//! attempts; domain events no delivery needs any more; executions' output and
//! tool calls after 90 days, their figures kept; messages' words, and
//! messages themselves, when an office or the operator chooses) in small
//! batches, as scheduled work that runs once across replicas. The audit
//! trail keeps its own retention (`audit`).

use chrono::Duration;
use ombud_store::{Aging, StoreResult, Sweep, TenantSweep};

use super::Operations;

/// The job's kind and key.
pub const SWEEP_JOB: &str = "retention.sweep";
/// What the sweep counts, by `kind`.
pub const REMOVED: &str = "ombud_retention_removed_total";

/// How long each kind is kept (the operator's `retention.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionPolicy {
    /// Invitations, this long after they expired or were accepted.
    pub invitations: Duration,
    /// Webhook deliveries delivered this long ago, with their attempts.
    pub delivered_webhooks: Duration,
    /// Webhook deliveries failed for good this long ago, with their attempts.
    pub failed_webhooks: Duration,
    /// Domain events this old, once no delivery refers to them.
    pub events: Duration,
    /// Executions this old lose their output and tool calls.
    pub executions: Duration,
    /// Messages' words, after this long, for tenants that do not choose
    /// (None: kept; an office decides).
    pub message_bodies: Option<Duration>,
    /// Messages themselves, with their sends and runs, after this long,
    /// for tenants that do not choose (None: kept; an office decides).
    pub messages: Option<Duration>,
    /// Rows per transaction: small, so other writes wait at most one batch.
    pub batch: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            invitations: Duration::days(30),
            delivered_webhooks: Duration::days(30),
            failed_webhooks: Duration::days(90),
            events: Duration::days(7),
            executions: Duration::days(90),
            message_bodies: None,
            messages: None,
            batch: 500,
        }
    }
}

impl RetentionPolicy {
    /// How old a row of `what` must be to go. Expired sessions and reset
    /// links go at once: nothing reads them again.
    pub fn keep(&self, what: Sweep) -> Duration {
        match what {
            Sweep::Sessions | Sweep::PasswordResets => Duration::zero(),
            Sweep::Invitations => self.invitations,
            Sweep::DeliveredWebhooks => self.delivered_webhooks,
            Sweep::FailedWebhooks => self.failed_webhooks,
            Sweep::Events => self.events,
            Sweep::Executions => self.executions,
        }
    }
}

impl Operations {
    /// Removes everything `policy` lets go, batch by batch (deliveries
    /// before events, so an event whose deliveries go now goes too); how
    /// many rows of each kind.
    pub async fn sweep_retention(&self, policy: &RetentionPolicy) -> StoreResult<SweepReport> {
        let now = self.now();
        let mut report = SweepReport::default();
        // Messages first: the runs they take with them need no trimming.
        for what in [Aging::Messages, Aging::Bodies] {
            self.age_messages(what, policy, &mut report).await?;
        }
        for what in Sweep::ALL {
            let before = now - policy.keep(what);
            report
                .in_batches(what.as_str(), policy.batch, || {
                    self.store.sweep(what, before, policy.batch)
                })
                .await?;
        }
        Ok(report)
    }

    /// Does `what` to messages older than each tenant's retention for them
    /// (its own, else the operator's; most keep them), a few conversations
    /// a transaction, and removes the tenant's webhook payloads as old
    /// (they hold the same words); how many messages. A cut-off of a day or
    /// more is a whole UTC day, so a conversation is visited at most once a
    /// day (shorter ones are for benchmarks).
    pub async fn age_messages(
        &self,
        what: Aging,
        policy: &RetentionPolicy,
        report: &mut SweepReport,
    ) -> StoreResult<u64> {
        let now = self.now();
        let mut total = 0;
        for tenant in self.store.tenants().await? {
            let settings = self.conversation_settings(&tenant.id).await?;
            let kept = match what {
                Aging::Bodies => settings.bodies_kept(policy.message_bodies),
                Aging::Messages => settings.messages_kept(policy.messages),
            };
            let Some(kept) = kept else {
                continue;
            };
            let before = if kept >= Duration::days(1) {
                let day = (now - kept).date_naive();
                day.and_time(chrono::NaiveTime::MIN).and_utc()
            } else {
                now - kept
            };
            loop {
                let began = std::time::Instant::now();
                let done = self
                    .store
                    .age(&tenant.id, what, before, AGE_CONVERSATIONS)
                    .await?;
                report.batch_took(began);
                total += done.messages;
                report.add(what.as_str(), done.messages);
                if done.conversations < u64::from(AGE_CONVERSATIONS) {
                    break;
                }
                tokio::task::yield_now().await;
            }
            // The words also live in the tenant's webhook payloads.
            for kind in TenantSweep::ALL {
                report
                    .in_batches(kind.as_str(), policy.batch, || {
                        self.store
                            .sweep_tenant(&tenant.id, kind, before, policy.batch)
                    })
                    .await?;
            }
        }
        Ok(total)
    }
}

/// What a sweep did: rows per kind, and its longest batch (one
/// transaction: on SQLite every other write waits behind it).
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    pub removed: Vec<(&'static str, u64)>,
    pub longest_batch: std::time::Duration,
}

impl SweepReport {
    /// Runs `batch` (one transaction removing at most `limit` rows of
    /// `kind`) until it removes fewer, letting other writes in between.
    async fn in_batches<F, Fut>(
        &mut self,
        kind: &'static str,
        limit: u32,
        mut batch: F,
    ) -> StoreResult<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = StoreResult<u64>>,
    {
        loop {
            let began = std::time::Instant::now();
            let n = batch().await?;
            self.batch_took(began);
            self.add(kind, n);
            if n < u64::from(limit) {
                return Ok(());
            }
            // Other writes get in between two batches.
            tokio::task::yield_now().await;
        }
    }

    /// Counts `n` more rows of `kind`, in the report and the metric.
    fn add(&mut self, kind: &'static str, n: u64) {
        if n > 0 {
            metrics::counter!(REMOVED, "kind" => kind).increment(n);
        }
        match self.removed.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => self.removed.push((kind, n)),
        }
    }

    fn batch_took(&mut self, began: std::time::Instant) {
        self.longest_batch = self.longest_batch.max(began.elapsed());
    }
}

/// Conversations per transaction when messages age.
const AGE_CONVERSATIONS: u32 = 20;

/// The sweep as scheduled work.
pub struct SweepJob {
    pub ops: Operations,
    pub policy: RetentionPolicy,
}

#[async_trait::async_trait]
impl crate::scheduler::JobHandler for SweepJob {
    async fn run(&self, _job: &ombud_store::Job) -> Result<(), String> {
        let report = self
            .ops
            .sweep_retention(&self.policy)
            .await
            .map_err(|e| e.to_string())?;
        let longest_ms = report.longest_batch.as_millis() as u64;
        for (what, n) in report.removed.into_iter().filter(|(_, n)| *n > 0) {
            tracing::info!(kind = what, rows = n, longest_ms, "retention removed");
        }
        Ok(())
    }
}

/// The sweep, every quarter of an hour.
pub fn every_quarter_hour() -> crate::scheduler::Recurring {
    crate::scheduler::Recurring::utc(SWEEP_JOB, "*/15 * * * *")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_schedule_parses() {
        let r = super::every_quarter_hour();
        assert_eq!(r.key, "retention.sweep");
    }
}
