//! Kill -9 in a burst of webhook events, restart, and count.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::webhooks::Receiver;

/// Kill -9 during a burst of 1,000 events, restart: every event reaches the
/// receiver (verified), each under its own webhook-id; an event is seen twice
/// only if the crash fell between its send and its record, so duplicates are
/// at most the deliveries in flight (the concurrency).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_delivers_every_event_at_least_once() {
    use crate::crash::{cli, serve_with, wait_ready, whatsapp_channel};
    use std::collections::HashMap;

    const EVENTS: usize = 1000;
    const CONCURRENCY: usize = 8;
    let graph = FakeGraph::start().await;
    let receiver = Receiver::start();
    let db = TestDb::new().await;
    cli(
        &db,
        &[
            "tenant", "create", "--slug", "burst", "--name", "Burst", "--prefix", "BURST",
        ],
    );
    let phone = "5550002";
    let secret = "burst-app-secret";
    let channel = whatsapp_channel(&db, "burst", phone, secret, &graph.url());
    let made = cli(
        &db,
        &[
            "apikey",
            "create",
            "--tenant",
            "burst",
            "--name",
            "ops",
            "--scopes",
            "webhooks:manage",
        ],
    );
    let key = made["key"].as_str().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let concurrency = CONCURRENCY.to_string();
    let env = [
        ("OMBUD_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8"),
        ("OMBUD_WEBHOOKS__CONCURRENCY", concurrency.as_str()),
        ("OMBUD_WEBHOOKS__TIMEOUT_SECS", "1"),
        ("OMBUD_WEBHOOKS__LEASE_SECS", "2"),
        ("OMBUD_WEBHOOKS__POLL_INTERVAL_MS", "50"),
    ];
    let http = reqwest::Client::new();
    let mut server = serve_with(&db, port, &env);
    wait_ready(&http, &base).await;

    // Only message.received: exactly one event per inbound message, to a
    // parallel endpoint and to an ordered one.
    let mut endpoints = Vec::new();
    let mut secrets = Vec::new();
    for (name, ordered) in [("parallel", false), ("ordered", true)] {
        let res = http
            .post(format!("{base}/api/v1/webhooks"))
            .bearer_auth(&key)
            .json(&json!({
                "url": format!("{}/{name}", receiver.url()),
                "event_types": ["message.received"],
                "ordered": ordered,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.unwrap();
        secrets.push(created["secret"].clone());
        endpoints.push((name, created["id"].as_str().unwrap().to_owned()));
    }
    receiver.control(json!({"secrets": secrets})).await;

    let url = format!("{base}{}", channel["webhook_path"].as_str().unwrap());
    let senders: Vec<_> = (0..20)
        .map(|c| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                for k in 0..EVENTS / 20 {
                    let body = ombud_channels::whatsapp::text_message_payload(
                        phone,
                        &format!("9196{c:08}"),
                        &format!("wamid.B{c:02}{k:03}"),
                        "hello",
                    )
                    .to_string();
                    deliver_until_ok(&http, std::slice::from_ref(&url), 0, body, secret).await;
                }
            })
        })
        .collect();
    let started = wait_until(Duration::from_secs(30), || async {
        receiver.log().await.len() >= 500
    })
    .await;
    assert!(started, "the burst did not reach the receiver");
    server.0.kill().expect("kill -9");
    server.0.wait().expect("reap");
    let before_kill = receiver.log().await.len();

    let mut server = serve_with(&db, port, &env);
    wait_ready(&http, &base).await;
    for s in futures::future::join_all(senders).await {
        s.expect("sender");
    }
    let all_in = wait_until(Duration::from_secs(60), || async {
        let log = receiver.log().await;
        log.iter()
            .filter_map(|d| Some((d["path"].as_str()?, d["id"].as_str()?)))
            .collect::<std::collections::HashSet<_>>()
            .len()
            >= 2 * EVENTS
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = receiver.log().await;
    assert!(log.iter().all(|d| d["verified"] == true));
    for (name, endpoint) in &endpoints {
        let path = format!("/hook/{name}");
        let mine: Vec<&str> = log
            .iter()
            .filter(|d| d["path"] == path.as_str())
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut first_seen = Vec::new();
        for id in &mine {
            let n = seen.entry(id).or_default();
            if *n == 0 {
                first_seen.push(*id);
            }
            *n += 1;
        }
        let duplicates: usize = seen.values().map(|n| n - 1).sum();
        eprintln!(
            "{name}: kill -9 after {before_kill} deliveries in all; {} deliveries of {} distinct events, {duplicates} duplicates (sent, not recorded before the kill)",
            mine.len(),
            seen.len()
        );
        assert!(
            all_in,
            "{name}: only {} of {EVENTS} events arrived",
            seen.len()
        );
        assert_eq!(seen.len(), EVENTS, "{name}");
        // Every delivery is recorded as delivered, none left pending.
        let mut recorded = Vec::new();
        let mut cursor = String::new();
        loop {
            let page: Value = http
                .get(format!(
                    "{base}/api/v1/webhooks/{endpoint}/deliveries?limit=200{cursor}"
                ))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for d in page["data"].as_array().unwrap() {
                assert_eq!(d["status"], "delivered", "{name}: {d:#}");
                recorded.push(d["event_id"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(recorded.len(), EVENTS, "{name}");
        if *name == "ordered" {
            // One in flight: only it can be sent twice. And in the order the
            // events happened (the list runs newest first).
            assert!(duplicates <= 1, "{name}: {duplicates} duplicates");
            recorded.reverse();
            assert_eq!(
                first_seen,
                recorded.iter().map(String::as_str).collect::<Vec<_>>()
            );
        } else {
            assert!(
                duplicates <= CONCURRENCY,
                "{name}: {duplicates} duplicates; at most {CONCURRENCY} can be in flight"
            );
        }
    }
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(server.0.wait().unwrap().success());
}
