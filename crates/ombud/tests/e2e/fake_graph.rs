#![allow(dead_code)]
//! A stand-in for Meta's Graph API for the tests.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// One request the fake Graph API received.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub phone_number_id: String,
    pub to: String,
    pub body: String,
    pub key: String,
    /// The status we answered.
    pub status: u16,
    pub at: Instant,
}

#[derive(Default)]
struct GraphState {
    requests: Vec<GraphRequest>,
    /// Scripted answers, used in order before falling back to 200.
    script: VecDeque<(u16, Option<u64>)>,
    /// Idempotency key → wamid of the first successful delivery.
    delivered: HashMap<String, String>,
    counter: u64,
}

/// A stand-in for Meta's Graph API: checks the request as Meta would (bearer token,
/// body shape, 4096-character limit), answers with a wamid, and honours the
/// idempotency key (a repeated key gets the first answer and is not delivered again).
///
/// It keeps its port for its whole life: while "down" it accepts and closes every
/// connection, so senders see a transport error and no other server (another test's,
/// say) can take the port meanwhile.
#[derive(Clone)]
pub struct FakeGraph {
    pub addr: SocketAddr,
    state: Arc<Mutex<GraphState>>,
    listener: Arc<tokio::net::TcpListener>,
    stop: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

/// Lets several servers in turn accept from one bound socket.
struct SharedListener(Arc<tokio::net::TcpListener>);

impl axum::serve::Listener for SharedListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok(conn) = self.0.accept().await {
                return conn;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl FakeGraph {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake graph");
        let graph = Self {
            addr: listener.local_addr().expect("addr"),
            state: Default::default(),
            listener: Arc::new(listener),
            stop: Arc::new(Mutex::new(None)),
        };
        graph.serve();
        graph
    }

    fn serve(&self) {
        let (tx, rx) = oneshot::channel::<()>();
        *self.stop.lock().unwrap() = Some(tx);
        let app = Router::new()
            .route("/{version}/{phone}/messages", post(receive))
            .with_state(self.state.clone());
        let listener = SharedListener(self.listener.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
    }

    /// Goes down: open connections close, new ones are accepted and closed at once.
    pub async fn stop(&self) {
        if let Some(tx) = self.stop.lock().unwrap().take() {
            let _ = tx.send(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (tx, mut rx) = oneshot::channel::<()>();
        *self.stop.lock().unwrap() = Some(tx);
        let listener = self.listener.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut rx => return,
                    conn = listener.accept() => drop(conn),
                }
            }
        });
    }

    /// Comes back on the same port.
    pub async fn restart(&self) -> Self {
        if let Some(tx) = self.stop.lock().unwrap().take() {
            let _ = tx.send(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.serve();
        self.clone()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next requests with these statuses (and Retry-After seconds).
    pub fn script(&self, answers: &[(u16, Option<u64>)]) {
        self.state
            .lock()
            .unwrap()
            .script
            .extend(answers.iter().copied());
    }

    pub fn requests(&self) -> Vec<GraphRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Successful, first-time deliveries (what a citizen would receive).
    pub fn delivered(&self) -> Vec<GraphRequest> {
        let s = self.state.lock().unwrap();
        let mut seen = std::collections::HashSet::new();
        s.requests
            .iter()
            .filter(|r| r.status == 200 && seen.insert(r.key.clone()))
            .cloned()
            .collect()
    }

    pub fn delivered_to(&self, to: &str) -> Vec<String> {
        self.delivered()
            .into_iter()
            .filter(|r| r.to == to)
            .map(|r| r.body)
            .collect()
    }

    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<GraphRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let d = self.delivered();
            if d.len() >= n || Instant::now() > deadline {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn wait_for_reply_to(&self, to: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let d = self.delivered_to(to);
            if d.len() >= n || Instant::now() > deadline {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn receive(
    State(state): State<Arc<Mutex<GraphState>>>,
    Path((_version, phone)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = body["text"]["body"].as_str().unwrap_or("").to_owned();
    let to = body["to"].as_str().unwrap_or("").to_owned();
    let mut s = state.lock().unwrap();
    let (status, retry_after) = if !bearer.starts_with("Bearer ") || bearer.len() < 8 {
        (401, None)
    } else if body["messaging_product"] != "whatsapp"
        || body["type"] != "text"
        || to.is_empty()
        || text.is_empty()
        || text.chars().count() > 4096
    {
        (400, None)
    } else {
        s.script.pop_front().unwrap_or((200, None))
    };
    s.requests.push(GraphRequest {
        phone_number_id: phone,
        to: to.clone(),
        body: text,
        key: key.clone(),
        status,
        at: Instant::now(),
    });
    if status == 200 {
        s.counter += 1;
        let fresh = format!("wamid.FAKE{:08}", s.counter);
        let wamid = s.delivered.entry(key).or_insert(fresh).clone();
        let ok = json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": wamid}]});
        return (StatusCode::OK, HeaderMap::new(), Json(ok));
    }
    let mut h = HeaderMap::new();
    if let Some(secs) = retry_after {
        h.insert("retry-after", secs.to_string().parse().unwrap());
    }
    let error = json!({"error": {"message": "Recipient phone number not in allowed list", "type": "OAuthException",
        "code": 131030, "error_data": {"messaging_product": "whatsapp", "details": "Add the number to the allowed list"},
        "fbtrace_id": "AbC"}});
    (StatusCode::from_u16(status).unwrap(), h, Json(error))
}
