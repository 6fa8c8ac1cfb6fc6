#![allow(dead_code)]
//! A stand-in for an OpenAI-compatible transcription server
//! (`POST /v1/audio/transcriptions`, as speaches, vLLM, whisper.cpp's
//! server and OpenAI answer it). It reads the multipart as they do and
//! refuses what they would (no file, no model, a wrong key, a file that is
//! not audio), answers `verbose_json` with segments and `no_speech_prob`,
//! and, like Whisper, invents "Thank you." on audio it hears no speech in.
//! It cannot listen: the words of a note are registered by its SHA-256.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const KEY: &str = "whisper-test-key";

/// One request it took: its text fields, and the file's name, type and
/// SHA-256.
#[derive(Debug, Clone)]
pub struct Heard {
    pub fields: HashMap<String, String>,
    pub file_name: String,
    pub file_type: String,
    pub file_sha256: String,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    words: HashMap<String, (String, String)>,
    failures: VecDeque<u16>,
    requests: Vec<Heard>,
}

#[derive(Clone)]
pub struct FakeWhisper {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeWhisper {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/audio/transcriptions", post(transcribe))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The note `audio` says `text` in `language` (as Whisper names it).
    pub fn says(&self, audio: &[u8], text: &str, language: &str) {
        let sum = hex::encode(Sha256::digest(audio));
        self.inner
            .lock()
            .unwrap()
            .words
            .insert(sum, (text.to_owned(), language.to_owned()));
    }

    /// The next requests fail with these statuses.
    pub fn fail(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().failures.extend(statuses);
    }

    pub fn requests(&self) -> Vec<Heard> {
        self.inner.lock().unwrap().requests.clone()
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}});
    (status, Json(body)).into_response()
}

/// The parts of a multipart body: (headers, value) each.
fn parts(content_type: &str, body: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let boundary = content_type
        .strip_prefix("multipart/form-data;")?
        .trim()
        .strip_prefix("boundary=")?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(rest, delimiter.as_bytes())?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(out);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8(rest[..head_end].to_vec()).ok()?;
        rest = &rest[head_end + 4..];
        let end = find(rest, format!("\r\n{delimiter}").as_bytes())?;
        out.push((head, rest[..end].to_vec()));
        rest = &rest[end + 2 + delimiter.len()..];
    }
}

fn header_param(head: &str, name: &str) -> Option<String> {
    let at = head.find(&format!("{name}=\""))? + name.len() + 2;
    let end = head[at..].find('"')?;
    Some(head[at..at + end].to_owned())
}

async fn transcribe(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {KEY}") {
        return refuse(StatusCode::UNAUTHORIZED, "Incorrect API key provided.");
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(parts) = parts(content_type, &body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Expected a multipart/form-data body.",
        );
    };
    let mut fields = HashMap::new();
    let mut file = None;
    for (head, value) in parts {
        let Some(name) = header_param(&head, "name") else {
            return refuse(StatusCode::BAD_REQUEST, "A part without a name.");
        };
        if name == "file" {
            let file_type = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Type: "))
                .unwrap_or("")
                .to_owned();
            let file_name = header_param(&head, "filename").unwrap_or_default();
            file = Some((file_name, file_type, value));
        } else {
            fields.insert(name, String::from_utf8_lossy(&value).into_owned());
        }
    }
    let Some((file_name, file_type, audio)) = file else {
        return refuse(StatusCode::BAD_REQUEST, "No file was sent.");
    };
    let mut s = inner.lock().unwrap();
    let status = s.failures.pop_front().unwrap_or(200);
    s.requests.push(Heard {
        fields: fields.clone(),
        file_name: file_name.clone(),
        file_type: file_type.clone(),
        file_sha256: hex::encode(Sha256::digest(&audio)),
        status,
    });
    if status != 200 {
        let body = json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error"}});
        return (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
    }
    if fields.get("model").is_none_or(|m| m.trim().is_empty()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter",
        );
    }
    if !audio.starts_with(b"OggS") || !file_type.starts_with("audio/") || !file_name.contains('.') {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']",
        );
    }
    let seconds = ombud_core::media::ogg_seconds(&audio).unwrap_or(1.0);
    let answer = match s.words.get(&hex::encode(Sha256::digest(&audio))) {
        Some((text, language)) => json!({
            "task": "transcribe", "language": language, "duration": seconds,
            "text": format!(" {text}"),
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": seconds, "text": format!(" {text}"),
                          "avg_logprob": -0.21, "compression_ratio": 1.1, "no_speech_prob": 0.03}],
        }),
        // What Whisper says of silence: words it made up, doubted.
        None => json!({
            "task": "transcribe", "language": "english", "duration": seconds,
            "text": " Thank you.",
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": seconds, "text": " Thank you.",
                          "avg_logprob": -0.9, "compression_ratio": 0.6, "no_speech_prob": 0.94}],
        }),
    };
    match fields.get("response_format").map(String::as_str) {
        Some("verbose_json") => Json(answer).into_response(),
        _ => Json(json!({"text": answer["text"]})).into_response(),
    }
}
