//! The webhook outbox's types. A delivery is one event for one endpoint; it is
//! written with the event (see each backend's `insert_event`) and claimed by the
//! dispatcher with a lease, like the send outbox. Every attempt is recorded.

use async_trait::async_trait;

use crate::Audit;
use chrono::{DateTime, Utc};
use ombud_core::{EventId, EventType, Secret, TenantId, WebhookEndpoint, WebhookEndpointId};

use crate::StoreResult;

/// Longest response body kept per attempt.
pub const RESPONSE_SNIPPET_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// Claimed by a dispatcher; back to pending if its lease runs out.
    Sending,
    Delivered,
    /// Every retry failed; a replay sends it again.
    Failed,
}

impl WebhookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: i64,
    pub tenant_id: TenantId,
    pub endpoint_id: WebhookEndpointId,
    /// The `webhook-id` of every attempt, the same across retries and replays.
    pub event_id: EventId,
    pub event_type: EventType,
    pub status: WebhookStatus,
    /// Attempts so far, counting the one a claim is about to make.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A claimed delivery with what the dispatcher needs to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub delivery: WebhookDelivery,
    pub endpoint: ombud_core::WebhookEndpoint,
    /// When the event happened, and its data.
    pub event_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl DueDelivery {
    /// The body every attempt sends: `{"type", "timestamp", "data"}`.
    pub fn payload(&self) -> String {
        serde_json::json!({
            "type": self.delivery.event_type.as_str(),
            "timestamp": self.event_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.data,
        })
        .to_string()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The start of the response body (at most [`RESPONSE_SNIPPET_BYTES`]).
    pub response: Option<String>,
    /// Why there was no answer, or why the answer counts as a failure.
    pub error: Option<String>,
}

/// What an attempt means for its delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered,
    Retry {
        at: DateTime<Utc>,
    },
    /// No retries left.
    Failed,
    /// The receiver said 410 Gone: the endpoint is disabled.
    Gone,
}

/// One attempt and what follows from it.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: i64,
    pub attempt: WebhookAttempt,
    pub outcome: AttemptOutcome,
    /// An endpoint whose attempts have all failed for this long is disabled.
    pub disable_after: chrono::Duration,
}

/// Changes to an endpoint; `None` leaves a field as it is. Enabling an
/// endpoint clears why Ombud disabled it.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
    pub ordered: Option<bool>,
}

/// Cuts a response body to the snippet kept, on a character boundary.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(RESPONSE_SNIPPET_BYTES)]);
    let mut s = text.into_owned();
    while s.len() > RESPONSE_SNIPPET_BYTES {
        s.pop();
    }
    s
}

impl EndpointChange {
    /// The endpoint as the change leaves it.
    pub fn apply(self, e: &mut ombud_core::WebhookEndpoint, now: DateTime<Utc>) {
        if let Some(url) = self.url {
            e.url = url;
        }
        if let Some(d) = self.description {
            e.description = d;
        }
        if let Some(t) = self.event_types {
            e.event_types = t;
        }
        if let Some(o) = self.ordered {
            e.ordered = o;
        }
        if let Some(on) = self.enabled {
            if on && !e.enabled {
                e.disabled_reason = None;
                e.failing_since = None;
            }
            e.enabled = on;
        }
        e.updated_at = now;
    }
}

/// Why an attempt's outcome disables its endpoint, if it does.
pub(crate) fn disable_reason(
    endpoint: &ombud_core::WebhookEndpoint,
    record: &AttemptRecord,
) -> Option<String> {
    ombud_core::webhook::disable_reason(
        endpoint,
        record.outcome == AttemptOutcome::Gone,
        record.attempt.attempted_at,
        record.disable_after,
    )
}

/// The data of a `webhook.endpoint_disabled` event.
pub(crate) fn disabled_event(
    endpoint: &ombud_core::WebhookEndpoint,
    reason: &str,
) -> serde_json::Value {
    use ombud_core::event::payload::{Payload as _, WebhookEndpointDisabled};
    WebhookEndpointDisabled {
        endpoint_id: endpoint.id.to_string(),
        url: endpoint.url.clone(),
        reason: reason.to_owned(),
    }
    .data()
}

/// The data of a `webhook.test` event.
pub(crate) fn test_event_data(endpoint: &ombud_core::WebhookEndpoint) -> serde_json::Value {
    use ombud_core::event::payload::{Payload as _, WebhookTest};
    WebhookTest {
        endpoint_id: endpoint.id.to_string(),
        message: "This is a test event from Ombud.".into(),
    }
    .data()
}

/// Test events go only to enabled endpoints (a disabled one would hold it).
pub(crate) fn check_enabled(endpoint: &ombud_core::WebhookEndpoint) -> crate::StoreResult<()> {
    if endpoint.enabled {
        return Ok(());
    }
    Err(crate::StoreError::Invalid(
        ombud_core::ValidationError::new(
            "enabled",
            "the endpoint is disabled; enable it to send a test event",
        ),
    ))
}

/// Webhook endpoints and the webhook outbox (see [`webhooks`]).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        audit: Audit,
    ) -> StoreResult<()>;
    async fn webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>>;
    /// The tenant's endpoints, oldest first.
    async fn webhook_endpoints(&self, tenant: &TenantId) -> StoreResult<Vec<WebhookEndpoint>>;
    /// NotFound if the tenant has no such endpoint.
    async fn update_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        change: EndpointChange,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<WebhookEndpoint>;
    /// Signs with `secret` from now on; the old secret keeps signing until
    /// `overlap_until`. NotFound if the tenant has no such endpoint.
    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        secret: Secret,
        overlap_until: DateTime<Utc>,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<WebhookEndpoint>;
    /// Deletes the endpoint with its deliveries and attempts; false if none.
    async fn delete_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        audit: Audit,
    ) -> StoreResult<bool>;
    /// Writes an event with the id `id` (derived from what it reports) and
    /// its deliveries, unless it exists: false then. For an event that must
    /// go once however often the work that writes it runs (`summary.daily`).
    async fn emit_once(
        &self,
        tenant: &TenantId,
        id: EventId,
        kind: EventType,
        data: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Writes a `webhook.test` event for this endpoint only, and its delivery.
    async fn send_test_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<EventId>;
    /// Claims up to `limit` due deliveries of enabled endpoints, each leased
    /// until `lease_until`. Of an ordered endpoint only the oldest unfinished
    /// delivery is ever due.
    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>>;
    /// Records an attempt and applies its outcome, in one transaction. A
    /// failure starts (or continues) the endpoint's failing streak; a `Gone`,
    /// or a streak older than `disable_after`, disables the endpoint and
    /// writes a `webhook.endpoint_disabled` event. True if this attempt
    /// disabled the endpoint.
    async fn record_webhook_attempt(&self, record: AttemptRecord) -> StoreResult<bool>;
    /// Claims, after a delivery of an ordered endpoint that went through,
    /// the next of its deliveries that are due, in order (up to `limit`,
    /// stopping at the first that is not due yet), so that a run of them is
    /// sent one after the other without a claim each.
    async fn claim_webhook_run(
        &self,
        after: &WebhookDelivery,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>>;
    /// Gives claimed deliveries back untried (one before them did not go
    /// through, so they wait their turn).
    async fn release_webhook_deliveries(&self, ids: Vec<i64>) -> StoreResult<()>;
    /// When the next pending delivery falls due, if any.
    async fn next_webhook_due(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Whether any tenant has an enabled endpoint (unscoped: the dispatcher
    /// stays quiet when none has).
    async fn any_enabled_endpoint(&self) -> StoreResult<bool>;
    /// An endpoint's deliveries, newest first, before the delivery `before`.
    async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        status: Option<WebhookStatus>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;
    async fn webhook_delivery(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        event: &EventId,
    ) -> StoreResult<Option<WebhookDelivery>>;
    /// A delivery's attempts, oldest first.
    async fn webhook_attempts(
        &self,
        tenant: &TenantId,
        delivery_id: i64,
    ) -> StoreResult<Vec<WebhookAttempt>>;
    /// Sends a delivery again (whatever its status) with the same
    /// `webhook-id`; false if the tenant's endpoint has no such delivery.
    async fn replay_webhook(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        event: &EventId,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool>;
    /// Sends again every failed delivery of the endpoint created since
    /// `since`; how many.
    async fn replay_failed_webhooks(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_stay_within_4_kb_and_valid_text() {
        assert_eq!(snippet(b"ok"), "ok");
        let long = "é".repeat(5000);
        let s = snippet(long.as_bytes());
        assert!(s.len() <= RESPONSE_SNIPPET_BYTES, "{}", s.len());
        assert!(s.starts_with("éé"));
    }
}
