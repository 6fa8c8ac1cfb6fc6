//! What the intake agent remembers between runs, kept in the conversation.

use chrono::{DateTime, Utc};
use ombud_core::CategoryId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    #[default]
    Idle,
    AwaitCategory,
    AwaitLocation,
    AwaitConfirm,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub description: String,
    pub category_id: Option<CategoryId>,
    pub location: Option<String>,
    /// The citizen's location pin, when they shared one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<ombud_core::geo::GeoPoint>,
    /// The messages whose photos (or voice note) go with the complaint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<ombud_core::MessageId>,
    /// The problem was told in a voice note.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voice: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IntakeState {
    pub step: Step,
    pub draft: Option<Draft>,
    /// The local day the daily-limit notice went out, so it goes out once.
    pub daily_notice: Option<String>,
    /// No second burst notice before this instant.
    pub burst_notice_until: Option<DateTime<Utc>>,
    /// What the per-contact limits count.
    pub counts: Counts,
}

/// The contact's messages the agent has seen, for its limits: kept here, with
/// the dialogue, rather than counted in the store on every run (a count that
/// grew with the conversation, and a read per run). Messages that arrive while
/// staff hold the conversation are not the agent's and are not counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// The tenant-local day that `today` counts.
    pub day: Option<String>,
    pub today: u32,
    /// When the latest messages arrived, oldest first; only as many as the
    /// burst limit needs to be told apart from one more.
    pub recent: Vec<DateTime<Utc>>,
}

impl Counts {
    /// Counts a message that arrived at `at` on local day `day`; returns the
    /// messages of that day and those within `window` before `at`, this one
    /// included. `keep` bounds how many arrival times are remembered.
    pub fn add(
        &mut self,
        day: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
        keep: usize,
    ) -> (u32, u32) {
        if self.day.as_deref() != Some(day) {
            self.day = Some(day.to_owned());
            self.today = 0;
        }
        self.today += 1;
        self.recent.retain(|t| *t > at - window);
        self.recent.push(at);
        let excess = self.recent.len().saturating_sub(keep.max(1));
        self.recent.drain(..excess);
        (self.today, self.recent.len() as u32)
    }
}

impl IntakeState {
    /// Unreadable memory (from an older version, say) starts a fresh dialogue.
    pub fn from_value(v: &serde_json::Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// A new session: no dialogue (no step, no draft), but the limits go on
    /// counting, so closing a session does not reset a day's count.
    pub fn next_session(&self) -> Self {
        Self {
            step: Step::Idle,
            draft: None,
            ..self.clone()
        }
    }
}
