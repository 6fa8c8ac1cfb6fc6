//! A stand-in for PagerDuty's Events API v2 (and for a paging webhook's
//! receiver), for the paging test.

use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

/// A stand-in for PagerDuty's Events API v2 (and for a paging webhook's
/// receiver): keeps each event, answers 202.
#[derive(Clone, Default)]
pub(crate) struct FakePagerDuty {
    events: Arc<Mutex<Vec<serde_json::Value>>>,
    pub(crate) url: String,
}

impl FakePagerDuty {
    pub(crate) async fn start() -> Self {
        use axum::{routing::post, Json, Router};
        let events: Arc<Mutex<Vec<serde_json::Value>>> = Default::default();
        let kept = events.clone();
        let app = Router::new().route(
            "/v2/enqueue",
            post(move |Json(event): Json<serde_json::Value>| {
                let kept = kept.clone();
                async move {
                    let key = event["dedup_key"].clone();
                    kept.lock().unwrap().push(event);
                    (
                        axum::http::StatusCode::ACCEPTED,
                        Json(serde_json::json!({"status": "success", "message": "Event processed", "dedup_key": key})),
                    )
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v2/enqueue", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { events, url }
    }

    pub(crate) fn events(&self) -> Vec<serde_json::Value> {
        self.events.lock().unwrap().clone()
    }
}
