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
}

impl EventType {
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
        }
    }
}
