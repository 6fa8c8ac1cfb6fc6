//! `ombud migrate-db` of a SQLite deployment with 100,000 complaints and their
//! messages into an empty PostgreSQL: counts and checksums match, the store on the
//! target answers the same queries with the same results, and `ombud serve` on the
//! target carries on (the next complaint number follows the copied ones).
//!
//! Always SQLite → PostgreSQL: needs `OMBUD_TEST_DATABASE_URL` (scripts/test).

#![allow(clippy::unwrap_used)]

#[path = "e2e/fake_graph/mod.rs"]
mod fake_graph;
#[path = "e2e/helpers.rs"]
mod helpers;

use std::process::{Command, Stdio};
use std::time::Duration;

use helpers::*;
use ombud::Config;
use ombud_core::TenantSlug;

/// The acceptance figure is 100,000 (`OMBUD_TEST_MIGRATE_COMPLAINTS=100000`).
fn complaints() -> usize {
    std::env::var("OMBUD_TEST_MIGRATE_COMPLAINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_deployment_moves_to_postgres_intact() {
    std::env::remove_var("OMBUD_TEST_E2E_BACKEND");
    let sqlite = TestDb::new().await; // no URL: SQLite in its data dir
    assert!(!sqlite.is_postgres());
    let graph = FakeGraph::start().await;
    let total = complaints();
    let (count, contacts) = (total.to_string(), (total / 5).max(1).to_string());
    for args in [
        vec![
            "tenant", "create", "--slug", "pune", "--name", "Pune", "--prefix", "PUNE",
        ],
        vec![
            "channel",
            "add",
            "whatsapp",
            "--tenant",
            "pune",
            "--phone-number-id",
            "5550003",
            "--app-secret",
            "s",
            "--verify-token",
            "v",
            "--access-token",
            "a",
            "--graph-url",
            &graph.url(),
        ],
        vec![
            "seed",
            "--tenant",
            "pune",
            "--complaints",
            &count,
            "--contacts",
            &contacts,
        ],
        vec![
            "user",
            "create",
            "--email",
            "asha@pune.gov.in",
            "--tenant",
            "pune",
            "--role",
            "admin",
        ],
    ] {
        let (code, _, err) = run_cli(&sqlite, &args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }

    let base = std::env::var("OMBUD_TEST_DATABASE_URL")
        .expect("OMBUD_TEST_DATABASE_URL (scripts/test sets it)");
    let target = ombud_store::postgres::scratch_schema_url(&base)
        .await
        .unwrap();
    let source = format!("sqlite:{}", sqlite.dir.path().join("ombud.db").display());
    let (code, report, err) = run_cli(&sqlite, &["migrate-db", "--from", &source, "--to", &target]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["ok"], true, "{report}");
    let rows = |table: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["table"] == table)
            .unwrap()["rows"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rows("complaints"), total as u64);
    assert_eq!(rows("messages"), total as u64);
    assert_eq!(rows("contacts"), (total / 5).max(1) as u64);
    assert_eq!(rows("users"), 1);
    assert_eq!(rows("memberships"), 1);
    assert!(report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["checksum_matches"] == true));
    eprintln!(
        "migrate-db of {total} complaints: {:.1}s",
        report["seconds"].as_f64().unwrap()
    );

    // A second copy into the now non-empty target is refused, and changes nothing.
    let (code, _, err) = run_cli(&sqlite, &["migrate-db", "--from", &source, "--to", &target]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already has data"), "{err}");

    // The same questions get the same answers from both stores.
    let from = ombud::app::open_store(&test_config(&sqlite)).await.unwrap();
    let mut pg_config: Config = test_config(&sqlite);
    pg_config.database_url = Some(ombud_core::Secret::new(target.clone()));
    let to = ombud::app::open_store(&pg_config).await.unwrap();
    let slug = TenantSlug::parse("pune").unwrap();
    let (a, b) = (
        from.tenant_by_slug(&slug).await.unwrap().unwrap(),
        to.tenant_by_slug(&slug).await.unwrap().unwrap(),
    );
    assert_eq!(a, b);
    let t = &a.id;
    assert_eq!(
        from.categories(t).await.unwrap(),
        to.categories(t).await.unwrap()
    );
    assert_eq!(
        from.channels(t).await.unwrap(),
        to.channels(t).await.unwrap()
    );
    let email = ombud_core::Email::parse("asha@pune.gov.in").unwrap();
    let (user, copied) = (
        from.user_by_email(&email).await.unwrap().unwrap(),
        to.user_by_email(&email).await.unwrap().unwrap(),
    );
    assert_eq!(
        user, copied,
        "flags and the password hash arrive as they were"
    );
    assert_eq!(
        from.memberships(&user.id).await.unwrap(),
        to.memberships(&user.id).await.unwrap()
    );
    let complaints = from.complaints(t, 200_000).await.unwrap();
    assert_eq!(complaints.len(), total);
    assert_eq!(complaints, to.complaints(t, 200_000).await.unwrap());
    for c in complaints.iter().step_by(997) {
        assert_eq!(
            from.complaint_by_number(t, &c.number).await.unwrap(),
            to.complaint_by_number(t, &c.number).await.unwrap()
        );
        assert_eq!(
            from.complaint_events(t, &c.id).await.unwrap(),
            to.complaint_events(t, &c.id).await.unwrap()
        );
    }
    let conversations = from.conversations(t).await.unwrap();
    assert_eq!(conversations, to.conversations(t).await.unwrap());
    for c in conversations.iter().step_by(499) {
        assert_eq!(
            from.messages(t, &c.id).await.unwrap(),
            to.messages(t, &c.id).await.unwrap()
        );
    }

    // ombud serve on the target carries on where SQLite left off.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_ombud"))
        .arg("serve")
        .env("OMBUD_DATA_DIR", sqlite.dir.path().join("pg-serve"))
        .env("OMBUD_DATABASE_URL", &target)
        // The secrets arrive sealed: the replicas need the SQLite deployment's key.
        .env(
            "OMBUD_SECRET_KEY",
            std::fs::read_to_string(sqlite.dir.path().join("secret.key"))
                .unwrap()
                .trim(),
        )
        .env("OMBUD_OUTBOUND__PROVIDER_HOSTS", "127.0.0.1")
        .env("OMBUD_METRICS_LISTEN", "127.0.0.1:0")
        .env("OMBUD_LISTEN", format!("127.0.0.1:{port}"))
        .env("OMBUD_OUTBOX__POLL_INTERVAL_MS", "50")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let ready = wait_until(Duration::from_secs(20), || async {
        matches!(http.get(format!("http://127.0.0.1:{port}/health/ready")).send().await, Ok(r) if r.status() == 200)
    })
    .await;
    assert!(ready);
    let channel = &to.channels(t).await.unwrap()[0];
    let citizen = "919812345678";
    for (k, text) in [
        "Water pipeline leaking near the temple",
        "Temple road",
        "yes",
    ]
    .iter()
    .enumerate()
    {
        let body = ombud_channels::whatsapp::text_message_payload(
            "5550003",
            citizen,
            &format!("wamid.AFTER{k}"),
            text,
        )
        .to_string();
        let res = http
            .post(format!("http://127.0.0.1:{port}{}", channel.webhook_path()))
            .header("content-type", "application/json")
            .header(
                "x-hub-signature-256",
                ombud_channels::whatsapp::sign("s", body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        graph.wait_for_reply_to(citizen, k + 1).await;
    }
    let reply = graph.delivered_to(citizen).pop().unwrap();
    let number = number_in(&reply)
        .unwrap_or_else(|| panic!("no complaint number in {:?}", graph.delivered_to(citizen)));
    let copied_today = complaints
        .iter()
        .filter(|c| c.number.as_str()[..13] == number[..13])
        .count();
    assert!(
        number.ends_with(&format!("{:04}", copied_today + 1)),
        "{number} after {copied_today} copied today"
    );
    let _ = server.kill();
    let _ = server.wait();
}
