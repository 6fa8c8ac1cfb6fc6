//! The API's walls, from its own OpenAPI document: every route with another
//! tenant's ids (404) and without its scope (403 naming it), and schemathesis
//! generating requests from the document.

use std::collections::HashMap;

use ombud_core::{Role, Scope};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{body, call};
use crate::helpers::*;
use crate::staff::{member, Staff};

/// Every path parameter of every route, filled with another tenant's ids.
struct Ids {
    complaint: String,
    conversation: String,
    contact: String,
    endpoint: String,
    event: String,
    key: String,
    agent: String,
    channel: String,
    test_chat: String,
    attachment: String,
}

fn fill(path: &str, ids: &Ids) -> String {
    if !path.contains('{') {
        return path.to_owned();
    }
    let id = if path.starts_with("/complaints") {
        &ids.complaint
    } else if path.starts_with("/conversations") {
        &ids.conversation
    } else if path.starts_with("/contacts") {
        &ids.contact
    } else if path.starts_with("/webhooks") {
        &ids.endpoint
    } else if path.starts_with("/api-keys") {
        &ids.key
    } else if path.starts_with("/agents") {
        &ids.agent
    } else if path.starts_with("/channels") {
        &ids.channel
    } else if path.starts_with("/test-chats") {
        &ids.test_chat
    } else if path.starts_with("/attachments") {
        &ids.attachment
    } else {
        panic!("{path}: which id does this route take? add it to the tenant-wall test")
    };
    path.replace("{id}", id)
        .replace("{event_id}", &ids.event)
        .replace("{number}", "1")
}

/// The document's operations: (method, path, the API-key scope it names).
fn operations() -> Vec<(Method, String, Option<String>)> {
    let spec = serde_json::to_value(ombud_web::api::openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let scope = op["security"]
                .as_array()
                .and_then(|s| s.iter().find_map(|req| req["api_key"][0].as_str()))
                .map(str::to_owned);
            out.push((method.to_uppercase().parse().unwrap(), path.clone(), scope));
        }
    }
    out
}

fn sample_body(path: &str) -> Value {
    match path {
        "/webhooks" => json!({"url": "http://127.0.0.1:9/x"}),
        "/webhooks/{id}/replay" => json!({"since": "2026-01-01T00:00:00Z"}),
        "/complaints" => json!({"description": "x"}),
        "/complaints/bulk-update" => json!({"filter": {}, "change": {"priority": "high"}}),
        "/complaints/{id}/notes" => json!({"note": "x"}),
        "/complaints/{id}/verification" => json!({"outcome": "validated", "note": "x"}),
        "/conversations/{id}/messages" => json!({"body": "x"}),
        "/api-keys" => json!({"name": "x", "scopes": ["complaints:read"]}),
        "/complaints/{id}" => json!({"priority": "high"}),
        "/webhooks/{id}" => json!({"description": "x"}),
        "/agents" => json!({"name": "x", "kind": "intake"}),
        "/agents/{id}/versions" => json!({"config": {}}),
        "/test-chats/{id}/messages" => json!({"text": "x"}),
        "/channels/{id}/deployments" => json!({"version_id": "agv_01JD8Y3M6V4ZB2T9W0XK5Q7R1C"}),
        "/contacts/{id}/block" => json!({"days": 3, "reason": "abusive messages"}),
        _ => json!({}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_a_gets_404_for_tenant_bs_ids_on_every_route_and_403_without_the_scope() {
    let graph = FakeGraph::start().await;
    let receiver = crate::webhooks::Receiver::start();
    let app = TestApp::spawn().await;
    let a = app.tenant("pune", "PUNE", &graph).await;
    let b = app.tenant("nagpur", "NGP", &graph).await;
    let key_a = app.api_key(&a.tenant.id, &Scope::ALL).await;
    let key_b = app.api_key(&b.tenant.id, &Scope::ALL).await;
    // B has one of everything: an endpoint (with a delivery), a complaint with
    // its conversation and contact, a key.
    let (endpoint, _) =
        crate::webhooks::endpoint(&app, &key_b, json!({"url": receiver.url()})).await;
    crate::work::street_light(&app, &b, &graph, "919800000002").await;
    let (_, deliveries) = call(app.api(
        Method::GET,
        &format!("/webhooks/{endpoint}/deliveries"),
        &key_b,
    ))
    .await;
    let c = app
        .store
        .complaints(&b.tenant.id, 1)
        .await
        .unwrap()
        .remove(0);
    let b_version = app.store.agents(&b.tenant.id).await.unwrap()[0].id.clone();
    let b_version = app
        .store
        .agent_versions(&b.tenant.id, &b_version)
        .await
        .unwrap()
        .remove(0);
    let b_chat = app
        .store
        .create_test_chat(
            &b.tenant.id,
            ombud_store::NewTestChat {
                id: ombud_core::TestChatId::new(),
                version: b_version.id,
                created_by: "system".into(),
                at: ombud_store::stored(chrono::Utc::now()),
            },
            Vec::new(),
        )
        .await
        .unwrap();
    // And a photo the citizen sent.
    let (media_id, sha256) = graph.add_media(&crate::media::phone_photo(), "image/jpeg");
    crate::media::send_photo(&app, &b, &graph, "919800000002", (&media_id, &sha256), None).await;
    let conversation = c.conversation_id.clone().unwrap();
    let attachment = app
        .store
        .messages(&b.tenant.id, &conversation)
        .await
        .unwrap()
        .into_iter()
        .find_map(|m| m.media)
        .expect("the photo's attachment")
        .id;
    let ids = Ids {
        attachment: attachment.to_string(),
        complaint: c.id.to_string(),
        conversation: c.conversation_id.clone().unwrap().to_string(),
        contact: c.contact_id.clone().unwrap().to_string(),
        endpoint: endpoint.clone(),
        event: deliveries["data"][0]["event_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        key: app.store.api_keys(&b.tenant.id).await.unwrap()[0]
            .id
            .to_string(),
        agent: app.store.agents(&b.tenant.id).await.unwrap()[0]
            .id
            .to_string(),
        channel: b.channel.id.to_string(),
        test_chat: b_chat.id.to_string(),
    };
    member(&app, "admin@pune.example", &a.tenant.id, Role::Admin).await;
    let admin_a = Staff::login(&app, "admin@pune.example").await;
    let csrf = admin_a.csrf_token().await;

    let ops = operations();
    assert!(ops.len() >= 25, "{} operations", ops.len());
    let mut checked = HashMap::new();
    for (method, path, scope) in &ops {
        if !path.contains('{') {
            continue;
        }
        let url = format!("/api/v1{}", fill(path, &ids));
        // Routes only an admin signed in may call (no key scope reaches them).
        let req = if path.starts_with("/api-keys")
            || path.ends_with("/templates")
            || path.ends_with("/webchat")
            || path.ends_with("/templates/sync")
            || path == "/settings/survey"
        {
            admin_a
                .request(method.clone(), &url)
                .header("x-csrf-token", &csrf)
        } else {
            app.http
                .request(method.clone(), app.url(&url))
                .bearer_auth(&key_a)
        };
        let (status, e) = call(req.json(&sample_body(path))).await;
        assert_eq!(status, 404, "{method} {path}: {e}");
        assert_eq!(e["error"]["code"], "not_found", "{method} {path}");
        checked.insert(format!("{method} {path}"), scope.clone());
    }
    assert!(checked.len() >= 15, "{checked:?}");
    // B's data is as it was.
    let b_agent = app.store.agents(&b.tenant.id).await.unwrap().remove(0);
    assert_eq!(b_agent.latest_version, Some(1));
    assert_eq!(
        app.store.test_chat(&b.tenant.id, &b_chat.id).await.unwrap(),
        Some(b_chat.clone())
    );
    let b_history = app
        .store
        .deployments(&b.tenant.id, &b.channel.id, 10)
        .await
        .unwrap();
    assert_eq!(b_history.len(), 1, "only the one made with the channel");
    assert_eq!(b_history[0].actor, "system");
    assert_eq!(
        app.store
            .complaint(&b.tenant.id, &c.id)
            .await
            .unwrap()
            .unwrap(),
        c
    );
    assert_eq!(
        app.store
            .webhook_endpoints(&b.tenant.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(app.store.api_keys(&b.tenant.id).await.unwrap()[0]
        .revoked_at
        .is_none());
    let b_conversation = app
        .store
        .conversation(&b.tenant.id, &ids.conversation.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(b_conversation.conversation.session_closed_at.is_none());
    assert!(!ombud_core::person::is_erased(
        &b_conversation.contact_address
    ));
    assert!(
        checked.contains_key("POST /contacts/{id}/erase"),
        "{checked:?}"
    );
    assert!(
        checked.contains_key("POST /contacts/{id}/export"),
        "{checked:?}"
    );

    // Without its scope, each route answers 403 naming the scope.
    for (method, path, scope) in &ops {
        let Some(scope) = scope else { continue };
        let others: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| s.as_str() != scope)
            .collect();
        let key = app.api_key(&a.tenant.id, &others).await;
        let url = format!(
            "/api/v1{}",
            fill(path, &ids).replace(&ids.endpoint, "whe_01JD8Y3M6V4ZB2T9W0XK5Q7R1C")
        );
        let (status, e) = call(
            app.http
                .request(method.clone(), app.url(&url))
                .bearer_auth(&key)
                .json(&sample_body(path)),
        )
        .await;
        assert_eq!(status, 403, "{method} {path}: {e}");
        assert_eq!(e["error"]["code"], "missing_scope", "{method} {path}");
        assert_eq!(
            e["error"]["fields"][0]["reason"],
            scope.as_str(),
            "{method} {path}"
        );
    }
    app.stop().await;
}

/// Schemathesis (PyPI) generates requests from /openapi.json, valid and not,
/// with a key that has every scope: no answer may be a server error, break
/// its schema, or carry a status the document does not list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_nothing_undocumented() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    crate::work::street_light(&app, &t, &graph, "919800000001").await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let receiver = crate::webhooks::Receiver::start();
    let (endpoint, _) = crate::webhooks::endpoint(&app, &key, json!({"url": receiver.url()})).await;
    let test = app
        .api(Method::POST, &format!("/webhooks/{endpoint}/test"), &key)
        .send()
        .await
        .unwrap();
    let (_, test) = body(test).await;
    let c = app
        .store
        .complaints(&t.tenant.id, 1)
        .await
        .unwrap()
        .remove(0);
    // Real ids for the path parameters, so that requests reach past the 404.
    let ids = [
        ("^/complaints/\\{id\\}", "id", c.id.to_string()),
        (
            "^/conversations/\\{id\\}",
            "id",
            c.conversation_id.clone().unwrap().to_string(),
        ),
        (
            "^/contacts/\\{id\\}",
            "id",
            c.contact_id.clone().unwrap().to_string(),
        ),
        ("^/webhooks/\\{id\\}", "id", endpoint.clone()),
        (
            "^/agents/\\{id\\}",
            "id",
            app.store.agents(&t.tenant.id).await.unwrap()[0]
                .id
                .to_string(),
        ),
        ("^/channels/\\{id\\}", "id", t.channel.id.to_string()),
        (
            "\\{event_id\\}",
            "event_id",
            test["event_id"].as_str().unwrap().to_owned(),
        ),
    ];
    let mut config = String::new();
    for (path, name, value) in ids {
        config.push_str(&format!(
            "[[operations]]\ninclude-path-regex = '{path}'\nparameters = {{ \"path.{name}\" = \"{value}\" }}\n\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("schemathesis.toml");
    std::fs::write(&config_file, &config).unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let tool = format!("{root}/.venv/bin/schemathesis");
    assert!(
        std::path::Path::new(&tool).exists(),
        "{tool} is missing: scripts/test installs it (deploy/tests/requirements.txt)"
    );
    let seed = std::env::var("OMBUD_TEST_SCHEMATHESIS_SEED").unwrap_or_else(|_| "4711".into());
    let url = app.url("/openapi.json");
    let auth = format!("Authorization: Bearer {key}");
    let seed2 = seed.clone();
    let run = move || {
        std::process::Command::new(tool)
        .args([
            "--config-file",
            config_file.to_str().unwrap(),
            "run",
            &url,
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
            "--header",
            &auth,
            "--max-examples",
            "25",
            "--seed",
            &seed2,
            "--phases",
            "examples,coverage,fuzzing",
            // One worker: with two threads, Python 3.11's `ast` (which hypothesis
            // uses to describe its lambdas) can fail with "AST constructor
            // recursion depth mismatch", an error of the tool, not of the API.
            "--workers",
            "1",
            "--no-color",
            "--request-timeout",
            "10",
        ])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // Its cache of past findings goes with the temporary dir.
        .current_dir(config_file.parent().unwrap())
        .output()
        .expect("schemathesis runs")
    };
    let out = tokio::task::spawn_blocking(run).await.unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "schemathesis found problems (seed {seed}):\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await;
}
