/// The domain events Ombud emits (DESIGN.md's catalogue). Each is written to the
/// event outbox in the same transaction as the change it describes; the webhook
/// dispatcher delivers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EventType {
    #[serde(rename = "message.received")]
    MessageReceived,
    #[serde(rename = "message.sent")]
    MessageSent,
    #[serde(rename = "message.failed")]
    MessageFailed,
    #[serde(rename = "complaint.created")]
    ComplaintCreated,
    #[serde(rename = "complaint.updated")]
    ComplaintUpdated,
    #[serde(rename = "complaint.status_changed")]
    ComplaintStatusChanged,
    #[serde(rename = "complaint.assigned")]
    ComplaintAssigned,
    #[serde(rename = "conversation.handoff")]
    ConversationHandoff,
    #[serde(rename = "agent.version_created")]
    AgentVersionCreated,
    #[serde(rename = "agent.deployed")]
    AgentDeployed,
    #[serde(rename = "execution.failed")]
    ExecutionFailed,
    #[serde(rename = "webhook.test")]
    WebhookTest,
    /// An endpoint was disabled because it kept failing (or answered 410).
    #[serde(rename = "webhook.endpoint_disabled")]
    WebhookEndpointDisabled,
    /// An entry of the audit trail, for a tenant that streams its trail to
    /// its own store. Only to endpoints that name it (see [`Self::opt_in`]).
    #[serde(rename = "audit.recorded")]
    AuditRecorded,
}

impl EventType {
    /// The catalogue, in DESIGN.md's order.
    pub const ALL: [EventType; 14] = [
        Self::MessageReceived,
        Self::MessageSent,
        Self::MessageFailed,
        Self::ComplaintCreated,
        Self::ComplaintUpdated,
        Self::ComplaintStatusChanged,
        Self::ComplaintAssigned,
        Self::ConversationHandoff,
        Self::AgentVersionCreated,
        Self::AgentDeployed,
        Self::ExecutionFailed,
        Self::WebhookTest,
        Self::WebhookEndpointDisabled,
        Self::AuditRecorded,
    ];

    pub fn parse(s: &str) -> Result<Self, crate::ValidationError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                crate::ValidationError::new("event_types", format!("{s:?} is not an event type"))
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "message.received",
            Self::MessageSent => "message.sent",
            Self::MessageFailed => "message.failed",
            Self::ComplaintCreated => "complaint.created",
            Self::ComplaintUpdated => "complaint.updated",
            Self::ComplaintStatusChanged => "complaint.status_changed",
            Self::ComplaintAssigned => "complaint.assigned",
            Self::ConversationHandoff => "conversation.handoff",
            Self::AgentVersionCreated => "agent.version_created",
            Self::AgentDeployed => "agent.deployed",
            Self::ExecutionFailed => "execution.failed",
            Self::WebhookTest => "webhook.test",
            Self::WebhookEndpointDisabled => "webhook.endpoint_disabled",
            Self::AuditRecorded => "audit.recorded",
        }
    }

    /// Delivered only to endpoints that name it, not to those that take "all
    /// events": the audit trail is another stream, for another consumer, and
    /// an endpoint made before it existed must not start receiving it.
    pub fn opt_in(self) -> bool {
        matches!(self, Self::AuditRecorded)
    }
}
