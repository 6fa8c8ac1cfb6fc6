#![allow(dead_code)]
//! A stand-in for an OpenAI-compatible chat-completions server, speaking the
//! real shapes: `POST /v1/chat/completions` with `model`, `messages` (system,
//! user, assistant with `tool_calls`, tool with `tool_call_id`) and `tools`;
//! answers `choices[0].message` with `content` or `tool_calls` (arguments as a
//! JSON string) and `usage`. A request that breaks the shape gets OpenAI's 400.
//!
//! Its "model" is a script: a pothole or broken thing → create_complaint; a
//! status question with a number → complaint_status; "human" → handoff; a tool
//! result → a sentence about it; anything else → "Hello from <model>."

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub authorization: Option<String>,
    pub body: Value,
    pub status: u16,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Scripted,
    /// Every request answered with this status.
    Down(u16),
    /// Answers after this long.
    Slow(Duration),
    /// Answers 200 with a body this many bytes long.
    Huge(usize),
}

struct LlmState {
    requests: Vec<LlmRequest>,
    mode: Mode,
    /// Requests wait here until released while held.
    held: bool,
    counter: u64,
}

#[derive(Clone)]
pub struct FakeLlm {
    pub addr: SocketAddr,
    state: Arc<Mutex<LlmState>>,
    release: Arc<Notify>,
}

impl FakeLlm {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake llm");
        let llm = Self {
            addr: listener.local_addr().expect("addr"),
            state: Arc::new(Mutex::new(LlmState {
                requests: Vec::new(),
                mode: Mode::Scripted,
                held: false,
                counter: 0,
            })),
            release: Arc::new(Notify::new()),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(llm.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        llm
    }

    /// The `base_url` of a version using this server.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Holds every request from now until [`release`](Self::release).
    pub fn hold(&self) {
        self.state.lock().unwrap().held = true;
    }

    pub fn release(&self) {
        self.state.lock().unwrap().held = false;
        self.release.notify_waiters();
    }

    pub fn requests(&self) -> Vec<LlmRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Waits until `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) -> Vec<LlmRequest> {
        for _ in 0..1000 {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the fake LLM got {} requests, not {n}",
            self.requests().len()
        )
    }
}

fn openai_error(status: StatusCode, message: &str) -> Response {
    let kind = if status == StatusCode::BAD_REQUEST {
        "invalid_request_error"
    } else {
        "server_error"
    };
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}})),
    )
        .into_response()
}

async fn complete(State(llm): State<FakeLlm>, headers: HeaderMap, body: String) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let (mode, n) = {
        let mut s = llm.state.lock().unwrap();
        s.counter += 1;
        (s.mode, s.counter)
    };
    let problem = shape_problem(&parsed);
    let status = match (&problem, mode) {
        (Some(_), _) => 400,
        (None, Mode::Down(code)) => code,
        _ => 200,
    };
    llm.state.lock().unwrap().requests.push(LlmRequest {
        authorization,
        body: parsed.clone(),
        status,
    });
    loop {
        let waiting = llm.release.notified();
        if !llm.state.lock().unwrap().held {
            break;
        }
        waiting.await;
    }
    if let Some(problem) = problem {
        return openai_error(StatusCode::BAD_REQUEST, &problem);
    }
    match mode {
        Mode::Down(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return openai_error(status, "The server is overloaded or not ready yet.");
        }
        Mode::Slow(d) => tokio::time::sleep(d).await,
        Mode::Huge(n) => return " ".repeat(n).into_response(),
        Mode::Scripted => {}
    }
    Json(answer(&parsed, n)).into_response()
}

/// What OpenAI would refuse with 400.
fn shape_problem(body: &Value) -> Option<String> {
    if !body["model"].is_string() {
        return Some("you must provide a model parameter".into());
    }
    let messages = body["messages"].as_array()?;
    let mut call_ids: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        match m["role"].as_str() {
            Some("system" | "user") if m["content"].is_string() => {}
            Some("assistant") => {
                for c in m["tool_calls"].as_array().into_iter().flatten() {
                    if c["type"] != "function" || !c["function"]["arguments"].is_string() {
                        return Some(format!("messages[{i}].tool_calls: bad shape"));
                    }
                    call_ids.push(c["id"].as_str().unwrap_or_default().to_owned());
                }
            }
            Some("tool") => {
                let id = m["tool_call_id"].as_str().unwrap_or_default();
                if !call_ids.iter().any(|c| c == id) || !m["content"].is_string() {
                    return Some(format!(
                        "messages[{i}]: a tool message must answer a preceding tool_calls id"
                    ));
                }
            }
            _ => return Some(format!("messages[{i}]: bad role or content")),
        }
    }
    for (i, t) in body["tools"].as_array().into_iter().flatten().enumerate() {
        if t["type"] != "function"
            || !t["function"]["name"].is_string()
            || t["function"]["parameters"]["type"] != "object"
        {
            return Some(format!("tools[{i}]: bad shape"));
        }
    }
    None
}

fn answer(body: &Value, n: u64) -> Value {
    let model = body["model"].as_str().unwrap_or("model");
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let offered = |name: &str| {
        body["tools"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["function"]["name"] == name))
    };
    let call = |name: &str, args: Value| {
        json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": format!("call_{n}"), "type": "function",
            "function": {"name": name, "arguments": args.to_string()}}]})
    };
    let say = |text: String| json!({"role": "assistant", "content": text});
    let message = if last["role"] == "tool" {
        let result: Value =
            serde_json::from_str(last["content"].as_str().unwrap_or("{}")).unwrap_or_default();
        let asked = messages
            .iter()
            .rev()
            .find(|m| m["role"] == "assistant")
            .and_then(|m| m["tool_calls"][0]["function"]["name"].as_str())
            .unwrap_or("");
        let field = |k: &str| result[k].as_str().unwrap_or("").to_owned();
        match asked {
            _ if result["error"].is_string() => {
                say(format!("Sorry, that did not work: {}", field("error")))
            }
            "create_complaint" => say(format!(
                "Your complaint is registered. Number: {}",
                field("number")
            )),
            "complaint_status" => say(format!(
                "Complaint {} is {}.",
                field("number"),
                field("status")
            )),
            "list_my_complaints" => say(format!(
                "You have {} open complaints.",
                result["complaints"].as_array().map_or(0, Vec::len)
            )),
            _ => say("A member of our team will reply to you here.".into()),
        }
    } else {
        let text = last["content"].as_str().unwrap_or("").to_owned();
        let lower = text.to_lowercase();
        let number = regex::Regex::new(r"[A-Za-z]+-\d{8}-\d{4,}")
            .unwrap()
            .find(&text)
            .map(|m| m.as_str().to_owned());
        match number {
            Some(number) if lower.contains("status") && offered("complaint_status") => {
                call("complaint_status", json!({"number": number}))
            }
            _ if lower.contains("human") && offered("handoff_to_human") => {
                call("handoff_to_human", json!({"reason": "asked for a person"}))
            }
            _ if (lower.contains("pothole") || lower.contains("broken"))
                && offered("create_complaint") =>
            {
                call(
                    "create_complaint",
                    json!({"description": text, "category": "roads", "location": "MG Road"}),
                )
            }
            _ => say(format!("Hello from {model}.")),
        }
    };
    let finish = if message["tool_calls"].is_array() {
        "tool_calls"
    } else {
        "stop"
    };
    let prompt_tokens = body.to_string().len() as u64 / 4;
    json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": 1_764_000_000 + n,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 12, "total_tokens": prompt_tokens + 12},
    })
}
