//! `ombud demo` only: a stand-in for Meta's Graph API on the same server, so the
//! demo's replies have somewhere to go without a Meta account. Each reply is
//! printed on stdout and answered with a wamid, as Meta would.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use ombud_core::id::new_id_body;
use serde_json::{json, Value};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/demo/graph/{version}/{phone_number_id}/messages",
        post(send),
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
