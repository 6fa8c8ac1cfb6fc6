//! `ombud loadtest`: drives a running Ombud exactly as Meta does (signed, batched
//! webhook POSTs) and plays Meta's Graph API for its replies, measuring each
//! message from the POST to its reply's arrival. Presets (`--scenario`) shape the
//! load; an HTTP-only baseline measured in the same run turns throughput into a
//! ratio that other machines can compare.

mod backup;
mod baseline;
mod driver;
mod procfs;
mod scenario;
mod sink;
mod spawn;
mod streams;

use anyhow::Context as _;
use std::time::Duration;

use clap::Args;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

pub use baseline::serve_hello;
pub(crate) use driver::DIALOGUE;
use driver::{Driver, Outcome, Target};
pub use scenario::Scenario;
use scenario::{Overrides, Plan};
use sink::Sink;

#[derive(Args, Debug, Clone)]
pub struct LoadtestArgs {
    /// A preset: smoke, steady, max, stress, spike or soak (flags below override
    /// its numbers). Without one: --contacts citizens × --messages each.
    #[arg(long, value_enum)]
    pub scenario: Option<Scenario>,
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
    /// Tenants, each with its own WhatsApp number (with --spawn).
    #[arg(long)]
    pub tenants: Option<usize>,
    /// Simulated citizens per tenant.
    #[arg(long)]
    pub contacts: Option<usize>,
    /// Messages each citizen sends (a complaint dialogue of 4, repeated). In a
    /// timed run (--duration, or a timed preset), a citizen that has sent this
    /// many is replaced by a new one, with a new phone number.
    #[arg(long)]
    pub messages: Option<usize>,
    /// Target rate in messages per second (default: as fast as replies come).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Send for this many seconds instead of a message count.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Most messages in one webhook POST.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Milliseconds between gatherings of due messages into webhooks.
    #[arg(long)]
    pub flush_ms: Option<u64>,
    /// With --spawn: store this many messages (each with its complaint, spread
    /// over the tenants) before the load, to see how cost grows with the data.
    #[arg(long, default_value_t = 0)]
    pub preload: usize,
    /// With --spawn on SQLite: take a backup this many seconds into the load,
    /// then verify it holds every message stored before it began, and report
    /// the replies' latency while it ran.
    #[arg(long)]
    pub backup_at: Option<f64>,
    /// With --spawn: this many dashboard pages of the first tenant's staff
    /// read the live stream (/app/live) during the load; each must hear of
    /// every conversation that received a message.
    #[arg(long, default_value_t = 0)]
    pub staff_streams: usize,
    /// Seconds to measure the HTTP-only baseline (0: skip it).
    #[arg(long)]
    pub baseline_secs: Option<f64>,
    /// A reply not seen this long after its message counts as lost.
    #[arg(long, default_value_t = 15)]
    pub reply_timeout_secs: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: LoadtestArgs) -> anyhow::Result<Value> {
    let plan = Plan::new(
        args.scenario,
        &Overrides {
            tenants: args.tenants,
            contacts: args.contacts,
            messages: args.messages,
            rate: args.rate,
            duration_secs: args.duration,
            batch: args.batch,
            flush_ms: args.flush_ms,
        },
    )?;
    // The baseline first, on a quiet machine, as long as the scenario is short.
    let baseline_secs = args.baseline_secs.unwrap_or(match args.scenario {
        Some(Scenario::Smoke) => 1.0,
        _ => 5.0,
    });
    let hello = if baseline_secs > 0.0 {
        Some(baseline::measure(64, baseline_secs).await?)
    } else {
        None
    };

    let (sink_url, arrivals) = Sink::start().await?;
    let (spawned, targets) = if args.spawn {
        let s = spawn::spawn(
            plan.tenants,
            args.replicas.max(1),
            args.database_url.as_deref(),
            &sink_url,
            args.preload,
            args.staff_streams,
        )
        .await?;
        let targets = s.targets.clone();
        (Some(s), targets)
    } else {
        let need = |v: &Option<String>, name: &str| {
            v.clone()
                .ok_or_else(|| anyhow::anyhow!("--{name} is needed without --spawn"))
        };
        if args.target.is_empty() {
            anyhow::bail!("--target is needed without --spawn");
        }
        if plan.tenants != 1 {
            anyhow::bail!("without --spawn the load goes to one channel: --tenants 1");
        }
        let target = Target {
            urls: args.target.clone(),
            path: need(&args.webhook_path, "webhook-path")?,
            secret: need(&args.app_secret, "app-secret")?,
            phone_number_id: need(&args.phone_number_id, "phone-number-id")?,
        };
        (None, vec![target])
    };
    let (backend, servers, pids) = match &spawned {
        Some(s) => (s.backend.clone(), s.urls.len(), s.pids.clone()),
        None => ("external".to_owned(), args.target.len(), Vec::new()),
    };

    let bar = match plan.total_messages() {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos} replies {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let streams = match &spawned {
        Some(s) if !s.staff_tokens.is_empty() => {
            Some(streams::Streams::open(&s.urls, &s.staff_tokens).await?)
        }
        None if args.staff_streams > 0 => anyhow::bail!("--staff-streams needs --spawn"),
        _ => None,
    };
    let streams_from = chrono::Utc::now();
    let load_started = std::time::Instant::now();
    let backup = match (args.backup_at, &spawned) {
        (Some(at), Some(s)) if args.database_url.is_none() => {
            let dir = s
                .data_dir()
                .context("the spawned server's data directory")?
                .to_owned();
            Some(tokio::spawn(backup::during_load(dir, at, load_started)))
        }
        (Some(_), _) => anyhow::bail!("--backup-at needs --spawn on SQLite"),
        (None, _) => None,
    };
    let outcome = Driver {
        plan: plan.clone(),
        targets,
        reply_timeout: Duration::from_secs(args.reply_timeout_secs),
        server_pids: pids,
        bar,
    }
    .run(arrivals)
    .await?;
    let streams = match (streams, &spawned) {
        (Some(open), Some(s)) => {
            // The last messages' events reach the pages within a second.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let heard = open.stop().await;
            let expected = conversations_since(s, streams_from).await?;
            Some(streams::summary(&heard, &expected))
        }
        _ => None,
    };
    if let Some(s) = spawned {
        if outcome.lost + outcome.duplicated > 0 {
            if let Some(dir) = s.stop_and_keep() {
                eprintln!(
                    "messages were lost or duplicated; the servers' data and logs are kept in {}",
                    dir.display()
                );
            }
        }
    }
    let mut summary = summary(&plan, &backend, servers, hello, &outcome);
    summary["preloaded_messages"] = json!(args.preload);
    if let Some(streams) = streams {
        summary["staff_streams"] = streams;
    }
    if let Some(task) = backup {
        let taken = task.await??;
        summary["backup"] = backup::summary(&taken, &outcome).await?;
    }
    Ok(summary)
}

/// The first tenant's conversations that received a message since `from`.
async fn conversations_since(
    s: &spawn::Spawned,
    from: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<std::collections::HashSet<String>> {
    let store = crate::app::open_store(&s.config).await?;
    Ok(store
        .conversations(&s.first_tenant)
        .await?
        .into_iter()
        .filter(|c| c.last_inbound_at.is_some_and(|at| at >= from))
        .map(|c| c.id.to_string())
        .collect())
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn latency(h: &Histogram<u64>) -> Value {
    json!({"p50": ms(h, 0.5), "p90": ms(h, 0.9), "p99": ms(h, 0.99), "max": h.max() as f64 / 1000.0})
}

fn summary(plan: &Plan, backend: &str, servers: usize, hello: Option<f64>, o: &Outcome) -> Value {
    let msgs_per_sec = o.answered as f64 / o.seconds.max(1e-9);
    let timeline: Vec<Value> = o
        .windows
        .iter()
        .enumerate()
        .map(|(t, w)| {
            json!({
                "t": t, "sent": w.sent, "answered": w.answered,
                "p99_ms": if w.answered > 0 { Some(ms(&w.replies, 0.99)) } else { None },
                "rss_mb": w.rss_bytes.map(|b| b as f64 / 1048576.0),
            })
        })
        .collect();
    // A stress run stops early; the steps it never reached are left out.
    let phases: Vec<Value> = o
        .phases
        .iter()
        .filter(|p| p.sent > 0)
        .map(|p| {
            json!({
                "name": p.name, "rate": p.rate, "seconds": p.secs,
                "sent": p.sent, "answered": p.answered,
                "achieved_per_sec": if p.secs > 0.0 { Some(p.answered as f64 / p.secs) } else { None },
                "reply_ms": latency(&p.replies),
            })
        })
        .collect();
    let mut s = json!({
        "scenario": plan.scenario.map(|s| format!("{s:?}").to_lowercase()),
        "backend": backend,
        "servers": servers,
        "tenants": plan.tenants,
        "contacts": plan.citizens(),
        "renew_after": plan.renew_after(),
        "contacts_renewed": o.renewed,
        "batch": plan.batch,
        "sent": o.sent,
        "acknowledged": o.acknowledged,
        "answered": o.answered,
        "lost": o.lost,
        "duplicated": o.duplicated,
        "lost_refused": o.refused,
        "lost_timed_out": o.timed_out,
        "webhooks": o.webhooks,
        "seconds": o.seconds,
        "msgs_per_sec": msgs_per_sec,
        "reply_ms": latency(&o.replies),
        "webhook_ms": latency(&o.webhook_times),
        "baseline": {
            "hello_req_per_sec": hello,
            "ratio": hello.map(|h| msgs_per_sec / h),
        },
        "rss_mb": rss(o),
        "server_cpu": o.server_cpu_seconds.map(|secs| json!({
            "seconds": secs,
            "cores": secs / o.seconds.max(f64::EPSILON),
            "ms_per_msg": secs * 1000.0 / (o.answered.max(1) as f64),
        })),
        "phases": phases,
        "timeline": timeline,
    });
    if let Some(limit) = plan.stop_above_p99_ms {
        let best = o
            .phases
            .iter()
            .filter(|p| p.answered > 0 && ms(&p.replies, 0.99) <= limit)
            .filter_map(|p| p.rate)
            .fold(None, |acc: Option<f64>, r| {
                Some(acc.map_or(r, |a| a.max(r)))
            });
        s["stress"] = json!({"p99_limit_ms": limit, "highest_rate_within": best});
    }
    if let Some(limit) = plan.recover_below_p99_ms {
        s["spike"] =
            json!({"p99_limit_ms": limit, "recovered_after_secs": recovery(plan, o, limit)});
    }
    s
}

/// RSS of the servers: the first sample after warm-up (10 s, or the first),
/// the last, the highest and the growth between the two.
fn rss(o: &Outcome) -> Value {
    let samples: Vec<(usize, u64)> = o
        .windows
        .iter()
        .enumerate()
        .filter_map(|(t, w)| w.rss_bytes.map(|b| (t, b)))
        .collect();
    let Some(&(_, last)) = samples.last() else {
        return Value::Null;
    };
    let first = samples
        .iter()
        .find(|(t, _)| *t >= 10)
        .or(samples.first())
        .map(|&(_, b)| b)
        .unwrap_or(last);
    let max = samples.iter().map(|&(_, b)| b).max().unwrap_or(last);
    let mb = |b: u64| b as f64 / 1048576.0;
    json!({
        "after_warmup": mb(first), "end": mb(last), "max": mb(max),
        "growth_pct": 100.0 * (last as f64 - first as f64) / (first as f64).max(1.0),
    })
}

/// Seconds after the spike phase ends until every later one-second window's
/// reply p99 is under `limit`; None if that never happens.
fn recovery(plan: &Plan, o: &Outcome, limit: f64) -> Option<f64> {
    let scenario::Load::Timed { phases, .. } = &plan.load else {
        return None;
    };
    let spike = phases.iter().position(|p| p.name == "spike")?;
    let end: f64 = phases[..=spike].iter().map(|p| p.secs).sum();
    let first = end.ceil() as usize;
    let bad = |w: &driver::Window| w.answered > 0 && ms(&w.replies, 0.99) >= limit;
    let last_bad = (first..o.windows.len()).rev().find(|&t| bad(&o.windows[t]));
    Some(match last_bad {
        Some(t) => (t + 1) as f64 - end,
        None => 0.0,
    })
}

/// The summary as a table people read.
pub fn table(s: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or_default();
    let lat = |v: &Value| {
        format!(
            "p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            f(&v["p50"]),
            f(&v["p90"]),
            f(&v["p99"]),
            f(&v["max"])
        )
    };
    // Why messages were lost, under the count.
    let mut lost_why = String::new();
    if let Some(refused) = s["lost_refused"].as_object() {
        for (reason, n) in refused {
            lost_why += &format!("  refused    {n} ({reason})\n");
        }
    }
    if s["lost_timed_out"].as_u64().is_some_and(|n| n > 0) {
        lost_why += &format!("  no reply   {} in time\n", s["lost_timed_out"]);
    }
    let mut out = format!(
        "scenario     {}\nbackend      {} ({} server(s)), {} tenant(s), {} citizens, ≤{} per webhook\n\
         sent         {}\nacknowledged {}\nanswered     {}\nlost         {}\n{}duplicated   {}\n\
         throughput   {:.0} msgs/s over {:.2} s ({} webhooks)\n\
         reply        {}\nwebhook      {}\n",
        s["scenario"].as_str().unwrap_or("custom"),
        s["backend"].as_str().unwrap_or_default(),
        s["servers"],
        s["tenants"],
        s["contacts"],
        s["batch"],
        s["sent"],
        s["acknowledged"],
        s["answered"],
        s["lost"],
        lost_why,
        s["duplicated"],
        f(&s["msgs_per_sec"]),
        f(&s["seconds"]),
        s["webhooks"],
        lat(&s["reply_ms"]),
        lat(&s["webhook_ms"]),
    );
    if let Some(h) = s["baseline"]["hello_req_per_sec"].as_f64() {
        out += &format!(
            "baseline     hello {:.0} req/s; e2e ÷ hello = {:.3}\n",
            h,
            f(&s["baseline"]["ratio"])
        );
    }
    if s["rss_mb"].is_object() {
        let r = &s["rss_mb"];
        out += &format!(
            "server RSS   {:.1} MB after warm-up → {:.1} MB at the end ({:+.1} %), max {:.1} MB\n",
            f(&r["after_warmup"]),
            f(&r["end"]),
            f(&r["growth_pct"]),
            f(&r["max"])
        );
    }
    if s["server_cpu"].is_object() {
        let c = &s["server_cpu"];
        out += &format!(
            "server CPU   {:.3} ms per message ({:.2} cores over the run)\n",
            f(&c["ms_per_msg"]),
            f(&c["cores"])
        );
    }
    if let Some(phases) = s["phases"].as_array().filter(|p| p.len() > 1) {
        for p in phases {
            out += &format!(
                "phase {:>8}  sent {:>7}  answered {:>7}  reply {}\n",
                p["name"].as_str().unwrap_or_default(),
                p["sent"],
                p["answered"],
                lat(&p["reply_ms"])
            );
        }
    }
    if s["staff_streams"].is_object() {
        let st = &s["staff_streams"];
        out += &format!(
            "staff pages  {} streaming live updates: {} conversations with messages, {} missed, {} resyncs, {} reconnects, median {} events per page\n",
            st["sessions"],
            st["conversations_with_messages"],
            st["conversations_missed"],
            st["resyncs"],
            st["reconnects"],
            st["events_per_stream"]["median"]
        );
    }
    if s["stress"].is_object() {
        out += &format!(
            "stress       highest rate with p99 ≤ {} ms: {}\n",
            s["stress"]["p99_limit_ms"], s["stress"]["highest_rate_within"]
        );
    }
    if s["spike"].is_object() {
        out += &format!(
            "spike        p99 back under {} ms {} s after the spike\n",
            s["spike"]["p99_limit_ms"], s["spike"]["recovered_after_secs"]
        );
    }
    out.trim_end().to_owned()
}
