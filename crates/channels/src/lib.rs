//! Channels: verify and parse what a provider sends us, and send our replies back.

pub mod telegram;
pub mod text;
pub mod webchat;
pub mod whatsapp;

use async_trait::async_trait;
use ombud_core::{Channel, ChannelKind};
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
}

/// Sends on any channel by its kind; what the engine is given.
#[derive(Clone)]
pub struct Senders {
    pub whatsapp: whatsapp::WhatsAppSender,
    pub telegram: telegram::TelegramSender,
    pub webchat: webchat::WebchatSender,
}

impl Senders {
    /// `connections`: how many sends may be in flight at once; as many idle
    /// connections are kept per host, so a busy outbox never reconnects per send.
    pub fn new(timeout: Duration, connections: usize) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(connections.max(1))
            .user_agent(concat!("ombud/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            whatsapp: whatsapp::WhatsAppSender::with_client(http.clone()),
            telegram: telegram::TelegramSender::new(http),
            webchat: webchat::WebchatSender::default(),
        })
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
        let sender: &dyn ChannelSender = match channel.kind() {
            ChannelKind::Whatsapp => &self.whatsapp,
            ChannelKind::Telegram => &self.telegram,
            ChannelKind::Webchat => &self.webchat,
        };
        sender.send_text(channel, to, body, idempotency_key).await
    }
}

/// A short reason for a transport failure, without the URL (which may hold a
/// token).
pub(crate) fn without_url(e: &reqwest::Error) -> String {
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
