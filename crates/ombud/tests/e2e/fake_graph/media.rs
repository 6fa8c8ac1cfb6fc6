//! The fake Graph API's media, as Meta serves it: `GET /{version}/{media-id}`
//! (bearer token) answers a short-lived URL with the type, SHA-256 (hex) and
//! size; the URL answers the bytes to the same bearer token, and 404 once
//! it has expired. Faults are scripted: the lookup failing with a status,
//! or the next URL handed out already expired.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{graph_error, FakeGraph, GraphState};

#[derive(Default)]
pub(super) struct MediaState {
    /// Media id → (bytes, mime type).
    files: HashMap<String, (Vec<u8>, String)>,
    /// URL token → (media id, expired).
    urls: HashMap<String, (String, bool)>,
    /// Faults for the next lookups, in order: `Some(status)` fails the
    /// lookup, `None` hands out a URL that has already expired.
    faults: std::collections::VecDeque<Option<u16>>,
    pub(super) lookups: u32,
    pub(super) downloads: u32,
}

/// A fault for the next media lookup.
#[derive(Debug, Clone, Copy)]
pub enum MediaFault {
    /// The lookup answers this status (a Graph API error body).
    Lookup(u16),
    /// The lookup answers a URL that has expired by the time it is used.
    Expired,
}

impl FakeGraph {
    /// Keeps `bytes` as a media id a citizen's message can name; the id and
    /// the SHA-256 Meta's webhook carries (base64).
    pub fn add_media(&self, bytes: &[u8], mime: &str) -> (String, String) {
        use base64::Engine as _;
        let mut s = self.state.lock().unwrap();
        s.counter += 1;
        let id = format!("{}", 1_481_427_412_000_000u64 + s.counter);
        s.media
            .files
            .insert(id.clone(), (bytes.to_vec(), mime.to_owned()));
        let sum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes));
        (id, sum)
    }

    pub fn media_faults(&self, faults: &[MediaFault]) {
        let mut s = self.state.lock().unwrap();
        for f in faults {
            s.media.faults.push_back(match f {
                MediaFault::Lookup(status) => Some(*status),
                MediaFault::Expired => None,
            });
        }
    }

    /// (lookups, downloads) answered so far.
    pub fn media_calls(&self) -> (u32, u32) {
        let s = self.state.lock().unwrap();
        (s.media.lookups, s.media.downloads)
    }
}

fn authorised(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|b| b.starts_with("Bearer ") && b.len() > "Bearer ".len())
}

pub(super) async fn lookup(
    State(state): State<Arc<Mutex<GraphState>>>,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(graph_error(190, "Invalid OAuth access token.", "")),
        )
            .into_response();
    }
    let mut s = state.lock().unwrap();
    s.media.lookups += 1;
    let fault = s.media.faults.pop_front();
    if let Some(Some(status)) = fault {
        let body = graph_error(2, "Service temporarily unavailable", "");
        return (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
    }
    let Some((bytes, mime)) = s.media.files.get(&id).cloned() else {
        let body = graph_error(100, "Unsupported get request.", "no such media");
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    s.counter += 1;
    let token = format!("t{}", s.counter);
    s.media
        .urls
        .insert(token.clone(), (id.clone(), fault.is_some()));
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let mut answer = json!({
        "messaging_product": "whatsapp",
        "url": format!("http://{host}/media-download/{token}?ext=1"),
        "mime_type": mime,
        "sha256": hex::encode(Sha256::digest(&bytes)),
        "file_size": bytes.len().to_string(),
        "id": id,
    });
    if let Some(phone) = q.get("phone_number_id") {
        answer["phone_number_id"] = json!(phone);
    }
    Json(answer).into_response()
}

pub(super) async fn download(
    State(state): State<Arc<Mutex<GraphState>>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut s = state.lock().unwrap();
    s.media.downloads += 1;
    match s.media.urls.get(&token).cloned() {
        Some((id, false)) => {
            let (bytes, mime) = s.media.files[&id].clone();
            ([("content-type", mime)], bytes).into_response()
        }
        // Expired, or never handed out.
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
