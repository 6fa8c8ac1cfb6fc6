//! The `metrics` and `paging` sections: what the operators watch.

use std::path::Path;
use std::time::Duration;

use ombud_core::Secret;
use ombud_engine::metrics::SampleConfig;
use ombud_engine::paging::{PagingConfig, PAGERDUTY_URL};
use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// How often the gauges that need the database (outbox backlog, its
    /// size) are sampled; a scrape itself reads nothing from it.
    pub sample_interval_ms: u64,
    /// How often the database's integrity is checked (SQLite reads it whole).
    pub integrity_interval_secs: u64,
}

impl From<&SampleConfig> for MetricsSettings {
    fn from(c: &SampleConfig) -> Self {
        Self {
            sample_interval_ms: c.every.as_millis() as u64,
            integrity_interval_secs: c.integrity_every.as_secs(),
        }
    }
}

impl MetricsSettings {
    pub(super) fn engine(&self, data_dir: &Path) -> SampleConfig {
        SampleConfig {
            every: Duration::from_millis(self.sample_interval_ms),
            integrity_every: Duration::from_secs(self.integrity_interval_secs),
            disk: Some(data_dir.to_owned()),
        }
    }
}

/// Paging from Ombud itself (see `ombud_engine::paging`): off until a
/// PagerDuty routing key or a webhook URL is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingSettings {
    /// A PagerDuty Events API v2 integration key
    /// (`OMBUD_PAGING__PAGERDUTY_ROUTING_KEY`).
    pub pagerduty_routing_key: Option<Secret>,
    pub pagerduty_url: String,
    /// Any receiver of JSON pages (`OMBUD_PAGING__WEBHOOK_URL`).
    pub webhook_url: Option<String>,
    pub check_interval_ms: u64,
    /// A channel failing every send this long pages.
    pub channel_failing_secs: u64,
    /// Something waiting in an outbox this long pages.
    pub outbox_stuck_secs: u64,
    /// With scheduled backups, none verified for this long pages.
    pub backup_stale_secs: u64,
    /// This many worker crashes within `crash_window_secs` page.
    pub crash_loop_count: u64,
    pub crash_window_secs: u64,
    /// Names this server in pages; default: the host name.
    pub source: Option<String>,
}

impl From<&PagingConfig> for PagingSettings {
    fn from(c: &PagingConfig) -> Self {
        Self {
            pagerduty_routing_key: None,
            pagerduty_url: PAGERDUTY_URL.into(),
            webhook_url: None,
            check_interval_ms: c.check_every.as_millis() as u64,
            channel_failing_secs: c.channel_failing_for.as_secs(),
            outbox_stuck_secs: c.outbox_stuck_after.as_secs(),
            backup_stale_secs: c.backup_stale_after.as_secs(),
            crash_loop_count: c.crash_loop,
            crash_window_secs: c.crash_window.as_secs(),
            source: None,
        }
    }
}

impl PagingSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.into(),
            })
        };
        let is_url = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if !is_url(&self.pagerduty_url) {
            return invalid("paging.pagerduty_url", "must be an http(s) URL");
        }
        if self.webhook_url.as_deref().is_some_and(|u| !is_url(u)) {
            return invalid("paging.webhook_url", "must be an http(s) URL");
        }
        if self.check_interval_ms < 100 {
            return invalid("paging.check_interval_ms", "must be at least 100");
        }
        if self.crash_loop_count == 0 {
            return invalid("paging.crash_loop_count", "must be at least 1");
        }
        Ok(())
    }

    pub(super) fn engine(&self) -> PagingConfig {
        let source = self.source.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "ombud".into())
        });
        PagingConfig {
            pagerduty: self
                .pagerduty_routing_key
                .as_ref()
                .map(|k| (k.expose().to_owned(), self.pagerduty_url.clone())),
            webhook_url: self.webhook_url.clone(),
            check_every: Duration::from_millis(self.check_interval_ms),
            channel_failing_for: Duration::from_secs(self.channel_failing_secs),
            outbox_stuck_after: Duration::from_secs(self.outbox_stuck_secs),
            backup_stale_after: Duration::from_secs(self.backup_stale_secs),
            crash_loop: self.crash_loop_count,
            crash_window: Duration::from_secs(self.crash_window_secs),
            source,
        }
    }
}
