//! `ombud bench retention`: the retention sweep under load, on SQLite.
//!
//! The whole engine runs in process (webhook ingest, the intake agent,
//! sends to a channel that takes them at once, webhook deliveries to a
//! loopback receiver) at a fixed rate of messages, while the sweep runs
//! every few seconds with a retention of seconds instead of days (events,
//! webhook deliveries with their attempts, executions' outputs; with
//! `--messages`, messages themselves with their sends and runs). It
//! reports:
//! - the database's size (file and WAL) and its largest tables' rows over
//!   time: flat once the first retention period has passed;
//! - each sweep: what it removed and its longest batch (a batch is one
//!   transaction of the single writer: every other write waits behind it);
//! - the latency of storing a message (`ingest`, durable when it returns)
//!   overall and while a sweep runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ombud_core::*;
use ombud_engine::ops::retention::RetentionPolicy;
use ombud_engine::ops::webhooks::EndpointRequest;
use ombud_engine::{Engine, Runtimes};
use ombud_store::{InboundBatch, InboundMessage};
use serde_json::json;

use crate::app::open_store;
use crate::bench_agents::{bench_office, Instant0};
use crate::Config;

#[derive(Args, Debug)]
pub struct RetentionBenchArgs {
    /// Messages a second, from 500 citizens in turn.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// How long the load lasts, in seconds.
    #[arg(long, default_value_t = 300)]
    secs: u64,
    /// How long what the sweep removes is kept, in seconds.
    #[arg(long, default_value_t = 60)]
    keep_secs: i64,
    /// Seconds between sweeps (a server sweeps every 15 minutes).
    #[arg(long, default_value_t = 10)]
    sweep_every_secs: u64,
    /// Messages go too after `--keep-secs`, with their sends and the
    /// agent's runs (`retention.messages_days`; otherwise they are kept).
    #[arg(long)]
    messages: bool,
    /// Rows per sweep transaction (`retention.batch`).
    #[arg(long, default_value_t = 500)]
    batch: u32,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Sample {
    at_secs: u64,
    db_bytes: u64,
    wal_bytes: u64,
    events: i64,
    deliveries: i64,
    attempts: i64,
    messages: i64,
    executions: i64,
    sends: i64,
}

#[derive(Debug, serde::Serialize)]
struct SweepRun {
    at_secs: f64,
    took_ms: f64,
    longest_batch_ms: f64,
    removed: Vec<(&'static str, u64)>,
}

pub async fn retention(args: RetentionBenchArgs, base: Config) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate >= 1 && args.secs >= 10,
        "--rate at least 1, --secs at least 10"
    );
    let temp = tempfile::tempdir()?;
    let mut config = base;
    config.data_dir = temp.path().to_owned();
    config.database_url = None;
    // The receiver is on loopback.
    config.outbound.allow_cidrs = "127.0.0.0/8".into();
    let store = open_store(&config).await.context("opening the store")?;
    let (tenant, channel) = bench_office(store.as_ref()).await?;
    let (tx, mut sent) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while sent.recv().await.is_some() {} });
    let engine = Engine::new(
        store.clone(),
        Arc::new(Instant0(tx)),
        Runtimes::builtin(),
        Arc::new(SystemClock),
        config.engine(),
    )?;
    engine.start().await?;
    let receiver = receiver().await?;
    engine
        .ops()
        .create_webhook_endpoint(
            &ombud_engine::Acting::cli(),
            &tenant.id,
            EndpointRequest {
                url: format!("http://{receiver}/hook"),
                description: Some("bench".into()),
                event_types: None,
                enabled: true,
                ordered: false,
            },
        )
        .await?;
    let policy = RetentionPolicy {
        invitations: chrono::Duration::seconds(args.keep_secs),
        delivered_webhooks: chrono::Duration::seconds(args.keep_secs),
        failed_webhooks: chrono::Duration::seconds(args.keep_secs),
        events: chrono::Duration::seconds(args.keep_secs),
        executions: chrono::Duration::seconds(args.keep_secs),
        message_bodies: None,
        messages: args
            .messages
            .then(|| chrono::Duration::seconds(args.keep_secs)),
        batch: args.batch,
    };
    let began = Instant::now();
    let end = began + Duration::from_secs(args.secs);
    let sweeping = Arc::new(Mutex::new(false));
    let latencies: Arc<Mutex<Vec<(Duration, bool)>>> = Arc::default();

    // The load: one message every 1/rate s, each stored on its own task.
    let load = {
        let (engine, channel, latencies, sweeping) = (
            engine.clone(),
            channel.clone(),
            latencies.clone(),
            sweeping.clone(),
        );
        tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
            let mut i: u64 = 0;
            while Instant::now() < end {
                tick.tick().await;
                i += 1;
                let (engine, channel, latencies, sweeping) = (
                    engine.clone(),
                    channel.clone(),
                    latencies.clone(),
                    sweeping.clone(),
                );
                tokio::spawn(async move {
                    let batch = InboundBatch {
                        messages: vec![InboundMessage {
                            from: format!("9100{:08}", i % 500),
                            profile_name: None,
                            provider_id: format!("wamid.soak.{i}"),
                            kind: MessageKind::Text,
                            body: "help".into(),
                            payload: None,
                            sent_at: None,
                            media: None,
                        }],
                        statuses: vec![],
                    };
                    let started = Instant::now();
                    if engine.ingest(&channel, batch).await.is_ok() {
                        let during = *sweeping.lock().unwrap_or_else(|e| e.into_inner());
                        latencies
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((started.elapsed(), during));
                    }
                });
            }
        })
    };

    // The sweeps, and the size every 5 s.
    let path = config.data_dir.join("ombud.db");
    let mut samples = Vec::new();
    let mut sweeps = Vec::new();
    let mut next_sweep = began + Duration::from_secs(args.sweep_every_secs);
    let mut next_sample = began;
    while Instant::now() < end + Duration::from_secs(args.sweep_every_secs) {
        if Instant::now() >= next_sample {
            samples.push(sample(&path, began)?);
            next_sample += Duration::from_secs(5);
        }
        if Instant::now() >= next_sweep {
            *sweeping.lock().unwrap_or_else(|e| e.into_inner()) = true;
            let t0 = Instant::now();
            let report = engine.ops().sweep_retention(&policy).await?;
            *sweeping.lock().unwrap_or_else(|e| e.into_inner()) = false;
            sweeps.push(SweepRun {
                at_secs: t0.duration_since(began).as_secs_f64(),
                took_ms: t0.elapsed().as_secs_f64() * 1e3,
                longest_batch_ms: report.longest_batch.as_secs_f64() * 1e3,
                removed: report.removed.into_iter().filter(|(_, n)| *n > 0).collect(),
            });
            next_sweep += Duration::from_secs(args.sweep_every_secs);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    load.await?;
    samples.push(sample(&path, began)?);
    engine.shutdown().await;

    let all = latencies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let quantiles = |during_only: bool| {
        let mut took: Vec<f64> = all
            .iter()
            .filter(|(_, d)| !during_only || *d)
            .map(|(t, _)| t.as_secs_f64() * 1e3)
            .collect();
        took.sort_by(f64::total_cmp);
        let at = |q: f64| {
            took.get(((took.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
        };
        json!({"samples": took.len(), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": took.last()})
    };
    let longest = sweeps
        .iter()
        .map(|s| s.longest_batch_ms)
        .fold(0.0, f64::max);
    let report = json!({
        "rate_per_sec": args.rate,
        "secs": args.secs,
        "keep_secs": args.keep_secs,
        "messages_go": args.messages,
        "sweep_every_secs": args.sweep_every_secs,
        "batch": args.batch,
        "ingest": quantiles(false),
        "ingest_during_sweeps": quantiles(true),
        "longest_batch_ms": longest,
        "sweeps": sweeps,
        "samples": samples,
    });
    if args.json {
        crate::cli::print_json(&report);
    } else {
        let mut out = String::new();
        for s in &samples {
            out.push_str(&format!(
                "{:>4} s  db {:>6.1} MB  wal {:>6.1} MB  events {:>7}  deliveries {:>7}  messages {:>7}\n",
                s.at_secs,
                s.db_bytes as f64 / 1e6,
                s.wal_bytes as f64 / 1e6,
                s.events,
                s.deliveries,
                s.messages
            ));
        }
        out.push_str(&format!(
            "longest sweep batch {longest:.1} ms; ingest {}; during sweeps {}\n",
            quantiles(false),
            quantiles(true)
        ));
        print!("{out}");
    }
    Ok(())
}

/// The database's files and largest tables now.
fn sample(path: &std::path::Path, began: Instant) -> anyhow::Result<Sample> {
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let counts = ombud_store::sqlite::table_counts(&ombud_store::sqlite::open_read_only(path)?)?;
    let count =
        |table: &str| -> anyhow::Result<i64> { Ok(counts.get(table).copied().unwrap_or(0) as i64) };
    Ok(Sample {
        at_secs: began.elapsed().as_secs(),
        db_bytes: size(path),
        wal_bytes: size(&path.with_extension("db-wal")),
        events: count("events")?,
        deliveries: count("webhook_deliveries")?,
        attempts: count("webhook_attempts")?,
        messages: count("messages")?,
        executions: count("executions")?,
        sends: count("outbox")?,
    })
}

/// A webhook receiver on loopback that takes every delivery (204).
async fn receiver() -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}
