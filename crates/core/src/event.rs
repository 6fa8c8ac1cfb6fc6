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
    /// A citizen rated how their complaint was handled (the survey).
    #[serde(rename = "complaint.rated")]
    ComplaintRated,
    /// A complaint's service-level deadline is near (the policy's warning).
    #[serde(rename = "complaint.sla_warning")]
    ComplaintSlaWarning,
    /// A complaint's service-level deadline passed unmet (it is escalated).
    #[serde(rename = "complaint.sla_breached")]
    ComplaintSlaBreached,
    #[serde(rename = "conversation.handoff")]
    ConversationHandoff,
    /// A person's data was erased at the office's request.
    #[serde(rename = "contact.erased")]
    ContactErased,
    #[serde(rename = "agent.version_created")]
    AgentVersionCreated,
    #[serde(rename = "agent.deployed")]
    AgentDeployed,
    #[serde(rename = "execution.failed")]
    ExecutionFailed,
    /// A tenant's day in numbers, at its summary time, once a day.
    #[serde(rename = "summary.daily")]
    SummaryDaily,
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
    pub const ALL: [EventType; 19] = [
        Self::MessageReceived,
        Self::MessageSent,
        Self::MessageFailed,
        Self::ComplaintCreated,
        Self::ComplaintUpdated,
        Self::ComplaintStatusChanged,
        Self::ComplaintAssigned,
        Self::ComplaintRated,
        Self::ComplaintSlaWarning,
        Self::ComplaintSlaBreached,
        Self::ConversationHandoff,
        Self::ContactErased,
        Self::AgentVersionCreated,
        Self::AgentDeployed,
        Self::ExecutionFailed,
        Self::SummaryDaily,
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
            Self::ComplaintRated => "complaint.rated",
            Self::ComplaintSlaWarning => "complaint.sla_warning",
            Self::ComplaintSlaBreached => "complaint.sla_breached",
            Self::ConversationHandoff => "conversation.handoff",
            Self::ContactErased => "contact.erased",
            Self::AgentVersionCreated => "agent.version_created",
            Self::AgentDeployed => "agent.deployed",
            Self::ExecutionFailed => "execution.failed",
            Self::SummaryDaily => "summary.daily",
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

/// What each event carries in `data`: the public contract webhook receivers
/// parse, one struct per event type, so that every backend writes the same
/// and docs/api.md's catalogue can be checked against it. Ids are strings on
/// the wire.
pub mod payload {
    use serde::Serialize;

    use super::EventType;
    use crate::audit::AuditEntry;
    use crate::Complaint;

    /// An event's data and its type.
    pub trait Payload: Serialize {
        fn kind(&self) -> EventType;

        fn data(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or_default()
        }
    }

    macro_rules! payload {
        ($name:ident => $kind:ident) => {
            impl Payload for $name {
                fn kind(&self) -> EventType {
                    EventType::$kind
                }
            }
        };
    }

    /// `message.received`
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct MessageReceived {
        pub message_id: String,
        pub conversation_id: String,
        pub channel_id: String,
        /// `text`, `image`, … (`MessageKind`).
        pub kind: String,
        /// The photo or voice note it carries, by reference: its bytes are
        /// served by `GET /api/v1/attachments/{id}/content` once fetched.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub attachment_id: Option<String>,
    }
    payload!(MessageReceived => MessageReceived);

    /// `message.sent`: the provider took it (its id for the message).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct MessageSent {
        pub message_id: String,
        pub provider_id: String,
    }
    payload!(MessageSent => MessageSent);

    /// `message.failed`: given up, or the provider reported it failed.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct MessageFailed {
        pub message_id: String,
        pub error: Option<String>,
    }
    payload!(MessageFailed => MessageFailed);

    /// `complaint.created`: the complaint as made.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(transparent)]
    pub struct ComplaintCreated(pub Complaint);
    payload!(ComplaintCreated => ComplaintCreated);

    /// `complaint.updated`, `complaint.status_changed`, `complaint.assigned`:
    /// the complaint as it is now, what changed, and who changed it.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct ComplaintChanged {
        #[serde(skip)]
        pub kind: EventType,
        pub complaint: Complaint,
        pub change: Change,
        /// `user:<id>`, `api:<key id>`, `contact:<id>`, `system`.
        pub actor: String,
    }

    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Change {
        /// `status_changed`, `priority_changed`, `category_changed`,
        /// `assigned`, `area_changed`.
        pub action: String,
        pub from: Option<String>,
        pub to: Option<String>,
    }

    impl Payload for ComplaintChanged {
        fn kind(&self) -> EventType {
            self.kind
        }
    }

    /// `complaint.rated`: the citizen answered the satisfaction survey, with
    /// a rating and, after a low one, whether the problem was solved. A
    /// comment, when one follows, is on the complaint's survey (the API).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct ComplaintRated {
        pub complaint_id: String,
        pub number: String,
        pub survey_id: String,
        /// 1 (very poor) to 5 (very good).
        pub rating: u8,
        /// Asked after a rating of 2 or less; null otherwise.
        pub solved: Option<bool>,
        /// The complaint is reopened because the citizen says it is not solved.
        pub reopened: bool,
    }
    payload!(ComplaintRated => ComplaintRated);

    /// `summary.daily`: the tenant's day, from its summary time the day
    /// before to its summary time on `date` (tenant-local).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct SummaryDaily {
        pub date: chrono::NaiveDate,
        pub from: chrono::DateTime<chrono::Utc>,
        pub to: chrono::DateTime<chrono::Utc>,
        /// Complaints registered in the day.
        pub new: u64,
        pub resolved: u64,
        /// Complaints that missed a service-level deadline in the day.
        pub breached: u64,
        /// Open now.
        pub open: u64,
        /// The oldest open ones, oldest first.
        pub oldest: Vec<OldOpen>,
        /// Satisfaction survey ratings given in the day.
        pub ratings: u64,
        /// Their CSAT: the share of 4 and 5, in percent (null without ratings).
        pub csat: Option<f64>,
    }
    payload!(SummaryDaily => SummaryDaily);

    #[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
    pub struct OldOpen {
        pub number: String,
        pub status: String,
        /// Days since it was registered.
        pub days: i64,
    }

    /// `conversation.handoff`: the conversation is in the hands of people.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct ConversationHandoff {
        pub conversation_id: String,
        pub contact_id: String,
        /// `requested` (by the agent), `agent_failed`, or
        /// `voice_note_unheard` (the transcriber failed every try: people
        /// listen to it).
        pub reason: String,
    }
    payload!(ConversationHandoff => ConversationHandoff);

    /// `contact.erased`: a person's name, address and words were erased
    /// (their complaints stay, without them); a receiver erases its copies.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct ContactErased {
        pub contact_id: String,
        pub erased_at: chrono::DateTime<chrono::Utc>,
    }
    payload!(ContactErased => ContactErased);

    /// `execution.failed`: an agent run failed or timed out.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct ExecutionFailed {
        pub execution_id: String,
        pub conversation_id: String,
        pub error: String,
        pub attempts: u32,
        /// Whether it ran out of time (absent when the run never ended).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub timeout: Option<bool>,
    }
    payload!(ExecutionFailed => ExecutionFailed);

    /// `agent.version_created`
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct AgentVersionCreated {
        pub agent_id: String,
        pub agent: String,
        pub version_id: String,
        pub number: i64,
        pub author: String,
    }
    payload!(AgentVersionCreated => AgentVersionCreated);

    /// `agent.deployed`: the version answers on the channel from now on.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct AgentDeployed {
        pub channel_id: String,
        pub agent_id: String,
        pub agent: String,
        pub version_id: String,
        pub number: i64,
        pub previous_version_id: Option<String>,
        pub actor: String,
    }
    payload!(AgentDeployed => AgentDeployed);

    /// `webhook.test`: sent to one endpoint on request.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct WebhookTest {
        pub endpoint_id: String,
        pub message: String,
    }
    payload!(WebhookTest => WebhookTest);

    /// `complaint.sla_warning` and `complaint.sla_breached`: a deadline on
    /// the complaint's clock (`target`: `first_response` or `resolution`) is
    /// near, or passed unmet; the complaint as it was marked, before a
    /// breach's escalation (which has its own events).
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct ComplaintSla {
        #[serde(skip)]
        pub kind: EventType,
        pub complaint: Complaint,
        pub target: crate::sla::Target,
        pub due_at: chrono::DateTime<chrono::Utc>,
    }

    impl Payload for ComplaintSla {
        fn kind(&self) -> EventType {
            self.kind
        }
    }

    /// `webhook.endpoint_disabled`: Ombud disabled an endpoint, and why.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct WebhookEndpointDisabled {
        pub endpoint_id: String,
        pub url: String,
        pub reason: String,
    }
    payload!(WebhookEndpointDisabled => WebhookEndpointDisabled);

    /// `audit.recorded`: an entry of the audit trail, with its place in the
    /// chain.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(transparent)]
    pub struct AuditRecorded(pub AuditEntry);
    payload!(AuditRecorded => AuditRecorded);

    /// The fields of each event type's `data`, as the structs above write
    /// them (for the catalogue in docs/api.md, which a test checks).
    pub fn fields(kind: EventType) -> &'static [&'static str] {
        match kind {
            EventType::MessageReceived => &["message_id", "conversation_id", "channel_id", "kind"],
            EventType::MessageSent => &["message_id", "provider_id"],
            EventType::MessageFailed => &["message_id", "error"],
            EventType::ComplaintCreated => &["id", "number", "status", "priority"],
            EventType::ComplaintUpdated
            | EventType::ComplaintStatusChanged
            | EventType::ComplaintAssigned => &["complaint", "change", "actor"],
            EventType::ComplaintRated => &[
                "complaint_id",
                "number",
                "survey_id",
                "rating",
                "solved",
                "reopened",
            ],
            EventType::ComplaintSlaWarning | EventType::ComplaintSlaBreached => {
                &["complaint", "target", "due_at"]
            }
            EventType::ConversationHandoff => &["conversation_id", "contact_id", "reason"],
            EventType::ContactErased => &["contact_id", "erased_at"],
            EventType::ExecutionFailed => &["execution_id", "conversation_id", "error", "attempts"],
            EventType::SummaryDaily => &[
                "date", "from", "to", "new", "resolved", "breached", "open", "oldest", "ratings",
                "csat",
            ],
            EventType::AgentVersionCreated => {
                &["agent_id", "agent", "version_id", "number", "author"]
            }
            EventType::AgentDeployed => &[
                "channel_id",
                "agent_id",
                "agent",
                "version_id",
                "number",
                "previous_version_id",
                "actor",
            ],
            EventType::WebhookTest => &["endpoint_id", "message"],
            EventType::WebhookEndpointDisabled => &["endpoint_id", "url", "reason"],
            EventType::AuditRecorded => &["seq", "action", "actor", "target", "prev_hash", "hash"],
        }
    }
}
