#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use ombud::{App, AppOptions, Config};
use ombud_channels::whatsapp::sign;
use ombud_core::*;
use ombud_engine::provision;
use ombud_engine::{Engine, Runtimes};
use ombud_store::prelude::*;
use ombud_store::NewTenant;
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

/// A tenant with a WhatsApp channel pointed at a fake Graph API.
#[derive(Clone)]
pub struct TestTenant {
    pub tenant: Tenant,
    pub channel: Channel,
    pub app_secret: String,
}

/// Where a test's data lives: a temp dir (SQLite), and on the PostgreSQL run of the
/// suite (`OMBUD_TEST_E2E_BACKEND=postgres`) a fresh schema on the server named by
/// `OMBUD_TEST_DATABASE_URL`.
pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub url: Option<String>,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = match std::env::var("OMBUD_TEST_E2E_BACKEND").as_deref() {
            Ok("postgres") => {
                let base = std::env::var("OMBUD_TEST_DATABASE_URL")
                    .expect("OMBUD_TEST_E2E_BACKEND=postgres needs OMBUD_TEST_DATABASE_URL (scripts/test sets both)");
                Some(
                    ombud_store::postgres::scratch_schema_url(&base)
                        .await
                        .expect("scratch schema"),
                )
            }
            Ok("sqlite") | Err(_) => None,
            Ok(other) => panic!("OMBUD_TEST_E2E_BACKEND={other:?}: expected sqlite or postgres"),
        };
        Self { dir, url }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.is_some()
    }

    pub fn apply(&self, config: &mut Config) {
        config.data_dir = self.dir.path().to_owned();
        config.database_url = self.url.clone().map(Secret::new);
    }

    /// The environment a child `ombud` process needs to use this database.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("OMBUD_DATA_DIR", self.dir.path().display().to_string())];
        if let Some(url) = &self.url {
            env.push(("OMBUD_DATABASE_URL", url.clone()));
        }
        env
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub http: reqwest::Client,
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_config(db: &TestDb) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".into(),
        ..Default::default()
    };
    db.apply(&mut c);
    c.agents.retry_base_ms = 20;
    c.agents.max_attempts = 3;
    c.outbox.backoff_base_ms = 50;
    c.outbox.backoff_max_ms = 400;
    c.outbox.poll_interval_ms = 50;
    c.outbox.send_timeout_ms = 2000;
    c.shutdown_grace_secs = 5;
    c
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}, None).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config), runtimes: Option<Runtimes>) -> Self {
        let db = TestDb::new().await;
        let mut config = test_config(&db);
        tweak(&mut config);
        let app = App::build(
            &config,
            AppOptions {
                runtimes,
                ..Default::default()
            },
        )
        .await
        .expect("app builds");
        let (addr, store, engine) = (app.addr(), app.store(), app.engine());
        let (tx, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        Self {
            addr,
            store,
            engine,
            http: reqwest::Client::new(),
            db,
            shutdown: Some(tx),
            done: Some(done),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.expect("join").expect("clean shutdown");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn tenant(&self, slug: &str, prefix: &str, graph: &FakeGraph) -> TestTenant {
        let (tenant, _) = provision::create_tenant(
            self.store.as_ref(),
            NewTenant {
                slug: TenantSlug::parse(slug).unwrap(),
                name: format!("{slug} office"),
                complaint_prefix: ComplaintPrefix::parse(prefix).unwrap(),
                default_language: Language::en(),
                timezone: TimeZoneName::parse("Asia/Kolkata").unwrap(),
            },
            true,
        )
        .await
        .expect("tenant");
        let app_secret = format!("{slug}-app-secret");
        let (_, channel) = provision::add_whatsapp_channel(
            self.store.as_ref(),
            &tenant.slug,
            "WhatsApp".into(),
            WhatsAppConfig {
                phone_number_id: format!("{}{}", slug.len(), ombud_core::id::new_id_body()),
                app_secret: Secret::new(app_secret.clone()),
                verify_token: Secret::new(format!("{slug}-verify")),
                access_token: Secret::new(format!("{slug}-access")),
                graph_url: graph.url(),
                api_version: "v23.0".into(),
            },
        )
        .await
        .expect("channel");
        TestTenant {
            tenant,
            channel,
            app_secret,
        }
    }

    /// POSTs a raw body to a channel's webhook with the given signature header.
    pub async fn post_raw(
        &self,
        channel: &ChannelId,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url(&format!("/channels/whatsapp/{channel}/webhook")))
            .header("content-type", "application/json")
            .body(body);
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send().await.expect("request")
    }

    /// POSTs a payload signed with the tenant's app secret, as Meta would.
    pub async fn post_signed(&self, t: &TestTenant, payload: &Value) -> reqwest::Response {
        let body = payload.to_string().into_bytes();
        let sig = sign(&t.app_secret, &body);
        self.post_raw(&t.channel.id, body, Some(sig)).await
    }

    /// Sends one text message from `from` and expects it acknowledged.
    pub async fn say(&self, t: &TestTenant, from: &str, text: &str) -> String {
        let wamid = format!("wamid.{}", ombud_core::id::new_id_body());
        let res = self
            .post_signed(t, &text_payload(&t.channel, from, &wamid, text))
            .await;
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
        wamid
    }

    pub async fn messages_of(&self, tenant: &TenantId) -> Vec<Message> {
        let mut all = Vec::new();
        for c in self.store.conversations(tenant).await.unwrap() {
            all.extend(self.store.messages(tenant, &c.id).await.unwrap());
        }
        all
    }
}

pub fn envelope(value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]
    })
}

pub fn value_with_messages(channel: &Channel, messages: Vec<(String, String, String)>) -> Value {
    let contacts: Vec<Value> = messages
        .iter()
        .map(|(from, _, _)| json!({"profile": {"name": format!("Citizen {from}")}, "wa_id": from}))
        .collect();
    let msgs: Vec<Value> = messages
        .iter()
        .map(|(from, wamid, text)| json!({"from": from, "id": wamid, "timestamp": "1763856000", "type": "text", "text": {"body": text}}))
        .collect();
    json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": channel.whatsapp.phone_number_id},
        "contacts": contacts,
        "messages": msgs,
    })
}

/// The payload Meta sends for one text message.
pub fn text_payload(channel: &Channel, from: &str, wamid: &str, text: &str) -> Value {
    envelope(value_with_messages(
        channel,
        vec![(from.into(), wamid.into(), text.into())],
    ))
}

pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A complaint number as the user sees it in a reply.
pub fn number_in(text: &str) -> Option<String> {
    let re = regex::Regex::new(r"\b[A-Z]+-\d{8}-\d{4,}\b").unwrap();
    re.find(text).map(|m| m.as_str().to_owned())
}

/// Runs the `ombud` binary on a test database: exit code, stdout as JSON, stderr.
pub fn run_cli(db: &TestDb, args: &[&str]) -> (i32, Value, String) {
    run_cli_env(&db.env(), args)
}

/// `run_cli` with the database given as environment (for blocking threads).
pub fn run_cli_env(env: &[(&'static str, String)], args: &[&str]) -> (i32, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ombud"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run ombud");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Checks, through the store, that every inbound message of the conversation has
/// exactly one reply and every reply was sent. Returns the inbound count.
pub fn assert_each_answered_once(messages: &[Message]) -> usize {
    let mut inbound = 0;
    for m in messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
    {
        inbound += 1;
        let replies = messages
            .iter()
            .filter(|o| o.in_reply_to.as_ref() == Some(&m.id))
            .count();
        assert_eq!(replies, 1, "{:?} has {replies} replies", m.body);
    }
    for o in messages
        .iter()
        .filter(|m| m.direction == Direction::Outbound)
    {
        assert_eq!(o.status, DeliveryStatus::Sent, "{o:?}");
    }
    inbound
}
