//! Plays Meta's Graph API for Ombud's replies: answers each send with a wamid and
//! hands its arrival time to whichever simulated citizen waits for it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Waiting citizens by WhatsApp id; replies for nobody are counted as strays.
#[derive(Default)]
pub struct Sink {
    waiting: Mutex<HashMap<String, mpsc::UnboundedSender<Instant>>>,
    pub received: std::sync::atomic::AtomicU64,
    pub strays: std::sync::atomic::AtomicU64,
}

impl Sink {
    pub fn register(&self, to: &str) -> mpsc::UnboundedReceiver<Instant> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(to.to_owned(), tx);
        rx
    }

    /// Starts the sink on a free loopback port; returns its base URL.
    pub async fn start(self: &Arc<Self>) -> anyhow::Result<String> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/{version}/{phone}/messages", post(receive))
            .with_state(self.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(format!("http://{addr}"))
    }
}

async fn receive(State(sink): State<Arc<Sink>>, Json(body): Json<Value>) -> Json<Value> {
    let at = Instant::now();
    use std::sync::atomic::Ordering::Relaxed;
    let n = sink.received.fetch_add(1, Relaxed) + 1;
    let to = body["to"].as_str().unwrap_or_default();
    let delivered = sink
        .waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(to)
        .map(|tx| tx.send(at).is_ok())
        .unwrap_or(false);
    if !delivered {
        sink.strays.fetch_add(1, Relaxed);
    }
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.LOAD{n:012}")}],
    }))
}
