//! Plays Meta's Graph API for Ombud's replies: answers each send as Meta does,
//! with a wamid, and hands the recipient and the arrival time to the driver.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub struct Sink {
    arrivals: mpsc::UnboundedSender<(String, Instant)>,
    received: AtomicU64,
}

impl Sink {
    /// Starts the sink on a free loopback port; returns its base URL and the
    /// stream of (recipient, arrival) pairs.
    pub async fn start() -> anyhow::Result<(String, mpsc::UnboundedReceiver<(String, Instant)>)> {
        let (arrivals, rx) = mpsc::unbounded_channel();
        let sink = Arc::new(Sink {
            arrivals,
            received: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/{version}/{phone}/messages", post(receive))
            .with_state(sink);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok((format!("http://{addr}"), rx))
    }
}

async fn receive(State(sink): State<Arc<Sink>>, Json(body): Json<Value>) -> Json<Value> {
    let at = Instant::now();
    let n = sink.received.fetch_add(1, Ordering::Relaxed) + 1;
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    let _ = sink.arrivals.send((to.clone(), at));
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.LOAD{n:012}")}],
    }))
}
