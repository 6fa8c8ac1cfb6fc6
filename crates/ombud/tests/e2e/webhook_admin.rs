//! Managing webhooks: the outbound guard at saving and at delivery, secret
//! rotation, the dashboard's Developers page, /docs offline, and the
//! benchmark command.

use std::process::Command;
use std::time::Duration;

use ombud_core::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::webhooks::{attempts, endpoint, send_test, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_addresses_are_refused_unless_the_operator_allows_them() {
    let app = TestApp::spawn_with(|c| c.outbound.allow_cidrs = String::new(), None).await;
    let graph = FakeGraph::start().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    for url in [
        "http://169.254.169.254/",
        "http://10.0.0.1/",
        "http://[::1]/",
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
    ] {
        let res = app
            .api(Method::POST, "/webhooks", &key)
            .json(&json!({"url": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{url}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"]["fields"][0]["field"], "url", "{e:#}");
        assert!(
            e["error"]["fields"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("outbound.allow_cidrs"),
            "{e:#}"
        );
    }
    assert!(app
        .store
        .webhook_endpoints(&t.tenant.id)
        .await
        .unwrap()
        .is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_turns_internal_after_saving_is_refused_at_delivery() {
    // Saved while the operator allowed loopback, delivered after they stopped:
    // the check at connection time refuses it and records why.
    let graph = FakeGraph::start().await;
    let receiver = Receiver::start();
    let app = TestApp::spawn_with(|c| c.outbound.allow_cidrs = String::new(), None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    let now = ombud_store::stored(chrono::Utc::now());
    for url in [
        receiver.url(),
        format!("http://localhost:{}/hook", receiver.port),
    ] {
        let e = ombud_core::WebhookEndpoint {
            id: ombud_core::WebhookEndpointId::new(),
            tenant_id: t.tenant.id.clone(),
            url,
            description: String::new(),
            event_types: vec![],
            enabled: true,
            ordered: true,
            secret: ombud_core::webhook::new_secret(),
            previous_secret: None,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        app.store
            .create_webhook_endpoint(&e, Vec::new())
            .await
            .unwrap();
        let res = app
            .api(Method::POST, &format!("/webhooks/{}/test", e.id), &key)
            .send()
            .await
            .unwrap();
        let event = res.json::<Value>().await.unwrap()["event_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let refused = wait_until(Duration::from_secs(5), || async {
            let d = attempts(&app, &key, e.id.as_str(), &event).await;
            d["attempt_log"].as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
        let d = attempts(&app, &key, e.id.as_str(), &event).await;
        assert!(refused, "{d:#}");
        let error = d["attempt_log"][0]["error"].as_str().unwrap();
        assert!(error.contains("loopback"), "{error}");
    }
    assert!(
        receiver.log().await.is_empty(),
        "nothing reached the receiver"
    );
    app.stop().await;
}

/// Admins manage keys and endpoints in the dashboard: the key is shown once
/// and works; the endpoint's secret verifies; an endpoint Ombud disabled is
/// announced on the complaint list; others cannot reach the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_keys_and_endpoints_in_the_dashboard_and_see_disabled_ones() {
    use crate::staff::{location, member, Staff};
    use ombud_core::Role;
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    member(&app, "staff@pune.example", &t.tenant.id, Role::Staff).await;
    let admin = Staff::login(&app, "admin@pune.example").await;

    let res = admin
        .submit(
            "/app/developers/keys",
            &[
                ("name", "erp"),
                ("scope", "complaints:read"),
                ("scope", "webhooks:manage"),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let key = regex::Regex::new(r"ombud_[0-9a-zA-Z]{8}_[0-9a-zA-Z]{40}")
        .unwrap()
        .find(&page)
        .expect("the key is shown")
        .as_str()
        .to_owned();
    let again = admin.get("/app/developers").await.text().await.unwrap();
    assert!(!again.contains(&key), "shown once");
    assert!(again.contains(&key[..14]), "its prefix is listed");
    let me: Value = app
        .api(Method::GET, "/me", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["scopes"], json!(["complaints:read", "webhooks:manage"]));
    // A bad form names the field.
    let res = admin.submit("/app/developers/keys", &[("name", "")]).await;
    assert_eq!(res.status(), 422);

    // An endpoint: its page shows the secret, which signs what the receiver gets.
    let receiver = Receiver::start();
    let res = admin
        .submit(
            "/app/developers/webhooks",
            &[("url", &receiver.url()), ("event_type", "webhook.test")],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to = location(&res);
    let page = admin.get(&to).await.text().await.unwrap();
    let secret = regex::Regex::new(r"whsec_[A-Za-z0-9+/=]+")
        .unwrap()
        .find(&page)
        .unwrap()
        .as_str()
        .to_owned();
    receiver
        .control(json!({"secrets": [secret], "status": 410}))
        .await;
    let endpoint_path = to.split('?').next().unwrap().to_owned();
    let res = admin.submit(&format!("{endpoint_path}/test"), &[]).await;
    assert_eq!(res.status(), 303);
    let log = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(log[0]["verified"], true);
    // 410 disabled it: admins see it on the complaint list.
    let told = wait_until(Duration::from_secs(5), || async {
        admin
            .get("/app/complaints")
            .await
            .text()
            .await
            .unwrap()
            .contains("was disabled after failing")
    })
    .await;
    assert!(told, "no banner");
    let page = admin.get(&endpoint_path).await.text().await.unwrap();
    assert!(page.contains("410"), "the reason is on its page");
    // Enabled again, the banner goes.
    receiver.control(json!({"status": null})).await;
    assert_eq!(
        admin
            .submit(&format!("{endpoint_path}/enable"), &[])
            .await
            .status(),
        303
    );
    assert!(!admin
        .get("/app/complaints")
        .await
        .text()
        .await
        .unwrap()
        .contains("was disabled"));
    // Staff do not manage developers' things.
    let staff = Staff::login(&app, "staff@pune.example").await;
    assert_eq!(staff.get("/app/developers").await.status(), 403);
    assert_eq!(staff.get(&endpoint_path).await.status(), 403);
    app.stop().await;
}

/// The benchmark command runs and reports both modes (its figures are in
/// docs/performance.md; here only that it works).
#[test]
fn the_webhook_benchmark_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_ombud"))
        .args([
            "bench", "webhooks", "--events", "40", "--runs", "1", "--json",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rates: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rates.len(), 2);
    for r in rates {
        assert!(r["median"].as_f64().unwrap() > 0.0, "{r}");
    }
}

/// After a rotation both secrets sign for a day: a receiver that still has
/// only the old one verifies, and so does one with only the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_and_the_old_one_both_verify_for_a_day() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    let receiver = Receiver::start();
    let (id, old) = endpoint(
        &app,
        &key,
        json!({"url": receiver.url(), "event_types": ["webhook.test"]}),
    )
    .await;
    let res = app
        .api(Method::POST, &format!("/webhooks/{id}/rotate-secret"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["previous_secret"], old.as_str());
    assert!(rotated["previous_secret_expires_at"].is_string());

    receiver.control(json!({"secrets": [old]})).await;
    send_test(&app, &key, &id).await;
    let log = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        log[0]["verified"], true,
        "the old secret still verifies: {:#}",
        log[0]
    );
    assert_eq!(log[0]["signature"].as_str().unwrap().split(' ').count(), 2);
    receiver.control(json!({"secrets": [new]})).await;
    send_test(&app, &key, &id).await;
    let log = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(log[1]["verified"], true, "the new one too");
    app.stop().await;
}

/// /docs is served from the binary: the reference (no script at all), and
/// Swagger UI at /docs/try/ with its script, nothing from a CDN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_works_offline() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/docs/"] {
        let page = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("API reference") && !html.contains("<script"),
            "{html}"
        );
        assert!(
            html.contains("/api/v1</span>/complaints/{id}") && html.contains("complaints:write"),
            "every operation, with its scope"
        );
    }
    let page = app.http.get(app.url("/docs/try/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("unpkg.com") && !html.contains("cdn."),
        "nothing from a CDN"
    );
    for asset in [
        "/docs/try/swagger-ui.css",
        "/docs/try/swagger-ui-bundle.js",
        "/docs/try/swagger-initializer.js",
    ] {
        let res = app.http.get(app.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{asset}");
    }
    let init = app
        .http
        .get(app.url("/docs/try/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    app.stop().await;
}
