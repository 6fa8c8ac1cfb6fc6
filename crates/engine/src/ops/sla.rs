//! Service levels' operations: the business calendar and the policies
//! (tenant settings, audited), the rules every complaint change carries so
//! the store keeps each complaint's clock in the change's transaction, and
//! the minutely `sla.sweep` that tells staff of the warnings and breaches
//! due. The rules are `ombud_core::sla`'s and `ombud_core::calendar`'s.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::calendar::Calendar;
use ombud_core::sla::{self, SlaRules, SlaSettings, Stage, Target};
use ombud_core::*;
use ombud_store::{Job, SlaDue, SlaFired, Store, StoreError, StoreResult};

use super::{Acting, Operations};
use crate::scheduler::{JobHandler, Jobs, Recurring};

/// What every change of a tenant's complaints carries: its policies,
/// calendar and zone.
pub async fn rules(store: &dyn Store, tenant: &TenantId) -> StoreResult<SlaRules> {
    let zone = store
        .tenant(tenant)
        .await?
        .ok_or(StoreError::NotFound("tenant"))?
        .timezone;
    Ok(SlaRules {
        settings: super::settings::read_setting(store, tenant, sla::SETTINGS_KEY).await?,
        calendar: super::settings::read_setting(store, tenant, sla::CALENDAR_KEY).await?,
        zone,
    })
}

impl Operations {
    /// The tenant's policies (the seven-day rule until an admin sets others).
    pub async fn sla_settings(&self, tenant: &TenantId) -> StoreResult<SlaSettings> {
        super::settings::read_setting(self.store.as_ref(), tenant, sla::SETTINGS_KEY).await
    }

    /// Replaces the tenant's policies. Categories and escalation owners must
    /// be the tenant's own. The clocks of complaints already running keep
    /// their deadlines; new complaints and staff changes use the new rules.
    pub async fn set_sla_settings(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        settings: SlaSettings,
    ) -> StoreResult<SlaSettings> {
        settings.validate()?;
        let categories = settings.policies.iter().enumerate().filter_map(|(i, p)| {
            let id = p.category_id.as_ref()?;
            Some((format!("policies[{i}].category_id"), id))
        });
        self.check_categories(tenant, categories).await?;
        let owners = settings.policies.iter().enumerate().filter_map(|(i, p)| {
            let owner = p.escalate_to.as_ref()?;
            Some((format!("policies[{i}].escalate_to"), owner))
        });
        self.check_members(tenant, owners).await?;
        let teams = super::routing::Routing::read(self.store.as_ref(), tenant)
            .await?
            .teams;
        for (i, p) in settings.policies.iter().enumerate() {
            if let Some(team) = &p.escalate_to_team {
                if teams.find(team).is_none() {
                    let field = format!("policies[{i}].escalate_to_team");
                    return Err(ValidationError::new(field, "no such team").into());
                }
            }
        }
        self.set_setting(
            acting,
            tenant,
            sla::SETTINGS_KEY,
            "settings.sla_changed",
            &settings,
        )
        .await?;
        Ok(settings)
    }

    /// The tenant's business calendar (09:00 to 17:00 on weekdays until set).
    pub async fn calendar(&self, tenant: &TenantId) -> StoreResult<Calendar> {
        super::settings::read_setting(self.store.as_ref(), tenant, sla::CALENDAR_KEY).await
    }

    pub async fn set_calendar(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        calendar: Calendar,
    ) -> StoreResult<Calendar> {
        let key = sla::CALENDAR_KEY;
        self.set_setting(acting, tenant, key, "settings.calendar_changed", &calendar)
            .await?;
        Ok(calendar)
    }

    /// The warning or breach of `complaint`'s `target` deadline `due_at`, if
    /// it still stands: staff are told (event, timeline), and a breach
    /// escalates the complaint, telling its citizen of the new status.
    pub async fn sla_due(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
        target: Target,
        stage: Stage,
        due_at: DateTime<Utc>,
    ) -> StoreResult<SlaFired> {
        let now = self.now();
        let rules = rules(self.store.as_ref(), tenant).await?;
        let Some(current) = self.store.complaint(tenant, complaint).await? else {
            return Ok(SlaFired::Skipped("not found".into()));
        };
        let policy = current
            .sla
            .as_ref()
            .and_then(|clock| rules.settings.policy(&clock.policy).cloned());
        let (owner, team) = policy.map_or((None, None), |p| (p.escalate_to, p.escalate_to_team));
        let mails = self
            .sla_mails(tenant, &current, owner.as_ref(), target, stage, due_at, now)
            .await?;
        let notices = match stage {
            Stage::Breach => Some(
                crate::complaints::notice_plan(
                    self.store.as_ref(),
                    tenant,
                    now,
                    crate::complaints::texts(ComplaintStatus::Escalated),
                )
                .await?,
            ),
            Stage::Warning => None,
        };
        let due = SlaDue {
            complaint: complaint.clone(),
            target,
            stage,
            due_at,
            at: now,
            owner,
            team,
            notices,
            rules,
            mails,
        };
        let fired = self.store.sla_due(tenant, due).await?;
        if matches!(fired, SlaFired::Fired(_)) {
            self.wake_webhooks();
            self.wake_outbox();
        }
        Ok(fired)
    }
}

/// Complaints the sweep reads at a time.
const SWEEP_PAGE: u32 = 200;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Warnings and breaches told.
    pub told: u32,
    /// Complaints whose alert could not be told (a store error): the next
    /// sweep tries again, as their alert is still due.
    pub failed: u32,
}

impl Operations {
    /// Tells staff of every warning and breach due now, across tenants: the
    /// complaints whose next alert (`sla_next_at`) has come, page by page,
    /// each alert checked again where it is marked. Telling one moves the
    /// complaint's next alert on, so a sweep that stops part way (a crash)
    /// leaves the rest for the next one and tells nothing twice.
    pub async fn sla_sweep(&self) -> StoreResult<Swept> {
        let now = self.now();
        let mut swept = Swept::default();
        let mut after = None;
        loop {
            let page = self
                .store
                .sla_alerts_due(now, after.as_ref(), SWEEP_PAGE)
                .await?;
            for due in &page {
                match self.sla_alerts_of(due, now).await {
                    Ok(n) => swept.told += n,
                    Err(e) => {
                        swept.failed += 1;
                        tracing::warn!(
                            complaint = %due.complaint_id, error = %e,
                            "a service level alert could not be told; the next sweep tries again"
                        );
                    }
                }
            }
            if page.len() < SWEEP_PAGE as usize {
                return Ok(swept);
            }
            after = page.last().cloned();
        }
    }

    /// The alerts due on one complaint, told in order.
    async fn sla_alerts_of(
        &self,
        due: &ombud_store::SlaPending,
        now: DateTime<Utc>,
    ) -> StoreResult<u32> {
        let (tenant, id) = (&due.tenant_id, &due.complaint_id);
        let Some(c) = self.store.complaint(tenant, id).await? else {
            return Ok(0);
        };
        let mut told = 0;
        for alert in sla::due_alerts(&c, now) {
            let fired = self
                .sla_due(tenant, id, alert.target, alert.stage, alert.due_at)
                .await?;
            match fired {
                SlaFired::Fired(c) => {
                    told += 1;
                    tracing::info!(
                        complaint = %id, number = %c.number, target = alert.target.as_str(),
                        stage = ?alert.stage, "service level deadline"
                    );
                }
                SlaFired::Skipped(why) => tracing::debug!(
                    complaint = %id, target = alert.target.as_str(), reason = %why,
                    "service level alert stood down"
                ),
            }
        }
        Ok(told)
    }
}

impl Operations {
    /// The mails that tell staff of a warning or breach, when mail is on:
    /// to the complaint's assignee and, for a breach, the policy's
    /// escalation owner; to the tenant's admins and owners when that is
    /// nobody.
    #[allow(clippy::too_many_arguments)]
    async fn sla_mails(
        &self,
        tenant: &TenantId,
        c: &Complaint,
        owner: Option<&UserId>,
        target: Target,
        stage: Stage,
        due_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ombud_store::NewJob>> {
        if !self.mail_on() {
            return Ok(Vec::new());
        }
        let mut with: Vec<&UserId> = c.assignee_id.iter().collect();
        if stage == Stage::Breach {
            with.extend(owner.filter(|o| !with.contains(o)));
        }
        let members = self.store.members(tenant).await?;
        Ok(members
            .iter()
            .filter(|m| match with.is_empty() {
                false => with.contains(&&m.user.id),
                true => matches!(m.role, Role::Admin | Role::Owner),
            })
            .map(|m| {
                crate::mail::Mail::SlaAlert {
                    tenant_id: tenant.clone(),
                    complaint_id: c.id.clone(),
                    user_id: m.user.id.clone(),
                    to: m.user.email.clone(),
                    target,
                    stage,
                    due_at,
                }
                .job(now)
            })
            .collect())
    }
}

/// Runs `sla.sweep`.
struct SweepJob(Operations);

#[async_trait]
impl JobHandler for SweepJob {
    async fn run(&self, _job: &Job) -> Result<(), String> {
        let swept = self.0.sla_sweep().await.map_err(|e| e.to_string())?;
        match swept.failed {
            0 => Ok(()),
            n => Err(format!(
                "{n} complaints' service level alerts could not be told ({} were)",
                swept.told
            )),
        }
    }
}

/// The sweep, every minute: a warning or breach is told within a minute of
/// its time (and at once after a restart that missed it).
fn sweep_every_minute() -> Recurring {
    Recurring::utc(sla::SWEEP_JOB, "* * * * *")
}

/// Runs `sla.warning` and `sla.breach`, the jobs a version before the sweep
/// made for each deadline: `{complaint_id, target, due_at}`.
struct DueJob {
    ops: Operations,
    stage: Stage,
}

#[async_trait]
impl JobHandler for DueJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let tenant = job.tenant_id.as_ref().ok_or("the job names no tenant")?;
        let complaint: ComplaintId = super::surveys::field(job, "complaint_id")?;
        let target: Target = super::surveys::field(job, "target")?;
        let due_at: DateTime<Utc> = super::surveys::field(job, "due_at")?;
        let fired = self
            .ops
            .sla_due(tenant, &complaint, target, self.stage, due_at)
            .await
            .map_err(|e| e.to_string())?;
        match fired {
            SlaFired::Fired(c) => tracing::info!(
                %complaint, number = %c.number, target = target.as_str(), stage = ?self.stage,
                "service level deadline"
            ),
            SlaFired::Skipped(why) => tracing::debug!(
                %complaint, target = target.as_str(), reason = %why,
                "service level check stood down"
            ),
        }
        Ok(())
    }
}

/// The service levels' jobs, run by `ops`.
pub fn with_sla_jobs(jobs: Jobs, ops: Operations) -> Jobs {
    jobs.handle(sla::SWEEP_JOB, Arc::new(SweepJob(ops.clone())))
        .every(sweep_every_minute())
        .handle(
            Stage::Warning.job_kind(),
            Arc::new(DueJob {
                ops: ops.clone(),
                stage: Stage::Warning,
            }),
        )
        .handle(
            Stage::Breach.job_kind(),
            Arc::new(DueJob {
                ops,
                stage: Stage::Breach,
            }),
        )
}
