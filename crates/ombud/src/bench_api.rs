//! `ombud bench webhooks` and `ombud bench api`.
//!
//! webhooks: writes `--events` test events for an endpoint on a local
//! receiver (an in-process HTTP server answering 204), then starts the
//! dispatcher and times until every delivery is recorded: deliveries per
//! second, end to end (claim, sign, POST, record), for an ordered endpoint
//! (one in flight) and a parallel one. Several runs; median and spread.
//!
//! api: the API's complaint list under `wrk` on the dashboard bench's seeded
//! tenant (`--complaints`, a million by default): p50/p90/p99 per query.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ombud_core::*;
use ombud_engine::{OutboundPolicy, WebhookConfig};
use ombud_store::{ComplaintFilter, WebhookStatus};

use crate::app::{open_store, App, AppOptions};
use crate::Config;

#[derive(Args, Debug)]
pub struct WebhookBenchArgs {
    /// Events per run.
    #[arg(long, default_value_t = 5000)]
    events: usize,
    /// Runs per mode.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Deliveries in flight for the parallel endpoint.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Rate {
    mode: &'static str,
    events: usize,
    per_second: Vec<f64>,
    median: f64,
    min: f64,
    max: f64,
}

/// A receiver that counts what it gets and answers 204.
async fn receiver() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, count))
}

pub async fn webhooks(args: WebhookBenchArgs, base: Config) -> anyhow::Result<()> {
    let (url, _) = receiver().await?;
    let mut rates = Vec::new();
    for (mode, ordered) in [("ordered (1 in flight)", true), ("parallel", false)] {
        let mut per_second = Vec::new();
        for _ in 0..args.runs {
            per_second.push(one_run(&args, &base, &url, ordered).await?);
        }
        let mut sorted = per_second.clone();
        sorted.sort_by(f64::total_cmp);
        rates.push(Rate {
            mode,
            events: args.events,
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            per_second,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rates)?);
    } else {
        println!(
            "webhook deliveries per second, {} events per run, {} runs (SQLite, local receiver)",
            args.events, args.runs
        );
        for r in &rates {
            println!(
                "{:<24} median {:>8.0}/s  min {:>8.0}/s  max {:>8.0}/s",
                r.mode, r.median, r.min, r.max
            );
        }
    }
    Ok(())
}

/// One run on a fresh database: the events first, then the dispatcher, timed
/// until the last delivery is recorded.
async fn one_run(
    args: &WebhookBenchArgs,
    base: &Config,
    url: &str,
    ordered: bool,
) -> anyhow::Result<f64> {
    let temp = tempfile::tempdir()?;
    let mut config = base.clone();
    config.data_dir = temp.path().to_owned();
    config.database_url = None;
    let store = open_store(&config).await?;
    let (tenant, _) = ombud_engine::provision::create_tenant(
        store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        ombud_store::NewTenant {
            id: ombud_core::TenantId::new(),
            slug: TenantSlug::parse("hooks")?,
            name: "Hooks".into(),
            complaint_prefix: ComplaintPrefix::parse("HOOK")?,
            default_language: Language::en(),
            timezone: TimeZoneName::parse("UTC")?,
        },
        false,
    )
    .await?;
    let now = ombud_store::stored(chrono::Utc::now());
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::new(),
        tenant_id: tenant.id.clone(),
        url: url.to_owned(),
        description: "bench".into(),
        event_types: vec![],
        enabled: true,
        ordered,
        secret: webhook::new_secret(),
        previous_secret: None,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    store.create_webhook_endpoint(&endpoint, Vec::new()).await?;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, t, e) = (store.clone(), tenant.id.clone(), endpoint.id.clone());
            let n = args.events / 8 + usize::from(w < args.events % 8);
            tokio::spawn(async move {
                for _ in 0..n {
                    store
                        .send_test_webhook(
                            &t,
                            &e,
                            ombud_store::stored(chrono::Utc::now()),
                            Vec::new(),
                        )
                        .await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for w in writers {
        w.await??;
    }
    let allow = OutboundPolicy::parse_cidrs("127.0.0.0/8").map_err(anyhow::Error::msg)?;
    let dispatcher = Arc::new(ombud_engine::webhooks::WebhookDispatcher::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(OutboundPolicy::new(allow)),
        WebhookConfig {
            concurrency: if ordered { 1 } else { args.concurrency },
            poll_interval: Duration::from_millis(20),
            ..WebhookConfig::default()
        },
        Arc::new(tokio::sync::Notify::new()),
    )?);
    let stop = tokio_util::sync::CancellationToken::new();
    let tracker = tokio_util::task::TaskTracker::new();
    let started = Instant::now();
    let running = tokio::spawn(dispatcher.run(stop.clone(), tracker.clone()));
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let left = store
            .webhook_deliveries(
                &tenant.id,
                &endpoint.id,
                Some(WebhookStatus::Pending),
                None,
                1,
            )
            .await?
            .len()
            + store
                .webhook_deliveries(
                    &tenant.id,
                    &endpoint.id,
                    Some(WebhookStatus::Sending),
                    None,
                    1,
                )
                .await?
                .len();
        if left == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("deliveries still pending after 10 minutes");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    stop.cancel();
    tracker.close();
    tracker.wait().await;
    running.await?;
    let delivered = store
        .webhook_deliveries(
            &tenant.id,
            &endpoint.id,
            Some(WebhookStatus::Delivered),
            None,
            1,
        )
        .await?;
    anyhow::ensure!(!delivered.is_empty(), "nothing was delivered");
    Ok(args.events as f64 / secs)
}

#[derive(Args, Debug)]
pub struct ApiBenchArgs {
    /// Complaints in the tenant (seeded as `bench dashboard` does).
    #[arg(long, default_value_t = 1_000_000)]
    complaints: usize,
    /// Keep (and reuse) the data here.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seconds of load per query.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// wrk's connections (and 2 threads).
    #[arg(long, default_value_t = 16)]
    connections: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Latency {
    query: &'static str,
    path: String,
    requests_per_sec: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    errors: String,
}

pub async fn api(args: ApiBenchArgs, base: Config) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::process::Command::new("wrk")
            .arg("--version")
            .output()
            .is_ok(),
        "wrk is not installed (Debian: apt-get install wrk)"
    );
    let temp = tempfile::tempdir()?;
    let mut config = base;
    config.data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    config.database_url = None;
    config.listen = "127.0.0.1:0".into();
    let store = open_store(&config).await?;
    crate::bench::prepare(store.as_ref(), args.complaints).await?;
    drop(store);
    let app = App::build(&config, AppOptions::default()).await?;
    let base_url = format!("http://{}/api/v1", app.addr());
    let store = app.store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let tenant = crate::cli::tenant_by_slug(store.as_ref(), crate::bench::SLUG).await?;
    let total = store
        .count_complaints(&tenant.id, &ComplaintFilter::default())
        .await?;
    let (key, _) = crate::cli::operations(store.clone())
        .create_api_key(
            &ombud_engine::Acting::cli(),
            ombud_web::auth::KeyRequest {
                tenant: tenant.id.clone(),
                name: "bench".into(),
                scopes: vec![Scope::ComplaintsRead],
                rate_limit_per_minute: 1_000_000,
                expires_in_days: Some(1),
                created_by: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // A cursor deep in the list, and a number to fetch.
    let http = reqwest::Client::new();
    let deep: serde_json::Value = http
        .get(format!("{base_url}/complaints?limit=200&sort=oldest"))
        .bearer_auth(&key)
        .send()
        .await?
        .json()
        .await?;
    let number = deep["data"][0]["number"]
        .as_str()
        .context("a complaint")?
        .to_owned();
    let cursor = deep["next_cursor"].as_str().unwrap_or("").to_owned();
    let queries: [(&'static str, String); 5] = [
        ("first page (50)", "/complaints".into()),
        (
            "page after a cursor",
            format!("/complaints?sort=oldest&cursor={cursor}"),
        ),
        ("status filter", "/complaints?status=resolved".into()),
        ("free text", "/complaints?q=pothole".into()),
        ("one by number", format!("/complaints/{number}")),
    ];
    let mut results = Vec::new();
    for (query, path) in queries {
        let url = format!("{base_url}{path}");
        let out = tokio::task::spawn_blocking({
            let (url, key, d, c) = (url.clone(), key.clone(), args.duration, args.connections);
            move || {
                std::process::Command::new("wrk")
                    .args(["-t2", &format!("-c{c}"), &format!("-d{d}s"), "--latency"])
                    .args(["-H", &format!("Authorization: Bearer {key}"), &url])
                    .output()
            }
        })
        .await??;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        results.push(parse_wrk(query, path, &text)?);
    }
    let _ = stop.send(());
    server.await??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        println!(
            "API list latency under wrk (-t2 -c{} -d{}s), {total} complaints, SQLite",
            args.connections, args.duration
        );
        println!(
            "{:<22} {:>9} {:>9} {:>9} {:>10}  errors",
            "query", "p50", "p90", "p99", "req/s"
        );
        for r in &results {
            println!(
                "{:<22} {:>7.2}ms {:>7.2}ms {:>7.2}ms {:>10.0}  {}",
                r.query, r.p50_ms, r.p90_ms, r.p99_ms, r.requests_per_sec, r.errors
            );
        }
    }
    Ok(())
}

/// wrk's `--latency` report: the percentiles, requests/s, and any non-2xx.
fn parse_wrk(query: &'static str, path: String, text: &str) -> anyhow::Result<Latency> {
    let ms = |label: &str| -> anyhow::Result<f64> {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .with_context(|| format!("no {label} line in wrk's output:\n{text}"))?;
        let v = line.split_whitespace().nth(1).context("a value")?;
        let (n, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
        let n: f64 = n.parse()?;
        Ok(match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            "m" => n * 60_000.0,
            _ => anyhow::bail!("unit {unit:?} in {line}"),
        })
    };
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let errors = text
        .lines()
        .filter(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Latency {
        query,
        path,
        requests_per_sec: rps,
        p50_ms: ms("50%")?,
        p90_ms: ms("90%")?,
        p99_ms: ms("99%")?,
        errors,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_reports_are_read() {
        let text = "Running 2s test @ http://x\n  2 threads and 16 connections\n  Latency Distribution\n     50%    1.52ms\n     75%    2.00ms\n     90%  850.00us\n     99%    1.20s\n  1000 requests in 2.00s, 1.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:    500.25\n";
        let l = super::parse_wrk("q", "/p".into(), text).unwrap();
        assert_eq!((l.p50_ms, l.p90_ms, l.p99_ms), (1.52, 0.85, 1200.0));
        assert_eq!(l.requests_per_sec, 500.25);
        assert!(l.errors.contains("Non-2xx"));
    }
}
