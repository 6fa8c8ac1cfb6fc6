//! What only operators see (issue 20, finding 5): `/metrics` and detailed
//! readiness name every tenant, channel and last error, so the main listener,
//! which the internet reaches, serves neither; the operators' listener does,
//! and so does the main one to a caller with the operators' token.

use ombud_core::Secret;
use serde_json::{json, Value};

use crate::helpers::*;

const TOKEN: &str = "operators-token-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_detailed_readiness_are_for_operators_only() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(|c| c.metrics_token = Some(Secret::new(TOKEN)), None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    app.say(&t, "919800000001", "The street light is broken")
        .await;
    graph.wait_for_reply_to("919800000001", 1).await;
    let operators = format!("http://{}", app.admin.expect("an operators' listener"));

    let main = |path: &str| app.url(path);
    let ops = |path: &str| format!("{operators}{path}");

    // The main listener: a bare answer, and no /metrics.
    let (status, body) = get(&app, main("/health/ready"), None).await;
    assert_eq!((status, body), (200, json!({"status": "ready"})));
    for token in [None, Some("wrong-token-0123456789")] {
        assert_eq!(get(&app, main("/metrics"), token).await.0, 404, "{token:?}");
    }

    // The operators' listener: all of it, and nothing else.
    let (_, metrics) = get(&app, ops("/metrics"), None).await;
    let metrics = metrics.as_str().unwrap_or_default();
    assert!(metrics.contains("tenant=\"pune\""), "{metrics}");
    let (_, detailed) = get(&app, ops("/health/ready"), None).await;
    assert_eq!(detailed["checks"]["database"]["ok"], true, "{detailed}");
    assert!(detailed.to_string().contains("pune"), "{detailed}");
    assert_eq!(get(&app, ops("/app/login"), None).await.0, 404);

    // The token opens both on the main listener too.
    let (status, metrics) = get(&app, main("/metrics"), Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(metrics
        .as_str()
        .unwrap_or_default()
        .contains("ombud_build_info"));
    let (_, detailed) = get(&app, main("/health/ready"), Some(TOKEN)).await;
    assert_eq!(detailed["checks"]["database"]["ok"], true, "{detailed}");
    app.stop().await;
}

/// GET `url`, with the bearer token if given: the status, and the body as
/// JSON (or as a JSON string when it is text).
async fn get(app: &TestApp, url: String, token: Option<&str>) -> (u16, Value) {
    let mut req = app.http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
