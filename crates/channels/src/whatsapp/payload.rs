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
    let body = match (&kind, m.text, &tapped) {
        (MessageKind::Text, Some(t), _) => t.body,
        (_, _, Some((_, title))) => title.clone(),
        _ => describe(kind, &m.rest),
    };
    InboundMessage {
        from: m.from,
        profile_name,
        provider_id: m.id,
        kind,
        body,
        payload: tapped.map(|(id, _)| id),
        sent_at: m
            .timestamp
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single()),
    }
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
mod tests {
    use super::*;

    const PHONE: &str = "106540352242922";

    fn payload(value: serde_json::Value) -> Vec<u8> {
        serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn text_messages_with_profile_names() {
        let body = payload(serde_json::json!({
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE},
            "contacts": [{"profile": {"name": "Asha"}, "wa_id": "919800000001"}],
            "messages": [
                {"from": "919800000001", "id": "wamid.A", "timestamp": "1763856000",
                 "type": "text", "text": {"body": "street light broken"}},
                {"from": "919800000001", "id": "wamid.B", "timestamp": "1763856001",
                 "type": "image", "image": {"caption": "see", "mime_type": "image/jpeg", "id": "1"}},
                {"from": "919800000001", "id": "wamid.C", "timestamp": "1763856002",
                 "type": "brand_new_type", "brand_new_type": {}}
            ]
        }));
        let out = parse_webhook(&body, PHONE, None).unwrap();
        let m = &out.batch.messages;
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].body, "street light broken");
        assert_eq!(m[0].profile_name.as_deref(), Some("Asha"));
        assert_eq!(m[0].kind, MessageKind::Text);
        assert_eq!(m[1].kind, MessageKind::Image);
        assert_eq!(m[1].body, "[image] see");
        assert_eq!(m[2].kind, MessageKind::Other);
        assert_eq!(m[0].sent_at.map(|t| t.timestamp()), Some(1763856000));
    }

    #[test]
    fn taps_on_buttons_lists_and_template_quick_replies_carry_their_id() {
        let body = payload(serde_json::json!({
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE},
            "messages": [
                {"from": "919800000001", "id": "wamid.R1", "timestamp": "1763856000",
                 "context": {"from": "15550001111", "id": "wamid.OUT1"},
                 "type": "interactive",
                 "interactive": {"type": "button_reply", "button_reply": {"id": "solved:no", "title": "No, not solved"}}},
                {"from": "919800000001", "id": "wamid.R2", "timestamp": "1763856001",
                 "type": "interactive",
                 "interactive": {"type": "list_reply", "list_reply": {"id": "rate:4", "title": "4 ★ Good", "description": ""}}},
                {"from": "919800000001", "id": "wamid.R3", "timestamp": "1763856002",
                 "context": {"from": "15550001111", "id": "wamid.OUT2"},
                 "type": "button", "button": {"payload": "rate:2", "text": "Poor"}},
                {"from": "919800000001", "id": "wamid.R4", "timestamp": "1763856003",
                 "type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {}}}
            ]
        }));
        let m = parse_webhook(&body, PHONE, None).unwrap().batch.messages;
        let got: Vec<_> = m
            .iter()
            .map(|m| (m.kind, m.payload.as_deref(), m.body.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    MessageKind::Interactive,
                    Some("solved:no"),
                    "No, not solved"
                ),
                (MessageKind::Interactive, Some("rate:4"), "4 ★ Good"),
                (MessageKind::Button, Some("rate:2"), "Poor"),
                (MessageKind::Interactive, None, "[interactive]"),
            ]
        );
        assert!(m.iter().all(|m| m.kind != MessageKind::Text));
    }

    #[test]
    fn statuses_with_errors_and_foreign_numbers() {
        let mut v: serde_json::Value = serde_json::from_slice(&payload(serde_json::json!({
            "metadata": {"phone_number_id": PHONE},
            "statuses": [
                {"id": "wamid.X", "status": "delivered", "timestamp": "1", "recipient_id": "9198"},
                {"id": "wamid.Y", "status": "failed", "timestamp": "1", "recipient_id": "9198",
                 "biz_opaque_callback_data": "msg_1",
                 "errors": [{"code": 131047, "title": "Re-engagement message",
                             "error_data": {"details": "More than 24 hours have passed"}}]}
            ]
        })))
        .unwrap();
        v["entry"].as_array_mut().unwrap().push(serde_json::json!({"id": "W2", "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "other"},
             "messages": [{"from": "1", "id": "wamid.Z", "type": "text", "text": {"body": "x"}}]}}
        ]}));
        let out = parse_webhook(v.to_string().as_bytes(), PHONE, None).unwrap();
        assert_eq!(out.foreign, 1);
        assert!(out.batch.messages.is_empty());
        let s = &out.batch.statuses;
        assert_eq!(s[0].status, DeliveryStatus::Delivered);
        assert_eq!(s[1].status, DeliveryStatus::Failed);
        assert_eq!(
            s[1].error.as_deref(),
            Some("131047: More than 24 hours have passed")
        );
        assert_eq!(s[1].callback_data.as_deref(), Some("msg_1"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            parse_webhook(b"{nope", PHONE, None),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_webhook(b"[]", PHONE, None),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            parse_webhook(br#"{"object":"page","entry":[]}"#, PHONE, None),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            parse_webhook(
                br#"{"object":"whatsapp_business_account","entry":"x"}"#,
                PHONE,
                None
            ),
            Err(ParseError::Shape(_))
        ));
    }

    #[test]
    fn template_status_and_category_news_of_this_account_is_read() {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1020", "time": 1764000000, "changes": [
                {"field": "message_template_status_update", "value": {
                    "event": "PAUSED", "message_template_id": 594425479261596_i64,
                    "message_template_name": "complaint_status", "message_template_language": "hi",
                    "reason": null, "other_info": {"title": "FIRST_PAUSE"}}},
                {"field": "template_category_update", "value": {
                    "message_template_id": 594425479261596_i64,
                    "message_template_name": "complaint_status", "message_template_language": "en_US",
                    "previous_category": "UTILITY", "new_category": "MARKETING"}},
                {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
            ]}, {"id": "9999", "changes": [
                {"field": "message_template_status_update", "value": {
                    "event": "APPROVED", "message_template_name": "elsewhere",
                    "message_template_language": "en"}}
            ]}]
        })
        .to_string();
        let out = parse_webhook(body.as_bytes(), PHONE, Some("1020")).unwrap();
        let news = &out.templates;
        assert_eq!(news.len(), 2, "{news:?}");
        assert_eq!(news[0].status.as_deref(), Some("PAUSED"));
        assert_eq!(news[0].language, "hi");
        assert_eq!(news[1].category.as_deref(), Some("MARKETING"));
        assert_eq!(news[1].status, None);
        assert_eq!(out.foreign, 1, "another account's news is left alone");
        assert!(out.batch.messages.is_empty());
        let any = parse_webhook(body.as_bytes(), PHONE, None).unwrap();
        assert_eq!(any.templates.len(), 3);
    }
}
