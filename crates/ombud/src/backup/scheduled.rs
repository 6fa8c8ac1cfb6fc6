//! Backups on a schedule, in `ombud serve`: the `backup.create` job (run by
//! one replica), each backup verified by restoring it right after it is
//! made, then retention by generations. Metrics say when the last backup was
//! made and verified, so an alert fires when none has been for 26 hours.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use metrics::gauge;
use ombud_core::audit::Acting;
use ombud_engine::scheduler::{JobHandler, Recurring};
use ombud_engine::Operations;
use ombud_store::Job;

use super::Destination;
use crate::Config;

pub const JOB: &str = "backup.create";
pub const LAST_SUCCESS: &str = "ombud_backup_last_success_timestamp_seconds";
pub const LAST_VERIFIED: &str = "ombud_backup_last_verified_timestamp_seconds";
pub const SIZE: &str = "ombud_backup_size_bytes";
pub const DURATION: &str = "ombud_backup_duration_seconds";

/// Says what the backup metrics mean.
pub fn describe() {
    use metrics::{describe_gauge, Unit};
    describe_gauge!(LAST_SUCCESS, "When the last backup was made (Unix time).");
    describe_gauge!(
        LAST_VERIFIED,
        "When the last backup was verified by restoring it (Unix time); when this replica started, if none has been."
    );
    describe_gauge!(SIZE, Unit::Bytes, "Size of the last backup.");
    describe_gauge!(
        DURATION,
        Unit::Seconds,
        "How long the last backup took to make and verify."
    );
}

/// Sets the gauges from what the destination holds (on start: another
/// replica or an earlier run may have made them); before any verified
/// backup, "last verified" is `started`, so the alert waits a full 26 hours.
pub async fn set_gauges_from(
    dest: &Destination,
    started: DateTime<Utc>,
    engine: &ombud_engine::Engine,
) {
    let listed = match dest.list().await {
        Ok(listed) => listed,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "the backups in {} could not be listed", dest.describe());
            Vec::new()
        }
    };
    if let Some(last) = listed.last() {
        gauge!(LAST_SUCCESS).set(last.created_at.timestamp() as f64);
        gauge!(SIZE).set(last.bytes as f64);
    }
    let verified = listed
        .iter()
        .filter_map(|l| l.verified_at)
        .max()
        .unwrap_or(started);
    gauge!(LAST_VERIFIED).set(verified.timestamp() as f64);
    engine.note_backup_verified(verified);
}

/// The job that takes, verifies and prunes.
pub struct BackupJob {
    pub config: Config,
    pub ops: Operations,
    pub engine: Arc<ombud_engine::Engine>,
}

/// The scheduled backup, if `backup.schedule` is set.
pub fn recurring(config: &Config) -> anyhow::Result<Option<Recurring>> {
    Ok(config.backup.schedule()?.map(|schedule| Recurring {
        kind: JOB.into(),
        key: JOB.into(),
        schedule,
        payload: serde_json::json!({}),
        max_attempts: 3,
    }))
}

impl BackupJob {
    pub fn handler(config: &Config, engine: &Arc<ombud_engine::Engine>) -> Arc<dyn JobHandler> {
        Arc::new(Self {
            config: config.clone(),
            ops: engine.ops().clone(),
            engine: engine.clone(),
        })
    }
}

#[async_trait::async_trait]
impl JobHandler for BackupJob {
    async fn run(&self, _job: &Job) -> Result<(), String> {
        let started = std::time::Instant::now();
        let system = Acting::system();
        let created = super::take(&self.config, None, &system, Some(&self.ops))
            .await
            .map_err(|e| format!("backing up: {e:#}"))?;
        gauge!(LAST_SUCCESS).set(created.manifest.created_at.timestamp() as f64);
        gauge!(SIZE).set(created.bytes as f64);
        let verified = super::verify(&self.config, &created.file, &system, Some(&self.ops))
            .await
            .map_err(|e| format!("{} was made but does not verify: {e}", created.file))?;
        let now = self.ops.now();
        gauge!(LAST_VERIFIED).set(now.timestamp() as f64);
        self.engine.note_backup_verified(now);
        gauge!(DURATION).set(started.elapsed().as_secs_f64());
        let dest = self
            .config
            .backup_destination()
            .map_err(|e| format!("{e:#}"))?;
        let gone = super::prune(&dest, &self.config.backup)
            .await
            .map_err(|e| format!("retention: {e:#}"))?;
        tracing::info!(
            file = %created.file,
            bytes = created.bytes,
            tenants = verified.tenants,
            pruned = gone.len(),
            "backup made and verified"
        );
        Ok(())
    }
}
