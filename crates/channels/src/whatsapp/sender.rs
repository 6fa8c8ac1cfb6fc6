//! Outbound: `POST {graph_url}/{version}/{phone_number_id}/messages` with a bearer
//! token and the Cloud API's text message body. Our message id rides along as
//! `biz_opaque_callback_data` (echoed back in status webhooks) and as an
//! `Idempotency-Key` header for proxies that honour it.

use std::time::Duration;

use async_trait::async_trait;
use ombud_core::Channel;
use serde::Deserialize;

use crate::{ChannelSender, SendError};

/// A pooled HTTP client for the Graph API; clone freely.
#[derive(Clone)]
pub struct WhatsAppSender {
    http: reqwest::Client,
}

impl WhatsAppSender {
    /// On a client shared with the other channels' senders.
    pub fn with_client(http: reqwest::Client) -> Self {
        Self { http }
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
        let Some(cfg) = channel.whatsapp() else {
            return Err(SendError::Permanent {
                reason: format!("{} is not a WhatsApp channel", channel.id),
            });
        };
        let url = format!(
            "{}/{}/{}/messages",
            cfg.graph_url.trim_end_matches('/'),
            cfg.api_version,
            cfg.phone_number_id
        );
        let payload = serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"preview_url": false, "body": body},
            "biz_opaque_callback_data": idempotency_key,
        });
        let response = self
            .http
            .post(&url)
            .bearer_auth(cfg.access_token.expose())
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .map_err(|e| SendError::Retryable {
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
            let parsed: SendResponse =
                serde_json::from_str(&text).map_err(|_| SendError::Permanent {
                    reason: format!("HTTP {status} with an unreadable body"),
                })?;
            return parsed
                .messages
                .into_iter()
                .next()
                .map(|m| m.id)
                .ok_or_else(|| SendError::Permanent {
                    reason: format!("HTTP {status} without a message id"),
                });
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
}

/// `HTTP 400: (#131030) Recipient phone number not in allowed list: details`.
fn graph_reason(status: u16, body: &str) -> String {
    match serde_json::from_str::<GraphErrorBody>(body) {
        Ok(GraphErrorBody { error }) => {
            let mut reason = format!("HTTP {status}: ");
            if let Some(code) = error.code {
                reason.push_str(&format!("(#{code}) "));
            }
            reason.push_str(&error.message);
            if let Some(details) = error.error_data.and_then(|d| d.details) {
                reason.push_str(": ");
                reason.push_str(&details);
            }
            reason
        }
        Err(_) => {
            let snippet: String = body.chars().take(200).collect();
            format!("HTTP {status}: {snippet}")
        }
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
            graph_reason(502, "<html>bad gateway"),
            "HTTP 502: <html>bad gateway"
        );
    }
}
