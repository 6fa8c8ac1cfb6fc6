//! Telegram's Bot API. Inbound: Telegram POSTs each `Update` to the webhook
//! given to `setWebhook`, with the `secret_token` given there in
//! `X-Telegram-Bot-Api-Secret-Token`. Outbound: `POST {api_url}/bot{token}/sendMessage`
//! with `chat_id` and `text`, answered `{"ok": true, "result": Message}` or
//! `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use ombud_core::inbound::{InboundBatch, InboundMessage};
use ombud_core::{Channel, ChannelKind, MessageKind, ProviderHosts};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::{ChannelSender, SendError};

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Whether the update carries the channel's secret token.
pub fn verify_secret(expected: &str, given: Option<&str>) -> Result<(), &'static str> {
    match given {
        None => Err("the X-Telegram-Bot-Api-Secret-Token header is missing"),
        Some(g) if bool::from(g.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        Some(_) => Err(
            "the X-Telegram-Bot-Api-Secret-Token header does not match the channel's secret token",
        ),
    }
}

/// The parts of an `Update` Ombud reads; the rest (`update_id`, edits,
/// callback queries…) is ignored.
#[derive(Deserialize)]
struct Update {
    message: Option<TgMessage>,
}

#[derive(Deserialize)]
struct TgMessage {
    message_id: i64,
    date: i64,
    chat: Chat,
    from: Option<User>,
    text: Option<String>,
    caption: Option<String>,
    photo: Option<serde_json::Value>,
    voice: Option<serde_json::Value>,
    audio: Option<serde_json::Value>,
    video: Option<serde_json::Value>,
    document: Option<serde_json::Value>,
    sticker: Option<serde_json::Value>,
    location: Option<Location>,
    contact: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Chat {
    id: i64,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    is_bot: bool,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
}

/// The messages one update holds (none for edits, channel posts, callback
/// queries and other updates Ombud does not answer). A message is keyed
/// `<chat id>:<message id>`, unique per bot, so a redelivered update is a
/// duplicate.
pub fn parse_update(body: &[u8]) -> Result<InboundBatch, String> {
    let update: Update = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut batch = InboundBatch::default();
    let Some(m) = update.message else {
        return Ok(batch);
    };
    if m.from.as_ref().is_some_and(|u| u.is_bot) {
        return Ok(batch);
    }
    let (kind, body) = if let Some(text) = m.text {
        (MessageKind::Text, text)
    } else if let Some(l) = m.location {
        (
            MessageKind::Location,
            format!("{}, {}", l.latitude, l.longitude),
        )
    } else {
        let kind = if m.photo.is_some() {
            MessageKind::Image
        } else if m.voice.is_some() || m.audio.is_some() {
            MessageKind::Audio
        } else if m.video.is_some() {
            MessageKind::Video
        } else if m.document.is_some() {
            MessageKind::Document
        } else if m.sticker.is_some() {
            MessageKind::Sticker
        } else if m.contact.is_some() {
            MessageKind::Contacts
        } else {
            MessageKind::Other
        };
        (kind, m.caption.unwrap_or_default())
    };
    let profile_name = m.from.and_then(|u| {
        let name = [u.first_name, u.last_name]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            u.username
        } else {
            Some(name)
        }
    });
    batch.messages.push(InboundMessage {
        from: m.chat.id.to_string(),
        profile_name,
        provider_id: format!("{}:{}", m.chat.id, m.message_id),
        kind,
        body,
        sent_at: Utc.timestamp_opt(m.date, 0).single(),
    });
    Ok(batch)
}

/// Sends through the Bot API; clone freely.
#[derive(Clone)]
pub struct TelegramSender {
    http: reqwest::Client,
    providers: ProviderHosts,
}

impl TelegramSender {
    pub fn new(http: reqwest::Client, providers: ProviderHosts) -> Self {
        Self { http, providers }
    }
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    result: Option<SentMessage>,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct SentMessage {
    message_id: i64,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

#[async_trait]
impl ChannelSender for TelegramSender {
    async fn send_text(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        _idempotency_key: &str,
    ) -> Result<String, SendError> {
        let Some(cfg) = channel.telegram() else {
            return Err(SendError::Permanent {
                reason: format!("{} is not a Telegram channel", channel.id),
            });
        };
        let api_url = crate::provider_url(
            &self.providers,
            ChannelKind::Telegram,
            "api_url",
            &cfg.api_url,
        )?;
        // The token is in the path: errors never show the URL.
        let url = format!("{api_url}/bot{}/sendMessage", cfg.bot_token.expose());
        let chat_id: serde_json::Value = to
            .parse::<i64>()
            .map_or_else(|_| serde_json::json!(to), serde_json::Value::from);
        let response = self
            .http
            .post(&url)
            .json(&serde_json::json!({"chat_id": chat_id, "text": body}))
            .send()
            .await
            .map_err(|e| SendError::Retryable {
                reason: format!("request failed: {}", crate::without_url(&e)),
                retry_after: None,
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| SendError::Retryable {
            reason: format!("reading the response failed: {}", crate::without_url(&e)),
            retry_after: None,
        })?;
        let answer: Option<Answer> = serde_json::from_str(&text).ok();
        if let Some(Answer {
            ok: true,
            result: Some(sent),
            ..
        }) = &answer
        {
            return Ok(format!("{to}:{}", sent.message_id));
        }
        let code = answer
            .as_ref()
            .and_then(|a| a.error_code)
            .unwrap_or(status.as_u16());
        let reason = match answer.as_ref().and_then(|a| a.description.as_deref()) {
            Some(said) => format!("HTTP {code}: {}", crate::provider_said(said)),
            None => format!("HTTP {code} (the body was not a Bot API answer)"),
        };
        if code == 429 || (500..600).contains(&code) {
            let retry_after = answer
                .and_then(|a| a.parameters)
                .and_then(|p| p.retry_after)
                .map(Duration::from_secs);
            Err(SendError::Retryable {
                reason,
                retry_after,
            })
        } else {
            Err(SendError::Permanent { reason })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_update_is_one_message_keyed_by_chat_and_message() {
        let body = br#"{"update_id": 10, "message": {"message_id": 7, "date": 1764633600,
            "chat": {"id": 4242, "type": "private", "first_name": "Asha"},
            "from": {"id": 4242, "is_bot": false, "first_name": "Asha", "last_name": "K", "language_code": "en"},
            "text": "pothole on MG road"}}"#;
        let batch = parse_update(body).unwrap();
        let m = &batch.messages[0];
        assert_eq!(
            (m.from.as_str(), m.provider_id.as_str(), m.body.as_str()),
            ("4242", "4242:7", "pothole on MG road")
        );
        assert_eq!(m.profile_name.as_deref(), Some("Asha K"));
        assert_eq!(m.kind, MessageKind::Text);
    }

    #[test]
    fn photos_keep_their_caption_and_other_updates_hold_nothing() {
        let photo = br#"{"update_id": 11, "message": {"message_id": 8, "date": 1764633600,
            "chat": {"id": 1}, "photo": [{"file_id": "x"}], "caption": "this one"}}"#;
        let m = &parse_update(photo).unwrap().messages[0];
        assert_eq!((m.kind, m.body.as_str()), (MessageKind::Image, "this one"));
        let edit = br#"{"update_id": 12, "edited_message": {"message_id": 8, "date": 1, "chat": {"id": 1}, "text": "x"}}"#;
        assert!(parse_update(edit).unwrap().messages.is_empty());
        assert!(parse_update(b"{\"message\": 3}").is_err());
    }

    #[test]
    fn the_secret_token_must_match() {
        assert!(verify_secret("s3cret", Some("s3cret")).is_ok());
        assert!(verify_secret("s3cret", Some("s3creT")).is_err());
        assert!(verify_secret("s3cret", None).is_err());
    }
}
