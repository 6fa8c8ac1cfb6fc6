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

    // The main listener: a bare answer, and no /metrics.
    let ready = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body, json!({"status": "ready"}));
    for token in [None, Some("wrong-token-0123456789")] {
        let mut req = app.http.get(app.url("/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().status(), 404, "{token:?}");
    }

    // The operators' listener: all of it.
    let metrics = app
        .http
        .get(format!("{operators}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tenant=\"pune\""), "{metrics}");
    let detailed: Value = app
        .http
        .get(format!("{operators}/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detailed["checks"]["database"]["ok"], true, "{detailed}");
    assert!(detailed.to_string().contains("pune"), "{detailed}");
    // Nothing else is served there.
    let other = app
        .http
        .get(format!("{operators}/app/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    // The token opens both on the main listener too.
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("ombud_build_info"));
    let detailed: Value = app
        .http
        .get(app.url("/health/ready"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detailed["checks"]["database"]["ok"], true, "{detailed}");
    app.stop().await;
}
