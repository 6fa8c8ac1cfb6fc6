//! Field verification (the constituency plan's validation step): where an
//! office asks for it, a new complaint starts `pending_validation`; the field
//! worker it is assigned to visits and marks it validated or rejected, with a
//! note. A reminder goes to the assignee after some hours and the complaint
//! is escalated after more, both as scheduler jobs made in the transaction
//! that moved the complaint into `pending_validation`. The rules are here;
//! the store makes the jobs and the engine runs them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{Complaint, ComplaintEvent, ComplaintId, ComplaintStatus, UserId, ValidationError};

/// The tenant setting's key (JSON).
pub const SETTINGS_KEY: &str = "verification";
/// The actor of what the timers change.
pub const ACTOR: &str = "system:verification";
/// The longest a timer may be set to: 30 days.
pub const MAX_HOURS: u32 = 720;
/// The longest note a field worker may write.
pub const MAX_NOTE: usize = 2000;

/// A tenant's field verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerificationSettings {
    /// New complaints start `pending_validation` (off: they start `new`, and
    /// staff may still send one to verification).
    pub enabled: bool,
    /// Hours pending before the assignee is reminded.
    pub remind_after_hours: u32,
    /// Hours pending before the complaint is escalated.
    pub escalate_after_hours: u32,
    /// Who an overdue complaint goes to: a member …
    pub escalate_to: Option<UserId>,
    /// … or a team (slug), whose next member with room takes it.
    pub escalate_to_team: Option<String>,
}

impl Default for VerificationSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            remind_after_hours: 12,
            escalate_after_hours: 24,
            escalate_to: None,
            escalate_to_team: None,
        }
    }
}

impl VerificationSettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (field, hours) in [
            ("remind_after_hours", self.remind_after_hours),
            ("escalate_after_hours", self.escalate_after_hours),
        ] {
            if !(1..=MAX_HOURS).contains(&hours) {
                return Err(ValidationError::new(
                    field,
                    "must be 1 to 720 hours (30 days)",
                ));
            }
        }
        if self.remind_after_hours >= self.escalate_after_hours {
            return Err(ValidationError::new(
                "remind_after_hours",
                "must be fewer hours than escalate_after_hours: the reminder comes first",
            ));
        }
        if self.escalate_to.is_some() && self.escalate_to_team.is_some() {
            return Err(ValidationError::new(
                "escalate_to_team",
                "choose a member or a team to escalate to, not both",
            ));
        }
        Ok(())
    }

    /// The timers of a complaint that entered `pending_validation` at `since`.
    pub fn timers(&self, complaint: &ComplaintId, since: DateTime<Utc>) -> Vec<Timer> {
        [
            (Stage::Reminder, self.remind_after_hours),
            (Stage::Escalation, self.escalate_after_hours),
        ]
        .into_iter()
        .map(|(stage, hours)| Timer {
            stage,
            complaint: complaint.clone(),
            since,
            run_at: since + Duration::hours(i64::from(hours)),
        })
        .collect()
    }

    /// The changes that escalate an overdue complaint: to the member or
    /// team named (a team's queue takes it from its assignee), then the
    /// status, last, so that a retry after a crash between them finds the
    /// complaint still pending and finishes.
    pub fn escalation(&self, c: &Complaint) -> Vec<crate::change::ComplaintChange> {
        use crate::change::ComplaintChange;
        let mut changes = Vec::new();
        if let Some(team) = &self.escalate_to_team {
            if c.team.as_deref() != Some(team) {
                changes.push(ComplaintChange::Team(Some(team.clone())));
            }
            if c.assignee_id.is_some() {
                changes.push(ComplaintChange::Assign(None));
            }
        } else if let Some(owner) = &self.escalate_to {
            if c.assignee_id.as_ref() != Some(owner) {
                changes.push(ComplaintChange::Assign(Some(owner.clone())));
            }
        }
        changes.push(ComplaintChange::Status(ComplaintStatus::Escalated));
        changes
    }
}

/// A reminder, or the escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Reminder,
    Escalation,
}

impl Stage {
    pub fn job_kind(self) -> &'static str {
        match self {
            Self::Reminder => "verify.remind",
            Self::Escalation => "verify.escalate",
        }
    }
}

/// One timer: its job runs at `run_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Timer {
    pub stage: Stage,
    pub complaint: ComplaintId,
    pub since: DateTime<Utc>,
    pub run_at: DateTime<Utc>,
}

impl Timer {
    /// One job per stage each time a complaint enters `pending_validation`.
    pub fn job_key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.stage.job_kind(),
            self.complaint,
            self.since.timestamp_micros()
        )
    }

    pub fn payload(&self) -> serde_json::Value {
        serde_json::json!({ "complaint_id": self.complaint, "since": self.since })
    }
}

/// When `c` last entered `pending_validation`, from its history (its
/// creation when it started there); None when it is not pending.
pub fn pending_since(c: &Complaint, history: &[ComplaintEvent]) -> Option<DateTime<Utc>> {
    if c.status != ComplaintStatus::PendingValidation {
        return None;
    }
    let pending = ComplaintStatus::PendingValidation.as_str();
    Some(
        history
            .iter()
            .filter(|e| e.action == "status_changed" && e.to_value.as_deref() == Some(pending))
            .map(|e| e.created_at)
            .max()
            .unwrap_or(c.created_at),
    )
}

/// Whether a timer set when `c` entered pending validation at `since` still
/// stands: the complaint is pending, since then. Else why not.
pub fn stands(
    c: &Complaint,
    history: &[ComplaintEvent],
    since: DateTime<Utc>,
) -> Result<(), String> {
    match pending_since(c, history) {
        None => Err(format!("no longer pending validation (now {})", c.status)),
        // To the microsecond: what a store keeps.
        Some(entered) if entered.timestamp_micros() != since.timestamp_micros() => {
            Err("sent back to verification since; a newer timer stands".into())
        }
        Some(_) => Ok(()),
    }
}

/// What a field worker says of a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Validated,
    Rejected,
}

impl Outcome {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s {
            "validated" => Ok(Self::Validated),
            "rejected" => Ok(Self::Rejected),
            _ => Err(ValidationError::new(
                "outcome",
                "must be validated or rejected",
            )),
        }
    }

    pub fn status(self) -> ComplaintStatus {
        match self {
            Self::Validated => ComplaintStatus::Validated,
            Self::Rejected => ComplaintStatus::Rejected,
        }
    }

    /// The note as kept: trimmed, at most [`MAX_NOTE`] characters, and
    /// required for a rejection (the office must know why).
    pub fn note(self, note: &str) -> Result<Option<String>, ValidationError> {
        let note = note.trim();
        if note.chars().count() > MAX_NOTE {
            return Err(ValidationError::new(
                "note",
                format!("at most {MAX_NOTE} characters"),
            ));
        }
        match (self, note.is_empty()) {
            (Self::Rejected, true) => Err(ValidationError::new(
                "note",
                "say why the complaint is rejected: what you found on the ground",
            )),
            (_, true) => Ok(None),
            (_, false) => Ok(Some(note.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ComplaintChange;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(h)
    }

    fn pending() -> Complaint {
        Complaint {
            id: ComplaintId::new(),
            tenant_id: crate::TenantId::new(),
            number: crate::ComplaintNumber::parse("PUNE-20261207-0001").unwrap(),
            channel_id: None,
            contact_id: None,
            conversation_id: None,
            category_id: None,
            description: "Drain overflowing".into(),
            location: Some("Ward 31".into()),
            area: None,
            assignee_id: None,
            team: None,
            language: crate::Language::parse("mr").unwrap(),
            priority: crate::Priority::Normal,
            status: ComplaintStatus::PendingValidation,
            source: crate::Source::Text,
            created_at: at(0),
            updated_at: at(0),
            sla: None,
            point: None,
        }
    }

    fn moved(c: &Complaint, to: ComplaintStatus, when: DateTime<Utc>) -> ComplaintEvent {
        ComplaintEvent {
            complaint_id: c.id.clone(),
            tenant_id: c.tenant_id.clone(),
            actor: "user:x".into(),
            action: "status_changed".into(),
            from_value: None,
            to_value: Some(to.as_str().into()),
            created_at: when,
        }
    }

    #[test]
    fn settings_default_to_the_plans_12_and_24_hours_and_check_their_order() {
        let s = VerificationSettings::default();
        assert_eq!((s.remind_after_hours, s.escalate_after_hours), (12, 24));
        s.validate().unwrap();
        let bad = |f: fn(&mut VerificationSettings), field: &str| {
            let mut s = VerificationSettings::default();
            f(&mut s);
            assert_eq!(s.validate().unwrap_err().field, field);
        };
        bad(|s| s.remind_after_hours = 0, "remind_after_hours");
        bad(|s| s.escalate_after_hours = 721, "escalate_after_hours");
        bad(|s| s.remind_after_hours = 24, "remind_after_hours");
        bad(
            |s| {
                s.escalate_to = Some(UserId::new());
                s.escalate_to_team = Some("ward-31".into());
            },
            "escalate_to_team",
        );
        let json: VerificationSettings =
            serde_json::from_value(serde_json::json!({"enabled": true})).unwrap();
        assert!(json.enabled && json.remind_after_hours == 12);
        assert!(serde_json::from_value::<VerificationSettings>(
            serde_json::json!({"enabld": true})
        )
        .is_err());
    }

    #[test]
    fn timers_run_after_their_hours_with_one_key_per_entry() {
        let c = pending();
        let timers = VerificationSettings::default().timers(&c.id, at(0));
        assert_eq!(timers.len(), 2);
        assert_eq!(timers[0].stage, Stage::Reminder);
        assert_eq!(timers[0].run_at, at(12));
        assert_eq!(timers[1].run_at, at(24));
        assert_ne!(timers[0].job_key(), timers[1].job_key());
        let again = VerificationSettings::default().timers(&c.id, at(30));
        assert_ne!(timers[0].job_key(), again[0].job_key());
    }

    #[test]
    fn a_timer_stands_only_while_the_complaint_is_pending_since_it_was_set() {
        let mut c = pending();
        assert_eq!(stands(&c, &[], at(0)), Ok(()));
        // Validated, then sent back to verification: the first timers stand down.
        let history = vec![
            moved(&c, ComplaintStatus::Escalated, at(2)),
            moved(&c, ComplaintStatus::PendingValidation, at(5)),
        ];
        c.status = ComplaintStatus::PendingValidation;
        assert!(stands(&c, &history, at(0)).is_err());
        assert_eq!(stands(&c, &history, at(5)), Ok(()));
        c.status = ComplaintStatus::Validated;
        let why = stands(&c, &history, at(5)).unwrap_err();
        assert!(why.contains("validated"), "{why}");
    }

    #[test]
    fn escalation_moves_the_status_last_and_to_whom_the_office_chose() {
        let mut c = pending();
        let nobody = VerificationSettings::default().escalation(&c);
        assert_eq!(
            nobody,
            [ComplaintChange::Status(ComplaintStatus::Escalated)]
        );
        let owner = UserId::new();
        let to_owner = VerificationSettings {
            escalate_to: Some(owner.clone()),
            ..Default::default()
        };
        assert_eq!(
            to_owner.escalation(&c),
            [
                ComplaintChange::Assign(Some(owner.clone())),
                ComplaintChange::Status(ComplaintStatus::Escalated)
            ]
        );
        c.assignee_id = Some(UserId::new());
        let to_team = VerificationSettings {
            escalate_to_team: Some("supervisors".into()),
            ..Default::default()
        };
        assert_eq!(
            to_team.escalation(&c),
            [
                ComplaintChange::Team(Some("supervisors".into())),
                ComplaintChange::Assign(None),
                ComplaintChange::Status(ComplaintStatus::Escalated)
            ]
        );
        // Retried after the team move landed: only what is left.
        c.team = Some("supervisors".into());
        c.assignee_id = None;
        assert_eq!(
            to_team.escalation(&c),
            [ComplaintChange::Status(ComplaintStatus::Escalated)]
        );
    }

    #[test]
    fn a_rejection_needs_a_note_and_notes_are_bounded() {
        assert_eq!(Outcome::parse("validated"), Ok(Outcome::Validated));
        assert_eq!(Outcome::parse("maybe").unwrap_err().field, "outcome");
        assert_eq!(Outcome::Validated.note("  "), Ok(None));
        assert_eq!(
            Outcome::Validated.note(" drain is blocked "),
            Ok(Some("drain is blocked".into()))
        );
        assert_eq!(Outcome::Rejected.note("").unwrap_err().field, "note");
        assert_eq!(
            Outcome::Validated
                .note(&"x".repeat(MAX_NOTE + 1))
                .unwrap_err()
                .field,
            "note"
        );
        assert_eq!(Outcome::Rejected.status(), ComplaintStatus::Rejected);
    }
}
