//! `ombud bench slowloris`: an Ombud (SQLite, a tenant with a WhatsApp
//! channel) under thousands of slow connections, each sending a partial
//! request head and one more header line a second, from several loopback
//! addresses, reconnecting whenever the server closes one, as a persistent
//! attacker would. Meanwhile, from another address, `/health/live` and
//! signed WhatsApp POSTs are timed, and compared with the same probes
//! before the attack. The server runs with its default limits.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use ombud_channels::whatsapp::{sign, text_message_payload};
use ombud_core::*;
use ombud_engine::provision;
use ombud_store::NewTenant;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpSocket;

use crate::app::{open_store, App, AppOptions};
use crate::Config;

#[derive(Args, Debug)]
pub struct SlowlorisBenchArgs {
    /// Slow connections the attacker keeps open.
    #[arg(long, default_value_t = 5000)]
    connections: usize,
    /// Loopback addresses they come from (127.0.3.1, 127.0.3.2, …).
    #[arg(long, default_value_t = 25)]
    addresses: usize,
    /// Probes of each kind, before and during the attack.
    #[arg(long, default_value_t = 200)]
    probes: usize,
    /// How long the probes during the attack are spread over: longer than
    /// the header read timeout, so the server closes and the attacker
    /// reopens its connections meanwhile.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Probes {
    what: String,
    ok: usize,
    failed: usize,
    median_ms: f64,
    p90_ms: f64,
    max_ms: f64,
}

const PHONE: &str = "100000000000011";
const SECRET: &str = "bench-slowloris";

pub async fn run(args: SlowlorisBenchArgs, base: Config) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let mut config = base;
    config.data_dir = temp.path().to_owned();
    config.database_url = None;
    config.listen = "127.0.0.1:0".into();
    config.metrics_listen = Some("127.0.0.1:0".into());
    config.outbound.provider_hosts = "127.0.0.1".into();
    let store = open_store(&config).await?;
    let slug = TenantSlug::parse("slowloris")?;
    provision::create_tenant(
        store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        NewTenant {
            id: ombud_core::TenantId::new(),
            slug: slug.clone(),
            name: "Bench".into(),
            complaint_prefix: ComplaintPrefix::parse("SLOW")?,
            default_language: Language::en(),
            timezone: TimeZoneName::parse("UTC")?,
        },
        true,
    )
    .await?;
    let (_, channel) = provision::add_whatsapp_channel(
        store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        config.outbound_policy().providers(),
        &slug,
        "bench".into(),
        WhatsAppConfig {
            phone_number_id: PHONE.into(),
            app_secret: Secret::new(SECRET),
            verify_token: Secret::new("v"),
            access_token: Secret::new("t"),
            graph_url: "http://127.0.0.1:9".into(),
            api_version: WhatsAppConfig::DEFAULT_API_VERSION.into(),
            waba_id: None,
            templates: Default::default(),
        },
    )
    .await?;
    drop(store);
    let app = App::build(&config, AppOptions::default()).await?;
    let addr = app.addr();
    let operators = app
        .metrics_addr()
        .map(|a| format!("http://{a}"))
        .unwrap_or_default();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async {
        let _ = stop_rx.await;
    }));
    let base_url = format!("http://{addr}");
    let webhook = format!("{base_url}{}", channel.webhook_path());
    let http = reqwest::Client::builder()
        .local_address(Some([127, 0, 0, 1].into()))
        .timeout(Duration::from_secs(10))
        .build()?;

    let mut report = probe(
        &http,
        &base_url,
        &webhook,
        args.probes,
        "before",
        Duration::ZERO,
    )
    .await;

    // The attack: keep `connections` slow connections open.
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicUsize::new(0));
    let reconnects = Arc::new(AtomicUsize::new(0));
    let mut attackers = Vec::new();
    for i in 0..args.connections {
        let from = format!("127.0.3.{}", i % args.addresses.clamp(1, 250) + 1);
        let (stop, open, reconnects) = (stop.clone(), open.clone(), reconnects.clone());
        attackers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(socket) = TcpSocket::new_v4() else {
                    break;
                };
                let Ok(local) = format!("{from}:0").parse() else {
                    break;
                };
                if socket.bind(local).is_err() {
                    break;
                }
                let Ok(mut stream) = socket.connect(addr).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                open.fetch_add(1, Ordering::Relaxed);
                let mut line: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n";
                while !stop.load(Ordering::Relaxed) && stream.write_all(line).await.is_ok() {
                    line = b"X-Slow: 1\r\n";
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                open.fetch_sub(1, Ordering::Relaxed);
                reconnects.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    // Let the attack ramp up.
    let ramp = Instant::now();
    while open.load(Ordering::Relaxed) < args.connections
        && ramp.elapsed() < Duration::from_secs(15)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held = open.load(Ordering::Relaxed);
    let spread = Duration::from_secs(args.seconds);
    report.extend(probe(&http, &base_url, &webhook, args.probes, "during", spread).await);
    let held_after = open.load(Ordering::Relaxed);
    let server_side = server_gauges(&http, &operators).await;
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.abort();
    }
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;

    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let summary = serde_json::json!({
        "connections_wanted": args.connections,
        "addresses": args.addresses,
        "open_when_probing_began": held,
        "open_when_probing_ended": held_after,
        "reconnects": reconnects.load(Ordering::Relaxed),
        "server_side_at_end": server_side,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "machine": machine,
        "probes": report,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "slowloris: {} slow connections wanted from {} addresses; {held} open when probing began, {held_after} when it ended, {} reconnects",
            args.connections,
            args.addresses,
            summary["reconnects"]
        );
        println!("  the server's own count at the end: {server_side}");
        for p in &report {
            println!(
                "  {:<40} ok {:>4}  failed {:>3}  median {:>7.2} ms  p90 {:>7.2} ms  max {:>7.2} ms",
                p.what, p.ok, p.failed, p.median_ms, p.p90_ms, p.max_ms
            );
        }
    }
    let failed: usize = report.iter().map(|p| p.failed).sum();
    anyhow::ensure!(failed == 0, "{failed} probes failed");
    Ok(())
}

/// The server's connection gauges, read from its `/metrics`.
async fn server_gauges(http: &reqwest::Client, base: &str) -> serde_json::Value {
    let text = match http.get(format!("{base}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let mut found = serde_json::Map::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("ombud_http_connections"))
    {
        if let Some((name, value)) = line.rsplit_once(' ') {
            found.insert(name.to_owned(), value.parse::<f64>().unwrap_or(-1.0).into());
        }
    }
    found.into()
}

/// `n` probes of each kind, spread evenly over `spread`.
async fn probe(
    http: &reqwest::Client,
    base: &str,
    webhook: &str,
    n: usize,
    when: &str,
    spread: Duration,
) -> Vec<Probes> {
    let pause = spread / n.max(1) as u32;
    let mut live = Vec::new();
    let mut signed = Vec::new();
    let (mut live_failed, mut signed_failed) = (0, 0);
    for i in 0..n {
        let started = Instant::now();
        match http.get(format!("{base}/health/live")).send().await {
            Ok(r) if r.status().is_success() => live.push(started.elapsed()),
            _ => live_failed += 1,
        }
        let body = text_message_payload(
            PHONE,
            &format!("9198{:08}", i),
            &format!("wamid.SLOW{when}{i}"),
            "hello",
        )
        .to_string();
        let started = Instant::now();
        let sent = http
            .post(webhook)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(SECRET, body.as_bytes()))
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => signed.push(started.elapsed()),
            _ => signed_failed += 1,
        }
        tokio::time::sleep(pause).await;
    }
    vec![
        summarise(format!("GET /health/live ({when})"), live, live_failed),
        summarise(
            format!("signed WhatsApp POST ({when})"),
            signed,
            signed_failed,
        ),
    ]
}

fn summarise(what: String, mut took: Vec<Duration>, failed: usize) -> Probes {
    took.sort();
    let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    let at = |q: f64| took.get(((took.len() as f64 - 1.0) * q).round() as usize);
    Probes {
        what,
        ok: took.len(),
        failed,
        median_ms: ms(at(0.5)),
        p90_ms: ms(at(0.9)),
        max_ms: ms(took.last()),
    }
}
