use chrono::{DateTime, Utc};

use crate::{AgentVersionId, ChannelId, Secret, TenantId};

/// Where messages come from and go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Whatsapp,
    Telegram,
    Webchat,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] = [Self::Whatsapp, Self::Telegram, Self::Webchat];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Telegram => "telegram",
            Self::Webchat => "webchat",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Its name in a list or a heading: "WhatsApp", "Telegram", "Web chat".
    pub fn label(self) -> &'static str {
        match self {
            Self::Whatsapp => "WhatsApp",
            Self::Telegram => "Telegram",
            Self::Webchat => "Web chat",
        }
    }

    /// The longest text one outbound message may carry; longer replies are split.
    pub fn max_text_chars(self) -> usize {
        match self {
            // WhatsApp's and Telegram's limits; the web chat keeps to the same.
            Self::Whatsapp | Self::Telegram | Self::Webchat => 4096,
        }
    }
}

/// A tenant's channel, with the credentials it needs and the agent version that
/// answers on it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    pub name: String,
    pub config: ChannelConfig,
    pub deployed_version: Option<AgentVersionId>,
    pub created_at: DateTime<Utc>,
}

impl Channel {
    pub fn kind(&self) -> ChannelKind {
        self.config.kind()
    }

    /// The path the provider must be given as the callback URL (WhatsApp,
    /// Telegram), or under which the web chat's widget lives.
    pub fn webhook_path(&self) -> String {
        match self.kind() {
            ChannelKind::Webchat => format!("/channels/webchat/{}/widget.js", self.id),
            kind => format!("/channels/{}/{}/webhook", kind.as_str(), self.id),
        }
    }

    pub fn whatsapp(&self) -> Option<&WhatsAppConfig> {
        match &self.config {
            ChannelConfig::Whatsapp(c) => Some(c),
            _ => None,
        }
    }

    pub fn telegram(&self) -> Option<&TelegramConfig> {
        match &self.config {
            ChannelConfig::Telegram(c) => Some(c),
            _ => None,
        }
    }

    pub fn webchat(&self) -> Option<&WebchatConfig> {
        match &self.config {
            ChannelConfig::Webchat(c) => Some(c),
            _ => None,
        }
    }
}

/// What a channel of each kind needs to receive and send.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelConfig {
    Whatsapp(WhatsAppConfig),
    Telegram(TelegramConfig),
    Webchat(WebchatConfig),
}

impl ChannelConfig {
    pub fn kind(&self) -> ChannelKind {
        match self {
            Self::Whatsapp(_) => ChannelKind::Whatsapp,
            Self::Telegram(_) => ChannelKind::Telegram,
            Self::Webchat(_) => ChannelKind::Webchat,
        }
    }
}

/// A Telegram bot: its token (from @BotFather), the secret Telegram sends
/// back in `X-Telegram-Bot-Api-Secret-Token` with every update (given to
/// `setWebhook` as `secret_token`), and where the Bot API lives (tests point
/// it at a local fake).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TelegramConfig {
    pub bot_token: Secret,
    pub secret_token: Secret,
    pub api_url: String,
}

impl TelegramConfig {
    pub const DEFAULT_API_URL: &'static str = "https://api.telegram.org";

    /// The bot's numeric id: the part of its token before the colon.
    pub fn bot_id(&self) -> &str {
        self.bot_token
            .expose()
            .split_once(':')
            .map_or("", |(id, _)| id)
    }
}

/// The embeddable web chat: the key its visitor tokens are signed with, the
/// sites that may embed it (empty: any), and what it says first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WebchatConfig {
    pub signing_key: Secret,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The office's greeting by language: the widget shows the visitor's
    /// (by their browser's language), else the English one, else Ombud's
    /// own in the visitor's language. Empty: Ombud's own.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub greetings: std::collections::BTreeMap<crate::Language, String>,
}

impl WebchatConfig {
    /// The longest greeting, in characters.
    pub const GREETING_MAX: usize = 500;

    /// Origins as people write them (one a line or comma-separated, maybe
    /// with a trailing slash), in one spelling; checked by [`Self::check`].
    pub fn origins_from(text: &str) -> Vec<String> {
        text.split([',', '\n'])
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }

    /// Checks the sites and greetings a tenant admin sets; the error names
    /// the field (`greetings.hi`).
    pub fn check(&self) -> Result<(), crate::ValidationError> {
        use crate::ValidationError;
        crate::limits::at_most(
            "allowed_origins",
            self.allowed_origins.len(),
            crate::limits::ORIGINS,
        )?;
        for origin in &self.allowed_origins {
            let bare = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let host = bare.filter(|h| !h.is_empty() && !h.contains(['/', '?', '#', ' ']));
            if host.is_none() || origin.len() > 253 {
                return Err(ValidationError::new(
                    "allowed_origins",
                    format!("{origin:?} is not an origin like https://example.org"),
                ));
            }
        }
        crate::limits::at_most("greetings", self.greetings.len(), crate::limits::GREETINGS)?;
        for (language, text) in &self.greetings {
            let field = format!("greetings.{language}");
            let length = text.chars().count();
            if text.trim().is_empty() || length > Self::GREETING_MAX {
                return Err(ValidationError::new(
                    field,
                    format!("must be 1 to {} characters", Self::GREETING_MAX),
                ));
            }
            if text.chars().any(|c| c.is_control() && c != '\n') {
                return Err(ValidationError::new(field, "must be plain text"));
            }
        }
        Ok(())
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
    /// The WhatsApp Business Account the number belongs to: where its
    /// message templates are read (`GET /{waba-id}/message_templates`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<String>,
    /// Which approved template carries each notice outside the 24-hour window.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub templates: crate::template::TemplateMappings,
}

impl WhatsAppConfig {
    pub const DEFAULT_GRAPH_URL: &'static str = "https://graph.facebook.com";
    pub const DEFAULT_API_VERSION: &'static str = "v23.0";
}
