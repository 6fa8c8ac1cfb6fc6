#![allow(dead_code)]
//! A stand-in for Telegram's Bot API: `POST /bot<token>/sendMessage` checked
//! as Telegram checks it (the bot's token, a `chat_id` and a `text` of 1 to
//! 4096 characters) and answered with the sent Message, or with Telegram's
//! error shape when scripted to fail.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct SentMessage {
    pub chat_id: String,
    pub text: String,
    pub message_id: i64,
    /// The inline keyboard's buttons, row by row: (text, callback_data).
    pub keyboard: Vec<Vec<(String, String)>>,
}

#[derive(Default)]
struct TgState {
    /// file_id → (file_path, bytes): what `getFile` and the file URL serve.
    files: std::collections::HashMap<String, (String, Vec<u8>)>,
    /// getFile calls, then file downloads.
    file_calls: (u32, u32),
    sent: Vec<SentMessage>,
    /// Answer this many sends with 429 first.
    busy: usize,
    next_id: i64,
}

#[derive(Clone)]
pub struct FakeTelegram {
    pub addr: SocketAddr,
    pub token: String,
    state: Arc<Mutex<TgState>>,
}

impl FakeTelegram {
    pub async fn start(token: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake telegram");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(TgState::default()));
        let fake = Self {
            addr,
            token: token.to_owned(),
            state: state.clone(),
        };
        let app = Router::new()
            .route("/{bot}/sendMessage", post(send_message))
            .route("/{bot}/getFile", post(get_file))
            .route("/file/{bot}/{*path}", axum::routing::get(file))
            .with_state((token.to_owned(), state));
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        fake
    }

    /// Keeps `bytes` as a file a message can name; its `file_id`.
    pub fn add_file(&self, bytes: &[u8], path: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("AgACAgIAAxkBAAI{}", s.next_id);
        s.files
            .insert(id.clone(), (path.to_owned(), bytes.to_vec()));
        id
    }

    /// (getFile calls, file downloads) so far.
    pub fn file_calls(&self) -> (u32, u32) {
        self.state.lock().unwrap().file_calls
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next `n` sends with 429 and `retry_after: 1`.
    pub fn busy(&self, n: usize) {
        self.state.lock().unwrap().busy = n;
    }

    pub fn sent_to(&self, chat: &str) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .sent
            .iter()
            .filter(|m| m.chat_id == chat)
            .map(|m| m.text.clone())
            .collect()
    }

    pub fn sent(&self) -> Vec<SentMessage> {
        self.state.lock().unwrap().sent.clone()
    }

    pub async fn wait_for(&self, chat: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = self.sent_to(chat);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn error(code: u16, description: &str, retry_after: Option<u64>) -> axum::response::Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(secs) = retry_after {
        body["parameters"] = json!({"retry_after": secs});
    }
    (StatusCode::from_u16(code).unwrap(), Json(body)).into_response()
}

async fn send_message(
    State((token, state)): State<(String, Arc<Mutex<TgState>>)>,
    Path(bot): Path<String>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    if bot != format!("bot{token}") {
        return error(401, "Unauthorized", None);
    }
    let chat_id = match &body["chat_id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return error(400, "Bad Request: chat_id is empty", None),
    };
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    if text.is_empty() {
        return error(400, "Bad Request: message text is empty", None);
    }
    if text.chars().count() > 4096 {
        return error(400, "Bad Request: message is too long", None);
    }
    // Telegram refuses a keyboard whose buttons lack text or carry
    // callback_data past 64 bytes.
    let mut keyboard = Vec::new();
    if let Some(markup) = body.get("reply_markup") {
        let Some(rows) = markup["inline_keyboard"].as_array() else {
            return error(
                400,
                "Bad Request: can't parse reply keyboard markup JSON object",
                None,
            );
        };
        for row in rows {
            let mut out = Vec::new();
            for b in row.as_array().cloned().unwrap_or_default() {
                let text = b["text"].as_str().unwrap_or_default().to_owned();
                let data = b["callback_data"].as_str().unwrap_or_default().to_owned();
                if text.is_empty() || data.is_empty() || data.len() > 64 {
                    return error(400, "Bad Request: BUTTON_DATA_INVALID", None);
                }
                out.push((text, data));
            }
            keyboard.push(out);
        }
    }
    let mut s = state.lock().unwrap();
    if s.busy > 0 {
        s.busy -= 1;
        return error(429, "Too Many Requests: retry after 1", Some(1));
    }
    s.next_id += 1;
    let id = s.next_id;
    s.sent.push(SentMessage {
        chat_id: chat_id.clone(),
        text: text.clone(),
        message_id: id,
        keyboard,
    });
    Json(json!({"ok": true, "result": {
        "message_id": id, "date": 1764633600, "text": text,
        "chat": {"id": chat_id.parse::<i64>().unwrap_or(0), "type": "private"},
        "from": {"id": 1, "is_bot": true, "first_name": "Ombud"},
    }}))
    .into_response()
}

async fn get_file(
    State((token, state)): State<(String, Arc<Mutex<TgState>>)>,
    Path(bot): Path<String>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    if bot != format!("bot{token}") {
        return error(401, "Unauthorized", None);
    }
    let mut s = state.lock().unwrap();
    s.file_calls.0 += 1;
    let id = body["file_id"].as_str().unwrap_or_default();
    match s.files.get(id) {
        Some((path, bytes)) => Json(json!({"ok": true, "result": {
            "file_id": id, "file_unique_id": format!("u{id}"),
            "file_size": bytes.len(), "file_path": path,
        }}))
        .into_response(),
        None => error(400, "Bad Request: invalid file_id", None),
    }
}

async fn file(
    State((token, state)): State<(String, Arc<Mutex<TgState>>)>,
    Path((bot, path)): Path<(String, String)>,
) -> axum::response::Response {
    if bot != format!("bot{token}") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut s = state.lock().unwrap();
    s.file_calls.1 += 1;
    match s.files.values().find(|(p, _)| *p == path) {
        Some((_, bytes)) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
