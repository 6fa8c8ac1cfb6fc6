//! Staff work on complaints: the filtered list, paged by keyset, and changes
//! applied to many complaints in one transaction. The list's SQL is in
//! `list_query`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ombud_core::*;

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

/// One change, applied to each complaint of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum ComplaintChange {
    Status(ComplaintStatus),
    Priority(Priority),
    Category(Option<CategoryId>),
    Assign(Option<UserId>),
    Area(Option<String>),
    /// An internal note (already sanitized): never sent to the citizen.
    Note(String),
}

/// What the citizen is told when staff change the status of their complaints:
/// one notice per conversation and batch, naming every complaint of theirs
/// that changed.
pub trait StatusNotices: Send + Sync {
    fn notice(&self, language: &Language, numbers: &[&str], status: ComplaintStatus) -> String;
}

pub struct ChangeBatch {
    /// `user:<id>` of the member making the change.
    pub actor: String,
    pub change: ComplaintChange,
    pub ids: Vec<ComplaintId>,
    pub notices: Option<Arc<dyn StatusNotices>>,
    /// Who to record in the audit trail, one entry per complaint changed
    /// (None: a change nobody is accountable for, such as a citizen's words
    /// added by the agent).
    pub audit: Option<ombud_core::audit::Acting>,
    /// Links the entries of one bulk change.
    pub bulk_id: Option<String>,
}

impl ChangeBatch {
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

/// What a change does to one complaint, checked against its current state:
/// the complaint as it will be and the history line, or why it is skipped.
pub(crate) struct Applied {
    pub complaint: Complaint,
    pub action: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub event: Option<EventType>,
}

impl Applied {
    /// The domain event's data: the complaint as it is now, and what changed.
    pub(crate) fn event_data(&self, actor: &str) -> serde_json::Value {
        use ombud_core::event::payload::{Change, ComplaintChanged, Payload as _};
        ComplaintChanged {
            kind: self.event.unwrap_or(EventType::ComplaintUpdated),
            complaint: self.complaint.clone(),
            change: Change {
                action: self.action.to_owned(),
                from: self.from.clone(),
                to: self.to.clone(),
            },
            actor: actor.to_owned(),
        }
        .data()
    }
}

pub(crate) fn apply(
    current: &Complaint,
    change: &ComplaintChange,
    at: DateTime<Utc>,
) -> Result<Applied, String> {
    let mut next = current.clone();
    next.updated_at = at;
    let same = |what: &str| Err(format!("{what} already"));
    let (action, from, to, event) = match change {
        ComplaintChange::Status(to) => {
            if current.status == *to {
                return same(&format!("is {to}"));
            }
            next.status = current.status.transition(*to).map_err(|e| e.reason)?;
            (
                "status_changed",
                Some(current.status.to_string()),
                Some(to.to_string()),
                Some(EventType::ComplaintStatusChanged),
            )
        }
        ComplaintChange::Priority(p) => {
            if current.priority == *p {
                return same(&format!("is {p} priority"));
            }
            next.priority = *p;
            (
                "priority_changed",
                Some(current.priority.to_string()),
                Some(p.to_string()),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Category(c) => {
            if current.category_id == *c {
                return same("is in this category");
            }
            next.category_id = c.clone();
            (
                "category_changed",
                current.category_id.as_ref().map(|c| c.to_string()),
                c.as_ref().map(|c| c.to_string()),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Assign(u) => {
            if current.assignee_id == *u {
                return same(if u.is_some() {
                    "is assigned to them"
                } else {
                    "is unassigned"
                });
            }
            next.assignee_id = u.clone();
            (
                "assigned",
                current.assignee_id.as_ref().map(|u| u.to_string()),
                u.as_ref().map(|u| u.to_string()),
                Some(EventType::ComplaintAssigned),
            )
        }
        ComplaintChange::Area(a) => {
            if current.area == *a {
                return same("is in this area");
            }
            next.area = a.clone();
            (
                "area_changed",
                current.area.clone(),
                a.clone(),
                Some(EventType::ComplaintUpdated),
            )
        }
        ComplaintChange::Note(text) => ("note", None, Some(text.clone()), None),
    };
    Ok(Applied {
        complaint: next,
        action,
        from,
        to,
        event,
    })
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
    apply(&current, change, at).map_err(|reason| ChangeOutcome::Skipped {
        id: id.clone(),
        number: Some(current.number.clone()),
        reason,
    })
}

/// A status notice to send into a conversation.
pub(crate) struct Notice {
    pub conversation: ConversationId,
    pub channel: ChannelId,
    pub contact: Option<ContactId>,
    pub body: String,
}

/// What a batch's status change tells citizens: one notice per conversation,
/// naming its complaints that changed. None for other changes.
pub(crate) fn notices_for(batch: &ChangeBatch, changed: &[Complaint]) -> Vec<Notice> {
    let (ComplaintChange::Status(status), Some(notices)) = (&batch.change, &batch.notices) else {
        return Vec::new();
    };
    let mut groups: Vec<(&ConversationId, &ChannelId, Vec<&Complaint>)> = Vec::new();
    for c in changed {
        let (Some(conv), Some(chan)) = (&c.conversation_id, &c.channel_id) else {
            continue;
        };
        match groups.iter_mut().find(|(id, _, _)| *id == conv) {
            Some((_, _, list)) => list.push(c),
            None => groups.push((conv, chan, vec![c])),
        }
    }
    groups
        .into_iter()
        .map(|(conversation, channel, list)| {
            let numbers: Vec<&str> = list.iter().map(|c| c.number.as_str()).collect();
            Notice {
                conversation: conversation.clone(),
                channel: channel.clone(),
                contact: list[0].contact_id.clone(),
                body: notices.notice(&list[0].language, &numbers, *status),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
