//! Kill -9 during a burst, restart, and count: every inbound message answered
//! exactly once, no complaint created twice.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use ombud_channels::whatsapp::text_message_payload;
use serde_json::Value;

use crate::helpers::*;

const SECRET: &str = "crash-app-secret";
const PHONE: &str = "5550001";
const CONTACTS: usize = 50;

pub(crate) fn cli(db: &TestDb, args: &[&str]) -> Value {
    let (code, json, stderr) = run_cli(db, args);
    assert_eq!(code, 0, "{stderr}");
    json
}

/// `ombud channel add whatsapp` for `tenant`, sending to `graph_url`.
pub(crate) fn whatsapp_channel(
    db: &TestDb,
    tenant: &str,
    phone: &str,
    secret: &str,
    graph_url: &str,
) -> Value {
    cli(
        db,
        &[
            "channel",
            "add",
            "whatsapp",
            "--tenant",
            tenant,
            "--phone-number-id",
            phone,
            "--app-secret",
            secret,
            "--verify-token",
            "v",
            "--access-token",
            "token",
            "--graph-url",
            graph_url,
        ],
    )
}

/// The server process, killed if the test ends early so no server outlives it.
/// Its log (warnings and errors) is copied to `target/serve-logs/<test>.log`
/// then, for a failure to be read after the run.
pub(crate) struct Server(pub Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/serve-logs");
        let test = std::thread::current()
            .name()
            .unwrap_or("serve")
            .replace("::", "-");
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::copy(&self.1, dir.join(format!("{test}.log")));
        }
    }
}

fn serve(db: &TestDb, port: u16) -> Server {
    serve_with(db, port, &[])
}

/// `ombud serve` on `port` with the test's database, and `env` on top.
pub(crate) fn serve_with(db: &TestDb, port: u16, env: &[(&str, &str)]) -> Server {
    let dir = db.dir.path();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .expect("log file");
    let kept = dir.join("serve.log");
    Command::new(env!("CARGO_BIN_EXE_ombud"))
        .arg("serve")
        .envs(db.env())
        // What a killed server held (sends, conversations) is taken over when its
        // lease ends: at once on SQLite, after 2 s on PostgreSQL.
        .env("OMBUD_OUTBOX__LEASE_SECS", "2")
        .env("OMBUD_AGENTS__LEASE_SECS", "2")
        .env("OMBUD_AGENTS__SWEEP_INTERVAL_MS", "300")
        .env("OMBUD_LISTEN", format!("127.0.0.1:{port}"))
        .env("OMBUD_OUTBOX__POLL_INTERVAL_MS", "50")
        .env("OMBUD_OUTBOX__BACKOFF_BASE_MS", "50")
        .env("OMBUD_OUTBOX__BACKOFF_MAX_MS", "500")
        .env("OMBUD_AGENTS__RETRY_BASE_MS", "50")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(|child| Server(child, kept))
        .expect("spawn ombud serve")
}

pub(crate) async fn wait_ready(http: &reqwest::Client, base: &str) {
    let ok = wait_until(Duration::from_secs(15), || async {
        matches!(http.get(format!("{base}/health/ready")).send().await, Ok(r) if r.status() == 200)
    })
    .await;
    assert!(ok, "server did not become ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_loses_nothing_and_duplicates_nothing() {
    let graph = FakeGraph::start().await;
    let db = TestDb::new().await;
    let d = &db;
    cli(
        d,
        &[
            "tenant",
            "create",
            "--slug",
            "crash",
            "--name",
            "Crash Office",
            "--prefix",
            "CRASH",
        ],
    );
    let channel = whatsapp_channel(d, "crash", PHONE, SECRET, &graph.url());
    let port = crate::helpers::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}{}", channel["webhook_path"].as_str().unwrap());
    let http = reqwest::Client::new();

    let mut server = serve(d, port);
    wait_ready(&http, &base).await;

    let acks = Arc::new(AtomicUsize::new(0));
    let citizens = (0..CONTACTS).map(|i| {
        let (http, url, acks) = (http.clone(), url.clone(), acks.clone());
        tokio::spawn(async move {
            let from = format!("9197{i:08}");
            let texts = [
                format!("The street light near house {i} is broken"),
                format!("Lane {i}, Kothrud"),
                "yes".to_owned(),
                "status".to_owned(),
            ];
            for (k, text) in texts.iter().enumerate() {
                let wamid = format!("wamid.K{i:03}{k}");
                let body = text_message_payload(PHONE, &from, &wamid, text).to_string();
                deliver_until_ok(&http, std::slice::from_ref(&url), 0, body, SECRET).await;
                acks.fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    let citizens: Vec<_> = citizens.collect();

    // Kill without warning once part of the burst is in.
    let ok = wait_until(Duration::from_secs(20), || async {
        acks.load(Ordering::SeqCst) >= 70
    })
    .await;
    assert!(ok, "burst did not start");
    server.0.kill().expect("kill -9");
    server.0.wait().expect("reap");
    let acked_before_kill = acks.load(Ordering::SeqCst);
    let replies_before_kill = graph.delivered().len();

    let mut server = serve(d, port);
    wait_ready(&http, &base).await;
    for c in join_all(citizens).await {
        c.expect("citizen task");
    }
    let total = CONTACTS * 4;
    let delivered = graph
        .wait_for_deliveries(total, Duration::from_secs(30))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered_after = graph.delivered();
    let raw = graph
        .requests()
        .into_iter()
        .filter(|r| r.status == 200)
        .count();
    eprintln!(
        "kill -9 after {acked_before_kill} acks and {replies_before_kill} replies; \
         {} replies delivered, {} raw sends ({} re-sends of an already delivered key)",
        delivered_after.len(),
        raw,
        raw - delivered_after.len()
    );
    assert_eq!(delivered.len(), total, "every inbound message answered");
    assert_eq!(delivered_after.len(), total, "no extra replies");

    // Each citizen got four replies, the third with their one complaint number.
    for i in 0..CONTACTS {
        let to = format!("9197{i:08}");
        let replies = graph.delivered_to(&to);
        assert_eq!(replies.len(), 4, "{to}: {replies:?}");
        assert!(number_in(&replies[2]).is_some(), "{to}: {replies:?}");
    }

    // SIGTERM: a graceful stop with exit code 0.
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    let status = server.0.wait().expect("wait");
    assert!(status.success(), "exit status after SIGTERM: {status:?}");

    // What the database says, through the store (either backend).
    let store = ombud::app::open_store(&test_config(&db)).await.unwrap();
    let tenant = store
        .tenant_by_slug(&ombud_core::TenantSlug::parse("crash").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut inbound = 0;
    for conversation in store.conversations(&tenant.id).await.unwrap() {
        let messages = store.messages(&tenant.id, &conversation.id).await.unwrap();
        inbound += assert_each_answered_once(&messages);
    }
    assert_eq!(inbound, total);
    let complaints = store.complaints(&tenant.id, 1000).await.unwrap();
    assert_eq!(
        complaints.len(),
        CONTACTS,
        "complaints created twice or lost"
    );
    let contacts: std::collections::HashSet<_> =
        complaints.iter().map(|c| c.contact_id.clone()).collect();
    assert_eq!(contacts.len(), CONTACTS);
    // Numbers are gap-free: 1..=50 for the day.
    let mut numbers: Vec<u32> = complaints
        .iter()
        .map(|c| {
            c.number
                .as_str()
                .rsplit('-')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=CONTACTS as u32).collect::<Vec<_>>());
}
