//! Webhooks end to end: endpoints made through the API, events delivered to a
//! Python receiver that verifies each with the official `standardwebhooks`
//! package from PyPI, retries, 410, replays, and the outbound guard.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ombud_core::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// The Python receiver (tests/webhooks/receiver.py) in the suite's venv.
pub struct Receiver {
    child: Child,
    pub port: u16,
    http: reqwest::Client,
}

impl Receiver {
    pub fn start() -> Self {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let python = format!("{root}/.venv/bin/python");
        assert!(
            std::path::Path::new(&python).exists(),
            "{python} is missing: scripts/test makes the venv (pip install -r deploy/tests/requirements.txt)"
        );
        let mut child = Command::new(python)
            .arg(format!("{root}/tests/webhooks/receiver.py"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("receiver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("receiver said {line:?}"));
        Self {
            child,
            port,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub async fn control(&self, change: Value) {
        let res = self
            .http
            .post(format!("http://127.0.0.1:{}/_control", self.port))
            .json(&change)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }

    pub async fn log(&self) -> Vec<Value> {
        self.http
            .get(format!("http://127.0.0.1:{}/_log", self.port))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until `n` deliveries have arrived (or the time is up).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        wait_until(timeout, || async { self.log().await.len() >= n }).await;
        self.log().await
    }

    /// Asks the package to verify a message, as a receiver would.
    pub async fn verify(&self, secret: &str, body: &str, headers: Value) -> (bool, String) {
        let answer: Value = self
            .http
            .post(format!("http://127.0.0.1:{}/_verify", self.port))
            .json(&json!({"secret": secret, "body": body, "headers": headers}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            answer["ok"].as_bool().unwrap(),
            answer["error"].as_str().unwrap_or("").to_owned(),
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes an endpoint through the API; returns its id and secret.
pub async fn endpoint(app: &TestApp, key: &str, body: Value) -> (String, String) {
    let res = app
        .api(Method::POST, "/webhooks", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let v: Value = res.json().await.unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["secret"].as_str().unwrap().to_owned(),
    )
}

/// GET `/api/v1{path}` with the key, as JSON.
pub async fn get_json(app: &TestApp, key: &str, path: &str) -> Value {
    app.api(Method::GET, path, key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends the endpoint a test event; its event id.
pub async fn send_test(app: &TestApp, key: &str, endpoint: &str) -> String {
    let res = app
        .api(Method::POST, &format!("/webhooks/{endpoint}/test"), key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    res.json::<Value>().await.unwrap()["event_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn attempts(app: &TestApp, key: &str, endpoint: &str, event: &str) -> Value {
    app.api(
        Method::GET,
        &format!("/webhooks/{endpoint}/deliveries/{event}"),
        key,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_verifies_with_the_official_package_and_forgeries_do_not() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    let receiver = Receiver::start();
    let (_, secret) = endpoint(
        &app,
        &key,
        json!({"url": receiver.url(), "description": "crm"}),
    )
    .await;
    receiver.control(json!({"secrets": [secret]})).await;

    // A complaint dialogue: message.received and message.sent for each turn,
    // complaint.created at the end.
    crate::work::street_light(&app, &t, &graph, "919800000001").await;
    let ok = wait_until(Duration::from_secs(10), || async {
        receiver
            .log()
            .await
            .iter()
            .any(|d| d["type"] == "complaint.created")
    })
    .await;
    let log = receiver.log().await;
    assert!(ok, "no complaint.created among {log:#?}");
    assert!(log.len() >= 5, "{log:#?}");
    for d in &log {
        assert_eq!(d["verified"], true, "{d:#}");
        let body: Value = serde_json::from_str(d["body"].as_str().unwrap()).unwrap();
        assert!(
            body["timestamp"].is_string() && body["data"].is_object(),
            "{body}"
        );
        assert!(d["id"].as_str().unwrap().starts_with("evt_"));
    }
    let types: std::collections::HashSet<&str> =
        log.iter().filter_map(|d| d["type"].as_str()).collect();
    for t in ["message.received", "message.sent", "complaint.created"] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }

    // The package refuses what Ombud did not send as sent.
    let d = &log[0];
    let body = d["body"].as_str().unwrap();
    let headers = json!({
        "webhook-id": d["id"], "webhook-timestamp": d["timestamp"], "webhook-signature": d["signature"],
    });
    let (fresh, _) = receiver.verify(&secret, body, headers.clone()).await;
    // The delivery may be a few seconds old by now, well inside the tolerance.
    assert!(fresh, "the untouched message verifies");
    let tampered = body.replacen("\"data\"", "\"dAta\"", 1);
    let (ok, why) = receiver.verify(&secret, &tampered, headers.clone()).await;
    assert!(
        !ok && why.contains("signature"),
        "tampered body: {ok} {why}"
    );
    let wrong = ombud_core::webhook::new_secret();
    let (ok, why) = receiver.verify(wrong.expose(), body, headers.clone()).await;
    assert!(!ok && why.contains("signature"), "wrong secret: {ok} {why}");
    // An old timestamp, signed correctly for it, is refused as a replay.
    let old = chrono::Utc::now().timestamp() - 3600;
    let signed = standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .sign(d["id"].as_str().unwrap(), old, body.as_bytes())
        .unwrap();
    let replayed = json!({"webhook-id": d["id"], "webhook-timestamp": old.to_string(), "webhook-signature": signed});
    let (ok, why) = receiver.verify(&secret, body, replayed).await;
    assert!(!ok && why.contains("too old"), "old timestamp: {ok} {why}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_three_times_then_delivered_on_the_fourth_and_410_disables() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(
        |c| c.webhooks.retry_schedule = "300ms,300ms,300ms,300ms".into(),
        None,
    )
    .await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    let receiver = Receiver::start();
    let (id, secret) = endpoint(
        &app,
        &key,
        json!({"url": receiver.url(), "event_types": ["webhook.test"]}),
    )
    .await;
    receiver
        .control(json!({"secrets": [secret], "fail_first": 3}))
        .await;

    let event = send_test(&app, &key, &id).await;
    let log = receiver.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(
        log.iter()
            .map(|d| d["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![503, 503, 503, 204]
    );
    assert!(log
        .iter()
        .all(|d| d["id"] == event.as_str() && d["verified"] == true));
    let ok = wait_until(Duration::from_secs(3), || async {
        attempts(&app, &key, &id, &event).await["status"] == "delivered"
    })
    .await;
    let d = attempts(&app, &key, &id, &event).await;
    assert!(ok, "{d:#}");
    let codes: Vec<u64> = d["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_u64().unwrap())
        .collect();
    assert_eq!(
        codes,
        vec![503, 503, 503, 204],
        "all four attempts recorded"
    );
    assert_eq!(d["attempts"], 4);
    assert!(d["attempt_log"][0]["response"]
        .as_str()
        .unwrap()
        .contains("verified"));

    // Replay: a new attempt with the same webhook-id.
    let res = app
        .api(
            Method::POST,
            &format!("/webhooks/{id}/deliveries/{event}/replay"),
            &key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let log = receiver.wait_for(5, Duration::from_secs(5)).await;
    assert_eq!(log.len(), 5);
    assert_eq!(log[4]["id"], event.as_str());
    assert_eq!(log[4]["verified"], true);
    wait_until(Duration::from_secs(3), || async {
        attempts(&app, &key, &id, &event).await["attempt_log"]
            .as_array()
            .unwrap()
            .len()
            == 5
    })
    .await;
    assert_eq!(attempts(&app, &key, &id, &event).await["attempts"], 5);

    // 410 Gone disables the endpoint, and says why.
    receiver.control(json!({"status": 410})).await;
    send_test(&app, &key, &id).await;
    let path = format!("/webhooks/{id}");
    let disabled = wait_until(Duration::from_secs(5), || async {
        get_json(&app, &key, &path).await["enabled"] == false
    })
    .await;
    let e = get_json(&app, &key, &path).await;
    assert!(disabled, "{e:#}");
    assert!(
        e["disabled_reason"].as_str().unwrap().contains("410"),
        "{e:#}"
    );
    assert_eq!(
        receiver.log().await.len(),
        6,
        "one attempt, no retries after 410"
    );
    app.stop().await;
}

/// A receiver's Retry-After pushes the next attempt past the schedule's wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(|c| c.webhooks.retry_schedule = "200ms,200ms".into(), None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    let receiver = Receiver::start();
    let (id, secret) = endpoint(&app, &key, json!({"url": receiver.url()})).await;
    receiver
        .control(json!({"secrets": [secret], "fail_first": 1, "retry_after": 2}))
        .await;
    send_test(&app, &key, &id).await;
    let log = receiver.wait_for(2, Duration::from_secs(8)).await;
    assert_eq!(log.len(), 2, "{log:#?}");
    let waited = log[1]["at"].as_f64().unwrap() - log[0]["at"].as_f64().unwrap();
    assert!(
        waited >= 1.9,
        "retried after {waited:.2} s; Retry-After said 2 s"
    );
    assert_eq!(log[1]["status"], 204);
    app.stop().await;
}

/// An ordered endpoint receives its events in the order they happened, also
/// when they go out in runs claimed together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_endpoint_receives_events_in_the_order_they_happened() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    let receiver = Receiver::start();
    let (id, secret) = endpoint(&app, &key, json!({"url": receiver.url()})).await;
    receiver.control(json!({"secrets": [secret]})).await;
    let mut sent = Vec::new();
    for _ in 0..60 {
        sent.push(send_test(&app, &key, &id).await);
    }
    let log = receiver.wait_for(60, Duration::from_secs(10)).await;
    let got: Vec<&str> = log.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(got, sent.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(log.iter().all(|d| d["verified"] == true));
    app.stop().await;
}
