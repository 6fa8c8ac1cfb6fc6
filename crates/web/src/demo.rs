//! `ombud demo` only: a stand-in for Meta's Graph API on the same server, so the
//! demo's replies have somewhere to go without a Meta account. Each reply is
//! printed on stdout and answered with a wamid, as Meta would. And a page that
//! embeds a web chat, as a tenant's site would.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use ombud_core::id::new_id_body;
use serde_json::{json, Value};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/demo/graph/{version}/{phone_number_id}/messages",
            post(send),
        )
        .route("/demo/site/{channel_id}", get(site))
}

/// A tenant's site with the web chat's tag, for trying the widget.
async fn site(Path(channel): Path<String>) -> impl IntoResponse {
    let Ok(channel) = ombud_core::ChannelId::parse(&channel) else {
        return (StatusCode::NOT_FOUND, Html(String::from("no such channel")));
    };
    (
        StatusCode::OK,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Demo Ward Office</title></head><body style=\"font-family:system-ui;margin:2rem\">\
             <h1>Demo Ward Office</h1><p>Report a broken street light, a pothole or uncollected \
             garbage: open the chat at the bottom right.</p>\
             <script src=\"/channels/webchat/{channel}/widget.js\" async></script></body></html>"
        )),
    )
}

async fn send(
    Path((_version, _phone)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    if !headers.contains_key("authorization") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "missing access token", "code": 190}})),
        );
    }
    let to = body["to"].as_str().unwrap_or("?");
    let text = body["text"]["body"].as_str().unwrap_or("");
    println!("\n[demo] reply to {to}:\n{text}\n");
    (
        StatusCode::OK,
        Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": format!("wamid.DEMO{}", new_id_body())}],
        })),
    )
}
