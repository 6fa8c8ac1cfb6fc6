//! Staff work on complaints: the filtered list, paged by keyset, and changes
//! applied to many complaints in one transaction. The list's SQL is in
//! `list_query`.

use chrono::{DateTime, Utc};
use ombud_core::*;

use crate::{StoreError, StoreResult};

/// The SQL condition of an open complaint (`ComplaintStatus::is_open`; a
/// test below checks they agree). Prefix it with a table's alias as needed.
pub(crate) const OPEN: &str = "status not in ('resolved', 'closed', 'rejected')";

/// Which complaints a list (or a bulk change) covers. Empty means all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComplaintFilter {
    /// Any of these statuses.
    pub statuses: Vec<ComplaintStatus>,
    pub category: Option<CategoryId>,
    pub priority: Option<Priority>,
    pub assignee: Option<AssigneeFilter>,
    /// Exactly this area.
    pub area: Option<String>,
    /// Any of these areas (empty: none matches), such as a field worker's.
    pub area_in: Option<Vec<String>>,
    /// Sent to this team (`area:{slug}` for an area's field staff).
    pub team: Option<String>,
    /// Where the complaint stands against its service level.
    pub sla: Option<ombud_core::sla::SlaState>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Part of the number, description, location, or the contact's name or number.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AssigneeFilter {
    Nobody,
    Member(UserId),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ComplaintSort {
    #[default]
    Newest,
    Oldest,
}

/// Where a page ends: the last complaint's creation time and id. The next
/// page starts after it, however many complaints were added meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintCursor {
    pub created_at: DateTime<Utc>,
    pub id: ComplaintId,
}

impl ComplaintCursor {
    pub fn of(c: &Complaint) -> Self {
        Self {
            created_at: c.created_at,
            id: c.id.clone(),
        }
    }

    /// `{microseconds since the epoch}.{id}`, safe in a URL.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.id)
    }

    pub fn decode(s: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("after", "is not a page position from this list");
        let (micros, id) = s.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(Self {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// A complaint as the list shows it, with its contact and assignee.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintRow {
    pub complaint: Complaint,
    pub contact_name: Option<String>,
    /// The contact's address on its channel (a WhatsApp number).
    pub contact_address: Option<String>,
    pub assignee_name: Option<String>,
}

pub(crate) use ombud_core::change::Applied;
pub use ombud_core::change::ComplaintChange;
use ombud_core::change::StatusNotice;

pub struct ChangeBatch {
    /// `user:<id>` of the member making the change.
    pub actor: String,
    /// When the change is made: the complaints' `updated_at` and their events.
    pub at: DateTime<Utc>,
    pub change: ComplaintChange,
    pub ids: Vec<ComplaintId>,
    /// What citizens are told when the status of theirs moves, decided
    /// before the change.
    pub notices: Option<StatusNotice>,
    /// Who to record in the audit trail, one entry per complaint changed
    /// (None: a change nobody is accountable for, such as a citizen's words
    /// added by the agent).
    pub audit: Option<ombud_core::audit::Acting>,
    /// Links the entries of one bulk change.
    pub bulk_id: Option<String>,
    /// The work a status change leaves for later, by the tenant's settings.
    pub follow_ups: FollowUps,
    /// The tenant's service levels: each complaint's clock moves with the
    /// change (None: clocks are left as they are, as for a citizen's note).
    pub sla: Option<ombud_core::sla::SlaRules>,
    /// Assignment: the guard on a rule's assignment, and the drain a change
    /// that frees room leaves (None: the tenant has no teams or rules).
    pub routing: Option<crate::routing::BatchRouting>,
    /// The tenant's field verification: a complaint this change moves into
    /// `pending_validation` gets its timers (None: no timers, as for a
    /// change that cannot move a status).
    pub verification: Option<ombud_core::verification::VerificationSettings>,
}

/// The work a status change leaves for later, by the tenant's settings
/// (None: none of that kind, as for a change that is not a status change).
#[derive(Debug, Clone, Copy, Default)]
pub struct FollowUps {
    /// How long after a resolution its satisfaction survey is asked.
    pub survey_after: Option<chrono::Duration>,
    /// How long a complaint put on hold waits for its citizen before they
    /// are reminded (`ombud_core::reminder`).
    pub remind_after: Option<chrono::Duration>,
}

/// A change decided for one complaint: what to record, and the jobs it
/// leaves (a resolution's survey, the checks of deadlines it set or moved).
pub(crate) struct Decided {
    pub applied: Applied,
    pub jobs: Vec<crate::NewJob>,
}

impl ChangeBatch {
    /// Decides the change for one complaint as read in the transaction (None:
    /// the tenant has none with that id), with `loads` those of the rule's
    /// team as read there (see [`ChangeBatch::rule_team`]): the change with
    /// the complaint's service-level clock moved on, and its jobs; or the
    /// skip to report.
    pub(crate) fn decide(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
        current: Option<Complaint>,
        loads: &[ombud_core::routing::Load],
    ) -> Result<Decided, ChangeOutcome> {
        let at = crate::stored(self.at);
        let change = match current.as_ref().map(|c| (c, self.by_rule(c, loads))) {
            Some((c, Some(Err(reason)))) => return Err(crate::routing::refused(c, reason)),
            Some((_, Some(Ok(change)))) => std::borrow::Cow::Owned(change),
            _ => std::borrow::Cow::Borrowed(&self.change),
        };
        let before = current.clone();
        let mut applied = decide(id, current, &change, at)?;
        let mut jobs: Vec<crate::NewJob> = self.survey_job(tenant, &applied).into_iter().collect();
        jobs.extend(self.reminder_job(tenant, &applied));
        if let Some(before) = before {
            if let Some(rules) = &self.sla {
                let by_staff = !self.actor.starts_with("system:");
                rules.after_change(&before, &mut applied.complaint, at, by_staff);
            }
            jobs.extend(self.drain_after(tenant, &before, &applied.complaint));
        }
        if let Some(settings) = &self.verification {
            let c = &applied.complaint;
            if applied.action == "status_changed" && c.status == ComplaintStatus::PendingValidation
            {
                jobs.extend(crate::verification::timer_jobs(c, settings, at));
            }
        }
        Ok(Decided { applied, jobs })
    }

    /// The survey job a resolution schedules, made in the change's
    /// transaction (`ombud_core::survey`: one per resolution).
    pub(crate) fn survey_job(&self, tenant: &TenantId, applied: &Applied) -> Option<crate::NewJob> {
        use ombud_core::survey;
        let after = self.follow_ups.survey_after?;
        let c = &applied.complaint;
        if applied.action != "status_changed" || c.status != ComplaintStatus::Resolved {
            return None;
        }
        let at = crate::stored(self.at);
        Some(crate::NewJob {
            id: JobId::new(),
            kind: survey::JOB_KIND.into(),
            key: survey::job_key(&c.id, at),
            tenant_id: Some(tenant.clone()),
            payload: serde_json::json!({
                "complaint_id": c.id,
                "resolved_at": at,
            }),
            schedule: None,
            due_at: at + after,
            max_attempts: 5,
        })
    }

    /// The reminder job a move to `on_hold` schedules, made in the change's
    /// transaction (`ombud_core::reminder`: one per hold).
    pub(crate) fn reminder_job(
        &self,
        tenant: &TenantId,
        applied: &Applied,
    ) -> Option<crate::NewJob> {
        use ombud_core::reminder;
        let after = self.follow_ups.remind_after?;
        let c = &applied.complaint;
        if applied.action != "status_changed" || c.status != ComplaintStatus::OnHold {
            return None;
        }
        let at = crate::stored(self.at);
        Some(crate::NewJob {
            id: JobId::new(),
            kind: reminder::JOB_KIND.into(),
            key: reminder::job_key(&c.id, at),
            tenant_id: Some(tenant.clone()),
            payload: serde_json::json!({
                "complaint_id": c.id,
                "held_at": at,
            }),
            schedule: None,
            due_at: at + after,
            max_attempts: 5,
        })
    }

    /// The audit entry of one complaint's change (None without `audit`). A
    /// note is recorded by its length, not its words: the complaint's
    /// history keeps those, and the trail cannot be edited.
    pub(crate) fn audit_entry(
        &self,
        tenant: &TenantId,
        applied: &Applied,
        at: DateTime<Utc>,
    ) -> Option<ombud_core::audit::NewAuditEntry> {
        use ombud_core::audit::{FieldChange, Target};
        let acting = self.audit.as_ref()?;
        let c = &applied.complaint;
        let (action, field) = match applied.action {
            "status_changed" => ("complaint.status_changed", "status"),
            "priority_changed" => ("complaint.priority_changed", "priority"),
            "category_changed" => ("complaint.category_changed", "category_id"),
            "assigned" => ("complaint.assigned", "assignee_id"),
            "area_changed" => ("complaint.area_changed", "area"),
            "team_changed" => ("complaint.team_changed", "team"),
            _ => ("complaint.note_added", "note"),
        };
        let change = if field == "note" {
            let chars = applied.to.as_deref().map_or(0, |t| t.chars().count());
            FieldChange::set("note", format!("{chars} characters"))
        } else {
            let value = |v: &Option<String>| v.clone().map(serde_json::Value::String);
            FieldChange::new(field, value(&applied.from), value(&applied.to))
        };
        let mut entry = acting
            .entry(
                tenant,
                at,
                action,
                Target::new("complaint", &c.id, Some(c.number.to_string())),
            )
            .with_changes([change]);
        entry.bulk_id = self.bulk_id.clone();
        Some(entry)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChangeOutcome {
    Changed(Box<Complaint>),
    Skipped {
        id: ComplaintId,
        number: Option<ComplaintNumber>,
        reason: String,
    },
}

/// A complaint as read for a change (None: the tenant has no such
/// complaint), decided: the change to record, or the skip to report.
pub(crate) fn decide(
    id: &ComplaintId,
    current: Option<Complaint>,
    change: &ComplaintChange,
    at: DateTime<Utc>,
) -> Result<Applied, ChangeOutcome> {
    let Some(current) = current else {
        return Err(ChangeOutcome::Skipped {
            id: id.clone(),
            number: None,
            reason: "not found".into(),
        });
    };
    ombud_core::change::apply(&current, change, at).map_err(|reason| ChangeOutcome::Skipped {
        id: id.clone(),
        number: Some(current.number.clone()),
        reason,
    })
}

/// What one change of an edit (`ComplaintStore::edit_complaint`) did: the
/// complaint as it left it; nothing when it already had the value; or the
/// error that undoes the whole edit.
pub(crate) fn edited(
    batch: &ChangeBatch,
    outcomes: Vec<ChangeOutcome>,
) -> StoreResult<Option<Complaint>> {
    match outcomes.into_iter().next() {
        Some(ChangeOutcome::Changed(c)) => Ok(Some(*c)),
        Some(ChangeOutcome::Skipped { number: None, .. }) | None => {
            Err(StoreError::NotFound("complaint"))
        }
        Some(ChangeOutcome::Skipped { reason, .. }) if ombud_core::change::unchanged(&reason) => {
            Ok(None)
        }
        Some(ChangeOutcome::Skipped { reason, .. }) => Err(StoreError::Invalid(
            ValidationError::new(batch.change.field(), reason),
        )),
    }
}

/// A notice a batch's status change gives a citizen, with the plan it is
/// decided by (none for other changes).
pub(crate) struct PlannedNotice<'a> {
    plan: &'a StatusNotice,
    pub notice: ombud_core::change::Notice,
}

impl<'a> PlannedNotice<'a> {
    pub fn new(plan: &'a StatusNotice, notice: ombud_core::change::Notice) -> Self {
        Self { plan, notice }
    }

    /// Decides the notice, its citizen having last written at `last_inbound`
    /// (read in the backend's transaction).
    pub fn decide(self, last_inbound: Option<DateTime<Utc>>, at: DateTime<Utc>) -> NoticeAction {
        use ombud_core::template::Delivery;
        match self.plan.delivery(&self.notice, last_inbound, at) {
            Delivery::Text => NoticeAction::Send {
                body: self.notice.body,
                template: None,
            },
            Delivery::Template(t) => NoticeAction::Send {
                body: t.text.clone(),
                template: Some(t),
            },
            Delivery::CannotNotify(reason) => NoticeAction::CannotNotify {
                complaints: self.notice.complaints,
                reason,
            },
        }
    }
}

/// What a batch's status change tells citizens (nothing for other changes).
pub(crate) fn notices_for<'a>(
    batch: &'a ChangeBatch,
    changed: &[Complaint],
) -> Vec<PlannedNotice<'a>> {
    match (&batch.change, &batch.notices) {
        (ComplaintChange::Status(_), Some(plan)) => ombud_core::change::notices(plan, changed)
            .into_iter()
            .map(|notice| PlannedNotice { plan, notice })
            .collect(),
        _ => Vec::new(),
    }
}

/// What an outbound message carries: its text, the approved template it
/// goes as outside WhatsApp's window, or the reply buttons it offers.
#[derive(Clone, Copy)]
pub(crate) struct Outgoing<'a> {
    pub body: &'a str,
    pub template: Option<&'a ombud_core::template::TemplateMessage>,
    pub choices: Option<&'a ombud_core::choice::Choices>,
    /// Who wrote it (`Message::sender`).
    pub sender: &'a str,
    /// A person wrote it (a member, or an API key for one), not Ombud: it
    /// keeps the conversation's session going, and reopens one staff closed.
    pub by_person: bool,
}

/// How an outbound message is stored: its kind, and its template and
/// buttons as JSON.
pub(crate) struct StoredOutgoing {
    pub kind: &'static str,
    pub template: Option<String>,
    pub choices: Option<String>,
}

impl<'a> Outgoing<'a> {
    /// A member's (or an API key's) message, `sender` as the history
    /// names them.
    pub fn staff(
        body: &'a str,
        template: Option<&'a ombud_core::template::TemplateMessage>,
        sender: &'a str,
    ) -> Self {
        Self {
            body,
            template,
            choices: None,
            sender,
            by_person: true,
        }
    }

    /// A notice's message: its text, or the template it goes as (which
    /// carries its own buttons, so `choices` are offered with text only).
    pub fn of(
        body: &'a str,
        template: Option<&'a ombud_core::template::TemplateMessage>,
        choices: Option<&'a ombud_core::choice::Choices>,
    ) -> Self {
        Self {
            body,
            template,
            choices: if template.is_none() { choices } else { None },
            sender: ombud_core::message::SYSTEM,
            by_person: false,
        }
    }

    pub fn stored(&self) -> StoreResult<StoredOutgoing> {
        let kind = match self.template {
            None => MessageKind::Text,
            Some(_) => MessageKind::Template,
        };
        Ok(StoredOutgoing {
            kind: kind.as_str(),
            template: self
                .template
                .map(|t| serde_json::to_string(t).map_err(StoreError::internal))
                .transpose()?,
            choices: choices_json(self.choices)?,
        })
    }
}

/// Reply buttons as stored (JSON).
pub(crate) fn choices_json(
    choices: Option<&ombud_core::choice::Choices>,
) -> StoreResult<Option<String>> {
    choices
        .map(|c| serde_json::to_string(c).map_err(StoreError::internal))
        .transpose()
}

/// What becomes of one notice: a message to send (its text and, outside
/// WhatsApp's window, the template it goes as), or a line on each of its
/// complaints' timelines saying why it could not be sent.
pub(crate) enum NoticeAction {
    Send {
        body: String,
        template: Option<ombud_core::template::TemplateMessage>,
    },
    CannotNotify {
        complaints: Vec<ComplaintId>,
        reason: String,
    },
}

/// One line of a complaint's timeline (`complaint_events`).
pub(crate) struct Line<'a> {
    pub complaint: &'a ComplaintId,
    pub actor: &'a str,
    pub action: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

impl<'a> Line<'a> {
    /// The line of an applied change.
    pub fn of(applied: &'a Applied, actor: &'a str) -> Self {
        Self {
            complaint: &applied.complaint.id,
            actor,
            action: applied.action,
            from: applied.from.as_deref(),
            to: applied.to.as_deref(),
        }
    }

    /// A line of a complaint's survey (`survey_sent`, `survey_rated`…).
    pub fn survey(complaint: &'a ComplaintId, action: &'a str, to: Option<&'a str>) -> Self {
        Self {
            complaint,
            actor: crate::surveys::SURVEY_ACTOR,
            action,
            from: None,
            to,
        }
    }

    /// The line saying why a notice could not be sent.
    pub fn not_notified(complaint: &'a ComplaintId, reason: &'a str) -> Self {
        Self {
            complaint,
            actor: NOTIFY_ACTOR,
            action: NOTIFY_FAILED,
            from: None,
            to: Some(reason),
        }
    }
}

/// The timeline's actor and action for a notice that could not be sent.
pub(crate) const NOTIFY_ACTOR: &str = "system";
pub const NOTIFY_FAILED: &str = "notify_failed";

/// The domain event's data of an applied change.
pub(crate) fn event_data(applied: &Applied, actor: &str) -> serde_json::Value {
    use ombud_core::event::payload::Payload as _;
    applied.event(actor).data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_condition_names_every_status_that_is_not_open() {
        let closed: Vec<String> = ComplaintStatus::ALL
            .iter()
            .filter(|s| !s.is_open())
            .map(|s| format!("'{s}'"))
            .collect();
        assert_eq!(OPEN, format!("status not in ({})", closed.join(", ")));
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = ComplaintCursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: ComplaintId::new(),
        };
        assert_eq!(ComplaintCursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "123", "x.cmp_1", "123.notanid"] {
            assert_eq!(ComplaintCursor::decode(bad).unwrap_err().field, "after");
        }
    }
}
