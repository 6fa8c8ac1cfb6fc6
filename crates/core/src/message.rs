use chrono::{DateTime, Utc};

use crate::{ChannelId, ConversationId, MessageId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inbound" => Some(Self::Inbound),
            "outbound" => Some(Self::Outbound),
            _ => None,
        }
    }
}

/// What a message carries. Only text is understood by the intake agent today; the
/// rest are stored with their kind so staff can see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Image,
    Audio,
    Video,
    Document,
    Sticker,
    Location,
    Contacts,
    Reaction,
    Interactive,
    Button,
    /// An approved WhatsApp template, sent outside the 24-hour window.
    Template,
    Other,
}

impl MessageKind {
    const ALL: [Self; 13] = [
        Self::Text,
        Self::Image,
        Self::Audio,
        Self::Video,
        Self::Document,
        Self::Sticker,
        Self::Location,
        Self::Contacts,
        Self::Reaction,
        Self::Interactive,
        Self::Button,
        Self::Template,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Document => "document",
            Self::Sticker => "sticker",
            Self::Location => "location",
            Self::Contacts => "contacts",
            Self::Reaction => "reaction",
            Self::Interactive => "interactive",
            Self::Button => "button",
            Self::Template => "template",
            Self::Other => "other",
        }
    }

    /// Unknown kinds (Meta adds new ones) map to `Other` rather than failing.
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or(Self::Other)
    }
}

/// Where a message stands. Inbound messages are `Received`; outbound ones move
/// `Pending → Sent → Delivered → Read`, or to `Failed` with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Received,
    Pending,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Received,
            Self::Pending,
            Self::Sent,
            Self::Delivered,
            Self::Read,
            Self::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Status reports arrive out of order; a later one may only move a message
    /// forward (`read` is never undone by a late `delivered`). `Failed` always wins.
    pub fn may_follow(self, current: Self) -> bool {
        fn rank(s: DeliveryStatus) -> u8 {
            match s {
                DeliveryStatus::Received | DeliveryStatus::Pending => 0,
                DeliveryStatus::Sent => 1,
                DeliveryStatus::Delivered => 2,
                DeliveryStatus::Read => 3,
                DeliveryStatus::Failed => 4,
            }
        }
        self == Self::Failed && current != Self::Failed || rank(self) > rank(current)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub conversation_id: ConversationId,
    pub direction: Direction,
    /// Inbound: the position in the conversation (1, 2, …). Outbound: 0.
    pub seq: i64,
    /// The channel's id for the message (`wamid.…`), unique per channel.
    pub provider_id: Option<String>,
    pub kind: MessageKind,
    pub body: String,
    pub in_reply_to: Option<MessageId>,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Inbound: the id of the reply button tapped (`body` is its title).
    pub payload: Option<String>,
    /// Outbound: the reply buttons it offers.
    pub choices: Option<crate::choice::Choices>,
    /// Outbound: who wrote it: [`BOT`], [`SYSTEM`], or a member or API key
    /// as the history names them (`user:<id>`, `api:<id>`). None for what
    /// citizens wrote, and for messages stored before it was kept.
    pub sender: Option<String>,
    /// The conversation's session it belongs to (1, 2, …).
    pub session: i64,
    /// Inbound: the photo or voice note it carried, and where its fetch
    /// stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<crate::media::MediaInfo>,
}

impl Message {
    /// Its media is still being fetched: it is not for an agent yet.
    pub fn awaits_media(&self) -> bool {
        self.media.as_ref().is_some_and(|m| m.state.pending())
    }

    /// A voice note's words, when the transcriber heard some.
    pub fn heard(&self) -> Option<&str> {
        self.media
            .as_ref()
            .filter(|m| m.state == crate::media::MediaState::Ready)
            .and_then(|m| m.transcript.as_deref())
            .filter(|t| !t.trim().is_empty())
    }
}

/// The sender of the agent's replies.
pub const BOT: &str = "bot";
/// The sender of Ombud's own notices (status, survey, reminder).
pub const SYSTEM: &str = "system";

#[cfg(test)]
mod tests {
    use super::DeliveryStatus::*;

    #[test]
    fn delivery_status_only_moves_forward() {
        assert!(Sent.may_follow(Pending));
        assert!(Read.may_follow(Delivered));
        assert!(!Delivered.may_follow(Read));
        assert!(!Sent.may_follow(Sent));
        assert!(Failed.may_follow(Read));
        assert!(!Failed.may_follow(Failed));
    }

    #[test]
    fn unknown_kinds_are_other() {
        assert_eq!(
            super::MessageKind::parse("ephemeral"),
            super::MessageKind::Other
        );
        assert_eq!(
            super::MessageKind::parse("audio"),
            super::MessageKind::Audio
        );
    }
}
