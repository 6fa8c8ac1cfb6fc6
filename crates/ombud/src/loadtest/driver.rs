//! The load itself. Simulated citizens write to their tenant's WhatsApp number;
//! each waits for the reply to one message before sending the next, as people
//! do, so every reply belongs to exactly one message and lost or duplicated
//! replies are counted exactly. Messages that fall due together are posted as
//! one webhook per tenant (Meta batches a business account's updates), signed
//! with that tenant's app secret.
//!
//! One task owns all the state: it paces the sends, takes the sink's replies and
//! the webhooks' answers, and keeps the figures per phase and per second.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use ombud_channels::whatsapp::{batch_payload, sign, text_message_payload};
use tokio::sync::mpsc;

use super::procfs::{cpu_seconds, rss_bytes};
use super::scenario::{Load, Plan};

/// What each citizen says, in turn (`{n}` is the citizen's number).
pub(crate) const DIALOGUE: &[&str] = &[
    "The street light near house {n} has been broken for a week",
    "Lane {n}, Kothrud",
    "yes",
    "status",
];

/// Where one tenant's webhooks go.
#[derive(Debug, Clone)]
pub struct Target {
    pub urls: Vec<String>,
    pub path: String,
    pub secret: String,
    pub phone_number_id: String,
}

/// What the driver measured; turned into the summary by the caller.
pub struct Outcome {
    pub sent: u64,
    pub acknowledged: u64,
    pub answered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub webhooks: u64,
    /// Messages lost because their webhook was refused, by reason.
    pub refused: std::collections::BTreeMap<String, u64>,
    /// Messages lost because no reply came within the reply timeout.
    pub timed_out: u64,
    /// Citizens that left and were replaced by new ones (timed loads with
    /// `renew_after`).
    pub renewed: u64,
    /// From the first send to the last reply.
    pub seconds: f64,
    /// CPU time (user + system) the servers used over the run, if known.
    pub server_cpu_seconds: Option<f64>,
    pub replies: Histogram<u64>,
    pub webhook_times: Histogram<u64>,
    pub phases: Vec<PhaseOutcome>,
    pub windows: Vec<Window>,
}

pub struct PhaseOutcome {
    pub name: String,
    pub rate: Option<f64>,
    pub secs: f64,
    pub sent: u64,
    pub answered: u64,
    pub replies: Histogram<u64>,
}

/// One second of the run, by when replies arrived.
pub struct Window {
    pub sent: u64,
    pub answered: u64,
    pub replies: Histogram<u64>,
    /// Resident memory of the servers under test, summed, in bytes.
    pub rss_bytes: Option<u64>,
}

pub fn histogram() -> Histogram<u64> {
    // Microseconds, 1 µs to 10 minutes, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, 600_000_000)
}

struct Citizen {
    tenant: usize,
    phone: String,
    number: usize,
    sent: usize,
    /// When the unanswered message went out, and in which phase.
    waiting: Option<(Instant, usize)>,
    retired: bool,
}

struct Ack {
    citizens: Vec<usize>,
    /// Why the webhook was refused: its status, or the HTTP error.
    refused: Option<String>,
    took: Duration,
}

pub struct Driver {
    pub plan: Plan,
    pub targets: Vec<Target>,
    pub reply_timeout: Duration,
    pub server_pids: Vec<u32>,
    pub bar: ProgressBar,
}

impl Driver {
    pub async fn run(
        self,
        mut replies: mpsc::UnboundedReceiver<(String, Instant)>,
    ) -> anyhow::Result<Outcome> {
        let plan = &self.plan;
        let run_tag = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() % 1_000_000_000)
            .unwrap_or_default();
        let phone_of = |number: usize| format!("91{:010}", 8_000_000_000u64 + number as u64);
        let mut citizens = Vec::with_capacity(plan.citizens());
        let mut by_phone = HashMap::with_capacity(plan.citizens());
        for _ in 0..plan.contacts {
            for t in 0..plan.tenants {
                let number = citizens.len();
                let phone = phone_of(number);
                by_phone.insert(phone.clone(), number);
                citizens.push(Citizen {
                    tenant: t,
                    phone,
                    number,
                    sent: 0,
                    waiting: None,
                    retired: false,
                });
            }
        }
        let mut ready: VecDeque<usize> = (0..citizens.len()).collect();
        // The number the next new citizen gets (`renew_after`).
        let mut next_number = citizens.len();
        let (phases, per_citizen) = match &plan.load {
            Load::Count { messages } => (Vec::new(), Some(*messages)),
            Load::Timed { phases, .. } => (phases.clone(), None),
        };
        let renew_after = plan.renew_after();
        let mut phase_out: Vec<PhaseOutcome> = if phases.is_empty() {
            vec![PhaseOutcome {
                name: "all".into(),
                rate: None,
                secs: 0.0,
                sent: 0,
                answered: 0,
                replies: histogram(),
            }]
        } else {
            phases
                .iter()
                .map(|p| PhaseOutcome {
                    name: p.name.clone(),
                    rate: p.rate,
                    secs: p.secs,
                    sent: 0,
                    answered: 0,
                    replies: histogram(),
                })
                .collect()
        };
        let phase_ends: Vec<f64> = phases
            .iter()
            .scan(0.0, |end, p| {
                *end += p.secs;
                Some(*end)
            })
            .collect();

        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(plan.citizens())
            .build()?;
        let (acks_tx, mut acks) = mpsc::unbounded_channel::<Ack>();
        let mut out = Outcome {
            sent: 0,
            acknowledged: 0,
            answered: 0,
            lost: 0,
            duplicated: 0,
            refused: Default::default(),
            timed_out: 0,
            renewed: 0,
            webhooks: 0,
            seconds: 0.0,
            server_cpu_seconds: None,
            replies: histogram(),
            webhook_times: histogram(),
            phases: Vec::new(),
            windows: Vec::new(),
        };
        let mut windows: Vec<Window> = Vec::new();
        let window = |windows: &mut Vec<Window>, at: Instant, start: Instant| -> usize {
            let i = at.saturating_duration_since(start).as_secs() as usize;
            while windows.len() <= i {
                windows.push(Window {
                    sent: 0,
                    answered: 0,
                    replies: histogram(),
                    rss_bytes: None,
                });
            }
            i
        };

        let cpu_at_start = cpu_seconds(&self.server_pids);
        let start = Instant::now();
        let mut last_reply = start;
        let mut budget = 0.0f64;
        let mut last_tick = start;
        let mut sending = true;
        let mut sending_ended_at: Option<Instant> = None;
        let mut phase = 0usize;
        let mut next_sweep = start;
        let mut next_rss = start;
        let mut post_robin = 0usize;
        // Messages sent and not yet answered (nor given up on).
        let mut outstanding = 0usize;
        let mut tick = tokio::time::interval(Duration::from_millis(plan.flush_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

        loop {
            let ticked = tokio::select! {
                Some((to, at)) = replies.recv() => {
                    let Some(&n) = by_phone.get(&to) else {
                        out.duplicated += 1;
                        continue;
                    };
                    let c = &mut citizens[n];
                    let Some((sent_at, in_phase)) = c.waiting.take() else {
                        out.duplicated += 1;
                        continue;
                    };
                    outstanding -= 1;
                    let us = micros(at.saturating_duration_since(sent_at));
                    let _ = out.replies.record(us);
                    let _ = phase_out[in_phase].replies.record(us);
                    phase_out[in_phase].answered += 1;
                    let w = window(&mut windows, at, start);
                    windows[w].answered += 1;
                    let _ = windows[w].replies.record(us);
                    out.answered += 1;
                    last_reply = last_reply.max(at);
                    self.bar.inc(1);
                    if renew_after.is_some_and(|m| c.sent >= m) {
                        // This citizen is done; a new one writes from its slot.
                        by_phone.remove(&c.phone);
                        c.number = next_number;
                        c.phone = phone_of(next_number);
                        c.sent = 0;
                        by_phone.insert(c.phone.clone(), n);
                        next_number += 1;
                        out.renewed += 1;
                    }
                    let more = per_citizen.is_none_or(|m| c.sent < m);
                    if more && !c.retired {
                        ready.push_back(n);
                    }
                    false
                }
                Some(ack) = acks.recv() => {
                    let _ = out.webhook_times.record(micros(ack.took));
                    if let Some(reason) = ack.refused {
                        for n in ack.citizens {
                            // Refused: Meta would retry, but we count it lost.
                            if citizens[n].waiting.take().is_some() {
                                outstanding -= 1;
                                out.lost += 1;
                                *out.refused.entry(reason.clone()).or_default() += 1;
                                citizens[n].retired = true;
                                self.bar.inc(1);
                            }
                        }
                    } else {
                        out.acknowledged += ack.citizens.len() as u64;
                    }
                    false
                }
                _ = tick.tick() => true,
            };
            let now = Instant::now();
            let elapsed = now.duration_since(start).as_secs_f64();

            // Which phase are we in; stress stops at the first phase over its limit.
            if sending && !phases.is_empty() {
                while phase < phase_ends.len() && elapsed >= phase_ends[phase] {
                    if let Some(limit) = plan.stop_above_p99_ms {
                        let p = &phase_out[phase];
                        let p99 = p.replies.value_at_quantile(0.99) as f64 / 1000.0;
                        if p.answered > 0 && p99 > limit {
                            sending = false;
                        }
                    }
                    phase += 1;
                }
                if phase >= phase_ends.len() {
                    sending = false;
                }
                if !sending {
                    sending_ended_at = Some(now);
                }
            }

            if sending && ticked {
                let rate = phases.get(phase).and_then(|p| p.rate);
                let due = match rate {
                    Some(r) => {
                        budget += r * now.duration_since(last_tick).as_secs_f64();
                        last_tick = now;
                        // A generator that falls behind catches up by at most 1 s.
                        budget = budget.min(r.max(1.0));
                        budget.floor() as usize
                    }
                    None => {
                        last_tick = now;
                        usize::MAX
                    }
                };
                let take = due.min(ready.len());
                if take > 0 {
                    budget -= take as f64;
                    let mut by_tenant: HashMap<usize, Vec<usize>> = HashMap::new();
                    for _ in 0..take {
                        let Some(n) = ready.pop_front() else { break };
                        by_tenant.entry(citizens[n].tenant).or_default().push(n);
                    }
                    let in_phase = phase.min(phase_out.len() - 1);
                    for (t, group) in by_tenant {
                        for chunk in group.chunks(plan.batch) {
                            let mut payloads = Vec::with_capacity(chunk.len());
                            for &n in chunk {
                                let c = &mut citizens[n];
                                let text = DIALOGUE[c.sent % DIALOGUE.len()]
                                    .replace("{n}", &c.number.to_string());
                                let wamid = format!("wamid.LT{run_tag}.{}.{}", c.number, c.sent);
                                payloads.push(text_message_payload(
                                    &self.targets[t].phone_number_id,
                                    &c.phone,
                                    &wamid,
                                    &text,
                                ));
                                c.sent += 1;
                                c.waiting = Some((now, in_phase));
                                outstanding += 1;
                            }
                            let n_msgs = chunk.len() as u64;
                            out.sent += n_msgs;
                            phase_out[in_phase].sent += n_msgs;
                            let w = window(&mut windows, now, start);
                            windows[w].sent += n_msgs;
                            out.webhooks += 1;
                            let target = &self.targets[t];
                            post_robin += 1;
                            let url = format!(
                                "{}{}",
                                target.urls[post_robin % target.urls.len()],
                                target.path
                            );
                            // `chunks` yields no empty slice, so there is a body.
                            let Some(body) = batch_payload(payloads) else {
                                continue;
                            };
                            let body = body.to_string();
                            let signature = sign(&target.secret, body.as_bytes());
                            let (http, acks_tx, citizens_in) =
                                (http.clone(), acks_tx.clone(), chunk.to_vec());
                            tokio::spawn(async move {
                                let sent_at = Instant::now();
                                let refused = match http
                                    .post(url)
                                    .header("content-type", "application/json")
                                    .header("x-hub-signature-256", signature)
                                    .body(body)
                                    .send()
                                    .await
                                {
                                    Ok(r) if r.status().is_success() => None,
                                    Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
                                    Err(e) => Some(refusal(&e)),
                                };
                                let _ = acks_tx.send(Ack {
                                    citizens: citizens_in,
                                    refused,
                                    took: sent_at.elapsed(),
                                });
                            });
                        }
                    }
                }
            }

            if now >= next_sweep {
                next_sweep = now + Duration::from_millis(250);
                for c in citizens.iter_mut() {
                    if let Some((sent_at, _)) = c.waiting {
                        if now.duration_since(sent_at) > self.reply_timeout {
                            c.waiting = None;
                            c.retired = true;
                            outstanding -= 1;
                            out.lost += 1;
                            out.timed_out += 1;
                            self.bar.inc(1);
                        }
                    }
                }
                if let Some(d) = plan.planned_secs() {
                    self.bar.set_message(format!("{elapsed:.0}/{d:.0} s"));
                }
            }
            if now >= next_rss && !self.server_pids.is_empty() {
                next_rss = now + Duration::from_secs(1);
                let w = window(&mut windows, now, start);
                windows[w].rss_bytes = rss_bytes(&self.server_pids);
            }

            let finished_count = per_citizen.is_some() && ready.is_empty() && outstanding == 0;
            if finished_count && sending {
                sending = false;
                sending_ended_at = Some(now);
            }
            if !sending && outstanding == 0 {
                break;
            }
            // Past the planned end, a run that cannot finish still ends.
            if let Some(ended) = sending_ended_at {
                if now.duration_since(ended) > self.reply_timeout + Duration::from_secs(1) {
                    break;
                }
            }
        }
        // Anything that arrives now is a second reply to an answered message.
        let settle = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(settle);
        loop {
            tokio::select! {
                _ = &mut settle => break,
                Some(_) = replies.recv() => out.duplicated += 1,
            }
        }
        self.bar.finish_and_clear();
        out.seconds = last_reply.duration_since(start).as_secs_f64();
        out.server_cpu_seconds = cpu_at_start
            .zip(cpu_seconds(&self.server_pids))
            .map(|(from, to)| to - from);
        out.phases = phase_out;
        out.windows = windows;
        Ok(out)
    }
}

/// A short reason for a webhook POST that got no answer.
fn refusal(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_request() {
        "request"
    } else if e.is_body() {
        "body"
    } else {
        "other"
    };
    let mut source: &dyn std::error::Error = e;
    while let Some(inner) = source.source() {
        source = inner;
    }
    format!("{kind}: {source}")
}
