//! `/health/live`: the process answers. `/health/ready`: the database answers with
//! every migration applied, and the queue and outbox workers are running.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

async fn live() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let mut failing = Vec::new();
    let database = match state.store.schema_status().await {
        Ok(s) if s.applied == s.expected => json!({"ok": true, "schema_version": s.applied}),
        Ok(s) => {
            failing.push("migrations");
            json!({"ok": false, "error": format!("schema version {} applied, {} expected: run `ombud migrate`", s.applied, s.expected)})
        }
        Err(e) => {
            failing.push("database");
            json!({"ok": false, "error": e.to_string()})
        }
    };
    let engine = state.engine.health();
    if !engine.queue_dispatcher {
        failing.push("queue_dispatcher");
    }
    if !engine.webhook_dispatcher {
        failing.push("webhook_dispatcher");
    }
    if !engine.outbox_sender {
        failing.push("outbox_sender");
    }
    let body = json!({
        "status": if failing.is_empty() { "ready" } else { "unavailable" },
        "failing": failing,
        "checks": {"database": database, "workers": engine},
    });
    let status = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
