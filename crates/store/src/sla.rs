//! Service levels in the store: the columns a complaint's clock is kept in
//! (with its next alert, which the sweep looks for), and a warning or
//! breach when it falls due (the rules are `ombud_core::sla`'s; each backend
//! reads and writes).

use chrono::{DateTime, Utc};
use ombud_core::change::StatusNotice;
use ombud_core::*;

use crate::work::{ChangeBatch, ComplaintChange, Line};

/// A complaint with a service-level alert due, as the sweep finds it (and
/// where its next page starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPending {
    pub tenant_id: TenantId,
    pub complaint_id: ComplaintId,
    pub next_at: DateTime<Utc>,
}

impl SlaPending {
    /// The columns the sweep's query selects.
    pub(crate) const COLUMNS: &'static str = "tenant_id, id, sla_next_at";

    pub(crate) fn decode(r: &dyn crate::decode::Columns) -> crate::decode::Decoded<Self> {
        Ok(Self {
            tenant_id: crate::decode::id(r, "tenant_id")?,
            complaint_id: crate::decode::id(r, "id")?,
            next_at: r.time("sla_next_at")?,
        })
    }
}

/// A warning or breach of one deadline, when the sweep finds it due: checked against
/// the complaint in the store's transaction (`ombud_core::sla::check`), then
/// marked on its clock, on its timeline and as an event; a breach then
/// escalates it (`ombud_core::sla::escalation`) in the same transaction.
#[derive(Debug, Clone)]
pub struct SlaDue {
    pub complaint: ComplaintId,
    pub target: ombud_core::sla::Target,
    pub stage: ombud_core::sla::Stage,
    pub due_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
    /// The policy's escalation owner (read by the engine).
    pub owner: Option<UserId>,
    /// Or its escalation team.
    pub team: Option<String>,
    /// What the citizen is told when the breach moves the status to escalated.
    pub notices: Option<StatusNotice>,
    pub rules: ombud_core::sla::SlaRules,
    /// The mails that tell staff (made only if it fires).
    pub mails: Vec<crate::NewJob>,
}

/// What a warning or breach did.
#[derive(Debug, Clone, PartialEq)]
pub enum SlaFired {
    /// Told (and, for a breach, escalated): the complaint as it is now.
    Fired(Box<Complaint>),
    /// Not due any more, and why.
    Skipped(String),
}

impl SlaDue {
    /// The complaint marked, with the event it writes; or why not.
    pub(crate) fn mark(
        &self,
        current: Option<Complaint>,
    ) -> Result<ombud_core::event::payload::ComplaintSla, SlaFired> {
        use ombud_core::sla;
        let mut c = current.ok_or_else(|| SlaFired::Skipped("not found".into()))?;
        sla::check(
            &c,
            self.target,
            self.stage,
            self.due_at,
            crate::stored(self.at),
        )
        .map_err(SlaFired::Skipped)?;
        sla::mark(&mut c, self.target, self.stage, crate::stored(self.at));
        c.updated_at = crate::stored(self.at);
        Ok(ombud_core::event::payload::ComplaintSla {
            kind: match self.stage {
                sla::Stage::Warning => EventType::ComplaintSlaWarning,
                sla::Stage::Breach => EventType::ComplaintSlaBreached,
            },
            complaint: c,
            target: self.target,
            due_at: self.due_at,
        })
    }

    /// The changes a breach makes to `c` (as marked), one batch each, by the
    /// service level's actor and audited as the system.
    pub(crate) fn escalation(&self, c: &Complaint) -> Vec<ChangeBatch> {
        if self.stage != ombud_core::sla::Stage::Breach {
            return Vec::new();
        }
        ombud_core::sla::escalation(c, self.owner.as_ref(), self.team.as_deref())
            .into_iter()
            .map(|change| ChangeBatch {
                actor: ombud_core::sla::ACTOR.into(),
                at: self.at,
                notices: matches!(change, ComplaintChange::Status(_))
                    .then(|| self.notices.clone())
                    .flatten(),
                change,
                ids: vec![c.id.clone()],
                audit: Some(ombud_core::audit::Acting::system()),
                bulk_id: None,
                follow_ups: Default::default(),
                sla: Some(self.rules.clone()),
                // A breach that moves the complaint to its owner gives the
                // assignee's room back: the queues drain (a tenant without
                // teams finds nothing to do).
                routing: Some(Default::default()),
                verification: None,
            })
            .collect()
    }

    /// The timeline line: `sla_warning` or `sla_breached`, with the target.
    pub(crate) fn line(&self) -> Line<'_> {
        Line {
            complaint: &self.complaint,
            actor: ombud_core::sla::ACTOR,
            action: match self.stage {
                ombud_core::sla::Stage::Warning => "sla_warning",
                ombud_core::sla::Stage::Breach => "sla_breached",
            },
            from: None,
            to: Some(self.target.as_str()),
        }
    }
}

/// A complaint's service-level columns: its clock as JSON, where it stands
/// and its next running deadline (for lists and filters), and when its next
/// warning or breach is due (for the sweep, `ombud_core::sla::next_alert`).
pub(crate) struct SlaColumns {
    pub clock: Option<String>,
    pub state: Option<&'static str>,
    pub due_at: Option<DateTime<Utc>>,
    pub next_at: Option<DateTime<Utc>>,
}

impl SlaColumns {
    pub(crate) fn of(c: &Complaint) -> Self {
        match &c.sla {
            None => Self {
                clock: None,
                state: None,
                due_at: None,
                next_at: None,
            },
            Some(clock) => Self {
                clock: serde_json::to_string(clock).ok(),
                state: Some(clock.state().as_str()),
                due_at: clock.next_due(),
                next_at: ombud_core::sla::next_alert(c),
            },
        }
    }
}
