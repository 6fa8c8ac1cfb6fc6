//! The test panel through the API: a version that is not deployed answers in a
//! chat no channel sees, with the same runtime and tools; its complaints are
//! test complaints that no list, report or webhook sees; the chat stays behind
//! its tenant's wall.

use std::time::Duration;

use ombud_core::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::agents::{agent, deploy, executions, llm_config, version, LlmSetup};
use crate::api::{call, field};
use crate::helpers::*;

/// Starts a test chat with version `number` of the agent; its body.
async fn start_chat(app: &TestApp, key: &str, agent: &str, number: i64) -> Value {
    let path = format!("/agents/{agent}/versions/{number}/test-chats");
    let (status, chat) = call(app.api(Method::POST, &path, key)).await;
    assert_eq!(status, 201, "{chat}");
    chat
}

/// Says `text` in the chat; the turn.
async fn say(app: &TestApp, key: &str, chat: &Value, text: &str) -> Value {
    let path = format!("/test-chats/{}/messages", chat["id"].as_str().unwrap());
    let (status, turn) = call(
        app.api(Method::POST, &path, key)
            .json(&json!({"text": text})),
    )
    .await;
    assert_eq!(status, 201, "{turn}");
    turn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_is_not_deployed_answers_in_the_test_panel_and_nothing_reaches_a_channel() {
    let LlmSetup {
        graph,
        llm,
        app,
        t,
        key,
        agent: id,
    } = LlmSetup::start(|_| {}).await;
    let (hook, _) = crate::webhooks::endpoint(
        &app,
        &key,
        json!({"url": "http://127.0.0.1:9/down", "event_types": ["complaint.created"]}),
    )
    .await;
    let v1 = version(&app, &key, &id, llm_config(&llm, "m1")).await;
    deploy(&app, &key, &t, &v1).await;
    let v2 = version(&app, &key, &id, llm_config(&llm, "m2")).await;

    let chat = start_chat(&app, &key, &id, 2).await;
    assert_eq!(chat["version_id"], v2["id"]);
    assert_eq!(chat["turns"], json!([]));
    let first = say(&app, &key, &chat, "There is a big pothole near the school").await;
    let reply = first["replies"][0].as_str().unwrap();
    let number = number_in(reply).unwrap_or_else(|| panic!("no number in {reply:?}"));
    assert!(
        reply.starts_with("Your complaint is registered.") && number.starts_with("TEST-"),
        "{reply}"
    );
    assert_eq!(first["status"], "ok");
    assert_eq!(first["tool_calls"][0]["name"], "create_complaint");
    assert_eq!(first["tool_calls"][0]["result"]["number"], number.as_str());
    assert!(first["tokens_in"].as_i64().unwrap() > 0, "{first}");
    assert_eq!(first["tokens_out"], 24);
    assert!(first["latency_ms"].as_i64().unwrap() >= 0);
    // The same tools look the test complaint up, and the version's own model
    // answers, not the deployed one's.
    let second = say(
        &app,
        &key,
        &chat,
        &format!("What is the status of {number}?"),
    )
    .await;
    assert_eq!(
        second["replies"],
        json!([format!("Complaint {number} is new.")])
    );
    let third = say(&app, &key, &chat, "thank you").await;
    assert_eq!(third["replies"], json!(["Hello from m2."]));
    let models: Vec<Value> = llm
        .requests()
        .into_iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(
        models.len(),
        5,
        "two calls for each tool round, one for the last"
    );
    assert!(models.iter().all(|m| m == "m2"), "{models:?}");

    let path = format!("/test-chats/{}", chat["id"].as_str().unwrap());
    let (status, kept) = call(app.api(Method::GET, &path, &key)).await;
    assert_eq!(status, 200, "{kept}");
    let said: Vec<&str> = kept["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["said"].as_str().unwrap())
        .collect();
    assert_eq!(
        said,
        [
            "There is a big pothole near the school",
            &format!("What is the status of {number}?"),
            "thank you"
        ]
    );
    assert_eq!(kept["complaints"][0]["number"], number.as_str());
    assert_eq!(kept["complaints"][0]["location"], "MG Road");

    // Nothing reached a channel, and nothing became a complaint of the tenant
    // or one of its runs.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(graph.requests().is_empty(), "{:?}", graph.requests());
    let (_, listed) = call(app.api(Method::GET, "/complaints", &key)).await;
    assert_eq!(listed["data"], json!([]), "{listed}");
    assert!(executions(&app, &key, &id).await.is_empty());

    // The deployed version still answers the channel, and its complaint is
    // the tenant's, numbered as ever, with its webhook (the only one).
    let citizen = "919800000001";
    app.say(&t, citizen, "There is a big pothole near the school")
        .await;
    let replies = graph.wait_for_reply_to(citizen, 1).await;
    let real = number_in(&replies[0]).unwrap();
    assert!(real.starts_with("PUNE-"), "{real}");
    assert_eq!(
        app.store.complaints(&t.tenant.id, 10).await.unwrap().len(),
        1
    );
    let (_, deliveries) =
        call(app.api(Method::GET, &format!("/webhooks/{hook}/deliveries"), &key)).await;
    assert_eq!(
        deliveries["data"].as_array().unwrap().len(),
        1,
        "{deliveries}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_chat_is_checked_kept_behind_its_tenants_wall_and_ends_at_a_handoff() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let a = app.tenant("pune", "PUNE", &graph).await;
    let b = app.tenant("nagpur", "NAG", &graph).await;
    let key = app.api_key(&a.tenant.id, &Scope::ALL).await;
    let reader = app.api_key(&a.tenant.id, &[Scope::AgentsRead]).await;
    let theirs = app.api_key(&b.tenant.id, &Scope::ALL).await;
    let id = agent(&app, &key, "desk", "intake").await;
    version(&app, &key, &id, json!({})).await;
    let chat = start_chat(&app, &key, &id, 1).await;
    let chat_id = chat["id"].as_str().unwrap();
    let messages = format!("/test-chats/{chat_id}/messages");

    // Checked: no blank or oversized message; no version that does not exist.
    for text in [json!(""), json!("   "), json!("x".repeat(4097))] {
        let (status, e) = call(
            app.api(Method::POST, &messages, &key)
                .json(&json!({"text": text})),
        )
        .await;
        assert_eq!((status.as_u16(), field(&e)), (422, Some("text")), "{e}");
    }
    let (status, e) = call(app.api(
        Method::POST,
        &format!("/agents/{id}/versions/9/test-chats"),
        &key,
    ))
    .await;
    assert_eq!(status, 404, "{e}");
    // Reading is not running: a read-only key may look but not send.
    let (status, _) = call(
        app.api(Method::POST, &messages, &reader)
            .json(&json!({"text": "hi"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(app.api(Method::GET, &format!("/test-chats/{chat_id}"), &reader)).await;
    assert_eq!(status, 200);
    // Walls: another tenant finds neither the chat nor the agent's versions.
    let (status, _) = call(app.api(Method::GET, &format!("/test-chats/{chat_id}"), &theirs)).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        app.api(Method::POST, &messages, &theirs)
            .json(&json!({"text": "hi"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(app.api(
        Method::POST,
        &format!("/agents/{id}/versions/1/test-chats"),
        &theirs,
    ))
    .await;
    assert_eq!(status, 404);

    // The intake agent greets, then hands over when asked; the chat then
    // takes no more messages, as a channel's bot would stay silent.
    let hello = say(&app, &key, &chat, "hello").await;
    assert_eq!(hello["status"], "ok");
    assert!(!hello["replies"].as_array().unwrap().is_empty(), "{hello}");
    let human = say(&app, &key, &chat, "talk to human").await;
    assert_eq!(human["handoff"], true, "{human}");
    let (status, e) = call(
        app.api(Method::POST, &messages, &key)
            .json(&json!({"text": "hello?"})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), field(&e)),
        (422, Some("test_chat")),
        "{e}"
    );
    let (_, kept) = call(app.api(Method::GET, &format!("/test-chats/{chat_id}"), &key)).await;
    assert_eq!(kept["handed_off"], true);
    assert_eq!(kept["turns"].as_array().unwrap().len(), 2);
    assert!(graph.requests().is_empty());
    app.stop().await;
}
