//! Webhook endpoints: made, changed, deleted; their secrets shown and
//! rotated; test events and replays. A secret is never in an audit entry: a
//! rotation is recorded as "rotated".

use chrono::{DateTime, Utc};
use ombud_core::audit::{FieldChange, Target};
use ombud_core::webhook::{self, SECRET_OVERLAP_HOURS};
use ombud_core::*;
use ombud_store::{EndpointChange, StoreError, StoreResult};

use super::{Acting, Operations};

/// What an endpoint is asked to be.
#[derive(Debug, Clone, Default)]
pub struct EndpointRequest {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
    pub ordered: bool,
}

/// A change asked for: only the fields given change.
#[derive(Debug, Clone, Default)]
pub struct EndpointEdit {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub ordered: Option<bool>,
}

fn target(e: &WebhookEndpoint) -> Target {
    Target::new("webhook_endpoint", &e.id, Some(e.url.clone()))
}

fn type_names(types: &[EventType]) -> Vec<&'static str> {
    types.iter().map(|t| t.as_str()).collect()
}

impl Operations {
    /// Checks a URL's form and where it points (the outbound guard).
    async fn checked_url(&self, raw: &str) -> StoreResult<String> {
        let url = webhook::validate_url(raw)?;
        self.outbound
            .check_url(&url)
            .await
            .map_err(|e| ValidationError::new("url", e.to_string()))?;
        Ok(url)
    }

    async fn endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<WebhookEndpoint> {
        self.store
            .webhook_endpoint(tenant, id)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))
    }

    /// Adds an endpoint with a fresh secret (in the answer, never in the
    /// audit entry).
    pub async fn create_webhook_endpoint(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        r: EndpointRequest,
    ) -> StoreResult<WebhookEndpoint> {
        let url = self.checked_url(&r.url).await?;
        let description = r
            .description
            .map(|d| webhook::validate_description(&d))
            .transpose()?
            .unwrap_or_default();
        let event_types = r
            .event_types
            .map(|names| webhook::parse_event_types(&names))
            .transpose()?
            .unwrap_or_default();
        let now = self.now();
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::new(),
            tenant_id: tenant.clone(),
            url,
            description,
            event_types,
            enabled: r.enabled,
            ordered: r.ordered,
            secret: webhook::new_secret(),
            previous_secret: None,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        let entry = acting
            .entry(tenant, now, "webhook_endpoint.created", target(&endpoint))
            .with_changes([
                FieldChange::set("url", &endpoint.url),
                FieldChange::set("description", &endpoint.description),
                FieldChange::set("event_types", type_names(&endpoint.event_types)),
                FieldChange::set("enabled", endpoint.enabled),
                FieldChange::set("ordered", endpoint.ordered),
            ]);
        self.store
            .create_webhook_endpoint(&endpoint, vec![entry])
            .await?;
        // The dispatcher looks again for enabled endpoints.
        self.wake_webhooks();
        Ok(endpoint)
    }

    /// Changes the fields given; `current` is the endpoint as read (for an
    /// `If-Match` the caller checked). NotFound if it is gone.
    pub async fn change_webhook_endpoint(
        &self,
        acting: &Acting,
        current: &WebhookEndpoint,
        edit: EndpointEdit,
    ) -> StoreResult<WebhookEndpoint> {
        let url = match edit.url {
            Some(u) => Some(self.checked_url(&u).await?),
            None => None,
        };
        let change = EndpointChange {
            url,
            description: edit
                .description
                .map(|d| webhook::validate_description(&d))
                .transpose()?,
            event_types: edit
                .event_types
                .map(|names| webhook::parse_event_types(&names))
                .transpose()?,
            enabled: edit.enabled,
            ordered: edit.ordered,
        };
        let now = self.now();
        let mut after = current.clone();
        change.clone().apply(&mut after, now);
        let b = current;
        let changes = [
            FieldChange::changed("url", &b.url, &after.url),
            FieldChange::changed("description", &b.description, &after.description),
            FieldChange::changed(
                "event_types",
                type_names(&b.event_types),
                type_names(&after.event_types),
            ),
            FieldChange::changed("enabled", b.enabled, after.enabled),
            FieldChange::changed("ordered", b.ordered, after.ordered),
            FieldChange::changed(
                "disabled_reason",
                &b.disabled_reason,
                &after.disabled_reason,
            ),
        ];
        let entry = acting
            .entry(
                &current.tenant_id,
                now,
                "webhook_endpoint.changed",
                target(current),
            )
            .with_changes(changes.into_iter().flatten());
        let e = self
            .store
            .update_webhook_endpoint(&current.tenant_id, &current.id, change, now, vec![entry])
            .await?;
        self.wake_webhooks();
        Ok(e)
    }

    /// Deletes an endpoint with its deliveries and attempts.
    pub async fn delete_webhook_endpoint(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<()> {
        let e = self.endpoint(tenant, id).await?;
        let entry = acting.entry(tenant, self.now(), "webhook_endpoint.deleted", target(&e));
        if self
            .store
            .delete_webhook_endpoint(tenant, id, vec![entry])
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::NotFound("webhook endpoint"))
        }
    }

    /// Records that someone was shown the endpoint's signing secret, and
    /// returns the endpoint (with it).
    pub async fn show_webhook_secret(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<WebhookEndpoint> {
        let e = self.endpoint(tenant, id).await?;
        let entry = acting.entry(
            tenant,
            self.now(),
            "webhook_endpoint.secret_shown",
            target(&e),
        );
        self.store.record_audit(vec![entry]).await?;
        Ok(e)
    }

    /// A new secret; the old one keeps signing for a day.
    pub async fn rotate_webhook_secret(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<WebhookEndpoint> {
        let e = self.endpoint(tenant, id).await?;
        let now = self.now();
        let until = now + chrono::Duration::hours(SECRET_OVERLAP_HOURS);
        let entry = acting
            .entry(tenant, now, "webhook_endpoint.secret_rotated", target(&e))
            .with_changes([
                FieldChange::new("secret", Some("the old one".into()), Some("rotated".into())),
                FieldChange::set("previous_secret_until", until),
            ]);
        self.store
            .rotate_webhook_secret(tenant, id, webhook::new_secret(), until, now, vec![entry])
            .await
    }

    /// Writes a `webhook.test` event for this endpoint only.
    pub async fn send_test_webhook(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<EventId> {
        let e = self.endpoint(tenant, id).await?;
        let now = self.now();
        let entry = acting.entry(tenant, now, "webhook_endpoint.tested", target(&e));
        let event = self
            .store
            .send_test_webhook(tenant, id, now, vec![entry])
            .await?;
        self.wake_webhooks();
        Ok(event)
    }

    /// Sends one delivery again, now. NotFound if the endpoint has no
    /// delivery of that event.
    pub async fn replay_webhook(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        event: &EventId,
    ) -> StoreResult<()> {
        let e = self.endpoint(tenant, id).await?;
        let now = self.now();
        let entry = acting
            .entry(tenant, now, "webhook_endpoint.replayed", target(&e))
            .with_changes([FieldChange::set("event_id", event.as_str())]);
        if !self
            .store
            .replay_webhook(tenant, id, event, now, vec![entry])
            .await?
        {
            return Err(StoreError::NotFound("delivery"));
        }
        self.wake_webhooks();
        Ok(())
    }

    /// Sends again every failed delivery created since `since`; how many.
    pub async fn replay_failed_webhooks(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        since: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let e = self.endpoint(tenant, id).await?;
        let now = self.now();
        let entry = acting
            .entry(tenant, now, "webhook_endpoint.replayed", target(&e))
            .with_changes([FieldChange::set("since", since)]);
        let n = self
            .store
            .replay_failed_webhooks(tenant, id, since, now, vec![entry])
            .await?;
        self.wake_webhooks();
        Ok(n)
    }
}
