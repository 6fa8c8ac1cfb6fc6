//! Channels: verify and parse what a provider sends us, and send our replies back.

pub mod media;
pub mod telegram;
pub mod text;
pub mod webchat;
pub mod whatsapp;

use async_trait::async_trait;
use ombud_core::{Channel, ChannelKind, ProviderHosts};
use std::time::Duration;

/// Why a send did not go through, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Timeouts, connection failures, 429 and 5xx: try again later, no sooner than
    /// `retry_after` when the provider said so.
    #[error("temporary failure: {reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The provider refused the message (bad number, expired token, outside the
    /// window…): sending it again would fail the same way.
    #[error("refused: {reason}")]
    Permanent { reason: String },
}

/// Sends one text message on a channel. `idempotency_key` is stable across retries of
/// the same message, so a provider (or a proxy) that honours it never delivers twice.
#[async_trait]
pub trait ChannelSender: Send + Sync {
    async fn send_text(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<String, SendError>;

    /// Sends a text with reply buttons, drawn the channel's way. A channel
    /// that cannot draw them gets the choices as lines of text.
    async fn send_choices(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        choices: &ombud_core::choice::Choices,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        self.send_text(channel, to, &choices.as_text(body), idempotency_key)
            .await
    }

    /// A WhatsApp channel's templates as Meta holds them; no other channel
    /// has any.
    async fn list_templates(
        &self,
        channel: &Channel,
    ) -> Result<Vec<ombud_core::template::WaTemplate>, SendError> {
        Err(SendError::Permanent {
            reason: format!("{} channels have no templates", channel.kind().as_str()),
        })
    }

    /// Fetches a message's photo or voice note from the provider, reading
    /// at most `limit` bytes. Channels without media fetch nothing.
    async fn fetch_media(
        &self,
        channel: &Channel,
        _media: &ombud_core::media::MediaRef,
        _limit: u64,
    ) -> Result<media::Fetched, media::FetchError> {
        Err(media::FetchError::Refused(format!(
            "{} channels have no media to fetch",
            channel.kind().as_str()
        )))
    }

    /// Sends an approved WhatsApp template (outside the 24-hour window). No
    /// other channel has templates: they get the text.
    async fn send_template(
        &self,
        channel: &Channel,
        _to: &str,
        _template: &ombud_core::template::TemplateMessage,
        _idempotency_key: &str,
    ) -> Result<String, SendError> {
        Err(SendError::Permanent {
            reason: format!("{} channels send no templates", channel.kind().as_str()),
        })
    }
}

/// Sends on any channel by its kind; what the engine is given.
#[derive(Clone)]
pub struct Senders {
    pub whatsapp: whatsapp::WhatsAppSender,
    pub telegram: telegram::TelegramSender,
    pub webchat: webchat::WebchatSender,
}

impl Senders {
    /// The senders' HTTP settings. `connections`: how many sends may be in
    /// flight at once; as many idle connections are kept per host, so a busy
    /// outbox never reconnects per send. The engine's outbound guard turns it
    /// into the client (`OutboundPolicy::provider_client`).
    pub fn client_builder(timeout: Duration, connections: usize) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(connections.max(1))
            .user_agent(concat!("ombud/", env!("CARGO_PKG_VERSION")))
    }

    /// Senders on one guarded client; each send checks its channel's
    /// provider URL against `providers` again (the operator may have taken a
    /// host off the list since the channel was saved).
    pub fn new(http: reqwest::Client, providers: ProviderHosts) -> Self {
        Self {
            whatsapp: whatsapp::WhatsAppSender::new(http.clone(), providers.clone()),
            telegram: telegram::TelegramSender::new(http, providers),
            webchat: webchat::WebchatSender::default(),
        }
    }

    /// The sender of a channel's kind.
    fn of(&self, channel: &Channel) -> &dyn ChannelSender {
        match channel.kind() {
            ChannelKind::Whatsapp => &self.whatsapp,
            ChannelKind::Telegram => &self.telegram,
            ChannelKind::Webchat => &self.webchat,
        }
    }
}

#[async_trait]
impl ChannelSender for Senders {
    async fn send_text(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        self.of(channel)
            .send_text(channel, to, body, idempotency_key)
            .await
    }

    async fn send_choices(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        choices: &ombud_core::choice::Choices,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        self.of(channel)
            .send_choices(channel, to, body, choices, idempotency_key)
            .await
    }

    async fn list_templates(
        &self,
        channel: &Channel,
    ) -> Result<Vec<ombud_core::template::WaTemplate>, SendError> {
        self.whatsapp.list_templates(channel).await
    }

    async fn fetch_media(
        &self,
        channel: &Channel,
        media: &ombud_core::media::MediaRef,
        limit: u64,
    ) -> Result<media::Fetched, media::FetchError> {
        self.fetch(channel, media, limit).await
    }

    async fn send_template(
        &self,
        channel: &Channel,
        to: &str,
        template: &ombud_core::template::TemplateMessage,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        match channel.kind() {
            ChannelKind::Whatsapp => {
                self.whatsapp
                    .send_template(channel, to, template, idempotency_key)
                    .await
            }
            // No window there: the template's text goes as a message.
            _ => {
                self.send_text(channel, to, &template.text, idempotency_key)
                    .await
            }
        }
    }
}

/// The provider URL of a send, or why it may not be used any more.
pub(crate) fn provider_url(
    providers: &ProviderHosts,
    kind: ChannelKind,
    field: &'static str,
    url: &str,
) -> Result<String, SendError> {
    providers
        .check(kind, field, url)
        .map_err(|e| SendError::Permanent {
            reason: e.to_string(),
        })
}

/// What a provider's error says, made fit to store and show to a tenant:
/// one line, printable characters only, at most 160 of them. Only the text
/// of a provider's own JSON error is kept; anything else a server answers
/// (an HTML page, another service's body) is never repeated.
pub(crate) fn provider_said(text: &str) -> String {
    const MAX: usize = 160;
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() <= MAX {
        clean
    } else {
        let cut: String = clean.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

/// A short reason for a transport failure, without the URL (which may hold a
/// token): for the channels' senders, and whatever else reaches a URL a
/// tenant gave.
pub fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}
