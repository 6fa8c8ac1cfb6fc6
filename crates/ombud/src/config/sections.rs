//! The sections of the configuration that the engine and the dashboard
//! read: agents, outbox, webhooks, outbound, dashboard sessions.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Deliveries in flight at once.
    pub concurrency: usize,
    pub timeout_secs: u64,
    /// Waits before each retry, e.g. `5s,5m,30m,2h,5h,10h,10h` (units ms, s,
    /// m, h, d); after the last the delivery has failed.
    pub retry_schedule: String,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after_hours: u64,
    pub lease_secs: u64,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSettings {
    /// Ranges tenants' URLs may reach although they are internal, e.g.
    /// `10.20.0.0/16,127.0.0.0/8` (`OMBUD_OUTBOUND_ALLOW_CIDRS`).
    pub allow_cidrs: String,
    /// Hosts besides graph.facebook.com and api.telegram.org that channels
    /// may send through, wherever they resolve: a proxy, a local stand-in
    /// (`OMBUD_OUTBOUND__PROVIDER_HOSTS=127.0.0.1,graph-proxy.internal`).
    pub provider_hosts: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// A dashboard session unused this long ends.
    pub session_idle_minutes: u64,
    /// A dashboard session ends this long after login, however active.
    pub session_absolute_hours: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsConfig {
    /// Agent runs at once, across all conversations.
    pub max_concurrent: usize,
    pub retry_base_ms: u64,
    pub max_attempts: u32,
    /// A conversation's lease; a replica that dies mid-run holds it this long.
    pub lease_secs: u64,
    /// How often to look for due conversations nobody is running.
    pub sweep_interval_ms: u64,
    /// An LLM agent's first wait before retrying its provider (then doubling).
    pub llm_retry_base_ms: u64,
    /// The programs process agents may run: absolute paths, comma-separated,
    /// or `*` for any (`OMBUD_AGENTS__PROCESS_COMMANDS`). Empty: tenants
    /// cannot run programs on this server.
    pub process_commands: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    pub concurrency: usize,
    pub send_timeout_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub give_up_after_secs: u64,
    pub lease_secs: u64,
    pub poll_interval_ms: u64,
}

/// `5s,5m,30m,2h` to durations.
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let split = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            let (n, unit) = p.split_at(split);
            let n: u64 = n
                .parse()
                .map_err(|_| format!("{p:?} is not a number and a unit like 30s"))?;
            let ms = match unit {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(format!("{p:?} needs a unit: ms, s, m, h or d")),
            };
            Ok(Duration::from_millis(n.saturating_mul(ms)))
        })
        .collect()
}

/// Scheduled work (`docs/scheduler.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    /// Jobs run at once on each replica.
    pub concurrency: usize,
    /// A claimed job's lease, renewed while it runs; a dead replica's jobs
    /// run elsewhere this long after it died.
    pub lease_secs: u64,
    /// How often to look for due jobs when nothing wakes the scheduler.
    pub poll_interval_ms: u64,
    /// A failed job waits `retry_base_secs · 2^n` before its next attempt.
    pub retry_base_secs: u64,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        let d = ombud_engine::scheduler::SchedulerConfig::default();
        Self {
            concurrency: d.concurrency,
            lease_secs: d.lease.as_secs(),
            poll_interval_ms: d.poll_interval.as_millis() as u64,
            retry_base_secs: d.backoff_base.as_secs(),
        }
    }
}

impl SchedulerSettings {
    pub fn engine(&self) -> ombud_engine::scheduler::SchedulerConfig {
        ombud_engine::scheduler::SchedulerConfig {
            concurrency: self.concurrency,
            lease: std::time::Duration::from_secs(self.lease_secs),
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms),
            backoff_base: std::time::Duration::from_secs(self.retry_base_secs),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// How long the audit trail is kept, in days: at least 365. Older
    /// entries go at the hourly checkpoint, cut at a signed one.
    pub retention_days: u32,
}

/// Conversations (`[conversations]`): what tenants follow unless they
/// choose otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationsSettings {
    /// Hours of quiet (1 to 2160) after which a citizen's next message
    /// starts a new session: the agent meets them afresh.
    pub session_idle_hours: u32,
}

impl Default for ConversationsSettings {
    fn default() -> Self {
        Self {
            session_idle_hours: ombud_core::SessionIdle::DEFAULT_HOURS,
        }
    }
}

/// How long what the retention sweep removes is kept (`[retention]`).
/// Expired sessions and password-reset links go at the next sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Invitations, this many days after they expired or were accepted.
    pub invitations_days: u32,
    /// Webhook deliveries delivered this many days ago, with their attempts.
    pub webhook_delivered_days: u32,
    /// Webhook deliveries failed for good this many days ago.
    pub webhook_failed_days: u32,
    /// Domain events this many days old, once no delivery refers to them.
    pub events_days: u32,
    /// Executions this many days old lose their output and tool calls
    /// (what citizens wrote); their figures stay.
    pub executions_days: u32,
    /// Messages' words, after this many days, for offices that do not
    /// choose their own (0: kept, the default: an office decides).
    pub message_bodies_days: u32,
    /// Messages themselves, with their sends and the agent's runs on them,
    /// after this many days, for offices that do not choose their own (0:
    /// kept, the default). Complaints stay.
    pub messages_days: u32,
    /// Rows per transaction (1 to 10,000).
    pub batch: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            invitations_days: 30,
            webhook_delivered_days: 30,
            webhook_failed_days: 90,
            events_days: 7,
            executions_days: 90,
            message_bodies_days: 0,
            messages_days: 0,
            batch: 500,
        }
    }
}

impl RetentionSettings {
    pub fn policy(&self) -> ombud_engine::ops::retention::RetentionPolicy {
        let days = |d: u32| chrono::Duration::days(i64::from(d));
        ombud_engine::ops::retention::RetentionPolicy {
            invitations: days(self.invitations_days),
            delivered_webhooks: days(self.webhook_delivered_days),
            failed_webhooks: days(self.webhook_failed_days),
            events: days(self.events_days),
            executions: days(self.executions_days),
            message_bodies: Some(self.message_bodies_days).filter(|d| *d > 0).map(days),
            messages: Some(self.messages_days).filter(|d| *d > 0).map(days),
            batch: self.batch,
        }
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            retention_days: 730,
        }
    }
}
