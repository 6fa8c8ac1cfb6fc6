//! `ombud loadtest`: drives a running Ombud exactly as Meta does (signed webhook
//! POSTs) and plays Meta's Graph API for its replies, measuring each message from
//! the POST to its reply's arrival. Every simulated citizen waits for the reply
//! before writing again, as people do, so each reply belongs to one message and
//! lost or duplicated replies are counted exactly.

mod sink;
mod spawn;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use ombud_channels::whatsapp::{sign, text_message_payload};
use serde_json::json;

use sink::Sink;

#[derive(Args, Debug, Clone)]
pub struct LoadtestArgs {
    /// Start a throwaway Ombud (temp dir; SQLite, or PostgreSQL with --database-url).
    #[arg(long)]
    pub spawn: bool,
    /// With --spawn: how many servers share the work (PostgreSQL only above 1).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// With --spawn: a PostgreSQL server to use (a fresh schema is made in it).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Without --spawn: the server(s) to load, e.g. http://127.0.0.1:8080 (repeat
    /// for several); their channel must send to --sink-listen.
    #[arg(long)]
    pub target: Vec<String>,
    /// Without --spawn: the channel's webhook path.
    #[arg(long)]
    pub webhook_path: Option<String>,
    /// Without --spawn: the channel's app secret and phone number id.
    #[arg(long)]
    pub app_secret: Option<String>,
    #[arg(long)]
    pub phone_number_id: Option<String>,
    /// Simulated citizens writing at once.
    #[arg(long, default_value_t = 200)]
    pub contacts: usize,
    /// Messages each citizen sends (a complaint dialogue, repeated).
    #[arg(long, default_value_t = 8)]
    pub messages: usize,
    /// A reply not seen this long after its message counts as lost.
    #[arg(long, default_value_t = 15)]
    pub reply_timeout_secs: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

const DIALOGUE: &[&str] = &[
    "The street light near house {n} has been broken for a week",
    "Lane {n}, Kothrud",
    "yes",
    "status",
];

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    acknowledged: AtomicU64,
    answered: AtomicU64,
    lost: AtomicU64,
}

pub async fn run(args: LoadtestArgs) -> anyhow::Result<serde_json::Value> {
    let sink = Arc::new(Sink::default());
    let sink_url = sink.start().await?;
    let (spawned, urls, path, secret, phone) = if args.spawn {
        let s = spawn::spawn(
            args.replicas.max(1),
            args.database_url.as_deref(),
            &sink_url,
        )
        .await?;
        let (urls, path) = (s.urls.clone(), s.webhook_path.clone());
        (
            Some(s),
            urls,
            path,
            spawn::SECRET.to_owned(),
            spawn::PHONE.to_owned(),
        )
    } else {
        let need = |v: &Option<String>, name: &str| {
            v.clone()
                .ok_or_else(|| anyhow::anyhow!("--{name} is needed without --spawn"))
        };
        if args.target.is_empty() {
            anyhow::bail!("--target is needed without --spawn");
        }
        (
            None,
            args.target.clone(),
            need(&args.webhook_path, "webhook-path")?,
            need(&args.app_secret, "app-secret")?,
            need(&args.phone_number_id, "phone-number-id")?,
        )
    };
    let backend = spawned
        .as_ref()
        .map(|s| s.backend.clone())
        .unwrap_or_else(|| "external".into());
    let total = (args.contacts * args.messages) as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} replies {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let tally = Arc::new(Tally::default());
    let replies = Arc::new(Mutex::new(new_histogram()?));
    let acks = Arc::new(Mutex::new(new_histogram()?));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.contacts)
        .build()?;
    let started = Instant::now();
    let last_reply = Arc::new(Mutex::new(started));
    let mut tasks = Vec::with_capacity(args.contacts);
    for c in 0..args.contacts {
        let from = format!("9188{c:08}");
        let mut inbox = sink.register(&from);
        let url = format!("{}{}", urls[c % urls.len()], path);
        let (http, secret, phone) = (http.clone(), secret.clone(), phone.clone());
        let (tally, replies, acks, bar, last_reply) = (
            tally.clone(),
            replies.clone(),
            acks.clone(),
            bar.clone(),
            last_reply.clone(),
        );
        let (messages, timeout) = (args.messages, Duration::from_secs(args.reply_timeout_secs));
        tasks.push(tokio::spawn(async move {
            for k in 0..messages {
                let text = DIALOGUE[k % DIALOGUE.len()].replace("{n}", &c.to_string());
                let body =
                    text_message_payload(&phone, &from, &format!("wamid.LT{c:06}{k:06}"), &text)
                        .to_string();
                let signature = sign(&secret, body.as_bytes());
                let sent_at = Instant::now();
                tally.sent.fetch_add(1, Ordering::Relaxed);
                let ok = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", signature)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                record(&acks, sent_at.elapsed());
                if !ok {
                    tally.lost.fetch_add(1, Ordering::Relaxed);
                    bar.inc(1);
                    continue;
                }
                tally.acknowledged.fetch_add(1, Ordering::Relaxed);
                match tokio::time::timeout(timeout, inbox.recv()).await {
                    Ok(Some(at)) => {
                        record(&replies, at.saturating_duration_since(sent_at));
                        tally.answered.fetch_add(1, Ordering::Relaxed);
                        let mut last = last_reply.lock().unwrap_or_else(|e| e.into_inner());
                        *last = (*last).max(at);
                    }
                    _ => {
                        tally.lost.fetch_add(1, Ordering::Relaxed);
                    }
                }
                bar.inc(1);
            }
            // Anything more is a duplicate.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut extra = 0u64;
            while inbox.try_recv().is_ok() {
                extra += 1;
            }
            extra
        }));
    }
    let mut duplicated = 0u64;
    for t in tasks {
        duplicated += t.await?;
    }
    bar.finish_and_clear();
    let elapsed = last_reply
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .duration_since(started);
    let answered = tally.answered.load(Ordering::Relaxed);
    let (r, a) = (
        replies.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        acks.lock().unwrap_or_else(|e| e.into_inner()).clone(),
    );
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let summary = json!({
        "backend": backend,
        "servers": urls.len(),
        "contacts": args.contacts,
        "messages_per_contact": args.messages,
        "sent": tally.sent.load(Ordering::Relaxed),
        "acknowledged": tally.acknowledged.load(Ordering::Relaxed),
        "answered": answered,
        "lost": tally.lost.load(Ordering::Relaxed),
        "duplicated": duplicated + sink.strays.load(Ordering::Relaxed),
        "seconds": elapsed.as_secs_f64(),
        "msgs_per_sec": answered as f64 / elapsed.as_secs_f64().max(1e-9),
        "reply_ms": {"p50": ms(&r, 0.5), "p90": ms(&r, 0.9), "p99": ms(&r, 0.99), "max": r.max() as f64 / 1000.0},
        "webhook_ms": {"p50": ms(&a, 0.5), "p90": ms(&a, 0.9), "p99": ms(&a, 0.99), "max": a.max() as f64 / 1000.0},
    });
    drop(spawned);
    Ok(summary)
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    // Microseconds, 1 µs to 10 minutes, 3 significant digits.
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

fn record(h: &Mutex<Histogram<u64>>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, 600_000_000);
    let _ = h.lock().unwrap_or_else(|e| e.into_inner()).record(us);
}

/// The summary as a table people read.
pub fn table(s: &serde_json::Value) -> String {
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or_default();
    format!(
        "backend      {} ({} server(s)), {} citizens × {} messages\n\
         sent         {}\nacknowledged {}\nanswered     {}\nlost         {}\nduplicated   {}\n\
         throughput   {:.0} msgs/s over {:.2} s\n\
         reply        p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms\n\
         webhook      p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        s["backend"].as_str().unwrap_or_default(),
        s["servers"],
        s["contacts"],
        s["messages_per_contact"],
        s["sent"],
        s["acknowledged"],
        s["answered"],
        s["lost"],
        s["duplicated"],
        f(&s["msgs_per_sec"]),
        f(&s["seconds"]),
        f(&s["reply_ms"]["p50"]),
        f(&s["reply_ms"]["p90"]),
        f(&s["reply_ms"]["p99"]),
        f(&s["reply_ms"]["max"]),
        f(&s["webhook_ms"]["p50"]),
        f(&s["webhook_ms"]["p90"]),
        f(&s["webhook_ms"]["p99"]),
        f(&s["webhook_ms"]["max"]),
    )
}
