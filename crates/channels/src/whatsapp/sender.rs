//! Outbound: `POST {graph_url}/{version}/{phone_number_id}/messages` with a bearer
//! token and the Cloud API's text message body. Our message id rides along as
//! `biz_opaque_callback_data` (echoed back in status webhooks) and as an
//! `Idempotency-Key` header for proxies that honour it.

use std::time::Duration;

use async_trait::async_trait;
use ombud_core::choice::Choices;
use ombud_core::template::TemplateMessage;
use ombud_core::{Channel, ChannelKind, ProviderHosts};
use serde::Deserialize;

use crate::{ChannelSender, SendError};

/// A pooled HTTP client for the Graph API; clone freely.
#[derive(Clone)]
pub struct WhatsAppSender {
    pub(crate) http: reqwest::Client,
    pub(crate) providers: ProviderHosts,
}

impl WhatsAppSender {
    /// On a client shared with the other channels' senders.
    pub fn new(http: reqwest::Client, providers: ProviderHosts) -> Self {
        Self { http, providers }
    }
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

#[derive(Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_data: Option<GraphErrorData>,
}

#[derive(Deserialize)]
struct GraphErrorData {
    #[serde(default)]
    details: Option<String>,
}

#[async_trait]
impl ChannelSender for WhatsAppSender {
    async fn send_text(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        let message = serde_json::json!({
            "type": "text",
            "text": {"preview_url": false, "body": body},
        });
        self.post(channel, to, message, idempotency_key).await
    }

    async fn send_template(
        &self,
        channel: &Channel,
        to: &str,
        template: &TemplateMessage,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        let message = serde_json::json!({"type": "template", "template": template.to_graph()});
        self.post(channel, to, message, idempotency_key).await
    }

    async fn send_choices(
        &self,
        channel: &Channel,
        to: &str,
        body: &str,
        choices: &Choices,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        let message = match interactive(body, choices) {
            Some(interactive) => {
                serde_json::json!({"type": "interactive", "interactive": interactive})
            }
            None => serde_json::json!({
                "type": "text",
                "text": {"preview_url": false, "body": choices.as_text(body)},
            }),
        };
        self.post(channel, to, message, idempotency_key).await
    }
}

/// Longest body of an interactive message, in characters.
const INTERACTIVE_BODY_CHARS: usize = 1024;

/// The Cloud API's interactive object offering `choices`: reply buttons for
/// up to three short ones, a list for more. None when the body is too long
/// for one (the choices then go as lines of text).
fn interactive(body: &str, choices: &Choices) -> Option<serde_json::Value> {
    if body.chars().count() > INTERACTIVE_BODY_CHARS {
        return None;
    }
    Some(if choices.fit_buttons() {
        let buttons: Vec<_> = choices
            .options
            .iter()
            .map(|c| serde_json::json!({"type": "reply", "reply": {"id": c.id, "title": c.title}}))
            .collect();
        serde_json::json!({"type": "button", "body": {"text": body}, "action": {"buttons": buttons}})
    } else {
        let rows: Vec<_> = choices
            .options
            .iter()
            .map(|c| serde_json::json!({"id": c.id, "title": c.title}))
            .collect();
        serde_json::json!({
            "type": "list",
            "body": {"text": body},
            "action": {"button": choices.button, "sections": [{"title": choices.button, "rows": rows}]},
        })
    })
}

impl WhatsAppSender {
    /// POSTs one message (`message`: its `type` and that type's object) and
    /// reads Meta's answer.
    async fn post(
        &self,
        channel: &Channel,
        to: &str,
        message: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        let Some(cfg) = channel.whatsapp() else {
            return Err(SendError::Permanent {
                reason: format!("{} is not a WhatsApp channel", channel.id),
            });
        };
        let graph_url = crate::provider_url(
            &self.providers,
            ChannelKind::Whatsapp,
            "graph_url",
            &cfg.graph_url,
        )?;
        let url = format!(
            "{graph_url}/{}/{}/messages",
            cfg.api_version, cfg.phone_number_id
        );
        let mut payload = serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "biz_opaque_callback_data": idempotency_key,
        });
        if let (Some(p), serde_json::Value::Object(m)) = (payload.as_object_mut(), message) {
            p.extend(m);
        }
        let request = self
            .http
            .post(&url)
            .bearer_auth(cfg.access_token.expose())
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/json")
            .body(payload.to_string());
        let (status, text) = graph_call(request).await?;
        let parsed: SendResponse =
            serde_json::from_str(&text).map_err(|_| SendError::Permanent {
                reason: format!("HTTP {status} with an unreadable body"),
            })?;
        parsed
            .messages
            .into_iter()
            .next()
            .map(|m| m.id)
            .ok_or_else(|| SendError::Permanent {
                reason: format!("HTTP {status} without a message id"),
            })
    }
}

/// Makes one Graph API request: the status and body of a success, or why it
/// failed and whether trying again can help (429 and 5xx, no sooner than
/// `Retry-After`; transport failures).
pub(crate) async fn graph_call(
    request: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, String), SendError> {
    let response = request.send().await.map_err(|e| SendError::Retryable {
        reason: format!("request failed: {}", crate::without_url(&e)),
        retry_after: None,
    })?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = response.text().await.map_err(|e| SendError::Retryable {
        reason: format!("reading the response failed: {}", crate::without_url(&e)),
        retry_after: None,
    })?;
    if status.is_success() {
        return Ok((status, text));
    }
    let reason = graph_reason(status.as_u16(), &text);
    if status.as_u16() == 429 || status.is_server_error() {
        Err(SendError::Retryable {
            reason,
            retry_after,
        })
    } else {
        Err(SendError::Permanent { reason })
    }
}

/// `HTTP 400: (#131030) Recipient phone number not in allowed list: details`,
/// shortened; a body that is not a Graph API error is not repeated.
pub(super) fn graph_reason(status: u16, body: &str) -> String {
    match serde_json::from_str::<GraphErrorBody>(body) {
        Ok(GraphErrorBody { error }) => {
            let mut said = String::new();
            if let Some(code) = error.code {
                said.push_str(&format!("(#{code}) "));
            }
            said.push_str(&error.message);
            if let Some(details) = error.error_data.and_then(|d| d.details) {
                said.push_str(": ");
                said.push_str(&details);
            }
            format!("HTTP {status}: {}", crate::provider_said(&said))
        }
        Err(_) => format!("HTTP {status} (the body was not a Graph API error)"),
    }
}

#[cfg(test)]
mod tests {
    use super::graph_reason;

    #[test]
    fn graph_errors_read_well() {
        let body = r#"{"error":{"message":"Recipient phone number not in allowed list","type":"OAuthException","code":131030,"error_data":{"messaging_product":"whatsapp","details":"Add it to the list"},"fbtrace_id":"A"}}"#;
        assert_eq!(
            graph_reason(400, body),
            "HTTP 400: (#131030) Recipient phone number not in allowed list: Add it to the list"
        );
        assert_eq!(
            graph_reason(502, "<html>bad gateway INTERNAL-SECRET-1"),
            "HTTP 502 (the body was not a Graph API error)"
        );
        let long = format!(
            r#"{{"error":{{"message":"line one\nline\u0007two {}","code":1}}}}"#,
            "x".repeat(500)
        );
        let reason = graph_reason(400, &long);
        assert!(
            reason.starts_with("HTTP 400: (#1) line one line two xxx"),
            "{reason}"
        );
        assert!(
            reason.chars().count() < 180 && reason.ends_with('…'),
            "{reason}"
        );
    }
}
