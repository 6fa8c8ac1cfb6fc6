//! `ombud loadtest` end to end: the smoke scenario, where nothing may be lost or
//! duplicated (on the PostgreSQL pass of the suite it spawns two replicas), and
//! proof that the tool does fail when replies do not come.

use crate::fake_graph::FakeGraph;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smoke_scenario_loses_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let started = std::time::Instant::now();
    let summary = smoke(&db, &[]).await;
    assert_eq!(summary["scenario"], "smoke");
    assert_eq!(summary["tenants"], 2);
    assert_eq!(summary["sent"], 160, "{summary}");
    assert_eq!(summary["answered"], 160, "{summary}");
    assert_eq!(summary["lost"], 0);
    assert_eq!(summary["duplicated"], 0);
    assert_eq!(summary["servers"], if db.is_postgres() { 2 } else { 1 });
    // Messages due together went out as one webhook, as Meta batches them.
    assert!(
        summary["webhooks"].as_u64().unwrap() < 160,
        "no batching: {summary}"
    );
    assert!(summary["reply_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(summary["baseline"]["hello_req_per_sec"].as_f64().unwrap() > 0.0);
    assert!(summary["baseline"]["ratio"].as_f64().unwrap() > 0.0);
    assert!(
        summary["rss_mb"]["end"].as_f64().unwrap() > 1.0,
        "{summary}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the smoke run must stay small: {:?}",
        started.elapsed()
    );
}

/// Preloaded history (each message with its complaint) is stored, and none of
/// it is answered: a reply to a preloaded contact would count as duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preloaded_history_is_stored_and_not_answered() {
    let db = TestDb::new().await;
    let summary = smoke(&db, &["--preload", "300", "--baseline-secs", "0"]).await;
    assert_eq!(summary["preloaded_messages"], 300, "{summary}");
    assert_eq!(summary["answered"], 160, "{summary}");
    assert_eq!(summary["duplicated"], 0, "{summary}");
}

/// In a timed run with `--messages`, a citizen that has sent that many leaves
/// and a new one (a new phone number) writes in its place; each new citizen is
/// answered on its own number, and nothing is lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizens_that_leave_are_replaced_by_new_ones() {
    let db = TestDb::new().await;
    let flags = [
        "--messages",
        "2",
        "--rate",
        "40",
        "--duration",
        "3",
        "--baseline-secs",
        "0",
    ];
    let summary = smoke(&db, &flags).await;
    assert_eq!(summary["renew_after"], 2, "{summary}");
    let sent = summary["sent"].as_u64().unwrap();
    assert!(sent >= 100, "{summary}");
    assert_eq!(summary["answered"], sent, "{summary}");
    assert_eq!(summary["duplicated"], 0, "{summary}");
    // 40 citizens at first; every one that sent its 2 messages was replaced.
    let renewed = summary["contacts_renewed"].as_u64().unwrap();
    assert!(renewed >= sent / 2 - 40, "{summary}");
}

/// Runs the smoke scenario with `extra` flags (on the PostgreSQL pass, two
/// replicas on the test server); asserts it exited 0 and returns its summary.
async fn smoke(db: &TestDb, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<String> = ["loadtest", "--spawn", "--scenario", "smoke", "--json"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    if db.is_postgres() {
        let base = std::env::var("OMBUD_TEST_DATABASE_URL").unwrap();
        args.extend([
            "--replicas".into(),
            "2".into(),
            "--database-url".into(),
            base,
        ]);
    }
    let (code, summary, err) = loadtest(args).await;
    assert_eq!(code, 0, "{err}\n{summary}");
    summary
}

/// The server answers the webhooks, but its replies go to another Graph API than
/// the load test's sink: every message must count as lost, and the run fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_that_never_arrive_are_lost_and_the_run_fails() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUN", &graph).await;
    let args: Vec<String> = vec![
        "loadtest".into(),
        "--target".into(),
        app.url(""),
        "--webhook-path".into(),
        t.channel.webhook_path(),
        "--app-secret".into(),
        t.app_secret.clone(),
        "--phone-number-id".into(),
        t.channel.whatsapp().unwrap().phone_number_id.clone(),
        "--contacts".into(),
        "3".into(),
        "--messages".into(),
        "1".into(),
        "--reply-timeout-secs".into(),
        "1".into(),
        "--baseline-secs".into(),
        "0".into(),
        "--json".into(),
    ];
    let (code, summary, err) = loadtest(args).await;
    assert_ne!(code, 0, "a run with lost replies must fail: {summary}");
    assert!(err.contains("3 message(s) lost"), "{err}");
    assert_eq!(summary["acknowledged"], 3, "{summary}");
    assert_eq!(summary["answered"], 0);
    assert_eq!(summary["lost"], 3);
    assert_eq!(summary["lost_timed_out"], 3, "{summary}");
    assert_eq!(summary["lost_refused"], serde_json::json!({}), "{summary}");
    // The server did answer them; only not where the load test listens.
    assert!(
        wait_until(std::time::Duration::from_secs(5), || async {
            graph.delivered().len() == 3
        })
        .await
    );
    app.stop().await;
}

#[tokio::test]
async fn refused_webhooks_are_lost_with_the_reason() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUN", &graph).await;
    let args: Vec<String> = vec![
        "loadtest".into(),
        "--target".into(),
        app.url(""),
        "--webhook-path".into(),
        t.channel.webhook_path(),
        "--app-secret".into(),
        "not-the-app-secret".into(),
        "--phone-number-id".into(),
        t.channel.whatsapp().unwrap().phone_number_id.clone(),
        "--contacts".into(),
        "2".into(),
        "--messages".into(),
        "1".into(),
        "--baseline-secs".into(),
        "0".into(),
        "--json".into(),
    ];
    let (code, summary, err) = loadtest(args).await;
    assert_ne!(code, 0, "a run with refused webhooks must fail: {summary}");
    assert!(err.contains("2 message(s) lost"), "{err}");
    assert_eq!(summary["acknowledged"], 0, "{summary}");
    assert_eq!(summary["lost_refused"]["HTTP 401"], 2, "{summary}");
    assert_eq!(summary["lost_timed_out"], 0, "{summary}");
    assert!(graph.delivered().is_empty());
    app.stop().await;
}

/// Runs `ombud` with `args` on a blocking thread (the load test starts its own
/// servers and runtime); returns its exit code, JSON output and stderr.
async fn loadtest(args: Vec<String>) -> (i32, serde_json::Value, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli_env(&[], &args)
    })
    .await
    .unwrap()
}
