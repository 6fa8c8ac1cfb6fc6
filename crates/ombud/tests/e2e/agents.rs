//! Agents through the API — versions checked and saved, deployed to a channel,
//! rolled back — and the LLM runtime against a fake OpenAI-compatible server:
//! a complaint dialogue through WhatsApp, the provider down or slow, and a
//! deployment landing while a run is in flight.

use std::time::Duration;

use ombud_core::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{call, field};
use crate::fake_llm::{FakeLlm, Mode};
use crate::helpers::*;

/// Makes an agent of `kind` through the API; its id.
pub async fn agent(app: &TestApp, key: &str, name: &str, kind: &str) -> String {
    let (status, a) = call(
        app.api(Method::POST, "/agents", key)
            .json(&json!({"name": name, "kind": kind})),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    a["id"].as_str().unwrap().to_owned()
}

/// Saves a version through the API; its body.
pub async fn version(app: &TestApp, key: &str, agent: &str, config: Value) -> Value {
    let (status, v) = call(
        app.api(Method::POST, &format!("/agents/{agent}/versions"), key)
            .json(&json!({"config": config, "changelog": "test"})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v
}

pub async fn deploy(app: &TestApp, key: &str, t: &TestTenant, version: &Value) -> Value {
    let (status, d) = call(
        app.api(
            Method::POST,
            &format!("/channels/{}/deployments", t.channel.id),
            key,
        )
        .json(&json!({"version_id": version["id"]})),
    )
    .await;
    assert_eq!(status, 201, "{d}");
    d
}

/// An LLM version's configuration against the fake server.
pub(crate) fn llm_config(llm: &FakeLlm, model: &str) -> Value {
    json!({"base_url": llm.base_url(), "model": model, "api_key": "sk-test-123", "retries": 2, "timeout_secs": 2})
}

/// A server with a tenant, its key with every scope, the fake provider, and
/// an llm agent without versions.
pub(crate) struct LlmSetup {
    pub graph: FakeGraph,
    pub llm: FakeLlm,
    pub app: TestApp,
    pub t: TestTenant,
    pub key: String,
    pub agent: String,
}

impl LlmSetup {
    pub async fn start(tweak: impl FnOnce(&mut ombud::Config)) -> Self {
        let graph = FakeGraph::start().await;
        let llm = FakeLlm::start().await;
        let app = TestApp::spawn_with(tweak, None).await;
        let t = app.tenant("pune", "PUNE", &graph).await;
        let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
        let agent = agent(&app, &key, "assistant", "llm").await;
        Self {
            graph,
            llm,
            app,
            t,
            key,
            agent,
        }
    }
}

/// The agent's runs, newest first (up to 200).
pub(crate) async fn executions(app: &TestApp, key: &str, agent: &str) -> Vec<Value> {
    let path = format!("/agents/{agent}/executions?limit=200");
    let (status, page) = call(app.api(Method::GET, &path, key)).await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_checked_saved_and_deployed_through_the_api() {
    let graph = FakeGraph::start().await;
    let llm = FakeLlm::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;

    let id = agent(&app, &key, "assistant", "llm").await;
    let again = |body: Value| call(app.api(Method::POST, "/agents", &key).json(&body));
    let (status, e) = again(json!({"name": "assistant", "kind": "process"})).await;
    assert_eq!((status.as_u16(), field(&e)), (409, Some("name")), "{e}");
    let (status, e) = again(json!({"name": "x", "kind": "python"})).await;
    assert_eq!((status.as_u16(), field(&e)), (422, Some("kind")), "{e}");

    // A configuration is checked for the agent's kind; errors name the field.
    let base = llm.base_url();
    let cases = [
        (json!({"base_url": base}), "config"),
        (
            json!({"base_url": base, "model": "m", "temperature": 9}),
            "config.temperature",
        ),
        (
            json!({"base_url": base, "model": "m", "tools": ["rm"]}),
            "config.tools[0]",
        ),
        (
            json!({"base_url": "http://169.254.169.254/v1", "model": "m"}),
            "config.base_url",
        ),
        (
            json!({"base_url": base, "model": "m", "api_key": 7}),
            "config.api_key",
        ),
        (
            json!({"base_url": base, "model": "m", "api_key_env": "OMBUD_DATABASE_URL"}),
            "config.api_key_env",
        ),
    ];
    for (config, expected) in cases {
        let (status, e) = call(
            app.api(Method::POST, &format!("/agents/{id}/versions"), &key)
                .json(&json!({"config": config})),
        )
        .await;
        assert_eq!(
            (status.as_u16(), field(&e)),
            (422, Some(expected)),
            "{config}: {e}"
        );
    }

    let v1 = version(&app, &key, &id, llm_config(&llm, "m1")).await;
    assert_eq!(v1["number"], 1);
    assert!(
        v1["author"].as_str().unwrap().starts_with("api:key_"),
        "{v1}"
    );
    assert_eq!(
        v1["config"]["max_turns"], 6,
        "saved whole, defaults filled in"
    );
    let sealed = v1["config"]["api_key_sealed"].as_str().unwrap();
    assert!(sealed.starts_with("sealed:v1:"), "{sealed}");
    assert!(
        !v1.to_string().contains("sk-test-123"),
        "the key is never shown"
    );
    let v2 = version(&app, &key, &id, llm_config(&llm, "m2")).await;
    assert_eq!(v2["number"], 2);

    let (_, list) = call(app.api(Method::GET, "/agents", &key)).await;
    let names: Vec<(&str, &str, i64)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["kind"].as_str().unwrap(),
                a["latest_version"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("assistant", "llm", 2), ("intake", "intake", 1)]);
    let (_, versions) = call(app.api(Method::GET, &format!("/agents/{id}/versions"), &key)).await;
    let numbers: Vec<i64> = versions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    let (status, one) = call(app.api(Method::GET, &format!("/agents/{id}/versions/1"), &key)).await;
    assert_eq!((status.as_u16(), &one["id"]), (200, &v1["id"]));
    let (status, _) = call(app.api(Method::GET, &format!("/agents/{id}/versions/9"), &key)).await;
    assert_eq!(status, 404);

    // Deploy, deploy again, roll back: the history keeps each, newest first.
    let intake_version = t.channel.deployed_version.clone().unwrap().to_string();
    let d1 = deploy(&app, &key, &t, &v1).await;
    assert_eq!(d1["previous_version_id"], intake_version.as_str());
    deploy(&app, &key, &t, &v2).await;
    let back = deploy(&app, &key, &t, &v1).await;
    assert_eq!(back["previous_version_id"], v2["id"]);
    let (_, history) = call(app.api(
        Method::GET,
        &format!("/channels/{}/deployments", t.channel.id),
        &key,
    ))
    .await;
    let seen: Vec<(&str, i64)> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["version_id"].as_str().unwrap(),
                d["version_number"].as_i64().unwrap(),
            )
        })
        .collect();
    let (v1_id, v2_id) = (v1["id"].as_str().unwrap(), v2["id"].as_str().unwrap());
    // Newest first, down to the intake version the channel started with.
    assert_eq!(
        seen,
        [
            (v1_id, 1),
            (v2_id, 2),
            (v1_id, 1),
            (intake_version.as_str(), 1)
        ]
    );
    assert_eq!(history["data"][3]["actor"], "system");
    let channel = app.store.channel(&t.channel.id).await.unwrap().unwrap();
    assert_eq!(
        channel.deployed_version.as_ref().unwrap().as_str(),
        v1["id"].as_str().unwrap()
    );
    let (status, e) = call(
        app.api(
            Method::POST,
            &format!("/channels/{}/deployments", t.channel.id),
            &key,
        )
        .json(&json!({"version_id": "agv_01JD8Y3M6V4ZB2T9W0XK5Q7R1C"})),
    )
    .await;
    assert_eq!(
        (status.as_u16(), field(&e)),
        (422, Some("version_id")),
        "{e}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_agent_takes_a_complaint_and_answers_its_status_through_whatsapp() {
    let LlmSetup {
        graph,
        llm,
        app,
        t,
        key,
        agent: id,
    } = LlmSetup::start(|_| {}).await;
    let v1 = version(&app, &key, &id, llm_config(&llm, "m1")).await;
    deploy(&app, &key, &t, &v1).await;
    let citizen = "919800000001";

    app.say(&t, citizen, "There is a big pothole near the school")
        .await;
    let replies = graph.wait_for_reply_to(citizen, 1).await;
    let number = number_in(&replies[0]).unwrap_or_else(|| panic!("no number in {:?}", replies[0]));
    assert!(
        replies[0].starts_with("Your complaint is registered."),
        "{replies:?}"
    );
    let complaint = app
        .store
        .complaints(&t.tenant.id, 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(complaint.number.as_str(), number);
    assert_eq!(
        complaint.description,
        "There is a big pothole near the school"
    );
    assert_eq!(complaint.location.as_deref(), Some("MG Road"));
    let roads = app
        .store
        .categories(&t.tenant.id)
        .await
        .unwrap()
        .iter()
        .find(|c| c.slug == "roads")
        .unwrap()
        .id
        .clone();
    assert_eq!(complaint.category_id, Some(roads));

    app.say(&t, citizen, &format!("What is the status of {number}?"))
        .await;
    let replies = graph.wait_for_reply_to(citizen, 2).await;
    assert_eq!(replies[1], format!("Complaint {number} is new."));
    app.say(&t, citizen, "thank you").await;
    let replies = graph.wait_for_reply_to(citizen, 3).await;
    assert_eq!(replies[2], "Hello from m1.");

    // What the provider saw: the real request shape, the opened key, the tools,
    // the organisation and its categories, and the earlier turns as context.
    let requests = llm.requests();
    assert_eq!(
        requests.len(),
        5,
        "two calls for each tool round, one for the last"
    );
    assert!(requests.iter().all(|r| r.status == 200), "{requests:?}");
    assert!(requests
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer sk-test-123")));
    let first = &requests[0].body;
    let tools: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools.len(), 6, "{tools:?}");
    let system = first["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("pune office") && system.contains("roads (Roads and potholes)"),
        "{system}"
    );
    let second = &requests[1].body["messages"];
    let tool_msg = second.as_array().unwrap().last().unwrap();
    assert_eq!(tool_msg["role"], "tool");
    assert_eq!(tool_msg["tool_call_id"], "call_1");
    let last = requests[4].body["messages"].as_array().unwrap();
    assert_eq!(
        last[1]["content"], "There is a big pothole near the school",
        "earlier turns are context"
    );
    assert_eq!(
        last.len(),
        1 + 4 + 1,
        "system, two earlier turns, the new message"
    );

    // Every run is an execution with its tool calls and tokens.
    let runs = executions(&app, &key, &id).await;
    assert_eq!(runs.len(), 3);
    let created = &runs[2];
    assert_eq!(created["status"], "ok");
    assert_eq!(created["agent_version_id"], v1["id"]);
    assert_eq!(created["tool_calls"][0]["name"], "create_complaint");
    assert_eq!(created["tool_calls"][0]["ok"], true);
    assert_eq!(
        created["tool_calls"][0]["result"]["number"],
        number.as_str()
    );
    assert!(created["tokens_in"].as_i64().unwrap() > 0);
    assert_eq!(created["tokens_out"], 24);
    assert_eq!(created["input_message_ids"].as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["tool_calls"], json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_or_slow_gives_the_fallback_reply_and_a_failed_execution() {
    let LlmSetup {
        graph,
        llm,
        app,
        t,
        key,
        agent: id,
    } = LlmSetup::start(|c| c.agents.llm_retry_base_ms = 20).await;
    let (hook, _) = crate::webhooks::endpoint(
        &app,
        &key,
        json!({"url": "http://127.0.0.1:9/down", "event_types": ["execution.failed"]}),
    )
    .await;
    let mut config = llm_config(&llm, "m1");
    config["fallback_reply"] = json!("We are busy; our team will reply soon.");
    config["timeout_secs"] = json!(1);
    let v1 = version(&app, &key, &id, config).await;
    deploy(&app, &key, &t, &v1).await;
    let citizen = "919800000001";

    llm.set_mode(Mode::Down(503));
    app.say(&t, citizen, "hello").await;
    let replies = graph.wait_for_reply_to(citizen, 1).await;
    assert_eq!(replies[0], "We are busy; our team will reply soon.");
    assert_eq!(llm.requests().len(), 3, "the first try and two retries");
    let runs = executions(&app, &key, &id).await;
    assert_eq!(runs[0]["status"], "failed");
    let error = runs[0]["error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 503") && error.contains("after 3 tries"),
        "{error}"
    );

    llm.set_mode(Mode::Slow(Duration::from_secs(3)));
    app.say(&t, citizen, "hello?").await;
    let replies = graph.wait_for_reply_to(citizen, 2).await;
    assert_eq!(replies[1], "We are busy; our team will reply soon.");
    let runs = executions(&app, &key, &id).await;
    assert_eq!(runs[0]["status"], "timeout", "{}", runs[0]);

    // An answer too large to be one is not read to its end.
    llm.set_mode(Mode::Huge(5 * 1024 * 1024));
    app.say(&t, citizen, "hello??").await;
    graph.wait_for_reply_to(citizen, 3).await;
    let runs = executions(&app, &key, &id).await;
    let error = runs[0]["error"].as_str().unwrap();
    assert!(error.contains("longer than 4194304 bytes"), "{error}");

    // The conversation stays with the bot: once the provider is back, it answers.
    llm.set_mode(Mode::Scripted);
    app.say(&t, citizen, "anyone there?").await;
    let replies = graph.wait_for_reply_to(citizen, 4).await;
    assert_eq!(replies[3], "Hello from m1.");
    let (_, deliveries) =
        call(app.api(Method::GET, &format!("/webhooks/{hook}/deliveries"), &key)).await;
    let types: Vec<&str> = deliveries["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["execution.failed"; 3]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_takes_effect_for_the_next_run_not_the_one_in_flight() {
    let LlmSetup {
        graph,
        llm,
        app,
        t,
        key,
        agent: id,
    } = LlmSetup::start(|_| {}).await;
    let v1 = version(&app, &key, &id, llm_config(&llm, "m1")).await;
    let v2 = version(&app, &key, &id, llm_config(&llm, "m2")).await;
    deploy(&app, &key, &t, &v1).await;
    let citizen = "919800000001";

    // v1 is answering (its request is held at the provider) when v2 is deployed.
    llm.hold();
    app.say(&t, citizen, "hi").await;
    llm.wait_for_requests(1).await;
    deploy(&app, &key, &t, &v2).await;
    llm.release();
    let replies = graph.wait_for_reply_to(citizen, 1).await;
    assert_eq!(
        replies[0], "Hello from m1.",
        "the run in flight finishes on v1"
    );
    app.say(&t, citizen, "hi again").await;
    let replies = graph.wait_for_reply_to(citizen, 2).await;
    assert_eq!(replies[1], "Hello from m2.", "the next run is v2's");
    // Rollback is deploying v1 again; the next run is v1's.
    deploy(&app, &key, &t, &v1).await;
    app.say(&t, citizen, "and again").await;
    let replies = graph.wait_for_reply_to(citizen, 3).await;
    assert_eq!(replies[2], "Hello from m1.");
    let runs = executions(&app, &key, &id).await;
    let versions: Vec<&Value> = runs.iter().rev().map(|r| &r["agent_version_id"]).collect();
    assert_eq!(versions, [&v1["id"], &v2["id"], &v1["id"]]);
    app.stop().await;
}
