//! Configuration: embedded defaults → `ombud.toml` (or `--config PATH`) →
//! `OMBUD_*` environment variables (`__` separates sections:
//! `OMBUD_AGENTS__MAX_CONCURRENT=8`), then `validate()`. Errors name the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use ombud_core::seal::SealKey;
use ombud_core::{ProviderHosts, Secret};
use ombud_engine::{EngineConfig, OutboundPolicy, OutboxConfig, WebhookConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds (`OMBUD_LISTEN`).
    pub listen: String,
    /// Holds the SQLite database (`OMBUD_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite (`OMBUD_DATABASE_URL`).
    pub database_url: Option<Secret>,
    /// 32 random bytes in base64 that seal the secrets tenants store, such
    /// as an LLM agent's API key (`OMBUD_SECRET_KEY`). Unset: kept in
    /// `<data_dir>/secret.key`, made on first start. Replicas sharing one
    /// PostgreSQL must be given the same key.
    pub secret_key: Option<Secret>,
    /// The Ed25519 key that signs the audit trail's checkpoints, 32 bytes in
    /// base64 (`OMBUD_AUDIT_KEY`); else `<data_dir>/audit.key`, made on first
    /// start. Replicas sharing one PostgreSQL must be given the same key.
    pub audit_key: Option<Secret>,
    /// PostgreSQL connections per process (`OMBUD_DATABASE_MAX_CONNECTIONS`).
    pub database_max_connections: u32,
    /// `text` or `json` (`OMBUD_LOG_FORMAT`).
    pub log_format: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Seconds shutdown waits for runs and sends in flight.
    pub shutdown_grace_secs: u64,
    /// Where people reach this server, e.g. `https://complaints.example.org`
    /// (`OMBUD_PUBLIC_URL`). With https, cookies are marked `Secure`.
    pub public_url: Option<String>,
    /// Believe `X-Forwarded-For`/`X-Forwarded-Proto` (`OMBUD_TRUST_PROXY`):
    /// only behind a proxy that sets them itself.
    pub trust_proxy: bool,
    /// The operators' listener: `/metrics` and the health probes in detail,
    /// nothing else (`OMBUD_METRICS_LISTEN`, default 127.0.0.1:9464; `off`
    /// for none). The main listener serves neither, except to a caller with
    /// `metrics_token`.
    pub metrics_listen: Option<String>,
    /// A bearer token that also opens `/metrics` and detailed readiness on
    /// the main listener (`OMBUD_METRICS_TOKEN`), for a scraper that only
    /// reaches that one.
    pub metrics_token: Option<Secret>,
    pub server: ServerSettings,
    pub limits: LimitsSettings,
    pub metrics: MetricsSettings,
    pub paging: PagingSettings,
    pub dashboard: DashboardConfig,
    pub agents: AgentsConfig,
    pub outbox: OutboxSettings,
    pub webhooks: WebhookSettings,
    pub outbound: OutboundSettings,
    pub audit: AuditSettings,
    pub retention: RetentionSettings,
    pub conversations: ConversationsSettings,
    pub scheduler: SchedulerSettings,
    pub backup: crate::backup::BackupSettings,
    /// Where photos and voice notes are kept.
    #[serde(default)]
    pub media: crate::media_store::MediaSettings,
    pub smtp: smtp::SmtpSettings,
}

impl Default for Config {
    fn default() -> Self {
        let engine = EngineConfig::default();
        let o = &engine.outbox;
        let w = &engine.webhooks;
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            secret_key: None,
            audit_key: None,
            database_max_connections: 16,
            log_format: "text".into(),
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: engine.shutdown_grace.as_secs(),
            public_url: None,
            trust_proxy: false,
            metrics_listen: Some(DEFAULT_METRICS_LISTEN.into()),
            metrics_token: None,
            server: ServerSettings::default(),
            limits: LimitsSettings::default(),
            metrics: MetricsSettings::from(&engine.sample),
            paging: PagingSettings::from(&engine.paging),
            dashboard: DashboardConfig {
                session_idle_minutes: 8 * 60,
                session_absolute_hours: 7 * 24,
            },
            agents: AgentsConfig {
                max_concurrent: engine.max_concurrent_runs,
                retry_base_ms: engine.run_retry_base.as_millis() as u64,
                max_attempts: engine.run_max_attempts,
                lease_secs: engine.lease.as_secs(),
                sweep_interval_ms: engine.sweep_interval.as_millis() as u64,
                llm_retry_base_ms: engine.llm_retry_base.as_millis() as u64,
                process_commands: String::new(),
            },
            outbox: OutboxSettings {
                concurrency: o.concurrency,
                send_timeout_ms: o.send_timeout.as_millis() as u64,
                backoff_base_ms: o.backoff_base.as_millis() as u64,
                backoff_max_ms: o.backoff_max.as_millis() as u64,
                give_up_after_secs: o.give_up_after.as_secs(),
                lease_secs: o.lease.as_secs(),
                poll_interval_ms: o.poll_interval.as_millis() as u64,
            },
            webhooks: WebhookSettings {
                concurrency: w.concurrency,
                timeout_secs: w.timeout.as_secs(),
                retry_schedule: "5s,5m,30m,2h,5h,10h,10h".into(),
                disable_after_hours: w.disable_after.as_secs() / 3600,
                lease_secs: w.lease.as_secs(),
                poll_interval_ms: w.poll_interval.as_millis() as u64,
            },
            outbound: OutboundSettings {
                allow_cidrs: String::new(),
                provider_hosts: String::new(),
            },
            audit: AuditSettings::default(),
            retention: RetentionSettings::default(),
            conversations: ConversationsSettings::default(),
            scheduler: SchedulerSettings::default(),
            backup: Default::default(),
            media: Default::default(),
            smtp: Default::default(),
        }
    }
}

/// Where `/metrics` and the detailed probes are served unless told otherwise.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";

fn is_off(addr: &str) -> bool {
    addr.is_empty() || addr.eq_ignore_ascii_case("off")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Config {
    /// Loads defaults, then the file (`path`, or `./ombud.toml` when present), then
    /// the environment, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(p) if !p.exists() => {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    p.display()
                )))
            }
            Some(p) => figment = figment.merge(Toml::file(p)),
            None if Path::new("ombud.toml").exists() => {
                figment = figment.merge(Toml::file("ombud.toml"))
            }
            None => {}
        }
        let config: Config = figment
            .merge(
                // OMBUD_TEST_* belong to the test suite, not to the server.
                Env::prefixed("OMBUD_")
                    .filter(|key| {
                        let key = key.as_str().to_ascii_lowercase();
                        !key.starts_with("test_") && key != "outbound_allow_cidrs"
                    })
                    .split("__"),
            )
            // The name for it, without the section separator.
            .merge(
                Env::raw()
                    .only(&["OMBUD_OUTBOUND_ALLOW_CIDRS"])
                    .map(|_| "outbound.allow_cidrs".into()),
            )
            .extract()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.into(),
            })
        };
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid("listen", "must be an address like 127.0.0.1:8080");
        }
        if let Some(addr) = self.metrics_listen.as_deref().filter(|a| !is_off(a)) {
            if addr.parse::<SocketAddr>().is_err() {
                return invalid(
                    "metrics_listen",
                    "must be an address like 127.0.0.1:9464, or off",
                );
            }
        }
        if let Some(token) = &self.metrics_token {
            if token.expose().len() < 16 {
                return invalid("metrics_token", "must be at least 16 characters");
            }
        }
        if self.metrics.sample_interval_ms < 100 {
            return invalid("metrics.sample_interval_ms", "must be at least 100");
        }
        self.paging.validate()?;
        self.server.validate()?;
        self.limits.validate()?;
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must not be empty");
        }
        if ombud_agents::process::CommandAllowList::parse(&self.agents.process_commands).is_err() {
            return invalid(
                "agents.process_commands",
                "must be * or absolute paths separated by commas",
            );
        }
        if let Some(key) = &self.secret_key {
            if SealKey::from_base64(key.expose()).is_err() {
                return invalid(
                    "secret_key",
                    "must be 32 bytes in base64 (openssl rand -base64 32)",
                );
            }
        }
        if let Some(key) = &self.audit_key {
            if ombud_core::audit::SigningKey::from_base64(key.expose()).is_err() {
                return invalid(
                    "audit_key",
                    "must be 32 bytes in base64 (openssl rand -base64 32)",
                );
            }
        }
        if let Some(url) = &self.database_url {
            let url = url.expose();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return invalid(
                    "database_url",
                    "must be a postgres:// URL (leave it unset for SQLite)",
                );
            }
        }
        if self.database_max_connections < 2 {
            return invalid("database_max_connections", "must be at least 2");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return invalid("log_format", "must be text or json");
        }
        if self.max_body_bytes < 1024 {
            return invalid("max_body_bytes", "must be at least 1024");
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.ends_with('/') {
                return invalid(
                    "public_url",
                    "must be an http:// or https:// URL without a trailing slash",
                );
            }
        }
        if self.dashboard.session_idle_minutes == 0 || self.dashboard.session_absolute_hours == 0 {
            return invalid(
                "dashboard",
                "session_idle_minutes and session_absolute_hours must be positive",
            );
        }
        if self.agents.max_concurrent == 0 {
            return invalid("agents.max_concurrent", "must be at least 1");
        }
        if self.agents.lease_secs == 0 || self.agents.sweep_interval_ms == 0 {
            return invalid(
                "agents",
                "lease_secs and sweep_interval_ms must be positive",
            );
        }
        if self.agents.max_attempts == 0 {
            return invalid("agents.max_attempts", "must be at least 1");
        }
        if self.outbox.concurrency == 0 {
            return invalid("outbox.concurrency", "must be at least 1");
        }
        if self.outbox.send_timeout_ms == 0
            || self.outbox.lease_secs == 0
            || self.outbox.poll_interval_ms == 0
        {
            return invalid(
                "outbox",
                "send_timeout_ms, lease_secs and poll_interval_ms must be positive",
            );
        }
        if self.outbox.backoff_base_ms > self.outbox.backoff_max_ms {
            return invalid(
                "outbox.backoff_base_ms",
                "must not exceed outbox.backoff_max_ms",
            );
        }
        if self.webhooks.concurrency == 0
            || self.webhooks.timeout_secs == 0
            || self.webhooks.lease_secs <= self.webhooks.timeout_secs
            || self.webhooks.poll_interval_ms == 0
        {
            return invalid(
                "webhooks",
                "concurrency, timeout_secs and poll_interval_ms must be positive, and lease_secs longer than timeout_secs",
            );
        }
        if let Err(reason) = parse_schedule(&self.webhooks.retry_schedule) {
            return invalid("webhooks.retry_schedule", &reason);
        }
        if let Err((key, reason)) = self.backup.validate() {
            return invalid(key, &reason);
        }
        if let Err((key, reason)) = self.media.validate() {
            return invalid(key, &reason);
        }
        self.smtp.mail()?;
        let s = &self.scheduler;
        if s.concurrency == 0
            || s.lease_secs < 3
            || s.poll_interval_ms == 0
            || s.retry_base_secs == 0
        {
            return invalid(
                "scheduler",
                "concurrency, poll_interval_ms and retry_base_secs must be positive, and lease_secs at least 3",
            );
        }
        if !(ombud_core::audit::MIN_RETENTION_DAYS..=36_500).contains(&self.audit.retention_days) {
            return invalid(
                "audit.retention_days",
                "must be from 365 (a year, the least Indian rules ask for logs) to 36500",
            );
        }
        let r = &self.retention;
        for (field, days) in [
            ("retention.invitations_days", r.invitations_days),
            ("retention.webhook_delivered_days", r.webhook_delivered_days),
            ("retention.webhook_failed_days", r.webhook_failed_days),
            ("retention.events_days", r.events_days),
            ("retention.executions_days", r.executions_days),
        ] {
            if !(1..=36_500).contains(&days) {
                return invalid(field, "must be from 1 to 36500 days");
            }
        }
        for (field, days) in [
            ("retention.message_bodies_days", r.message_bodies_days),
            ("retention.messages_days", r.messages_days),
        ] {
            if days > ombud_core::conversation::MAX_RETENTION_DAYS {
                return invalid(field, "must be from 0 (kept) to 36500 days");
            }
        }
        if !(1..=10_000).contains(&r.batch) {
            return invalid("retention.batch", "must be from 1 to 10000 rows");
        }
        if let Err(e) = ombud_core::SessionIdle::hours(self.conversations.session_idle_hours) {
            return invalid("conversations.session_idle_hours", &e.reason);
        }
        if self.webhooks.disable_after_hours == 0 {
            return invalid("webhooks.disable_after_hours", "must be at least 1");
        }
        if let Err(reason) = OutboundPolicy::parse_cidrs(&self.outbound.allow_cidrs) {
            return invalid("outbound.allow_cidrs", &reason);
        }
        if let Err(reason) = ProviderHosts::parse(&self.outbound.provider_hosts) {
            return invalid("outbound.provider_hosts", &reason);
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    /// The operators' own listener, unless it is off (validated).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listen
            .as_deref()
            .filter(|a| !is_off(a))
            .and_then(|a| a.parse().ok())
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("ombud.db")
    }

    /// Where the data lives, for people (never prints a password).
    pub fn database_description(&self) -> String {
        match &self.database_url {
            Some(url) => {
                let url = url.expose();
                let host = url.rsplit('@').next().unwrap_or(url);
                format!("PostgreSQL at {}", host.split('?').next().unwrap_or(host))
            }
            None => format!("SQLite at {}", self.database_path().display()),
        }
    }

    pub fn dashboard(&self) -> ombud_web::dashboard::DashboardSettings {
        ombud_web::dashboard::DashboardSettings {
            session_idle: Duration::from_secs(self.dashboard.session_idle_minutes * 60),
            session_absolute: Duration::from_secs(self.dashboard.session_absolute_hours * 3600),
            secure_cookies: self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            trust_proxy: self.trust_proxy,
            public_url: self.public_url.clone(),
            max_body_bytes: self.max_body_bytes,
            limits: self.limits.requests(),
            logins: self.limits.logins(),
        }
    }

    pub fn engine(&self) -> EngineConfig {
        let o = &self.outbox;
        EngineConfig {
            max_concurrent_runs: self.agents.max_concurrent,
            run_retry_base: Duration::from_millis(self.agents.retry_base_ms),
            run_max_attempts: self.agents.max_attempts,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            lease: Duration::from_secs(self.agents.lease_secs),
            sweep_interval: Duration::from_millis(self.agents.sweep_interval_ms),
            llm_retry_base: Duration::from_millis(self.agents.llm_retry_base_ms),
            outbox: OutboxConfig {
                concurrency: o.concurrency,
                send_timeout: Duration::from_millis(o.send_timeout_ms),
                backoff_base: Duration::from_millis(o.backoff_base_ms),
                backoff_max: Duration::from_millis(o.backoff_max_ms),
                give_up_after: Duration::from_secs(o.give_up_after_secs),
                lease: Duration::from_secs(o.lease_secs),
                poll_interval: Duration::from_millis(o.poll_interval_ms),
            },
            webhooks: WebhookConfig {
                concurrency: self.webhooks.concurrency,
                timeout: Duration::from_secs(self.webhooks.timeout_secs),
                retry_schedule: parse_schedule(&self.webhooks.retry_schedule).unwrap_or_default(),
                disable_after: Duration::from_secs(self.webhooks.disable_after_hours * 3600),
                lease: Duration::from_secs(self.webhooks.lease_secs),
                poll_interval: Duration::from_millis(self.webhooks.poll_interval_ms),
            },
            outbound: self.outbound_policy(),
            sample: self.metrics.engine(&self.data_dir),
            paging: self.paging.engine(),
            scheduler: self.scheduler.engine(),
            // validate() has checked the settings.
            mail: self.smtp.mail().ok().flatten(),
            session_idle: ombud_core::SessionIdle::hours(self.conversations.session_idle_hours)
                .unwrap_or_default(),
            // validate() has checked the settings; a bucket whose keys are
            // missing is reported there.
            media: self.media.open(&self.data_dir).ok(),
            ..EngineConfig::default()
        }
    }
}

impl Config {
    /// What tenants' URLs and channels may reach (validated).
    pub fn outbound_policy(&self) -> OutboundPolicy {
        OutboundPolicy::new(
            OutboundPolicy::parse_cidrs(&self.outbound.allow_cidrs).unwrap_or_default(),
        )
        .with_provider_hosts(
            ProviderHosts::parse(&self.outbound.provider_hosts).unwrap_or_default(),
        )
    }

    /// Where process agents' workers live, what they may run and what fences them.
    pub fn process_settings(&self) -> ombud_agents::process::ProcessSettings {
        let mut settings = ombud_agents::process::ProcessSettings::for_data_dir(&self.data_dir);
        settings.commands =
            ombud_agents::process::CommandAllowList::parse(&self.agents.process_commands)
                .unwrap_or_default();
        settings
    }
}

mod limits;
mod observe;
mod sections;
mod server;
mod smtp;
pub use limits::LimitsSettings;
pub use observe::{MetricsSettings, PagingSettings};
pub use sections::{
    parse_schedule, AgentsConfig, AuditSettings, ConversationsSettings, DashboardConfig,
    OutboundSettings, OutboxSettings, RetentionSettings, SchedulerSettings, WebhookSettings,
};
pub use server::ServerSettings;

#[cfg(test)]
mod tests;
