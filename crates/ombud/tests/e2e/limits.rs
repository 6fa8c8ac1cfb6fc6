//! Lists over their limits are refused with 422 naming the field, before
//! anything reaches the database (issue 20, finding 4: a bulk update whose
//! filter held 33,000 statuses answered 500 from SQLite's variable limit).

use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{call, field};
use crate::helpers::*;
use crate::staff::{member, Staff};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_over_its_limit_is_422_naming_the_field() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    crate::work::street_light(&app, &t, &graph, "919800000001").await;

    // The tester's request: 33,000 statuses in a bulk change's filter.
    let statuses: Vec<&str> = (0..33_000).map(|_| "new").collect();
    let (status, e) = call(
        app.api(Method::POST, "/complaints/bulk-update", &key)
            .json(&json!({"filter": {"status": statuses}, "change": {"priority": "high"}})),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(field(&e), Some("status"), "{e}");
    assert!(e.to_string().contains("at most 20"), "{e}");
    // Nothing changed.
    let c = app
        .store
        .complaints(&t.tenant.id, 1)
        .await
        .unwrap()
        .remove(0);
    assert_ne!(c.priority, Priority::High);
    // 20 entries, repeats and all, are a filter like any other.
    let twenty: Vec<&str> = (0..20).map(|_| "new").collect();
    let (status, report) = call(
        app.api(Method::POST, "/complaints/bulk-update", &key)
            .json(&json!({"filter": {"status": twenty}, "change": {"priority": "high"}})),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["changed"], 1, "{report}");

    // The list's query string.
    let many = vec!["new"; 5_000].join(",");
    let (status, e) = call(app.api(Method::GET, &format!("/complaints?status={many}"), &key)).await;
    assert_eq!((status.as_u16(), field(&e)), (422, Some("status")), "{e}");

    // A key's scopes, an endpoint's event types.
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.example").await;
    let csrf = admin.csrf_token().await;
    let scopes: Vec<&str> = vec!["complaints:read"; 1_000];
    let (status, e) = call(
        admin
            .request(Method::POST, "/api/v1/api-keys")
            .header("x-csrf-token", &csrf)
            .json(&json!({"name": "many", "scopes": scopes})),
    )
    .await;
    assert_eq!((status.as_u16(), field(&e)), (422, Some("scopes")), "{e}");
    let types: Vec<&str> = vec!["complaint.created"; 1_000];
    let (status, e) = call(
        app.api(Method::POST, "/webhooks", &key)
            .json(&json!({"url": "http://127.0.0.1:9/hooks", "event_types": types})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), field(&e)),
        (422, Some("event_types")),
        "{e}"
    );
    // A web chat's sites.
    let origins: Vec<String> = (0..51).map(|i| format!("https://s{i}.example")).collect();
    let (status, e) = call(
        admin
            .request(Method::POST, "/api/v1/channels")
            .header("x-csrf-token", &csrf)
            .json(&json!({"kind": "webchat", "name": "chat", "allowed_origins": origins})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), field(&e)),
        (422, Some("allowed_origins")),
        "{e}"
    );
    // An intake version with too many languages.
    let (status, agent) = call(
        app.api(Method::POST, "/agents", &key)
            .json(&json!({"name": "wide", "kind": "intake"})),
    )
    .await;
    assert_eq!(status, 201, "{agent}");
    let versions = format!("/agents/{}/versions", agent["id"].as_str().unwrap());
    let (status, e) = call(
        app.api(Method::POST, &versions, &key)
            .json(&json!({"config": {"languages": vec!["en"; 11]}})),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    assert!(e.to_string().contains("languages"), "{e}");

    // The dashboard's list names the field too.
    let query: String = vec!["status=new"; 21].join("&");
    let page = admin
        .get(&format!("/app/complaints?{query}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("at most 20 entries"), "{page}");

    // The OpenAPI document states the limits.
    let spec: Value = serde_json::to_value(ombud_web::api::openapi()).unwrap();
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        schemas["FilterBody"]["properties"]["status"]["maxItems"],
        20
    );
    assert_eq!(schemas["NewKey"]["properties"]["scopes"]["maxItems"], 20);
    assert_eq!(
        schemas["NewChannelBody"]["properties"]["allowed_origins"]["maxItems"],
        50
    );
    app.stop().await;
}
