//! The satisfaction survey's operations: its settings (and the daily
//! summary's, kept the same way), asking it (the
//! `survey.send` job, one per resolution) and reopening a complaint its
//! citizen says is not solved (the `survey.reopen` job, left by the run that
//! read the answer). The rules are `ombud_core::survey`'s.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::summary::{self, SummarySettings};
use ombud_core::survey::{self, SurveySettings};
use ombud_core::*;
use ombud_store::surveys::SETTINGS_KEY;
use ombud_store::{
    AskSurvey, Asked, ChangeBatch, ChangeOutcome, ComplaintChange, Job, StoreResult,
};

use super::{Acting, Operations};
use crate::scheduler::{JobHandler, Jobs};

impl Operations {
    /// The tenant's survey settings (the defaults until an admin sets them).
    pub async fn survey_settings(&self, tenant: &TenantId) -> StoreResult<SurveySettings> {
        super::settings::read_setting(self.store.as_ref(), tenant, SETTINGS_KEY).await
    }

    pub async fn set_survey_settings(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        settings: SurveySettings,
    ) -> StoreResult<SurveySettings> {
        settings.validate()?;
        self.set_setting(
            acting,
            tenant,
            SETTINGS_KEY,
            "settings.survey_changed",
            &settings,
        )
        .await?;
        Ok(settings)
    }

    /// When the tenant's daily summary goes out (09:00 until an admin sets
    /// another time).
    pub async fn summary_settings(&self, tenant: &TenantId) -> StoreResult<SummarySettings> {
        super::settings::read_setting(self.store.as_ref(), tenant, summary::SETTINGS_KEY).await
    }

    pub async fn set_summary_settings(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        settings: SummarySettings,
    ) -> StoreResult<SummarySettings> {
        settings.validate()?;
        let key = summary::SETTINGS_KEY;
        self.set_setting(acting, tenant, key, "settings.summary_changed", &settings)
            .await?;
        Ok(settings)
    }

    /// Asks the survey of the resolution of `complaint` at `resolved_at`, if
    /// it is still due; the question goes out through the outbox.
    pub async fn ask_survey(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
        resolved_at: DateTime<Utc>,
    ) -> StoreResult<Asked> {
        let now = self.now();
        let notice = crate::complaints::notice_plan(
            self.store.as_ref(),
            tenant,
            now,
            crate::complaints::survey_texts(),
        )
        .await?;
        let ask = AskSurvey {
            complaint: complaint.clone(),
            resolved_at,
            settings: self.survey_settings(tenant).await?,
            notice,
            at: now,
        };
        let asked = self.store.ask_survey(tenant, ask).await?;
        if matches!(asked, Asked::Sent(_)) {
            self.wake_outbox();
        }
        Ok(asked)
    }

    /// Reopens a complaint whose citizen answered the survey "not solved";
    /// the change is the citizen's. A complaint staff moved on meanwhile
    /// (reopened or closed it) is left as it is.
    pub async fn reopen_after_survey(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
        contact: &str,
    ) -> StoreResult<Option<String>> {
        let batch = ChangeBatch {
            actor: format!("contact:{contact}"),
            at: self.now(),
            change: ComplaintChange::Status(ComplaintStatus::InProgress),
            ids: vec![complaint.clone()],
            notices: None,
            audit: None,
            bulk_id: None,
            follow_ups: Default::default(),
            sla: Some(super::sla::rules(self.store.as_ref(), tenant).await?),
            routing: super::routing::Routing::read(self.store.as_ref(), tenant)
                .await?
                .batch(),
            verification: None,
        };
        let outcomes = self.store.change_complaints(tenant, batch).await?;
        Ok(match outcomes.into_iter().next() {
            Some(ChangeOutcome::Skipped { reason, .. }) => Some(reason),
            _ => None,
        })
    }
}

/// Runs `survey.send`: `{complaint_id, resolved_at}`.
struct AskJob {
    ops: Operations,
}

#[async_trait]
impl JobHandler for AskJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let tenant = job.tenant_id.as_ref().ok_or("the job names no tenant")?;
        let complaint: ComplaintId = field(job, "complaint_id")?;
        let resolved_at: DateTime<Utc> = field(job, "resolved_at")?;
        match self.ops.ask_survey(tenant, &complaint, resolved_at).await {
            Ok(Asked::Sent(id)) => {
                tracing::info!(%complaint, survey = %id, "satisfaction survey asked");
                Ok(())
            }
            Ok(Asked::Skipped(why)) => {
                tracing::info!(%complaint, reason = %why, "no satisfaction survey");
                Ok(())
            }
            Ok(Asked::CannotNotify(why)) => {
                tracing::warn!(%complaint, reason = %why, "the satisfaction survey could not be sent");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Runs `survey.reopen`: `{complaint_id, contact_id}`.
struct ReopenJob {
    ops: Operations,
}

#[async_trait]
impl JobHandler for ReopenJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let tenant = job.tenant_id.as_ref().ok_or("the job names no tenant")?;
        let complaint: ComplaintId = field(job, "complaint_id")?;
        let contact: String = field(job, "contact_id")?;
        match self
            .ops
            .reopen_after_survey(tenant, &complaint, &contact)
            .await
        {
            Ok(None) => Ok(()),
            Ok(Some(reason)) => {
                tracing::info!(%complaint, %reason, "the complaint was not reopened after its survey");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

pub(crate) fn field<T: serde::de::DeserializeOwned>(job: &Job, name: &str) -> Result<T, String> {
    let v = job.payload.get(name).cloned().unwrap_or_default();
    serde_json::from_value(v).map_err(|e| format!("the job's {name} is unreadable: {e}"))
}

/// The survey's jobs, run by `ops`.
pub fn with_survey_jobs(jobs: Jobs, ops: Operations) -> Jobs {
    jobs.handle(survey::JOB_KIND, Arc::new(AskJob { ops: ops.clone() }))
        .handle(survey::REOPEN_JOB_KIND, Arc::new(ReopenJob { ops }))
}
