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

mod checks;
mod media;
use checks::{check_interactive, check_template};
#[allow(unused_imports)] // not every test binary that includes this fetches media
pub use media::MediaFault;

/// One request the fake Graph API received.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub phone_number_id: String,
    pub to: String,
    /// A text's body, or a template's body with its parameters filled.
    pub body: String,
    /// `text` or `template`.
    pub kind: String,
    /// A template's name and language code.
    pub template: Option<(String, String)>,
    /// Meta's error code when refused (131047 outside the window…).
    pub error_code: Option<i64>,
    /// An interactive message's reply buttons or list rows: (id, title).
    pub choices: Vec<(String, String)>,
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
    /// Business account id → its templates, as `GET message_templates` lists them.
    templates: HashMap<String, Vec<Value>>,
    /// When set, free-form text more than 24 hours after the citizen's last
    /// message (by this clock) is refused with Meta's 131047.
    window: Option<Window>,
    media: media::MediaState,
}

struct Window {
    clock: Arc<ombud_core::ShiftedClock>,
    last_inbound: HashMap<String, chrono::DateTime<chrono::Utc>>,
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
            .route(
                "/{version}/{waba}/message_templates",
                axum::routing::get(list_templates),
            )
            .route("/{version}/{media_id}", axum::routing::get(media::lookup))
            .route(
                "/media-download/{token}",
                axum::routing::get(media::download),
            )
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

    /// Gives business account `waba` a template, as Meta lists it: `body`
    /// and an optional text `header` with their `{{n}}` placeholders.
    pub fn add_template(
        &self,
        waba: &str,
        name: &str,
        language: &str,
        status: &str,
        body: &str,
        header: Option<&str>,
    ) {
        let mut components = Vec::new();
        if let Some(h) = header {
            components.push(json!({"type": "HEADER", "format": "TEXT", "text": h}));
        }
        components.push(json!({"type": "BODY", "text": body}));
        components.push(json!({"type": "FOOTER", "text": "Reply STOP to opt out"}));
        let mut s = self.state.lock().unwrap();
        let id = s.counter + 1000;
        s.counter += 1;
        s.templates.entry(waba.to_owned()).or_default().push(json!({
            "name": name, "language": language, "status": status, "category": "UTILITY",
            "parameter_format": "POSITIONAL", "id": id.to_string(), "components": components,
        }));
    }

    /// Changes a template's status, as Meta does before it sends the webhook.
    pub fn set_template_status(&self, waba: &str, name: &str, language: &str, status: &str) {
        let mut s = self.state.lock().unwrap();
        for t in s.templates.entry(waba.to_owned()).or_default() {
            if t["name"] == name && t["language"] == language {
                t["status"] = json!(status);
            }
        }
    }

    /// Enforces the 24-hour window by `clock` (the server's): free-form text
    /// to a citizen who has not written within it is refused (131047).
    pub fn enforce_window(&self, clock: Arc<ombud_core::ShiftedClock>) {
        self.state.lock().unwrap().window = Some(Window {
            clock,
            last_inbound: HashMap::new(),
        });
    }

    /// The citizen `from` wrote now (by the window's clock).
    pub fn citizen_wrote(&self, from: &str) {
        let mut s = self.state.lock().unwrap();
        if let Some(w) = &mut s.window {
            let now = ombud_core::Clock::now(w.clock.as_ref());
            w.last_inbound.insert(from.to_owned(), now);
        }
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

async fn list_templates(
    State(state): State<Arc<Mutex<GraphState>>>,
    Path((_version, waba)): Path<(String, String)>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !bearer.starts_with("Bearer ") || bearer.len() < 8 {
        return (
            StatusCode::UNAUTHORIZED,
            Json(graph_error(190, "Invalid OAuth access token.", "")),
        );
    }
    let s = state.lock().unwrap();
    let all = s.templates.get(&waba).cloned().unwrap_or_default();
    // Pages of `limit`, the cursor being the index to start at.
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let start: usize = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    let end = start + page.len();
    let mut paging = json!({"cursors": {"before": start.to_string(), "after": end.to_string()}});
    if end < all.len() {
        paging["next"] = json!(format!(
            "https://graph.facebook.com/v23.0/{waba}/message_templates?after={end}"
        ));
    }
    (
        StatusCode::OK,
        Json(json!({"data": page, "paging": paging})),
    )
}

fn graph_error(code: i64, message: &str, details: &str) -> Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details}, "fbtrace_id": "AbC"}})
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
    let kind = body["type"].as_str().unwrap_or("").to_owned();
    let to = body["to"].as_str().unwrap_or("").to_owned();
    let mut s = state.lock().unwrap();
    let mut refusal: Option<(i64, String, String)> = None;
    let mut text = body["text"]["body"].as_str().unwrap_or("").to_owned();
    let mut template = None;
    let mut choices = Vec::new();
    if kind == "interactive" {
        text = body["interactive"]["body"]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        match check_interactive(&body["interactive"]) {
            Ok(c) => choices = c,
            Err(why) => {
                refusal = Some((131009, "Parameter value is not valid".into(), why));
            }
        }
    }
    let (status, retry_after) = if !bearer.starts_with("Bearer ") || bearer.len() < 8 {
        (401, None)
    } else if body["messaging_product"] != "whatsapp" || to.is_empty() {
        (400, None)
    } else if kind == "template" {
        template = Some((
            body["template"]["name"].as_str().unwrap_or("").to_owned(),
            body["template"]["language"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        ));
        match check_template(&s, &body) {
            Ok(filled) => {
                text = filled;
                s.script.pop_front().unwrap_or((200, None))
            }
            Err(e) => {
                refusal = Some(e);
                (400, None)
            }
        }
    } else if refusal.is_some()
        || !matches!(kind.as_str(), "text" | "interactive")
        || text.is_empty()
        || text.chars().count() > 4096
    {
        (400, None)
    } else if s.window.as_ref().is_some_and(|w| {
        let now = ombud_core::Clock::now(w.clock.as_ref());
        w.last_inbound
            .get(&to)
            .is_none_or(|at| now - *at >= chrono::Duration::hours(24))
    }) {
        refusal = Some((131047, "Re-engagement message".into(),
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.".into()));
        (400, None)
    } else {
        s.script.pop_front().unwrap_or((200, None))
    };
    s.requests.push(GraphRequest {
        phone_number_id: phone,
        to: to.clone(),
        body: text,
        kind,
        template,
        error_code: refusal.as_ref().map(|r| r.0),
        choices,
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
    let error = match refusal {
        Some((code, message, details)) => graph_error(code, &message, &details),
        None => graph_error(
            131030,
            "Recipient phone number not in allowed list",
            "Add the number to the allowed list",
        ),
    };
    (StatusCode::from_u16(status).unwrap(), h, Json(error))
}
