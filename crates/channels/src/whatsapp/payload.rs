//! The webhook payload Meta POSTs: `entry[].changes[].value` with `messages`,
//! `contacts` and `statuses`, several of each per request. Unknown fields are
//! ignored (Meta adds them); unknown message types are kept as `Other`.

use chrono::{TimeZone, Utc};
use ombud_core::inbound::{InboundBatch, InboundMessage, StatusReport};
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
    /// Changes addressed to another phone number id than the channel's (ignored).
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

/// Parses a verified webhook body for the channel whose phone number id is given.
pub fn parse_webhook(body: &[u8], phone_number_id: &str) -> Result<WebhookContent, ParseError> {
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
    for change in payload.entry.into_iter().flat_map(|e| e.changes) {
        let Some(value) = change.value else { continue };
        if change.field != "messages" {
            continue;
        }
        let for_us = value
            .metadata
            .as_ref()
            .map(|m| m.phone_number_id == phone_number_id)
            .unwrap_or(false);
        if !for_us {
            out.foreign += 1;
            continue;
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
    Ok(out)
}

fn inbound(m: WaMessage, profile_name: Option<String>) -> InboundMessage {
    let kind = MessageKind::parse(&m.kind);
    let body = match (&kind, m.text) {
        (MessageKind::Text, Some(t)) => t.body,
        _ => describe(kind, &m.rest),
    };
    InboundMessage {
        from: m.from,
        profile_name,
        provider_id: m.id,
        kind,
        body,
        sent_at: m
            .timestamp
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single()),
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
        let out = parse_webhook(&body, PHONE).unwrap();
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
        let out = parse_webhook(v.to_string().as_bytes(), PHONE).unwrap();
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
            parse_webhook(b"{nope", PHONE),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_webhook(b"[]", PHONE),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            parse_webhook(br#"{"object":"page","entry":[]}"#, PHONE),
            Err(ParseError::Shape(_))
        ));
        assert!(matches!(
            parse_webhook(
                br#"{"object":"whatsapp_business_account","entry":"x"}"#,
                PHONE
            ),
            Err(ParseError::Shape(_))
        ));
    }
}
