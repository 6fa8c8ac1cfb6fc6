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

/// The parts of an `Update` Ombud reads: a message, or a tap on an inline
/// keyboard's button (`callback_query`); the rest (`update_id`, edits…) is
/// ignored.
#[derive(Deserialize)]
struct Update {
    message: Option<TgMessage>,
    callback_query: Option<CallbackQuery>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    id: String,
    from: User,
    /// The message whose button was tapped (absent when it is too old).
    message: Option<TappedMessage>,
    data: Option<String>,
}

#[derive(Deserialize)]
struct TappedMessage {
    date: i64,
    chat: Chat,
    reply_markup: Option<Markup>,
}

#[derive(Deserialize)]
struct Markup {
    #[serde(default)]
    inline_keyboard: Vec<Vec<KeyboardButton>>,
}

#[derive(Deserialize)]
struct KeyboardButton {
    text: String,
    callback_data: Option<String>,
}

/// What an update holds: its messages, and the callback query to answer
/// (Telegram shows a spinner on the tapped button until it is answered;
/// the webhook's response answers it).
#[derive(Debug, Default)]
pub struct ParsedUpdate {
    pub batch: InboundBatch,
    pub callback_query_id: Option<String>,
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

/// The messages one update holds (none for edits, channel posts and other
/// updates Ombud does not answer). A message is keyed `<chat id>:<message
/// id>`, unique per bot, so a redelivered update is a duplicate; a tap on a
/// button is a message keyed `<chat id>:cb<callback query id>`, its
/// `payload` the button's `callback_data` and its text the button's.
pub fn parse_update(body: &[u8]) -> Result<ParsedUpdate, String> {
    let update: Update = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = ParsedUpdate::default();
    if let Some(q) = update.callback_query {
        out.callback_query_id = Some(q.id.clone());
        if let Some(m) = tap(q) {
            out.batch.messages.push(m);
        }
        return Ok(out);
    }
    let Some(m) = update.message else {
        return Ok(out);
    };
    if m.from.as_ref().is_some_and(|u| u.is_bot) {
        return Ok(out);
    }
    let mut payload = None;
    let (kind, body) = if let Some(text) = m.text {
        (MessageKind::Text, text)
    } else if let Some(l) = m.location {
        let shared = ombud_core::geo::SharedLocation {
            latitude: l.latitude,
            longitude: l.longitude,
            name: None,
            address: None,
        };
        payload = shared.point().map(|_| shared.to_payload());
        (
            MessageKind::Location,
            format!("[location] {}", shared.label()),
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
    let media = match kind {
        // The sizes of a photo come smallest first: the largest is last.
        MessageKind::Image => m
            .photo
            .as_ref()
            .and_then(|p| p.as_array())
            .and_then(|sizes| sizes.last())
            .and_then(file_ref),
        MessageKind::Audio => m.voice.as_ref().or(m.audio.as_ref()).and_then(file_ref),
        _ => None,
    };
    out.batch.messages.push(InboundMessage {
        from: m.chat.id.to_string(),
        profile_name: m.from.and_then(User::name),
        provider_id: format!("{}:{}", m.chat.id, m.message_id),
        kind,
        body,
        payload,
        sent_at: Utc.timestamp_opt(m.date, 0).single(),
        media,
    });
    Ok(out)
}

/// A file's `file_id` (fetched later through `getFile`), type and size.
fn file_ref(file: &serde_json::Value) -> Option<ombud_core::media::MediaRef> {
    let id = file.get("file_id")?.as_str()?;
    (!id.is_empty() && id.len() <= 200).then(|| ombud_core::media::MediaRef {
        id: id.to_owned(),
        mime_type: file
            .get("mime_type")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        sha256: None,
        size: file.get("file_size").and_then(|v| v.as_u64()),
    })
}

/// A tap on an inline keyboard's button, as a message in the chat; None
/// without the message or its data, or from a bot.
fn tap(q: CallbackQuery) -> Option<InboundMessage> {
    let data = q.data?;
    let m = q.message?;
    if q.from.is_bot {
        return None;
    }
    let title = m
        .reply_markup
        .into_iter()
        .flat_map(|k| k.inline_keyboard)
        .flatten()
        .find(|b| b.callback_data.as_deref() == Some(data.as_str()))
        .map_or_else(|| data.clone(), |b| b.text);
    Some(InboundMessage {
        from: m.chat.id.to_string(),
        profile_name: q.from.name(),
        provider_id: format!("{}:cb{}", m.chat.id, q.id),
        kind: MessageKind::Interactive,
        body: title,
        payload: Some(data),
        // When the tapped message was sent: the tap has no time of its own.
        sent_at: Utc.timestamp_opt(m.date, 0).single(),
        media: None,
    })
}

impl User {
    fn name(self) -> Option<String> {
        let name = [self.first_name, self.last_name]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            self.username
        } else {
            Some(name)
        }
    }
}

/// Sends through the Bot API; clone freely.
#[derive(Clone)]
pub struct TelegramSender {
    pub(crate) http: reqwest::Client,
    pub(crate) providers: ProviderHosts,
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
        self.send_message(channel, to, body, None).await
    }

    /// An inline keyboard, one button a row so that every title shows whole.
    async fn send_choices(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        choices: &ombud_core::choice::Choices,
        _idempotency_key: &str,
    ) -> Result<String, SendError> {
        let rows: Vec<_> = choices
            .options
            .iter()
            .map(|c| serde_json::json!([{"text": c.title, "callback_data": c.id}]))
            .collect();
        let markup = serde_json::json!({"inline_keyboard": rows});
        self.send_message(channel, to, body, Some(markup)).await
    }
}

impl TelegramSender {
    /// `sendMessage`, with a keyboard when given.
    async fn send_message(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        reply_markup: Option<serde_json::Value>,
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
        let mut message = serde_json::json!({"chat_id": chat_id, "text": body});
        if let Some(markup) = reply_markup {
            message["reply_markup"] = markup;
        }
        let response = self
            .http
            .post(&url)
            .json(&message)
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
        let batch = parse_update(body).unwrap().batch;
        let m = &batch.messages[0];
        assert_eq!(
            (m.from.as_str(), m.provider_id.as_str(), m.body.as_str()),
            ("4242", "4242:7", "pothole on MG road")
        );
        assert_eq!(m.profile_name.as_deref(), Some("Asha K"));
        assert_eq!(m.kind, MessageKind::Text);
    }

    #[test]
    fn a_location_is_a_pin_with_its_point() {
        let body = br#"{"update_id": 14, "message": {"message_id": 9, "date": 1764633600,
            "chat": {"id": 4242}, "location": {"latitude": 18.5195, "longitude": 73.8553}}}"#;
        let m = &parse_update(body).unwrap().batch.messages[0];
        assert_eq!(m.kind, MessageKind::Location);
        let shared = ombud_core::geo::SharedLocation::from_payload(m.payload.as_deref().unwrap());
        assert_eq!(shared.unwrap().label(), "18.519500, 73.855300");
        assert_eq!(m.body, "[location] 18.519500, 73.855300");
    }

    #[test]
    fn photos_keep_their_caption_and_other_updates_hold_nothing() {
        let photo = br#"{"update_id": 11, "message": {"message_id": 8, "date": 1764633600,
            "chat": {"id": 1}, "photo": [{"file_id": "x"}], "caption": "this one"}}"#;
        let m = &parse_update(photo).unwrap().batch.messages[0];
        assert_eq!((m.kind, m.body.as_str()), (MessageKind::Image, "this one"));
        let edit = br#"{"update_id": 12, "edited_message": {"message_id": 8, "date": 1, "chat": {"id": 1}, "text": "x"}}"#;
        assert!(parse_update(edit).unwrap().batch.messages.is_empty());
        assert!(parse_update(b"{\"message\": 3}").is_err());
    }

    #[test]
    fn a_tap_on_an_inline_button_is_a_message_with_its_data_and_title() {
        let body = r#"{"update_id": 13, "callback_query": {"id": "4382bfdwdsb323b2d9",
            "from": {"id": 4242, "is_bot": false, "first_name": "Asha"},
            "message": {"message_id": 30, "date": 1764633600, "chat": {"id": 4242, "type": "private"},
                "from": {"id": 1, "is_bot": true, "first_name": "Office"},
                "text": "How satisfied are you?",
                "reply_markup": {"inline_keyboard": [[{"text": "5 ★ Very good", "callback_data": "rate:5"}],
                                                     [{"text": "1 ★ Very poor", "callback_data": "rate:1"}]]}},
            "chat_instance": "-1", "data": "rate:1"}}"#;
        let parsed = parse_update(body.as_bytes()).unwrap();
        assert_eq!(
            parsed.callback_query_id.as_deref(),
            Some("4382bfdwdsb323b2d9")
        );
        let m = &parsed.batch.messages[0];
        assert_eq!(
            (m.from.as_str(), m.provider_id.as_str(), m.kind),
            (
                "4242",
                "4242:cb4382bfdwdsb323b2d9",
                MessageKind::Interactive
            )
        );
        assert_eq!(
            (m.payload.as_deref(), m.body.as_str()),
            (Some("rate:1"), "1 ★ Very poor")
        );
        // A query without its message (too old) is answered, and holds nothing.
        let old = br#"{"update_id": 14, "callback_query": {"id": "q2",
            "from": {"id": 4242, "is_bot": false}, "chat_instance": "-1", "data": "rate:1"}}"#;
        let parsed = parse_update(old).unwrap();
        assert!(parsed.batch.messages.is_empty());
        assert_eq!(parsed.callback_query_id.as_deref(), Some("q2"));
    }

    #[test]
    fn the_secret_token_must_match() {
        assert!(verify_secret("s3cret", Some("s3cret")).is_ok());
        assert!(verify_secret("s3cret", Some("s3creT")).is_err());
        assert!(verify_secret("s3cret", None).is_err());
    }
}
