//! Field verification's operations: the tenant's settings (audited), a
//! field worker's verdict on a complaint, and the `verify.remind` and
//! `verify.escalate` jobs that a complaint entering `pending_validation`
//! leaves. The rules are `ombud_core::verification`'s.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::verification::{self, Outcome, Stage, VerificationSettings};
use ombud_core::*;
use ombud_store::{ComplaintChange, Job, Store, StoreError, StoreResult};

use super::{Acting, Operations};
use crate::complaints::Selection;
use crate::scheduler::{JobHandler, Jobs};

/// The tenant's settings as a new complaint needs them: Some when it
/// starts pending validation.
pub async fn for_new(
    store: &dyn Store,
    tenant: &TenantId,
) -> StoreResult<Option<VerificationSettings>> {
    let settings: VerificationSettings =
        super::settings::read_setting(store, tenant, verification::SETTINGS_KEY).await?;
    Ok(settings.enabled.then_some(settings))
}

/// Who gives a verdict, when it is a member signed in (an API key's caller
/// has its scope checked by the API).
#[derive(Debug, Clone, Copy)]
pub struct Verifier<'a> {
    pub user: &'a UserId,
    pub role: Role,
}

/// What a timer did.
#[derive(Debug, Clone, PartialEq)]
pub enum TimerOutcome {
    Fired(Stage),
    Skipped(String),
}

impl Operations {
    /// The tenant's field verification (off until an admin turns it on).
    pub async fn verification_settings(
        &self,
        tenant: &TenantId,
    ) -> StoreResult<VerificationSettings> {
        super::settings::read_setting(self.store.as_ref(), tenant, verification::SETTINGS_KEY).await
    }

    /// Replaces the tenant's field verification. The member or team named
    /// for escalation must be the tenant's own. Complaints already pending
    /// keep the timers they were given.
    pub async fn set_verification_settings(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        settings: VerificationSettings,
    ) -> StoreResult<VerificationSettings> {
        settings.validate()?;
        let owner = settings.escalate_to.iter();
        self.check_members(tenant, owner.map(|o| ("escalate_to".to_owned(), o)))
            .await?;
        if let Some(team) = &settings.escalate_to_team {
            let routing = super::routing::Routing::read(self.store.as_ref(), tenant).await?;
            if routing.team(team).is_none() {
                return Err(ValidationError::new("escalate_to_team", "no such team").into());
            }
        }
        self.set_setting(
            acting,
            tenant,
            verification::SETTINGS_KEY,
            "settings.verification_changed",
            &settings,
        )
        .await?;
        Ok(settings)
    }

    /// A verdict on a complaint waiting for verification (or escalated
    /// because nobody verified it in time): its status moves to validated or
    /// rejected, which tells its citizen in their language, then the note
    /// joins its history. A member who sees only their own complaints (a
    /// field worker) finds no other (not found, as in another tenant).
    pub async fn verify_complaint(
        &self,
        acting: &Acting,
        verifier: Option<Verifier<'_>>,
        tenant: &TenantId,
        id: &ComplaintId,
        outcome: Outcome,
        note: &str,
    ) -> StoreResult<Complaint> {
        let note = outcome.note(note)?;
        let c = self
            .store
            .complaint(tenant, id)
            .await?
            .ok_or(StoreError::NotFound("complaint"))?;
        if let Some(v) = verifier {
            if v.role.sees_only_own() && c.assignee_id.as_ref() != Some(v.user) {
                return Err(StoreError::NotFound("complaint"));
            }
            if !v.role.may_verify() {
                return Err(ValidationError::new(
                    "role",
                    format!("a {} does not verify complaints", v.role.as_str()),
                )
                .into());
            }
        }
        if !matches!(
            c.status,
            ComplaintStatus::PendingValidation | ComplaintStatus::Escalated
        ) {
            return Err(ValidationError::new(
                "status",
                format!(
                    "only a complaint waiting for verification can be verified; this one is {}",
                    c.status
                ),
            )
            .into());
        }
        let actor = acting.actor.history_name();
        let change = |change| {
            let ids = Selection::Ids(vec![id.clone()]);
            self.change_complaints(acting, &actor, tenant, ids, change)
        };
        let report = change(ComplaintChange::Status(outcome.status())).await?;
        let mut changed = match (report.changed.into_iter().next(), report.skipped.first()) {
            (Some(c), _) => c,
            (None, Some(s)) => return Err(ValidationError::new("status", &s.reason).into()),
            (None, None) => return Err(StoreError::NotFound("complaint")),
        };
        if let Some(note) = note {
            let said = match outcome {
                Outcome::Validated => "Verified on the ground",
                Outcome::Rejected => "Rejected on the ground",
            };
            let text = ombud_core::html::escape(&format!("{said}: {note}"));
            let report = change(ComplaintChange::Note(text)).await?;
            changed = report.changed.into_iter().next().unwrap_or(changed);
        }
        self.wake_webhooks();
        Ok(changed)
    }

    /// A timer of `complaint`, set when it entered pending validation at
    /// `since`, if it still stands: the reminder mails its assignee (the
    /// admins when nobody has it) and notes it on the timeline; the
    /// escalation hands it where the settings say and moves it to
    /// `escalated`, telling its citizen. Each step is safe to repeat.
    pub async fn verification_due(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
        stage: Stage,
        since: DateTime<Utc>,
    ) -> StoreResult<TimerOutcome> {
        let Some(c) = self.store.complaint(tenant, complaint).await? else {
            return Ok(TimerOutcome::Skipped("not found".into()));
        };
        let history = self.store.complaint_events(tenant, complaint).await?;
        if let Err(why) = verification::stands(&c, &history, since) {
            return Ok(TimerOutcome::Skipped(why));
        }
        let settings = self.verification_settings(tenant).await?;
        let told = match stage {
            Stage::Reminder => c.assignee_id.clone(),
            Stage::Escalation => settings.escalate_to.clone().or(c.assignee_id.clone()),
        };
        self.verification_mails(tenant, &c, told.as_ref(), stage, since)
            .await?;
        let acting = Acting::system();
        let ids = || Selection::Ids(vec![complaint.clone()]);
        match stage {
            Stage::Reminder => {
                let reminded = history
                    .iter()
                    .any(|e| e.actor == verification::ACTOR && e.created_at > since);
                if !reminded {
                    let hours = settings.remind_after_hours;
                    let text =
                        format!("Reminder: waiting {hours} hours for verification on the ground.");
                    let note = ComplaintChange::Note(text);
                    self.change_complaints(&acting, verification::ACTOR, tenant, ids(), note)
                        .await?;
                }
            }
            Stage::Escalation => {
                for change in settings.escalation(&c) {
                    self.change_complaints(&acting, verification::ACTOR, tenant, ids(), change)
                        .await?;
                }
            }
        }
        self.wake_webhooks();
        Ok(TimerOutcome::Fired(stage))
    }

    /// The mails of a timer, when mail is on: to `to`, or the tenant's
    /// admins and owners when that is nobody. Scheduled by key, so a retry
    /// sends none twice.
    async fn verification_mails(
        &self,
        tenant: &TenantId,
        c: &Complaint,
        to: Option<&UserId>,
        stage: Stage,
        since: DateTime<Utc>,
    ) -> StoreResult<()> {
        if !self.mail_on() {
            return Ok(());
        }
        let now = self.now();
        let members = self.store.members(tenant).await?;
        for m in members.iter().filter(|m| match to {
            Some(user) => &m.user.id == user,
            None => m.role >= Role::Admin,
        }) {
            let mail = crate::mail::Mail::Verification {
                tenant_id: tenant.clone(),
                complaint_id: c.id.clone(),
                user_id: m.user.id.clone(),
                to: m.user.email.clone(),
                stage,
                since,
            };
            self.store.schedule_job(mail.job(now), now).await?;
        }
        Ok(())
    }
}

/// Runs `verify.remind` and `verify.escalate`: `{complaint_id, since}`.
struct TimerJob {
    ops: Operations,
    stage: Stage,
}

#[async_trait]
impl JobHandler for TimerJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let tenant = job.tenant_id.as_ref().ok_or("the job names no tenant")?;
        let complaint: ComplaintId = super::surveys::field(job, "complaint_id")?;
        let since: DateTime<Utc> = super::surveys::field(job, "since")?;
        let outcome = self
            .ops
            .verification_due(tenant, &complaint, self.stage, since)
            .await
            .map_err(|e| e.to_string())?;
        match outcome {
            TimerOutcome::Fired(stage) => {
                tracing::info!(%complaint, ?stage, "field verification overdue")
            }
            TimerOutcome::Skipped(why) => tracing::debug!(
                %complaint, stage = ?self.stage, reason = %why,
                "field verification timer stood down"
            ),
        }
        Ok(())
    }
}

/// Field verification's jobs, run by `ops`.
pub fn with_verification_jobs(jobs: Jobs, ops: Operations) -> Jobs {
    [Stage::Reminder, Stage::Escalation]
        .into_iter()
        .fold(jobs, |jobs, stage| {
            jobs.handle(
                stage.job_kind(),
                Arc::new(TimerJob {
                    ops: ops.clone(),
                    stage,
                }),
            )
        })
}
