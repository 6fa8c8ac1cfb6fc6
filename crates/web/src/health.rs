//! `/health/live`: the process answers. `/health/ready`: the database answers with
//! every migration applied, and the queue and outbox workers are running. On
//! the operators' listener it also shows each check and each channel's sends
//! as this replica saw them (last success, failures since), which do not make
//! the replica unready: another replica would fail the same way. On the main
//! listener, which the internet reaches, it answers only ready or not (a load
//! balancer needs no more), unless the caller shows the operators' token.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

/// How long readiness waits for the database.
const DATABASE_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// The probes with detail: for the operators' listener.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
}

/// The probes on the main listener: readiness in detail only for a caller
/// with the operators' token.
pub fn public_router(token: OperatorToken) -> Router<AppState> {
    Router::new().route("/health/live", get(live)).route(
        "/health/ready",
        get(move |state: State<AppState>, headers: HeaderMap| {
            let token = token.clone();
            async move {
                let (status, Json(body)) = ready(state).await;
                if token.allows(&headers) {
                    return (status, Json(body));
                }
                (status, Json(json!({"status": body["status"]})))
            }
        }),
    )
}

/// The operators' bearer token for `/metrics` and detailed readiness on the
/// main listener (`metrics_token`); without one, neither is served there.
#[derive(Clone, Default)]
pub struct OperatorToken(Option<std::sync::Arc<ombud_core::Secret>>);

impl OperatorToken {
    pub fn new(token: Option<ombud_core::Secret>) -> Self {
        Self(token.map(std::sync::Arc::new))
    }

    pub fn allows(&self, headers: &HeaderMap) -> bool {
        use subtle::ConstantTimeEq as _;
        match (&self.0, crate::auth::bearer_token(headers)) {
            (Some(token), Some(given)) => {
                bool::from(token.expose().as_bytes().ct_eq(given.as_bytes()))
            }
            _ => false,
        }
    }
}

async fn live() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let mut failing = Vec::new();
    // A database that does not answer must not hold the probe past its own
    // timeout (a connection pool waits up to 10 s for a connection).
    let status = tokio::time::timeout(DATABASE_WITHIN, state.store.schema_status()).await;
    let database = match status {
        Ok(Ok(s)) if s.applied == s.expected => json!({"ok": true, "schema_version": s.applied}),
        Ok(Ok(s)) => {
            failing.push("migrations");
            json!({"ok": false, "error": format!("schema version {} applied, {} expected: run `ombud migrate`", s.applied, s.expected)})
        }
        Ok(Err(e)) => {
            failing.push("database");
            json!({"ok": false, "error": e.to_string()})
        }
        Err(_) => {
            failing.push("database");
            json!({"ok": false, "error": format!("no answer within {} s", DATABASE_WITHIN.as_secs())})
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
        "checks": {"database": database, "workers": engine, "channels": engine.channels},
    });
    let status = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
