//! Paging from Ombud itself, for operators without Alertmanager: critical
//! conditions go to PagerDuty (Events API v2) and/or a JSON webhook as a
//! `trigger`, and a `resolve` follows when the condition clears. One page per
//! incident: a condition that holds on every check is sent once, keyed by a
//! `dedup_key` that names the condition (not the replica), so replicas that
//! see the same trouble page PagerDuty once between them.
//!
//! Conditions: the database failed its integrity check; a channel has failed
//! every send for `channel_failing_for`; something has waited in an outbox for
//! `outbox_stuck_after`; a scheduled job has been due that long without a
//! replica running it; scheduled backups and none verified for
//! `backup_stale_after`; process workers crashed `crash_loop` times within
//! `crash_window`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::metrics::{ChannelSends, Sampled};

/// Where pages go and when conditions count.
#[derive(Debug, Clone)]
pub struct PagingConfig {
    /// PagerDuty's Events API v2: the integration's routing key, and the
    /// endpoint (`https://events.pagerduty.com/v2/enqueue`).
    pub pagerduty: Option<(String, String)>,
    /// Any JSON receiver: `{"event": "trigger"|"resolve", "dedup_key", ...}`.
    pub webhook_url: Option<String>,
    pub check_every: Duration,
    pub channel_failing_for: Duration,
    pub outbox_stuck_after: Duration,
    /// Scheduled backups: none verified for this long pages.
    pub backup_stale_after: Duration,
    pub crash_loop: u64,
    pub crash_window: Duration,
    /// Names this server in pages (`payload.source`).
    pub source: String,
}

pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

impl Default for PagingConfig {
    fn default() -> Self {
        Self {
            pagerduty: None,
            webhook_url: None,
            check_every: Duration::from_secs(30),
            channel_failing_for: Duration::from_secs(600),
            outbox_stuck_after: Duration::from_secs(900),
            backup_stale_after: Duration::from_secs(26 * 3600),
            crash_loop: 5,
            crash_window: Duration::from_secs(600),
            source: "ombud".into(),
        }
    }
}

impl PagingConfig {
    pub fn enabled(&self) -> bool {
        self.pagerduty.is_some() || self.webhook_url.is_some()
    }
}

/// A condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Names the condition, the same on every replica.
    pub key: String,
    pub summary: String,
    pub severity: &'static str,
    pub details: Value,
}

/// What the engine saw, for [`incidents`].
pub struct Seen<'a> {
    pub now: DateTime<Utc>,
    pub channels: &'a [ChannelSends],
    pub sampled: &'a Sampled,
    /// Worker crashes within the crash window.
    pub recent_crashes: u64,
}

/// The conditions that hold, in a stable order.
pub fn incidents(config: &PagingConfig, seen: &Seen<'_>) -> Vec<Incident> {
    let mut found = Vec::new();
    if let Some(Err(problem)) = &seen.sampled.integrity {
        found.push(Incident {
            key: "ombud/db-integrity".into(),
            summary: "Ombud's database failed its integrity check".into(),
            severity: "critical",
            details: json!({"problem": problem}),
        });
    }
    let longer_than = |since: DateTime<Utc>, limit: Duration| {
        (seen.now - since).to_std().unwrap_or_default() >= limit
    };
    for c in seen.channels {
        let Some(since) = c.failing_since else {
            continue;
        };
        if longer_than(since, config.channel_failing_for) {
            found.push(Incident {
                key: format!("ombud/channel-failing/{}", c.channel_id),
                summary: format!(
                    "{} channel {} of {} has failed every send since {}",
                    c.kind.as_str(),
                    c.channel_id,
                    c.tenant,
                    since.to_rfc3339()
                ),
                severity: "critical",
                details: json!({
                    "tenant": c.tenant, "channel_id": c.channel_id, "channel": c.kind.as_str(),
                    "consecutive_failures": c.consecutive_failures, "last_error": c.last_error,
                }),
            });
        }
    }
    for (kind, pending) in [
        ("message", &seen.sampled.messages),
        ("webhook", &seen.sampled.webhooks),
    ] {
        if let Some(oldest) = pending.oldest {
            if longer_than(oldest, config.outbox_stuck_after) {
                found.push(Incident {
                    key: format!("ombud/outbox-stuck/{kind}"),
                    summary: format!(
                        "{} {kind} items wait to go out, the oldest since {}",
                        pending.count,
                        oldest.to_rfc3339()
                    ),
                    severity: "critical",
                    details: json!({"kind": kind, "pending": pending.count, "oldest": oldest}),
                });
            }
        }
    }
    if let Some(oldest) = seen.sampled.jobs.oldest_due {
        // Due and nobody running it: every replica is down, busy or stuck,
        // or the one holding it died and its lease has run out unclaimed.
        if longer_than(oldest, config.outbox_stuck_after) {
            found.push(Incident {
                key: "ombud/jobs-stuck".into(),
                summary: format!(
                    "{} scheduled jobs wait to run, the oldest due since {}",
                    seen.sampled.jobs.due,
                    oldest.to_rfc3339()
                ),
                severity: "critical",
                details: json!({"due": seen.sampled.jobs.due, "oldest": oldest}),
            });
        }
    }
    if let Some(at) = seen.sampled.backup_verified_at {
        if longer_than(at, config.backup_stale_after) {
            found.push(Incident {
                key: "ombud/backup-not-verified".into(),
                summary: format!(
                    "No backup has been verified since {}: the last good one may be getting old",
                    at.to_rfc3339()
                ),
                severity: "critical",
                details: json!({"last_verified": at}),
            });
        }
    }
    if seen.recent_crashes >= config.crash_loop {
        found.push(Incident {
            key: "ombud/worker-crash-loop".into(),
            summary: format!(
                "{} process agent workers crashed in {} min",
                seen.recent_crashes,
                config.crash_window.as_secs() / 60
            ),
            severity: "error",
            details: json!({"crashes": seen.recent_crashes}),
        });
    }
    found
}

/// A page to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    Trigger(Incident),
    Resolve { key: String },
}

/// The incidents paged and not yet resolved.
#[derive(Default)]
pub struct Pager {
    open: BTreeMap<String, Incident>,
}

impl Pager {
    /// What to send given the conditions that hold now: a trigger for each
    /// new one, a resolve for each that cleared, nothing for the rest.
    pub fn step(&mut self, now: Vec<Incident>) -> Vec<Page> {
        let mut pages = Vec::new();
        let holding: std::collections::BTreeSet<String> =
            now.iter().map(|i| i.key.clone()).collect();
        let cleared: Vec<String> = self
            .open
            .keys()
            .filter(|k| !holding.contains(*k))
            .cloned()
            .collect();
        for key in cleared {
            self.open.remove(&key);
            pages.push(Page::Resolve { key });
        }
        for incident in now {
            if !self.open.contains_key(&incident.key) {
                self.open.insert(incident.key.clone(), incident.clone());
                pages.push(Page::Trigger(incident));
            }
        }
        pages
    }
}

/// The PagerDuty Events API v2 body of a page.
pub fn pagerduty_event(routing_key: &str, source: &str, page: &Page) -> Value {
    match page {
        Page::Trigger(i) => json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": i.key,
            "payload": {
                "summary": i.summary,
                "source": source,
                "severity": i.severity,
                "component": "ombud",
                "custom_details": i.details,
            },
        }),
        Page::Resolve { key } => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": key,
        }),
    }
}

/// The generic webhook's body of a page.
pub fn webhook_event(source: &str, page: &Page, at: DateTime<Utc>) -> Value {
    match page {
        Page::Trigger(i) => json!({
            "event": "trigger", "dedup_key": i.key, "summary": i.summary,
            "severity": i.severity, "source": source, "details": i.details, "at": at,
        }),
        Page::Resolve { key } => json!({
            "event": "resolve", "dedup_key": key, "source": source, "at": at,
        }),
    }
}

/// Looks every `check_every` and sends what changed. A page that could not
/// be sent is tried again on the next look, in order.
pub(crate) async fn run(
    config: PagingConfig,
    http: reqwest::Client,
    look: impl Fn() -> (DateTime<Utc>, Vec<ChannelSends>, Sampled, u64),
    stop: CancellationToken,
) {
    let mut pager = Pager::default();
    let mut unsent: VecDeque<(Page, DateTime<Utc>)> = VecDeque::new();
    // Crash totals seen, to count the crashes within the window.
    let mut crashes: VecDeque<(tokio::time::Instant, u64)> = VecDeque::new();
    loop {
        let (now, channels, sampled, crashed) = look();
        let at = tokio::time::Instant::now();
        crashes.push_back((at, crashed));
        while crashes
            .front()
            .is_some_and(|(t, _)| at.duration_since(*t) > config.crash_window)
        {
            crashes.pop_front();
        }
        let recent = crashed - crashes.front().map_or(crashed, |(_, n)| *n);
        let seen = Seen {
            now,
            channels: &channels,
            sampled: &sampled,
            recent_crashes: recent,
        };
        for page in pager.step(incidents(&config, &seen)) {
            unsent.push_back((page, now));
        }
        while let Some((page, at)) = unsent.front() {
            if !send(&http, &config, page, *at).await {
                break;
            }
            unsent.pop_front();
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(config.check_every) => {}
        }
    }
}

/// Sends a page everywhere configured; true when every target took it.
async fn send(
    http: &reqwest::Client,
    config: &PagingConfig,
    page: &Page,
    at: DateTime<Utc>,
) -> bool {
    let mut ok = true;
    if let Some((routing_key, url)) = &config.pagerduty {
        let body = pagerduty_event(routing_key, &config.source, page);
        ok &= post(http, url, &body, "PagerDuty").await;
    }
    if let Some(url) = &config.webhook_url {
        ok &= post(
            http,
            url,
            &webhook_event(&config.source, page, at),
            "paging webhook",
        )
        .await;
    }
    ok
}

async fn post(http: &reqwest::Client, url: &str, body: &Value, target: &str) -> bool {
    match http.post(url).json(body).send().await {
        Ok(r) if r.status().is_success() => {
            tracing::info!(target_name = target, dedup_key = %body["dedup_key"], "page sent");
            true
        }
        Ok(r) => {
            tracing::warn!(target_name = target, status = %r.status(), "a page was refused; will try again");
            false
        }
        Err(e) => {
            tracing::warn!(target_name = target, error = %e.without_url(), "a page could not be sent; will try again");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ombud_core::{ChannelId, ChannelKind};
    use ombud_store::Pending;
    use std::sync::Arc;

    fn channel(failing_since: Option<DateTime<Utc>>) -> ChannelSends {
        ChannelSends {
            channel_id: ChannelId::new(),
            tenant: Arc::from("pune"),
            kind: ChannelKind::Whatsapp,
            last_success_at: None,
            consecutive_failures: u32::from(failing_since.is_some()) * 7,
            failing_since,
            last_error: failing_since.map(|_| "connection refused".into()),
        }
    }

    #[test]
    fn each_condition_counts_only_past_its_threshold() {
        let config = PagingConfig::default();
        let now = Utc::now();
        let minutes = |m| now - chrono::Duration::minutes(m);
        let channels = [
            channel(Some(minutes(11))),
            channel(Some(minutes(2))),
            channel(None),
        ];
        let sampled = Sampled {
            messages: Pending {
                count: 3,
                oldest: Some(minutes(20)),
            },
            webhooks: Pending {
                count: 1,
                oldest: Some(minutes(1)),
            },
            jobs: ombud_store::JobStats {
                due: 2,
                oldest_due: Some(minutes(16)),
                ..Default::default()
            },
            integrity: Some(Err("page 7: btree corrupt".into())),
            backup_verified_at: Some(now - chrono::Duration::hours(27)),
        };
        let seen = Seen {
            now,
            channels: &channels,
            sampled: &sampled,
            recent_crashes: 5,
        };
        let keys: Vec<String> = incidents(&config, &seen)
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(
            keys,
            [
                "ombud/db-integrity".to_owned(),
                format!("ombud/channel-failing/{}", channels[0].channel_id),
                "ombud/outbox-stuck/message".to_owned(),
                "ombud/jobs-stuck".to_owned(),
                "ombud/backup-not-verified".to_owned(),
                "ombud/worker-crash-loop".to_owned(),
            ]
        );
        let calm = Sampled {
            integrity: Some(Ok(())),
            ..Default::default()
        };
        let seen = Seen {
            now,
            channels: &channels[1..],
            sampled: &calm,
            recent_crashes: 4,
        };
        assert!(incidents(&config, &seen).is_empty());
    }

    fn incident(key: &str) -> Incident {
        Incident {
            key: key.into(),
            summary: key.into(),
            severity: "critical",
            details: json!({}),
        }
    }

    #[test]
    fn one_trigger_per_incident_and_one_resolve_when_it_clears() {
        let mut pager = Pager::default();
        let a = incident("a");
        assert_eq!(pager.step(vec![a.clone()]), [Page::Trigger(a.clone())]);
        assert!(pager.step(vec![a.clone()]).is_empty(), "held: no new page");
        assert!(pager.step(vec![a.clone()]).is_empty());
        let b = incident("b");
        assert_eq!(
            pager.step(vec![b.clone()]),
            [Page::Resolve { key: "a".into() }, Page::Trigger(b.clone())]
        );
        assert_eq!(pager.step(vec![]), [Page::Resolve { key: "b".into() }]);
        assert!(pager.step(vec![]).is_empty());
        // The same condition again later is a new incident.
        assert_eq!(pager.step(vec![a.clone()]), [Page::Trigger(a)]);
    }

    #[test]
    fn pagerduty_events_have_the_v2_shape() {
        let trigger = pagerduty_event("rk", "ombud-1", &Page::Trigger(incident("ombud/x")));
        assert_eq!(trigger["routing_key"], "rk");
        assert_eq!(trigger["event_action"], "trigger");
        assert_eq!(trigger["dedup_key"], "ombud/x");
        assert_eq!(trigger["payload"]["source"], "ombud-1");
        assert_eq!(trigger["payload"]["severity"], "critical");
        assert_eq!(trigger["payload"]["summary"], "ombud/x");
        let resolve = pagerduty_event(
            "rk",
            "ombud-1",
            &Page::Resolve {
                key: "ombud/x".into(),
            },
        );
        assert_eq!(
            resolve,
            json!({"routing_key": "rk", "event_action": "resolve", "dedup_key": "ombud/x"})
        );
    }
}
