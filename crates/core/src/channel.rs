use chrono::{DateTime, Utc};

use crate::{AgentVersionId, ChannelId, Secret, TenantId};

/// Where messages come from and go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Whatsapp,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "whatsapp" => Some(Self::Whatsapp),
            _ => None,
        }
    }

    /// The longest text one outbound message may carry; longer replies are split.
    pub fn max_text_chars(self) -> usize {
        match self {
            Self::Whatsapp => 4096,
        }
    }
}

/// A tenant's channel, with the credentials it needs and the agent version that
/// answers on it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    pub kind: ChannelKind,
    pub name: String,
    pub whatsapp: WhatsAppConfig,
    pub deployed_version: Option<AgentVersionId>,
    pub created_at: DateTime<Utc>,
}

impl Channel {
    /// The path Meta's console must be given as the callback URL.
    pub fn webhook_path(&self) -> String {
        format!("/channels/{}/{}/webhook", self.kind.as_str(), self.id)
    }
}

/// What a WhatsApp Cloud API number needs: Meta's ids and secrets, and where the
/// Graph API lives (tests point it at a local fake).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WhatsAppConfig {
    pub phone_number_id: String,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub access_token: Secret,
    pub graph_url: String,
    pub api_version: String,
}

impl WhatsAppConfig {
    pub const DEFAULT_GRAPH_URL: &'static str = "https://graph.facebook.com";
    pub const DEFAULT_API_VERSION: &'static str = "v23.0";
}
