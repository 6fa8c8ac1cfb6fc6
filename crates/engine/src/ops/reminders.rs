//! Reminders to citizens whose complaint waits on hold for their answer:
//! the tenant's settings (audited) and the `reminder.send` job that a move
//! to `on_hold` leaves (`ombud_core::reminder`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::reminder::{self, ReminderSettings};
use ombud_core::*;
use ombud_store::{Job, RemindCitizen, Reminded, StoreResult};

use super::surveys::field;
use super::{Acting, Operations};
use crate::scheduler::{JobHandler, Jobs};

impl Operations {
    /// The tenant's reminders (off until an admin turns them on).
    pub async fn reminder_settings(&self, tenant: &TenantId) -> StoreResult<ReminderSettings> {
        super::settings::read_setting(self.store.as_ref(), tenant, reminder::SETTINGS_KEY).await
    }

    /// Replaces the tenant's reminders. Complaints already on hold keep the
    /// reminder they were given (and none is sent while reminders are off).
    pub async fn set_reminder_settings(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        settings: ReminderSettings,
    ) -> StoreResult<ReminderSettings> {
        settings.validate()?;
        let key = reminder::SETTINGS_KEY;
        self.set_setting(acting, tenant, key, "settings.reminder_changed", &settings)
            .await?;
        Ok(settings)
    }

    /// Reminds the citizen of `complaint`, put on hold at `held_at`, if the
    /// hold still stands and they have not written since; the reminder goes
    /// out through the outbox, in their language.
    pub async fn remind_citizen(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
        held_at: DateTime<Utc>,
    ) -> StoreResult<Reminded> {
        let now = self.now();
        let notice = crate::complaints::notice_plan(
            self.store.as_ref(),
            tenant,
            now,
            crate::complaints::reminder_texts(),
        )
        .await?;
        let remind = RemindCitizen {
            complaint: complaint.clone(),
            held_at,
            settings: self.reminder_settings(tenant).await?,
            notice,
            at: now,
        };
        let reminded = self.store.remind_citizen(tenant, remind).await?;
        if reminded == Reminded::Sent {
            self.wake_outbox();
        }
        Ok(reminded)
    }
}

/// Runs `reminder.send`: `{complaint_id, held_at}`.
struct RemindJob {
    ops: Operations,
}

#[async_trait]
impl JobHandler for RemindJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let tenant = job.tenant_id.as_ref().ok_or("the job names no tenant")?;
        let complaint: ComplaintId = field(job, "complaint_id")?;
        let held_at: DateTime<Utc> = field(job, "held_at")?;
        match self.ops.remind_citizen(tenant, &complaint, held_at).await {
            Ok(Reminded::Sent) => tracing::info!(%complaint, "citizen reminded"),
            Ok(Reminded::Skipped(why)) => {
                tracing::debug!(%complaint, reason = %why, "no reminder")
            }
            Ok(Reminded::CannotNotify(why)) => {
                tracing::warn!(%complaint, reason = %why, "the reminder could not be sent")
            }
            Err(e) => return Err(e.to_string()),
        }
        Ok(())
    }
}

/// The reminders' job, run by `ops`.
pub fn with_reminder_jobs(jobs: Jobs, ops: Operations) -> Jobs {
    jobs.handle(reminder::JOB_KIND, Arc::new(RemindJob { ops }))
}
