//! Reminding a citizen whose complaint waits on hold for their answer (the
//! scheduler's `reminder.send` job): the facts read, the rule applied
//! (`ombud_core::reminder`) and the reminder sent or its failure recorded,
//! in one transaction, so a hold is reminded of once.

use chrono::{DateTime, Utc};
use ombud_core::change::{Notice, StatusNotice};
use ombud_core::reminder::{self, ReminderSettings};
use ombud_core::*;

/// Reminds the citizen of one hold, if it still stands.
#[derive(Debug, Clone)]
pub struct RemindCitizen {
    pub complaint: ComplaintId,
    /// When the complaint was put on hold (the job's).
    pub held_at: DateTime<Utc>,
    pub settings: ReminderSettings,
    /// The reminder (kind `reminder`) and, per WhatsApp channel, the
    /// template that carries it outside the window.
    pub notice: StatusNotice,
    pub at: DateTime<Utc>,
}

/// What reminding did.
#[derive(Debug, Clone, PartialEq)]
pub enum Reminded {
    Sent,
    /// Not due, and why.
    Skipped(String),
    /// Due, but no way to reach the citizen (why, also on the timeline).
    CannotNotify(String),
}

/// What the backend read for a reminder, in its transaction.
pub(crate) struct RemindFacts {
    pub complaint: Option<Complaint>,
    pub held_since: Option<DateTime<Utc>>,
    pub reminded: bool,
    pub last_inbound: Option<DateTime<Utc>>,
}

/// The timeline's actor for a reminder sent.
const ACTOR: &str = "system";

impl RemindCitizen {
    /// Decides a reminder on what the backend read: the notice to send, or
    /// why none is due.
    pub(crate) fn plan(&self, facts: RemindFacts) -> Result<Notice, String> {
        let complaint = facts.complaint.ok_or("the complaint no longer exists")?;
        let due = reminder::DueFacts {
            status: complaint.status,
            held_since: facts.held_since,
            reminded: facts.reminded,
            has_conversation: complaint.conversation_id.is_some() && complaint.channel_id.is_some(),
            last_inbound: facts.last_inbound,
        };
        reminder::due(&self.settings, self.held_at, &due)?;
        ombud_core::change::notices(&self.notice, std::slice::from_ref(&complaint))
            .into_iter()
            .next()
            .ok_or_else(|| "the complaint came from no conversation".into())
    }

    /// The timeline's line for the reminder sent.
    pub(crate) fn line(&self) -> crate::work::Line<'_> {
        crate::work::Line {
            complaint: &self.complaint,
            actor: ACTOR,
            action: reminder::SENT,
            from: None,
            to: None,
        }
    }
}
