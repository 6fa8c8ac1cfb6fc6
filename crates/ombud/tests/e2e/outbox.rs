use std::time::{Duration, Instant};

use ombud_core::{DeliveryStatus, Direction};

use crate::helpers::*;

async fn outbound(app: &TestApp, t: &TestTenant) -> Vec<ombud_core::Message> {
    app.messages_of(&t.tenant.id)
        .await
        .into_iter()
        .filter(|m| m.direction == Direction::Outbound)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_and_delivered_once() {
    let graph = FakeGraph::start().await;
    graph.script(&[(500, None)]);
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    app.say(&t, "919800000001", "hello").await;

    let delivered = graph.wait_for_deliveries(1, Duration::from_secs(3)).await;
    assert_eq!(delivered.len(), 1);
    let requests = graph.requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![500, 200]
    );
    assert_eq!(
        requests[0].key, requests[1].key,
        "the retry carries the same idempotency key"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(graph.requests().len(), 2, "nothing sent after the success");
    let ok = wait_until(Duration::from_secs(2), || async {
        outbound(&app, &t).await[0].status == DeliveryStatus::Sent
    })
    .await;
    assert!(ok);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_fails_with_the_reason_and_is_not_retried() {
    let graph = FakeGraph::start().await;
    graph.script(&[(400, None)]);
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    app.say(&t, "919800000001", "hello").await;

    let failed = wait_until(Duration::from_secs(3), || async {
        outbound(&app, &t)
            .await
            .first()
            .map(|m| m.status == DeliveryStatus::Failed)
            .unwrap_or(false)
    })
    .await;
    assert!(failed, "the message was not marked failed");
    let m = &outbound(&app, &t).await[0];
    let error = m.error.clone().unwrap_or_default();
    assert!(
        error.contains("HTTP 400") && error.contains("#131030") && error.contains("allowed list"),
        "{error}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(graph.requests().len(), 1, "a 400 must not be retried");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_on_429_is_honoured() {
    let graph = FakeGraph::start().await;
    graph.script(&[(429, Some(1))]);
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    app.say(&t, "919800000001", "hello").await;
    assert_eq!(
        graph
            .wait_for_deliveries(1, Duration::from_secs(5))
            .await
            .len(),
        1
    );
    let r = graph.requests();
    assert_eq!(r.len(), 2);
    let gap = r[1].at - r[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?}, before Retry-After: 1"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_wait_while_the_graph_api_is_down_and_go_out_when_it_returns() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    graph.stop().await;

    app.say(&t, "919800000001", "hello").await;
    app.say(&t, "919800000002", "namaste").await;
    let down_since = Instant::now();
    // Several attempts fail while it is down; the messages stay pending.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let pending = outbound(&app, &t).await;
    assert_eq!(pending.len(), 2);
    assert!(
        pending.iter().all(|m| m.status == DeliveryStatus::Pending),
        "{pending:?}"
    );

    let graph = graph.restart().await;
    let delivered = graph.wait_for_deliveries(2, Duration::from_secs(5)).await;
    assert_eq!(delivered.len(), 2, "delivered after the API came back");
    assert!(down_since.elapsed() < Duration::from_secs(7));
    assert_eq!(graph.requests().len(), 2, "each delivered once");
    app.stop().await;
}
