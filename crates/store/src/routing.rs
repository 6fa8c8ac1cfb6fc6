//! Assignment in the store: the jobs a new complaint and a change leave
//! for the engine's routing (`assign.route`, `assign.queues`), and the guard
//! on a rule's assignment that each backend applies in the change's
//! transaction: only to a complaint still open and nobody's, and only while
//! the member has room (their open complaints counted, and on PostgreSQL
//! their membership row locked, in that transaction). The rules are
//! `ombud_core::routing`'s.

use chrono::{DateTime, Utc};
use ombud_core::routing;
use ombud_core::*;

use crate::work::{ChangeBatch, ChangeOutcome, ComplaintChange};

/// What a change batch does for assignment (None on the batch: the tenant
/// has no teams and no rules).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchRouting {
    /// The batch is a rule's assignment: to whoever of this team has the
    /// turn and room, chosen in the transaction.
    pub by_rule: Option<ByRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ByRule {
    /// Who may take it (a rule naming one member: a team of one without a
    /// limit), with the team's strategy and capacity.
    pub team: routing::Team,
}

/// A member's load, for the engine's choice within a team.
pub use ombud_core::routing::Load;

/// Routes a new complaint, made in its transaction.
pub(crate) fn route_job(c: &Complaint) -> crate::NewJob {
    crate::NewJob {
        id: JobId::new(),
        kind: routing::ROUTE_JOB.into(),
        key: format!("{}:{}", routing::ROUTE_JOB, c.id),
        tenant_id: Some(c.tenant_id.clone()),
        payload: serde_json::json!({ "complaint_id": c.id }),
        schedule: None,
        due_at: c.created_at,
        max_attempts: 5,
    }
}

/// Drains the tenant's team queues: made by a change that gave a member
/// room or sent a complaint to a team (one per tenant and moment).
pub fn drain_job(tenant: &TenantId, at: DateTime<Utc>) -> crate::NewJob {
    crate::NewJob {
        id: JobId::new(),
        kind: routing::DRAIN_JOB.into(),
        key: format!(
            "{}:{}:{}",
            routing::DRAIN_JOB,
            tenant,
            at.timestamp_micros()
        ),
        tenant_id: Some(tenant.clone()),
        payload: serde_json::json!({}),
        schedule: None,
        due_at: at,
        max_attempts: 5,
    }
}

impl ChangeBatch {
    /// The team whose members' loads the backend reads, in the
    /// transaction, before deciding (a rule's assignment only).
    pub(crate) fn rule_team(&self) -> Option<&routing::Team> {
        Some(&self.routing.as_ref()?.by_rule.as_ref()?.team)
    }

    /// A rule's assignment, decided against the complaint and the loads
    /// read in the transaction: to the member whose turn it is, or refused
    /// (the complaint is taken or closed, or nobody has room).
    pub(crate) fn by_rule(
        &self,
        current: &Complaint,
        loads: &[Load],
    ) -> Option<Result<ComplaintChange, String>> {
        let rule = self.routing.as_ref()?.by_rule.as_ref()?;
        if current.assignee_id.is_some() {
            return Some(Err("already assigned".into()));
        }
        if !current.status.is_open() {
            return Some(Err(format!("is {}", current.status)));
        }
        Some(match rule.team.pick(loads) {
            Some(user) => Ok(ComplaintChange::Assign(Some(user))),
            None => Err(NO_ROOM.into()),
        })
    }

    /// The drain a change leaves: when it gave a member room (their
    /// complaint closed or moved to someone else) or sent a complaint to a
    /// team.
    pub(crate) fn drain_after(
        &self,
        tenant: &TenantId,
        before: &Complaint,
        after: &Complaint,
    ) -> Option<crate::NewJob> {
        self.routing.as_ref()?;
        let freed = before.assignee_id.is_some()
            && before.status.is_open()
            && (!after.status.is_open() || after.assignee_id != before.assignee_id);
        let queued = after.team.is_some() && after.team != before.team;
        (freed || queued).then(|| drain_job(tenant, crate::stored(self.at)))
    }
}

/// Why a rule's assignment waits: everyone is full.
pub const NO_ROOM: &str = "nobody in the team has room";

/// The skip of a refused assignment.
pub(crate) fn refused(c: &Complaint, reason: String) -> ChangeOutcome {
    ChangeOutcome::Skipped {
        id: c.id.clone(),
        number: Some(c.number.clone()),
        reason,
    }
}
