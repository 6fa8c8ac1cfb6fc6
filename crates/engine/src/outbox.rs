//! The outbox sender: claims due sends, delivers them through the channel, and
//! records the outcome. Retryable failures come back with backoff (and never sooner
//! than the provider's `Retry-After`); final ones mark the message failed with the
//! reason. A claim is a lease, so a send lost to a crash is made again, with the
//! same idempotency key (our message id).

use std::sync::Arc;
use std::time::Duration;

use ::metrics::{counter, histogram};
use ombud_channels::{ChannelSender, SendError};
use ombud_core::{Channel, Clock};
use ombud_store::{OutboxItem, SendOutcome, Store};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backoff::backoff;
use crate::metrics::{self, ChannelHealth, TenantNames};
use crate::OutboxConfig;

pub struct OutboxSender {
    store: Arc<dyn Store>,
    sender: Arc<dyn ChannelSender>,
    clock: Arc<dyn Clock>,
    config: OutboxConfig,
    wake: Arc<Notify>,
    /// Sends in flight, polled or handed over by a run, share this bound.
    permits: Arc<Semaphore>,
    names: Arc<TenantNames>,
    health: Arc<ChannelHealth>,
}

impl OutboxSender {
    pub fn new(
        store: Arc<dyn Store>,
        sender: Arc<dyn ChannelSender>,
        clock: Arc<dyn Clock>,
        config: OutboxConfig,
        wake: Arc<Notify>,
        names: Arc<TenantNames>,
        health: Arc<ChannelHealth>,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Self {
            store,
            sender,
            clock,
            config,
            wake,
            permits,
            names,
            health,
        }
    }

    /// Sends what a run claimed as it committed, in order. If one does not go
    /// through, the ones after it go back to the outbox to wait their turn.
    pub async fn deliver_in_order(&self, items: Vec<OutboxItem>) {
        let Ok(_permit) = self.permits.acquire().await else {
            return;
        };
        let mut items = items.into_iter();
        while let Some(item) = items.next() {
            if !self.deliver(item).await {
                let rest: Vec<i64> = items.map(|i| i.id).collect();
                if !rest.is_empty() {
                    if let Err(e) = self.store.release_outbox(rest).await {
                        // Their claims run out and the poller sends them then.
                        tracing::error!(error = %e, "could not return claimed sends to the outbox");
                    }
                }
                self.wake.notify_one();
                return;
            }
        }
    }

    /// Runs until `stop` fires, then waits for the sends in flight (tracked by
    /// `tracker`) as the caller decides.
    pub async fn run(self: Arc<Self>, stop: CancellationToken, tracker: TaskTracker) {
        let claims = crate::claims::ClaimLoop {
            component: "outbox",
            what: "outbox items",
            permits: self.permits.clone(),
            wake: Some(self.wake.clone()),
            poll: self.config.poll_interval,
        };
        let claim = |n| {
            let this = self.clone();
            async move {
                let now = this.clock.now();
                let lease = chrono::Duration::from_std(this.config.lease).unwrap_or_default();
                this.store.claim_outbox(now, now + lease, n).await
            }
        };
        let next_due = || {
            let this = self.clone();
            async move {
                let at = this.store.next_outbox_due().await.ok()??;
                Some((at - this.clock.now()).to_std().unwrap_or_default())
            }
        };
        let handle = |item| {
            let this = self.clone();
            async move {
                this.deliver(item).await;
            }
        };
        claims.run(stop, tracker, claim, next_due, handle).await;
    }

    /// Makes one send and records how it went; true if it was sent.
    async fn deliver(&self, item: OutboxItem) -> bool {
        let outcome = match self.store.channel(&item.channel_id).await {
            Ok(Some(channel)) if channel.tenant_id == item.tenant_id => {
                let key = item.message_id.as_str();
                let result = match (&item.template, &item.choices) {
                    (Some(t), _) => self.sender.send_template(&channel, &item.to, t, key).await,
                    (None, Some(c)) => {
                        self.sender
                            .send_choices(&channel, &item.to, &item.body, c, key)
                            .await
                    }
                    (None, None) => {
                        self.sender
                            .send_text(&channel, &item.to, &item.body, key)
                            .await
                    }
                };
                let outcome = self.outcome(&item, result);
                self.observe(&channel, &item, &outcome).await;
                outcome
            }
            Ok(_) => SendOutcome::Failed {
                error: "the channel no longer exists".into(),
            },
            Err(e) => self.outcome(
                &item,
                Err(SendError::Retryable {
                    reason: format!("could not read the channel: {e}"),
                    retry_after: None,
                }),
            ),
        };
        let sent = matches!(outcome, SendOutcome::Sent { .. });
        match &outcome {
            SendOutcome::Sent { .. } => {}
            SendOutcome::Retry {
                error,
                next_attempt_at,
            } => {
                tracing::warn!(message = %item.message_id, attempt = item.attempts, %error, %next_attempt_at, "send failed; will retry")
            }
            SendOutcome::Failed { error } => {
                tracing::warn!(message = %item.message_id, attempt = item.attempts, %error, "send failed for good")
            }
        }
        if let Err(e) = self
            .store
            .complete_outbox(item.id, outcome, self.clock.now())
            .await
        {
            // The lease runs out and the send is made again with the same key.
            metrics::error("outbox", "database");
            tracing::error!(message = %item.message_id, error = %e, "could not record a send");
            return false;
        }
        sent
    }

    /// Counts a send for the metrics and the channel's health. Only retryable
    /// failures (the provider down, refusing, throttling) count against the
    /// channel; a permanent one is about the message (a bad number, say).
    async fn observe(&self, channel: &Channel, item: &OutboxItem, outcome: &SendOutcome) {
        let tenant = self.names.slug(self.store.as_ref(), &item.tenant_id).await;
        let kind = channel.kind();
        let now = self.clock.now();
        let label = match outcome {
            SendOutcome::Sent { .. } => {
                self.health.record(channel, &tenant, now, None);
                metrics::messages(&tenant, kind, "outbound", 1);
                if let Some(at) = item.reply_to_at {
                    let secs = (now - at).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
                    histogram!(metrics::REPLY_LATENCY, "tenant" => tenant.to_string(), "channel" => kind.as_str())
                        .record(secs);
                }
                "sent"
            }
            SendOutcome::Retry { error, .. } => {
                self.health.record(channel, &tenant, now, Some(error));
                metrics::error("outbox", "provider");
                "retry"
            }
            SendOutcome::Failed { .. } => {
                metrics::error("outbox", "provider");
                "failed"
            }
        };
        counter!(metrics::SENDS, "channel" => kind.as_str(), "outcome" => label).increment(1);
    }

    fn outcome(&self, item: &OutboxItem, result: Result<String, SendError>) -> SendOutcome {
        match result {
            Ok(provider_id) => SendOutcome::Sent { provider_id },
            Err(SendError::Permanent { reason }) => SendOutcome::Failed { error: reason },
            Err(SendError::Retryable {
                reason,
                retry_after,
            }) => {
                let now = self.clock.now();
                let age = (now - item.created_at).to_std().unwrap_or_default();
                if age >= self.config.give_up_after {
                    return SendOutcome::Failed {
                        error: format!(
                            "gave up after {} attempts over {}s: {reason}",
                            item.attempts,
                            age.as_secs()
                        ),
                    };
                }
                let mut delay = backoff(
                    item.attempts,
                    self.config.backoff_base,
                    self.config.backoff_max,
                );
                if let Some(after) = retry_after {
                    delay = delay.max(after.min(Duration::from_secs(3600)));
                }
                SendOutcome::Retry {
                    next_attempt_at: now + chrono::Duration::from_std(delay).unwrap_or_default(),
                    error: reason,
                }
            }
        }
    }
}
