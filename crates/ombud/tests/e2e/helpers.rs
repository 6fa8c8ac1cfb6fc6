#![allow(dead_code)]

pub use crate::fake_graph::*;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ombud::{App, AppOptions, Config};
use ombud_channels::whatsapp::sign;
use ombud_core::*;
use ombud_engine::provision;
use ombud_engine::{Engine, Runtimes};
use ombud_store::prelude::*;
use ombud_store::NewTenant;
use serde_json::{json, Value};
use tokio::sync::oneshot;

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

    /// On SQLite whatever the suite's backend (what only SQLite has: a data
    /// directory that is the whole deployment).
    pub fn sqlite() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            url: None,
        }
    }

    /// Where this deployment is restored once its machine is lost: a new
    /// data directory, and on PostgreSQL a new database on the same server
    /// with this one's schema name in its search path.
    pub async fn elsewhere(&self) -> TestDb {
        let Some(url) = &self.url else {
            return TestDb::sqlite();
        };
        let schema = url
            .rsplit("search_path%3D")
            .next()
            .unwrap_or("public")
            .to_owned();
        let base = std::env::var("OMBUD_TEST_DATABASE_URL").expect("the suite's server");
        let name = format!("restored_{}", ombud_core::id::new_id_body().to_lowercase());
        let pool = sqlx::PgPool::connect(&base).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        let (server, _) = base.rsplit_once('/').expect("a database in the URL");
        TestDb {
            dir: tempfile::tempdir().expect("tempdir"),
            url: Some(format!(
                "{server}/{name}?options=-c%20search_path%3D{schema}"
            )),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.is_some()
    }

    pub fn apply(&self, config: &mut Config) {
        config.data_dir = self.dir.path().to_owned();
        config.database_url = self.url.clone().map(Secret::new);
    }

    /// Runs one SQL statement straight on the database (`?`-free), for tests
    /// that must put data where the API cannot, such as into the past.
    pub async fn execute(&self, statement: &str) {
        match &self.url {
            Some(url) => {
                use sqlx::Executor;
                let pool = sqlx::PgPool::connect(url).await.expect("connect");
                pool.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned())))
                    .await
                    .expect("statement");
                pool.close().await;
            }
            None => {
                let conn =
                    rusqlite::Connection::open(self.dir.path().join("ombud.db")).expect("open");
                conn.busy_timeout(Duration::from_secs(5))
                    .expect("busy timeout");
                conn.execute_batch(statement).expect("statement");
            }
        }
    }

    /// The text of the first column of every row `query` selects, read
    /// straight from the database.
    pub async fn texts(&self, query: &str) -> Vec<String> {
        match &self.url {
            Some(url) => {
                let pool = sqlx::PgPool::connect(url).await.expect("connect");
                let rows: Vec<(Option<String>,)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(query.to_owned()))
                        .fetch_all(&pool)
                        .await
                        .expect("query");
                pool.close().await;
                rows.into_iter().filter_map(|(t,)| t).collect()
            }
            None => {
                let conn =
                    rusqlite::Connection::open(self.dir.path().join("ombud.db")).expect("open");
                let mut stmt = conn.prepare(query).expect("query");
                let rows = stmt
                    .query_map([], |r| r.get::<_, Option<String>>(0))
                    .expect("rows");
                rows.filter_map(|r| r.expect("row")).collect()
            }
        }
    }

    /// The environment a child `ombud` process needs to use this database,
    /// with the tests' stand-ins for Meta and Telegram (on loopback) allowed
    /// as provider hosts, as in [`test_config`].
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("OMBUD_DATA_DIR", self.dir.path().display().to_string()),
            ("OMBUD_OUTBOUND__PROVIDER_HOSTS", "127.0.0.1".into()),
            // Servers run side by side: each its own operators' port.
            ("OMBUD_METRICS_LISTEN", "127.0.0.1:0".into()),
        ];
        if let Some(url) = &self.url {
            env.push(("OMBUD_DATABASE_URL", url.clone()));
        }
        env
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The operators' listener: `/metrics` and detailed readiness.
    pub admin: Option<SocketAddr>,
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub http: reqwest::Client,
    pub db: TestDb,
    /// The server's clock. Tests make time pass with `app.pass(…)`, which
    /// waits for sends in flight first.
    pub clock: Arc<ombud_core::ShiftedClock>,
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
    // The tests' webhook receivers listen on loopback, and so do their
    // stand-ins for Meta's Graph API and Telegram's Bot API.
    c.outbound.allow_cidrs = "127.0.0.0/8,::1/128".into();
    c.outbound.provider_hosts = "127.0.0.1".into();
    c.metrics_listen = Some("127.0.0.1:0".into());
    c.webhooks.poll_interval_ms = 50;
    // The process agents' tests run Python and the Rust reference worker.
    c.agents.process_commands = "*".into();
    c.webhooks.timeout_secs = 5;
    c.webhooks.lease_secs = 10;
    c.scheduler.poll_interval_ms = 50;
    // A job that fails once (a store or mail server busy under the whole
    // suite's load) is retried within a second or two, not after the
    // production default of 30 s, which outlasts the tests' waits: twice
    // this made a test fail that passes alone (a summary mail, a route).
    c.scheduler.retry_base_secs = 1;
    c
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}, None).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config), runtimes: Option<Runtimes>) -> Self {
        Self::spawn_on(TestDb::new().await, tweak, runtimes).await
    }

    /// On a database the test has already put data in (with the CLI, say).
    pub async fn spawn_on(
        db: TestDb,
        tweak: impl FnOnce(&mut Config),
        runtimes: Option<Runtimes>,
    ) -> Self {
        let mut config = test_config(&db);
        tweak(&mut config);
        let clock = Arc::new(ombud_core::ShiftedClock::default());
        let app = App::build(
            &config,
            AppOptions {
                runtimes,
                clock: Some(clock.clone()),
                ..Default::default()
            },
        )
        .await
        .expect("app builds");
        let (addr, store, engine) = (app.addr(), app.store(), app.engine());
        let admin = app.metrics_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        Self {
            addr,
            admin,
            store,
            engine,
            http: reqwest::Client::new(),
            db,
            clock,
            shutdown: Some(tx),
            done: Some(done),
        }
    }

    /// Stops the server and hands back its database, to look into or to
    /// start another server on.
    pub async fn stop_keeping_db(mut self) -> TestDb {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.expect("join").expect("clean shutdown");
        }
        self.db
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

    /// A new API key of the tenant with these scopes.
    pub async fn api_key(&self, tenant: &TenantId, scopes: &[ombud_core::Scope]) -> String {
        self.api_key_limited(tenant, "tests", scopes, 10_000)
            .await
            .0
    }

    /// A new API key named `name`, limited to `per_minute` requests; the key
    /// and what is stored of it.
    pub async fn api_key_limited(
        &self,
        tenant: &TenantId,
        name: &str,
        scopes: &[ombud_core::Scope],
        per_minute: u32,
    ) -> (String, ombud_core::ApiKey) {
        self.engine
            .ops()
            .create_api_key(
                &ombud_engine::Acting::cli(),
                ombud_web::auth::KeyRequest {
                    tenant: tenant.clone(),
                    name: name.into(),
                    scopes: scopes.to_vec(),
                    rate_limit_per_minute: per_minute,
                    expires_in_days: None,
                    created_by: None,
                },
            )
            .await
            .expect("key")
    }

    /// A request to `/api/v1{path}` with the key.
    pub fn api(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(&format!("/api/v1{path}")))
            .bearer_auth(key)
    }

    /// A tenant ("{slug} office") speaking `language` in `zone`, with no channel.
    pub async fn office(
        &self,
        slug: &str,
        prefix: &str,
        language: &str,
        zone: &str,
    ) -> ombud_core::Tenant {
        let (tenant, _) = provision::create_tenant(
            self.store.as_ref(),
            &ombud_core::SystemClock,
            &ombud_engine::Acting::cli(),
            NewTenant {
                id: ombud_core::TenantId::new(),
                slug: TenantSlug::parse(slug).unwrap(),
                name: format!("{slug} office"),
                complaint_prefix: ComplaintPrefix::parse(prefix).unwrap(),
                default_language: Language::parse(language).unwrap(),
                timezone: TimeZoneName::parse(zone).unwrap(),
            },
            true,
        )
        .await
        .expect("tenant");
        tenant
    }

    pub async fn tenant(&self, slug: &str, prefix: &str, graph: &FakeGraph) -> TestTenant {
        let tenant = self.office(slug, prefix, "en", "Asia/Kolkata").await;
        let app_secret = format!("{slug}-app-secret");
        let (_, channel) = provision::add_whatsapp_channel(
            self.store.as_ref(),
            &ombud_core::SystemClock,
            &ombud_engine::Acting::cli(),
            self.engine.outbound().providers(),
            &tenant.slug,
            "WhatsApp".into(),
            WhatsAppConfig {
                phone_number_id: digits_id(),
                app_secret: Secret::new(app_secret.clone()),
                verify_token: Secret::new(format!("{slug}-verify")),
                access_token: Secret::new(format!("{slug}-access")),
                graph_url: graph.url(),
                api_version: "v23.0".into(),
                waba_id: None,
                templates: Default::default(),
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

    /// Makes `d` pass on the server's clock once no send is in flight. A
    /// send claimed just before a jump of more than its lease would look
    /// lost to a crash (the lease ran out) and be made again: under the
    /// whole suite's load that once sent a status notice twice, the second
    /// time outside the 24-hour window the jump had just closed.
    pub async fn pass(&self, d: chrono::Duration) {
        let settled = async {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                let sending = "select cast(id as text) from outbox where status = 'sending'";
                if self.db.texts(sending).await.is_empty() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            false
        };
        assert!(settled.await, "a send stayed in flight for 10 s");
        self.clock.advance(d);
    }

    /// The conversation of whoever writes from `address` on the tenant's
    /// channel.
    pub async fn conversation_of(&self, t: &TestTenant, address: &str) -> Conversation {
        let id = self
            .store
            .conversation_of_address(&t.tenant.id, &t.channel.id, address)
            .await
            .unwrap()
            .expect("a conversation");
        self.store
            .conversation(&t.tenant.id, &id)
            .await
            .unwrap()
            .unwrap()
            .conversation
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
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": channel.whatsapp().unwrap().phone_number_id},
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

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// Waits until the scheduler's job of `key` has run to the end (Done),
/// for up to 15 seconds; whether it did.
pub async fn job_done(app: &TestApp, key: &str) -> bool {
    wait_until(Duration::from_secs(15), || async {
        app.store
            .job(key)
            .await
            .unwrap()
            .is_some_and(|j| j.state == ombud_store::JobState::Done)
    })
    .await
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

/// Posts a webhook body signed with `secret` as Meta does: until it gets a 200,
/// retrying on refused connections and errors, each time on the next of `urls`
/// (a load balancer's failover; with one URL, the same server again).
pub async fn deliver_until_ok(
    http: &reqwest::Client,
    urls: &[String],
    first: usize,
    body: String,
    secret: &str,
) {
    let sig = sign(secret, body.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut target = first;
    loop {
        let res = http
            .post(&urls[target % urls.len()])
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &sig)
            .body(body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        if matches!(&res, Ok(r) if r.status() == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a message was never acknowledged"
        );
        target += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fresh id of digits, as Meta's phone number ids are.
pub fn digits_id() -> String {
    ombud_core::id::new_id_body()
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .collect()
}
