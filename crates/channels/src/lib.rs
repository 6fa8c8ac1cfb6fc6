//! Channels: verify and parse what a provider sends us, and send our replies back.

pub mod text;
pub mod whatsapp;

use async_trait::async_trait;
use ombud_core::Channel;
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
