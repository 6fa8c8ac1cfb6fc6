//! `/metrics` scraped from a live server after known traffic: promtool accepts
//! it, and the counters moved by exactly what was sent. Readiness names the
//! database when it goes away, and `/metrics` still answers. PagerDuty is paged
//! once when a channel fails past the threshold, and the page resolved after.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use ombud_channels::whatsapp::{sign, text_message_payload};

use crate::crash::{cli, serve_with, wait_ready, whatsapp_channel};
use crate::fake_pagerduty::FakePagerDuty;
use crate::helpers::*;
use crate::relay::Relay;

const SECRET: &str = "obs-app-secret";
const PHONE: &str = "5550077";
const CITIZENS: usize = 3;

/// promtool from Debian's `prometheus` package (scripts/test installs it).
pub(crate) fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed: apt-get install prometheus (scripts/test installs it)");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// The samples of a scrape, keyed by `name{labels}` as written.
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The one sample of `name` whose labels include all of `labels`.
fn sample(all: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = all
        .iter()
        .filter(|(k, _)| {
            let (n, rest) = k.split_once('{').unwrap_or((k, ""));
            n == name
                && labels
                    .iter()
                    .all(|(l, v)| rest.contains(&format!("{l}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
        .collect();
    let series: Vec<&String> = all.keys().filter(|k| k.starts_with(name)).collect();
    assert_eq!(
        found.len(),
        1,
        "{name} {labels:?}: {found:?} among {series:?}"
    );
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_after_traffic_passes_promtool_and_counts_exactly_the_traffic_sent() {
    let graph = FakeGraph::start().await;
    let db = TestDb::new().await;
    cli(
        &db,
        &[
            "tenant", "create", "--slug", "obs", "--name", "Obs", "--prefix", "OBS",
        ],
    );
    let channel = whatsapp_channel(&db, "obs", PHONE, SECRET, &graph.url());
    let (port, admin_port) = (free_port(), free_port());
    let admin = format!("127.0.0.1:{admin_port}");
    let _server = serve_with(
        &db,
        port,
        &[
            ("OMBUD_METRICS_LISTEN", admin.as_str()),
            ("OMBUD_METRICS__SAMPLE_INTERVAL_MS", "200"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    let url = format!("{base}{}", channel["webhook_path"].as_str().unwrap());

    // Each citizen writes twice, waiting for the answer in between: 6
    // messages in, 6 runs, 6 replies out.
    let citizens = (0..CITIZENS).map(|i| {
        let (http, url, graph) = (http.clone(), url.clone(), &graph);
        async move {
            let from = format!("9188{i:08}");
            for (k, text) in ["The drain on my street overflows", "Sector 4"]
                .iter()
                .enumerate()
            {
                let body =
                    text_message_payload(PHONE, &from, &format!("wamid.O{i}{k}"), text).to_string();
                deliver_until_ok(&http, std::slice::from_ref(&url), 0, body, SECRET).await;
                graph.wait_for_reply_to(&from, k + 1).await;
            }
        }
    });
    futures::future::join_all(citizens).await;
    assert_eq!(graph.delivered().len(), CITIZENS * 2);

    // Meta redelivers one message (a duplicate: stored once, counted once), a
    // forged request is refused, and a request id is kept or made.
    let again = text_message_payload(PHONE, "918800000000", "wamid.O00", "again").to_string();
    let res = http
        .post(&url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(SECRET, again.as_bytes()))
        .header("x-request-id", "trace-abc.1")
        .body(again)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "trace-abc.1");
    let forged = http
        .post(&url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", "sha256=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let made = forged.headers()["x-request-id"].to_str().unwrap();
    assert!(made.starts_with("req_"), "{made}");

    // /metrics is on the operators' listener only.
    let public = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
    // Let the sampler look at the (now empty) outbox once more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = http
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = res.text().await.unwrap();
    let (ok, said) = promtool(&["check", "metrics"], Some(&body));
    assert!(ok, "promtool check metrics: {said}\n{body}");
    assert!(said.trim().is_empty(), "promtool found problems: {said}");

    // Bounded labels: no phone number, no message, no raw URL. (Labels only:
    // a sample's value may well have the digits 9188 in it.)
    let labels: String = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| Some(&l[l.find('{')?..=l.rfind('}')?]))
        .collect();
    assert!(!labels.contains("9188"), "a phone number in the metrics");
    assert!(!body.contains("drain"), "message text in the metrics");
    let channel_id = channel["channel_id"].as_str().unwrap();
    assert!(
        !body.contains(&format!("/channels/whatsapp/{channel_id}")),
        "a raw URL as a label"
    );

    let m = samples(&body);
    let six = (CITIZENS * 2) as f64;
    let t = [("tenant", "obs"), ("channel", "whatsapp")];
    let with = |extra: (&'static str, &'static str)| [t[0], t[1], extra];
    assert_eq!(
        sample(&m, "ombud_messages_total", &with(("direction", "inbound"))),
        six
    );
    assert_eq!(
        sample(&m, "ombud_messages_total", &with(("direction", "outbound"))),
        six
    );
    assert_eq!(sample(&m, "ombud_reply_latency_seconds_count", &t), six);
    assert!(sample(&m, "ombud_reply_latency_seconds_sum", &t) > 0.0);
    assert_eq!(
        sample(
            &m,
            "ombud_outbound_sends_total",
            &[("channel", "whatsapp"), ("outcome", "sent")]
        ),
        six
    );
    assert_eq!(
        sample(
            &m,
            "ombud_agent_run_duration_seconds_count",
            &[("runtime", "intake"), ("outcome", "ok")]
        ),
        six
    );
    let webhook = [
        ("route", "/channels/whatsapp/{channel_id}/webhook"),
        ("method", "POST"),
    ];
    assert_eq!(
        sample(
            &m,
            "ombud_http_requests_total",
            &[webhook[0], webhook[1], ("status_class", "2xx")]
        ),
        six + 1.0
    );
    assert_eq!(
        sample(
            &m,
            "ombud_http_requests_total",
            &[webhook[0], webhook[1], ("status_class", "4xx")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            "ombud_http_request_duration_seconds_count",
            &[webhook[0], webhook[1], ("status_class", "2xx")]
        ),
        six + 1.0
    );
    // The queue is empty and the outbox too, as the sampler last saw them.
    assert_eq!(sample(&m, "ombud_queue_due_conversations", &[]), 0.0);
    assert_eq!(sample(&m, "ombud_agent_runs_active", &[]), 0.0);
    assert_eq!(
        sample(&m, "ombud_outbox_pending", &[("kind", "message")]),
        0.0
    );
    assert_eq!(
        sample(
            &m,
            "ombud_outbox_oldest_pending_age_seconds",
            &[("kind", "webhook")]
        ),
        0.0
    );
    assert_eq!(
        sample(
            &m,
            "ombud_channel_consecutive_failures",
            &[("tenant", "obs"), ("channel_id", channel_id)]
        ),
        0.0
    );
    assert_eq!(sample(&m, "ombud_db_integrity_ok", &[]), 1.0);
    assert!(sample(&m, "ombud_db_size_bytes", &[]) > 0.0);
    let (free, size) = (
        sample(&m, "ombud_disk_free_bytes", &[]),
        sample(&m, "ombud_disk_size_bytes", &[]),
    );
    assert!(free > 0.0 && free <= size, "disk {free} of {size}");
    assert_eq!(
        sample(
            &m,
            "ombud_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    let errors: Vec<_> = m
        .iter()
        .filter(|(k, v)| k.starts_with("ombud_errors_total") && **v > 0.0)
        .collect();
    assert!(errors.is_empty(), "errors counted: {errors:?}");
    for name in [
        "ombud_workers_live",
        "ombud_webhook_deliveries_total",
        "ombud_webhook_endpoints_disabled_total",
        "ombud_job_runs_total",
    ] {
        assert!(body.contains(name), "{name} missing");
    }
    // Scheduled work, as the sampler last saw it: the audit checkpoint waits
    // for the coming hour.
    for name in ["ombud_jobs_due", "ombud_jobs_running", "ombud_jobs_failed"] {
        assert_eq!(sample(&m, name, &[]), 0.0, "{name}");
    }
    assert_eq!(sample(&m, "ombud_jobs_oldest_due_age_seconds", &[]), 0.0);

    grafana_queries_name_only_metrics_in(&body);

    // Health shows the channel's last good send.
    let ready: serde_json::Value = http
        .get(format!("http://{admin}/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let channels = ready["checks"]["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1, "{ready}");
    assert_eq!(channels[0]["channel_id"], channel_id);
    assert_eq!(channels[0]["consecutive_failures"], 0);
    assert!(channels[0]["last_success_at"].is_string(), "{ready}");
}

/// `deploy/grafana/ombud.json`: a dashboard with a data source variable, a
/// tenant variable and the panels operators need, whose every query names
/// metrics the live scrape (`body`) exposes.
fn grafana_queries_name_only_metrics_in(body: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/ombud.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("ombud.json parses");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "tenant"]);
    let panels = dashboard["panels"].as_array().unwrap();
    let titles: Vec<&str> = panels
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Message volume",
        "Reply latency p50 / p95 / p99",
        "Agent run duration p50 / p95 by runtime",
        "Error rates",
        "Queue depth and runs",
        "Outbox backlog",
        "Webhook success rate",
    ] {
        assert!(
            titles.contains(&wanted),
            "no panel {wanted:?} in {titles:?}"
        );
    }
    let metric = regex::Regex::new(r"ombud_[a-z_]+").unwrap();
    let exposed: std::collections::HashSet<&str> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut queries = 0;
    for panel in panels {
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let names: Vec<&str> = metric.find_iter(expr).map(|m| m.as_str()).collect();
            assert!(!names.is_empty(), "{expr} names no metric");
            for name in names {
                assert!(
                    exposed.contains(name),
                    "{}: {name} is not exposed",
                    panel["title"]
                );
            }
            queries += 1;
        }
    }
    assert!(queries >= 20, "{queries} queries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_the_database_when_it_goes_and_metrics_still_answer() {
    // Needs a server to take away: the suite's PostgreSQL, through a relay.
    let base = std::env::var("OMBUD_TEST_DATABASE_URL").expect(
        "this test cuts a PostgreSQL connection: set OMBUD_TEST_DATABASE_URL (scripts/test does)",
    );
    let scratch = ombud_store::postgres::scratch_schema_url(&base)
        .await
        .unwrap();
    let mut url = reqwest::Url::parse(&scratch).unwrap();
    let upstream = url.socket_addrs(|| Some(5432)).unwrap()[0];
    let relay = Relay::start(upstream).await;
    url.set_port(Some(relay.addr.port())).unwrap();

    let app = TestApp::spawn_with(
        |c| c.database_url = Some(ombud_core::Secret::new(url.to_string())),
        None,
    )
    .await;
    let operators = format!("http://{}", app.admin.unwrap());
    let ready = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    relay.cut();
    let started = std::time::Instant::now();
    let ready = app
        .http
        .get(format!("{operators}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["failing"], serde_json::json!(["database"]), "{body}");
    assert_eq!(body["checks"]["database"]["ok"], false);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "readiness waited {:?} for a database that is gone",
        started.elapsed()
    );
    let metrics = app
        .http
        .get(format!("{operators}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("ombud_build_info"));
    let live = app.http.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_gets_one_trigger_while_the_graph_api_stays_down_and_one_resolve_after() {
    let pagerduty = FakePagerDuty::start().await;
    let hook = FakePagerDuty::start().await;
    let graph = FakeGraph::start().await;
    let (url, hook_url) = (pagerduty.url.clone(), hook.url.clone());
    let app = TestApp::spawn_with(
        move |c| {
            c.paging.pagerduty_routing_key = Some(ombud_core::Secret::new("R0UTINGKEY"));
            c.paging.pagerduty_url = url;
            c.paging.webhook_url = Some(hook_url);
            c.paging.check_interval_ms = 100;
            c.paging.channel_failing_secs = 1;
            c.paging.source = Some("ombud-test".into());
        },
        None,
    )
    .await;
    let t = app.tenant("pune", "PUNE", &graph).await;

    // Working normally: a reply goes out, nobody is paged.
    app.say(&t, "919800000001", "hello").await;
    graph.wait_for_reply_to("919800000001", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pagerduty.events().is_empty(), "{:?}", pagerduty.events());

    // The Graph API goes down and stays down past the threshold: the sends
    // keep failing (with retries), and PagerDuty gets one trigger.
    graph.stop().await;
    app.say(&t, "919800000002", "namaste").await;
    let paged = wait_until(Duration::from_secs(10), || async {
        !pagerduty.events().is_empty()
    })
    .await;
    assert!(paged, "no page while the channel failed");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let events = pagerduty.events();
    assert_eq!(events.len(), 1, "one page per incident: {events:?}");
    let trigger = &events[0];
    let dedup_key = format!("ombud/channel-failing/{}", t.channel.id);
    assert_eq!(trigger["routing_key"], "R0UTINGKEY");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], dedup_key.as_str());
    assert_eq!(trigger["payload"]["source"], "ombud-test");
    assert_eq!(trigger["payload"]["severity"], "critical");
    let summary = trigger["payload"]["summary"].as_str().unwrap();
    assert!(summary.starts_with("whatsapp channel"), "{summary}");
    assert!(
        trigger["payload"]["custom_details"]["consecutive_failures"]
            .as_u64()
            .unwrap()
            >= 2,
        "{trigger}"
    );

    // It comes back: the reply goes out, and the incident is resolved once.
    let graph = graph.restart().await;
    graph.wait_for_reply_to("919800000002", 1).await;
    let resolved = wait_until(Duration::from_secs(5), || async {
        pagerduty.events().len() >= 2
    })
    .await;
    assert!(resolved, "no resolve after the channel recovered");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = pagerduty.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events[1],
        serde_json::json!({"routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": dedup_key})
    );

    // The paging webhook got the same two, in its own shape.
    let pages = hook.events();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0]["event"], "trigger");
    assert_eq!(pages[0]["dedup_key"], dedup_key.as_str());
    assert_eq!(pages[0]["summary"], summary);
    assert_eq!(pages[0]["severity"], "critical");
    assert_eq!(pages[0]["source"], "ombud-test");
    assert!(pages[0]["at"].is_string(), "{pages:?}");
    assert_eq!(pages[1]["event"], "resolve");
    assert_eq!(pages[1]["dedup_key"], dedup_key.as_str());
    app.stop().await;
}
