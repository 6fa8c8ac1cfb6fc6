//! Temporary blocks (issue 25): staff pause the channel for an abusive
//! sender for some days. Their messages are stored; the bot tells them once
//! that the channel is paused and says nothing else; the block ends by
//! itself, or when staff end it.

use std::time::Duration;

use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.api(method, path, key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

/// Waits until every message of the conversation has been read by a run.
async fn all_read(app: &TestApp, t: &TestTenant, conversation: &ConversationId) {
    let done = wait_until(Duration::from_secs(10), || async {
        let c = app
            .store
            .conversation(&t.tenant.id, conversation)
            .await
            .unwrap()
            .unwrap()
            .conversation;
        c.run_cursor == c.inbound_seq
    })
    .await;
    assert!(done, "the runs read every message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_sender_is_told_once_kept_on_record_and_heard_again_when_it_ends() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("blocks", "BLK", &graph).await;
    let key = app
        .api_key(
            &t.tenant.id,
            &[
                Scope::ConversationsRead,
                Scope::ConversationsWrite,
                Scope::ComplaintsRead,
            ],
        )
        .await;
    let citizen = "919800000071";
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "Hello").await;
    graph.wait_for_reply_to(citizen, 1).await;
    let conversation = app
        .store
        .conversation_of_address(&t.tenant.id, &t.channel.id, citizen)
        .await
        .unwrap()
        .unwrap();
    let (_, view) = call(
        &app,
        Method::GET,
        &format!("/conversations/{conversation}"),
        &key,
        None,
    )
    .await;
    let contact = view["contact_id"].as_str().unwrap().to_owned();
    let block = format!("/contacts/{contact}/block");

    // Refused: no days, too many, no reason; another tenant's contact is
    // not found (api_walls checks every route that way).
    for (body, field) in [
        (json!({"days": 0, "reason": "abuse"}), "days"),
        (json!({"days": 91, "reason": "abuse"}), "days"),
        (json!({"days": 3, "reason": "  "}), "reason"),
    ] {
        let (status, e) = call(&app, Method::POST, &block, &key, Some(body)).await;
        assert_eq!(status, 422, "{e}");
        assert_eq!(e["error"]["fields"][0]["field"], field, "{e}");
    }

    let (status, blocked) = call(
        &app,
        Method::POST,
        &block,
        &key,
        Some(json!({"days": 2, "reason": "abusive messages to staff"})),
    )
    .await;
    assert_eq!(status, 200, "{blocked}");
    assert_eq!(blocked["block_reason"], "abusive messages to staff");
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(blocked["blocked_until"].clone()).unwrap();
    let two_days = until - app.engine.now();
    assert!(two_days > chrono::Duration::hours(47) && two_days <= chrono::Duration::hours(48));

    // Two messages while blocked: stored, one notice, nothing else (no
    // intake question, no complaint).
    for text in ["You people are useless", "Answer me now"] {
        graph.citizen_wrote(citizen);
        app.say(&t, citizen, text).await;
        all_read(&app, &t, &conversation).await;
    }
    let sent = graph.wait_for_reply_to(citizen, 2).await;
    assert_eq!(sent.len(), 2, "told once: {sent:?}");
    assert!(
        sent[1].starts_with("This channel is paused for you until"),
        "{}",
        sent[1]
    );
    let (_, messages) = call(
        &app,
        Method::GET,
        &format!("/conversations/{conversation}/messages"),
        &key,
        None,
    )
    .await;
    let bodies: Vec<&str> = messages["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert!(bodies.contains(&"You people are useless"), "{bodies:?}");
    assert!(bodies.contains(&"Answer me now"), "{bodies:?}");
    let (_, complaints) = call(&app, Method::GET, "/complaints", &key, None).await;
    assert_eq!(complaints["data"], json!([]));
    let trail = app.store.audit_chain(&t.tenant.id, 0, 100).await.unwrap();
    assert!(trail.iter().any(|e| e.entry.action == "contact.blocked"));

    // Two days on, the block has ended by itself: the bot answers again.
    app.clock
        .advance(chrono::Duration::hours(48) + chrono::Duration::minutes(1));
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "The street light near the school is broken")
        .await;
    let sent = graph.wait_for_reply_to(citizen, 3).await;
    assert_eq!(sent.len(), 3);
    assert!(!sent[2].contains("paused"), "{}", sent[2]);

    // Blocked again and ended by staff at once: heard again straight away.
    let (status, _) = call(
        &app,
        Method::POST,
        &block,
        &key,
        Some(json!({"days": 5, "reason": "again"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, ended) = call(&app, Method::DELETE, &block, &key, None).await;
    assert_eq!(status, 200);
    assert!(ended["blocked_until"].is_null(), "{ended}");
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "Near Shivaji school").await;
    let sent = graph.wait_for_reply_to(citizen, 4).await;
    assert_eq!(sent.len(), 4);
    assert!(!sent[3].contains("paused"), "{}", sent[3]);
    app.stop().await;
}
