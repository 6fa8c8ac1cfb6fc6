//! What a channel hands over when a delivery arrives, parsed (new messages,
//! and delivery reports for ours), and what an agent run reports it used.
//! Plain data shared by channels, agents, the store and the engine.

use chrono::{DateTime, Utc};

use crate::{DeliveryStatus, MessageKind};

/// One channel delivery, parsed: new messages and status reports for ours.
#[derive(Debug, Clone, Default)]
pub struct InboundBatch {
    pub messages: Vec<InboundMessage>,
    pub statuses: Vec<StatusReport>,
}

#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// The sender's id on the channel (`wa_id`).
    pub from: String,
    pub profile_name: Option<String>,
    pub provider_id: String,
    pub kind: MessageKind,
    pub body: String,
    /// The id of the reply button the sender tapped (its title is `body`).
    pub payload: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The photo or voice note it carries, to be fetched (see
    /// `crate::media`).
    pub media: Option<crate::media::MediaRef>,
}

#[derive(Debug, Clone)]
pub struct StatusReport {
    pub provider_id: String,
    pub status: DeliveryStatus,
    pub error: Option<String>,
    /// What we attached when sending (our message id), echoed back by the channel.
    pub callback_data: Option<String>,
}

/// Tokens a run used at its model provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tokens {
    pub input: i64,
    pub output: i64,
}
