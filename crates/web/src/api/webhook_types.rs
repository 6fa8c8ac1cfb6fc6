//! What the webhook routes read and write.

use chrono::{DateTime, Utc};
use ombud_core::WebhookEndpoint;
use ombud_store::{WebhookAttempt, WebhookDelivery, WebhookStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A webhook endpoint (its secret is read apart, at `/secret`).
#[derive(Serialize, ToSchema)]
pub struct Endpoint {
    #[schema(example = "whe_01JD8Y3M6V4ZB2T9W0XK5Q7R1C")]
    pub id: String,
    pub url: String,
    pub description: String,
    /// The event types it receives; empty means all.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Deliveries one at a time, in the order the events happened.
    pub ordered: bool,
    /// Why Ombud disabled it (410, or failing for days); null otherwise.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; null after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&WebhookEndpoint> for Endpoint {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id.to_string(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e
                .event_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            enabled: e.enabled,
            ordered: e.ordered,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// The endpoint's signing secret, and the previous one while it still signs.
#[derive(Serialize, ToSchema)]
pub struct EndpointSecret {
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl EndpointSecret {
    /// The previous secret is shown while it still signs, as of `now`.
    pub(super) fn of(e: &WebhookEndpoint, now: DateTime<Utc>) -> Self {
        let live = e.previous_secret.as_ref().filter(|(_, until)| *until > now);
        Self {
            secret: e.secret.expose().to_owned(),
            previous_secret: live.map(|(s, _)| s.expose().to_owned()),
            previous_secret_expires_at: live.map(|(_, until)| *until),
        }
    }
}

/// A new endpoint, with its secret (shown here and at `/secret`).
#[derive(Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    pub secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// http(s) URL of the receiver; it may not point at internal addresses
    /// unless the operator allows them.
    #[schema(example = "https://erp.example.org/ombud-hooks")]
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Event types to receive; empty or absent for all (at most 50).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub event_types: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Default true: one delivery at a time, in order.
    #[serde(default)]
    pub ordered: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointUpdate {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// At most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub event_types: Option<Vec<String>>,
    /// Enabling clears why Ombud disabled it.
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub ordered: Option<bool>,
}

/// One event for one endpoint.
#[derive(Serialize, ToSchema)]
pub struct Delivery {
    /// The `webhook-id` header of every attempt.
    pub event_id: String,
    pub event_type: String,
    #[schema(value_type = String, example = "delivered")]
    pub status: WebhookStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<&WebhookDelivery> for Delivery {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            event_id: d.event_id.to_string(),
            event_type: d.event_type.as_str().to_owned(),
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: (d.status == WebhookStatus::Pending).then_some(d.next_attempt_at),
            last_status_code: d.last_status,
            last_error: d.last_error.clone(),
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Attempt {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status; null if it did not answer.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The start of the answer's body (at most 4 KB).
    pub response: Option<String>,
    pub error: Option<String>,
}

impl From<&WebhookAttempt> for Attempt {
    fn from(a: &WebhookAttempt) -> Self {
        Self {
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response: a.response.clone(),
            error: a.error.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryWithAttempts {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempt_log: Vec<Attempt>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `sending`, `delivered` or `failed`.
    pub status: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySince {
    /// Every failed delivery created since this time is sent again.
    pub since: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Replayed {
    pub replayed: u64,
}

#[derive(Serialize, ToSchema)]
pub struct TestSent {
    /// The test event's id: its `webhook-id`.
    pub event_id: String,
}
