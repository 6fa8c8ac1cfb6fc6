//! The webhook dispatcher: claims due deliveries, signs each per Standard
//! Webhooks (`webhook-id` is the event id, the same on every retry and replay),
//! posts it, and records the attempt. 2xx is delivered; 410 disables the
//! endpoint; anything else is retried on the schedule (5 s, 5 min, 30 min,
//! 2 h, 5 h, 10 h, 10 h by default, each ±20 %, never sooner than the
//! receiver's `Retry-After`) and then marked failed. Redirects are not
//! followed, and every connection goes through the outbound guard.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::metrics::counter;
use chrono::{DateTime, Utc};
use ombud_core::Clock;
use ombud_store::webhooks::snippet;
use ombud_store::{AttemptOutcome, AttemptRecord, DueDelivery, Store, WebhookAttempt};
use rand::Rng;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics;
use crate::outbound::OutboundPolicy;
use crate::WebhookConfig;

pub struct WebhookDispatcher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
    config: WebhookConfig,
    wake: Arc<Notify>,
    permits: Arc<Semaphore>,
    /// Whether any endpoint is enabled, as of the last idle look. While none
    /// is, events need not wake the dispatcher (a claim is a write).
    active: AtomicBool,
}

impl WebhookDispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: Arc<OutboundPolicy>,
        config: WebhookConfig,
        wake: Arc<Notify>,
    ) -> Result<Self, crate::OutboundError> {
        let client = policy.client(
            reqwest::Client::builder()
                .timeout(config.timeout)
                .connect_timeout(config.timeout.min(Duration::from_secs(10)))
                .user_agent(concat!("Ombud-Webhooks/", env!("CARGO_PKG_VERSION"))),
        )?;
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Ok(Self {
            store,
            clock,
            client,
            policy,
            config,
            wake,
            permits,
            active: AtomicBool::new(true),
        })
    }

    /// Whether new events may have deliveries to make.
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Runs until `stop` fires; sends in flight are tracked by `tracker`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken, tracker: TaskTracker) {
        let claims = crate::claims::ClaimLoop {
            component: "webhooks",
            what: "webhook deliveries",
            permits: self.permits.clone(),
            wake: Some(self.wake.clone()),
            poll: self.config.poll_interval,
        };
        let claim = |n| {
            let this = self.clone();
            async move {
                let now = this.clock.now();
                let lease = chrono::Duration::from_std(this.config.lease).unwrap_or_default();
                this.store
                    .claim_webhook_deliveries(now, now + lease, n)
                    .await
            }
        };
        let next_due = || {
            let this = self.clone();
            async move {
                match this.store.any_enabled_endpoint().await {
                    Ok(any) => this.active.store(any, Ordering::Relaxed),
                    Err(e) => tracing::warn!(error = %e, "could not look for webhook endpoints"),
                }
                let at = this.store.next_webhook_due().await.ok()??;
                Some((at - this.clock.now()).to_std().unwrap_or_default())
            }
        };
        let handle = |item| {
            let this = self.clone();
            async move {
                this.deliver_run(item).await;
                // The endpoint's next delivery may be due now.
                this.wake.notify_one();
            }
        };
        claims.run(stop, tracker, claim, next_due, handle).await;
    }

    /// Delivers `first`; for an ordered endpoint, then the run of its
    /// deliveries due after it, one after the other, claimed together. The
    /// first that does not go through ends the run, and the rest go back.
    async fn deliver_run(&self, first: DueDelivery) {
        let ordered = first.endpoint.ordered;
        let mut last = first.delivery.clone();
        if !self.deliver(first).await || !ordered {
            return;
        }
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        loop {
            let claimed_at = self.clock.now();
            let run = match self
                .store
                .claim_webhook_run(&last, claimed_at, claimed_at + lease, RUN)
                .await
            {
                Ok(run) if !run.is_empty() => run,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim an endpoint's next deliveries");
                    return;
                }
            };
            let mut items = run.into_iter();
            while let Some(item) = items.next() {
                // A slow receiver must not outlast the run's lease: past half
                // of it, the rest goes back and is claimed afresh.
                if self.clock.now() - claimed_at >= lease / 2 {
                    let rest = std::iter::once(item.delivery.id)
                        .chain(items.map(|i| i.delivery.id))
                        .collect();
                    self.give_back(rest).await;
                    break;
                }
                let delivery = item.delivery.clone();
                if !self.deliver(item).await {
                    self.give_back(items.map(|i| i.delivery.id).collect()).await;
                    return;
                }
                last = delivery;
            }
        }
    }

    async fn give_back(&self, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self.store.release_webhook_deliveries(ids).await {
            // Their leases run out and they are claimed again.
            tracing::warn!(error = %e, "could not give deliveries back");
        }
    }

    /// Makes one attempt and records it; true if it was delivered.
    pub async fn deliver(&self, item: DueDelivery) -> bool {
        let started = Instant::now();
        let attempted_at = self.clock.now();
        let answer = self.post(&item, attempted_at).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (attempt, outcome) = match answer {
            Ok(answer) => {
                let code = answer.status;
                let attempt = WebhookAttempt {
                    attempted_at,
                    status_code: Some(code),
                    latency_ms,
                    response: Some(answer.body),
                    error: (!(200..300).contains(&code)).then(|| format!("HTTP {code}")),
                };
                let outcome = match code {
                    200..=299 => AttemptOutcome::Delivered,
                    410 => AttemptOutcome::Gone,
                    _ => self.retry_or_fail(&item, attempted_at, answer.retry_after),
                };
                (attempt, outcome)
            }
            Err(error) => (
                WebhookAttempt {
                    attempted_at,
                    status_code: None,
                    latency_ms,
                    response: None,
                    error: Some(error),
                },
                self.retry_or_fail(&item, attempted_at, None),
            ),
        };
        let d = &item.delivery;
        match &outcome {
            AttemptOutcome::Delivered => {}
            AttemptOutcome::Retry { at } => {
                tracing::info!(event = %d.event_id, endpoint = %d.endpoint_id, attempt = d.attempts, error = ?attempt.error, next = %at, "webhook attempt failed; will retry")
            }
            AttemptOutcome::Failed => {
                tracing::warn!(event = %d.event_id, endpoint = %d.endpoint_id, attempt = d.attempts, error = ?attempt.error, "webhook delivery failed for good")
            }
            AttemptOutcome::Gone => {
                tracing::warn!(endpoint = %d.endpoint_id, "webhook receiver answered 410; endpoint disabled")
            }
        }
        let record = AttemptRecord {
            delivery_id: d.id,
            attempt,
            outcome,
            disable_after: chrono::Duration::from_std(self.config.disable_after)
                .unwrap_or(chrono::Duration::days(5)),
        };
        let delivered = record.outcome == AttemptOutcome::Delivered;
        let label = match record.outcome {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry { .. } => "retry",
            AttemptOutcome::Failed | AttemptOutcome::Gone => "failed",
        };
        counter!(metrics::WEBHOOK_DELIVERIES, "outcome" => label).increment(1);
        match self.store.record_webhook_attempt(record).await {
            Ok(true) => counter!(metrics::WEBHOOK_ENDPOINTS_DISABLED).increment(1),
            Ok(false) => {}
            Err(e) => {
                // The lease runs out and the delivery is made again (same webhook-id).
                metrics::error("webhooks", "database");
                tracing::error!(event = %d.event_id, error = %e, "could not record a webhook attempt");
                return false;
            }
        }
        delivered
    }

    fn retry_or_fail(
        &self,
        item: &DueDelivery,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
    ) -> AttemptOutcome {
        let n = item.delivery.attempts as usize;
        let Some(base) = self.config.retry_schedule.get(n.saturating_sub(1)) else {
            return AttemptOutcome::Failed;
        };
        let mut delay = base.mul_f64(rand::rng().random_range(0.8..=1.2));
        if let Some(after) = retry_after {
            delay = delay.max(after.min(MAX_RETRY_AFTER));
        }
        AttemptOutcome::Retry {
            at: now + chrono::Duration::from_std(delay).unwrap_or_default(),
        }
    }

    async fn post(&self, item: &DueDelivery, now: DateTime<Utc>) -> Result<Answer, String> {
        let url = &item.endpoint.url;
        // A literal address is never resolved, so the guard checks it here.
        self.policy.check_literal(url).map_err(|e| e.to_string())?;
        let payload = item.payload();
        let id = item.delivery.event_id.as_str();
        let timestamp = now.timestamp();
        let signature = sign(&item.endpoint, id, timestamp, &payload, now)?;
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(payload)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let body = read_snippet(response).await;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}

/// Deliveries of an ordered endpoint claimed together after one went through.
const RUN: u32 = 32;

/// Longest `Retry-After` honoured: a receiver cannot park a delivery for
/// longer than the schedule's longest wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 3600);

struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: String,
}

/// `v1,<base64>` for each secret that signs now, space-separated.
pub fn sign(
    endpoint: &ombud_core::WebhookEndpoint,
    id: &str,
    timestamp: i64,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let mut out = Vec::new();
    for secret in endpoint.signing_secrets(now) {
        let key = standardwebhooks::Webhook::new(secret.expose())
            .map_err(|e| format!("the endpoint's secret is unusable: {e}"))?;
        out.push(
            key.sign(id, timestamp, payload.as_bytes())
                .map_err(|e| format!("could not sign: {e}"))?,
        );
    }
    Ok(out.join(" "))
}

/// Seconds, or an HTTP date.
fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v.trim()).ok()?;
    (at.with_timezone(&Utc) - now).to_std().ok()
}

/// The start of the body, read only as far as the snippet needs.
async fn read_snippet(mut response: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < ombud_store::webhooks::RESPONSE_SNIPPET_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    snippet(&buf)
}

/// An error's whole chain: reqwest's own message rarely says what failed.
fn describe(e: reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = Utc::now();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = (now + chrono::Duration::seconds(90)).to_rfc2822();
        let d = parse_retry_after(&later, now).unwrap();
        assert!((88..=90).contains(&d.as_secs()), "{d:?}");
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn both_secrets_sign_during_a_rotation_and_each_verifies() {
        let now = Utc::now();
        let old = ombud_core::webhook::new_secret();
        let new = ombud_core::webhook::new_secret();
        let endpoint = ombud_core::WebhookEndpoint {
            id: ombud_core::WebhookEndpointId::new(),
            tenant_id: ombud_core::TenantId::new(),
            url: "https://x.org/".into(),
            description: String::new(),
            event_types: vec![],
            enabled: true,
            ordered: true,
            secret: new.clone(),
            previous_secret: Some((old.clone(), now + chrono::Duration::hours(24))),
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        let ts = now.timestamp();
        let header = sign(&endpoint, "evt_1", ts, "{}", now).unwrap();
        assert_eq!(header.split(' ').count(), 2);
        for secret in [&old, &new] {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("webhook-id", "evt_1".parse().unwrap());
            headers.insert("webhook-timestamp", ts.to_string().parse().unwrap());
            headers.insert("webhook-signature", header.parse().unwrap());
            standardwebhooks::Webhook::new(secret.expose())
                .unwrap()
                .verify(b"{}", &headers)
                .unwrap();
        }
        let after = now + chrono::Duration::hours(25);
        assert_eq!(
            sign(&endpoint, "evt_1", ts, "{}", after)
                .unwrap()
                .split(' ')
                .count(),
            1
        );
    }
}
