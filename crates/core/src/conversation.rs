use chrono::{DateTime, Utc};

use crate::{ChannelId, ContactId, ConversationId, Language, TenantId};

/// A person writing to one channel, known by the channel's own id for them
/// (`wa_id` on WhatsApp).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub external_id: String,
    pub profile_name: Option<String>,
    pub language: Option<Language>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub messages_in: i64,
    pub messages_out: i64,
}

/// Who answers a conversation: the bot, a human (the bot stays silent), or nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Bot,
    Human,
    Closed,
}

impl ConversationState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Human => "human",
            Self::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bot" => Some(Self::Bot),
            "human" => Some(Self::Human),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// The thread between a contact and a channel. Inbound messages are numbered
/// `1..=inbound_seq`; the agent has handled those up to `run_cursor`, so the
/// conversation is *due* while the bot answers it and `inbound_seq > run_cursor`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub contact_id: ContactId,
    pub state: ConversationState,
    pub inbound_seq: i64,
    pub run_cursor: i64,
    /// The agent's own memory between runs (the intake dialogue's step and draft).
    pub agent_state: serde_json::Value,
    /// WhatsApp allows free-form replies only within 24 hours of this.
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Conversation {
    pub fn is_due(&self) -> bool {
        self.state == ConversationState::Bot && self.inbound_seq > self.run_cursor
    }
}
