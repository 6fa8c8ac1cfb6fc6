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
}

impl IntakeState {
    /// Unreadable memory (from an older version, say) starts a fresh dialogue.
    pub fn from_value(v: &serde_json::Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
