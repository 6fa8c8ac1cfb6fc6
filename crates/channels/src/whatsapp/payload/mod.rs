//! The webhook payload Meta POSTs: `entry[].changes[].value` with `messages`,
//! `contacts` and `statuses`, several of each per request, and the template
//! news of the business account (`message_template_status_update`,
//! `template_category_update`) at the same URL. Unknown fields are ignored
//! (Meta adds them); unknown message types are kept as `Other`.

use chrono::{TimeZone, Utc};
use ombud_core::inbound::{InboundBatch, InboundMessage, StatusReport};
use ombud_core::template::TemplateUpdate;
use ombud_core::{DeliveryStatus, MessageKind};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not valid JSON: {0}")]
    Json(String),
    #[error("the body is not a WhatsApp webhook payload: {0}")]
    Shape(String),
}

/// What a webhook delivery holds for one phone number id.
#[derive(Debug, Default)]
pub struct WebhookContent {
    pub batch: InboundBatch,
    /// What Meta says of the business account's templates.
    pub templates: Vec<TemplateUpdate>,
    /// Changes addressed to another phone number id, or business account,
    /// than the channel's (ignored).
    pub foreign: usize,
}

#[derive(Deserialize)]
struct Payload {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    /// The business account's id.
    #[serde(default)]
    id: String,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Option<Value>,
}

#[derive(Deserialize)]
struct Value {
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    contacts: Vec<WaContact>,
    #[serde(default)]
    messages: Vec<WaMessage>,
    #[serde(default)]
    statuses: Vec<WaStatus>,
    // Template news.
    #[serde(default)]
    message_template_name: Option<String>,
    #[serde(default)]
    message_template_language: Option<String>,
    /// The new status: APPROVED, REJECTED, PAUSED…
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    new_category: Option<String>,
    #[serde(default)]
    correct_category: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    phone_number_id: String,
}

#[derive(Deserialize)]
struct WaContact {
    wa_id: String,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct WaMessage {
    from: String,
    id: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<Text>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Text {
    body: String,
}

#[derive(Deserialize)]
struct WaStatus {
    id: String,
    status: String,
    #[serde(default)]
    errors: Vec<WaError>,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
}

#[derive(Deserialize)]
struct WaError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: Option<String>,
}

/// Parses a verified webhook body for the channel whose phone number id is
/// given, of the business account `waba_id` (None: any).
pub fn parse_webhook(
    body: &[u8],
    phone_number_id: &str,
    waba_id: Option<&str>,
) -> Result<WebhookContent, ParseError> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ParseError::Json(e.to_string())
        } else {
            ParseError::Shape(e.to_string())
        }
    })?;
    if payload.object != "whatsapp_business_account" {
        return Err(ParseError::Shape(format!(
            "object is {:?}, expected \"whatsapp_business_account\"",
            payload.object
        )));
    }
    let mut out = WebhookContent::default();
    for entry in payload.entry {
        let account = waba_id.is_none_or(|w| w == entry.id);
        for change in entry.changes {
            let Some(value) = change.value else { continue };
            match change.field.as_str() {
                "messages" => messages(&mut out, value, phone_number_id),
                TEMPLATE_STATUS | TEMPLATE_CATEGORY if !account => out.foreign += 1,
                TEMPLATE_STATUS | TEMPLATE_CATEGORY => {
                    out.templates.extend(template_news(&change.field, value))
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

const TEMPLATE_STATUS: &str = "message_template_status_update";
const TEMPLATE_CATEGORY: &str = "template_category_update";

/// The messages and status reports of one change for `phone_number_id`.
fn messages(out: &mut WebhookContent, value: Value, phone_number_id: &str) {
    let for_us = value
        .metadata
        .as_ref()
        .map(|m| m.phone_number_id == phone_number_id)
        .unwrap_or(false);
    if !for_us {
        out.foreign += 1;
        return;
    }
    for m in value.messages {
        let profile_name = value
            .contacts
            .iter()
            .find(|c| c.wa_id == m.from)
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.clone());
        out.batch.messages.push(inbound(m, profile_name));
    }
    for s in value.statuses {
        if let Some(report) = status(s) {
            out.batch.statuses.push(report);
        }
    }
}

/// A template's new status or category; None without its name and language.
fn template_news(field: &str, v: Value) -> Option<TemplateUpdate> {
    let upper = |s: Option<String>| s.map(|s| s.to_ascii_uppercase());
    let (status, category) = if field == TEMPLATE_STATUS {
        (upper(v.event), None)
    } else {
        (None, upper(v.new_category.or(v.correct_category)))
    };
    Some(TemplateUpdate {
        name: v.message_template_name?,
        language: v.message_template_language?,
        status,
        category,
    })
}

fn inbound(m: WaMessage, profile_name: Option<String>) -> InboundMessage {
    let kind = MessageKind::parse(&m.kind);
    let tapped = tapped(kind, &m.rest);
    let media = media_ref(kind, &m.rest);
    let body = match (&kind, m.text, &tapped) {
        (MessageKind::Text, Some(t), _) => t.body,
        (_, _, Some((_, title))) => title.clone(),
        // A photo's or voice note's words are its caption; the media is
        // fetched and shown for itself.
        _ if media.is_some() => caption(kind, &m.rest),
        _ => describe(kind, &m.rest),
    };
    InboundMessage {
        from: m.from,
        profile_name,
        provider_id: m.id,
        kind,
        body,
        // A tapped button's id, or a location pin's place.
        payload: tapped
            .map(|(id, _)| id)
            .or_else(|| shared_location(kind, &m.rest).map(|l| l.to_payload())),
        sent_at: m
            .timestamp
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single()),
        media,
    }
}

fn caption(kind: MessageKind, rest: &serde_json::Map<String, serde_json::Value>) -> String {
    rest.get(kind.as_str())
        .and_then(|p| p.get("caption"))
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// A photo's or voice note's media object: `image` or `audio` with its
/// `id` (fetched later through `GET /{media-id}`), `mime_type` and
/// `sha256`.
fn media_ref(
    kind: MessageKind,
    rest: &serde_json::Map<String, serde_json::Value>,
) -> Option<ombud_core::media::MediaRef> {
    if !ombud_core::media::fetched(kind) {
        return None;
    }
    let part = rest.get(kind.as_str())?;
    let text = |name: &str| part.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Some(ombud_core::media::MediaRef {
        id: text("id").filter(|id| !id.is_empty() && id.len() <= 200)?,
        mime_type: text("mime_type"),
        sha256: text("sha256"),
        size: None,
    })
}

/// A location message's pin: `location.latitude`, `longitude`, and the
/// `name` and `address` the phone added, if any.
fn shared_location(
    kind: MessageKind,
    rest: &serde_json::Map<String, serde_json::Value>,
) -> Option<ombud_core::geo::SharedLocation> {
    if kind != MessageKind::Location {
        return None;
    }
    let shared: ombud_core::geo::SharedLocation =
        serde_json::from_value(rest.get("location")?.clone()).ok()?;
    shared.point().map(|_| shared)
}

/// The id and title of a reply button the citizen tapped: an interactive
/// message's `button_reply` or `list_reply`, or a template's quick reply
/// (`button`, whose `payload` is the id).
fn tapped(
    kind: MessageKind,
    rest: &serde_json::Map<String, serde_json::Value>,
) -> Option<(String, String)> {
    let text =
        |v: &serde_json::Value, name: &str| v.get(name).and_then(|s| s.as_str()).map(str::to_owned);
    match kind {
        MessageKind::Interactive => {
            let part = rest.get("interactive")?;
            let reply = part
                .get("button_reply")
                .or_else(|| part.get("list_reply"))?;
            Some((text(reply, "id")?, text(reply, "title").unwrap_or_default()))
        }
        MessageKind::Button => {
            let part = rest.get("button")?;
            Some((
                text(part, "payload")?,
                text(part, "text").unwrap_or_default(),
            ))
        }
        _ => None,
    }
}

/// A readable stand-in for a non-text message, for staff and transcripts.
fn describe(kind: MessageKind, rest: &serde_json::Map<String, serde_json::Value>) -> String {
    let part = rest.get(kind.as_str());
    let field = |name: &str| {
        part.and_then(|p| p.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    match kind {
        MessageKind::Location => {
            let lat = part
                .and_then(|p| p.get("latitude"))
                .cloned()
                .unwrap_or_default();
            let lon = part
                .and_then(|p| p.get("longitude"))
                .cloned()
                .unwrap_or_default();
            let name = field("name")
                .or_else(|| field("address"))
                .unwrap_or_default();
            format!("[location {lat},{lon}] {name}").trim().to_owned()
        }
        MessageKind::Reaction => format!("[reaction {}]", field("emoji").unwrap_or_default()),
        MessageKind::Button => field("text").unwrap_or_else(|| "[button]".into()),
        _ => match field("caption") {
            Some(c) => format!("[{}] {c}", kind.as_str()),
            None => format!("[{}]", kind.as_str()),
        },
    }
}

fn status(s: WaStatus) -> Option<StatusReport> {
    let status = match s.status.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        _ => return None,
    };
    let error = s.errors.into_iter().next().map(|e| {
        let text = e
            .error_data
            .and_then(|d| d.details)
            .or(e.message)
            .or(e.title)
            .unwrap_or_default();
        match e.code {
            Some(code) => format!("{code}: {text}"),
            None => text,
        }
    });
    Some(StatusReport {
        provider_id: s.id,
        status,
        error,
        callback_data: s.biz_opaque_callback_data,
    })
}

#[cfg(test)]
mod tests;
