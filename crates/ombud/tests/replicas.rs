//! Two replicas on one PostgreSQL. 500 conversations × 4 messages posted
//! alternately to either replica: every message answered exactly once, no
//! conversation ever runs on both at once (from the stored execution spans), and
//! killing one replica mid-burst loses nothing: the other finishes its work once
//! the dead one's leases expire.
//!
//! Always on PostgreSQL (two servers cannot share one SQLite file): needs
//! `OMBUD_TEST_DATABASE_URL`, which scripts/test sets.

#![allow(clippy::unwrap_used)]

#[path = "e2e/fake_graph/mod.rs"]
mod fake_graph;
#[path = "e2e/helpers.rs"]
mod helpers;

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use helpers::*;
use ombud_channels::whatsapp::text_message_payload;

const CONTACTS: usize = 500;
const PHONE: &str = "5550002";
const SECRET: &str = "replicas-app-secret";

struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A replica whose log (warnings and errors) is kept in
/// `target/replica-logs/<name>.log` after the test, for a failure to be read.
fn replica(db: &TestDb, port: u16, name: &str) -> Replica {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/replica-logs");
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_ombud"))
        .arg("serve")
        .envs(db.env())
        .env("OMBUD_LISTEN", format!("127.0.0.1:{port}"))
        .env("OMBUD_AGENTS__LEASE_SECS", "2")
        .env("OMBUD_AGENTS__SWEEP_INTERVAL_MS", "300")
        .env("OMBUD_OUTBOX__LEASE_SECS", "2")
        .env("OMBUD_OUTBOX__POLL_INTERVAL_MS", "50")
        .env("OMBUD_OUTBOX__BACKOFF_BASE_MS", "50")
        .env("OMBUD_OUTBOX__BACKOFF_MAX_MS", "500")
        .env("OMBUD_DATABASE_MAX_CONNECTIONS", "12")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map(Replica)
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_the_work_and_survive_losing_one() {
    std::env::set_var("OMBUD_TEST_E2E_BACKEND", "postgres");
    let db = TestDb::new().await;
    let graph = FakeGraph::start().await;
    let (code, _, err) = run_cli(
        &db,
        &[
            "tenant",
            "create",
            "--slug",
            "state",
            "--name",
            "State Office",
            "--prefix",
            "ST",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, channel, err) = run_cli(
        &db,
        &[
            "channel",
            "add",
            "whatsapp",
            "--tenant",
            "state",
            "--phone-number-id",
            PHONE,
            "--app-secret",
            SECRET,
            "--verify-token",
            "v",
            "--access-token",
            "t",
            "--graph-url",
            &graph.url(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let path = channel["webhook_path"].as_str().unwrap().to_owned();

    let ports = [free_port(), free_port()];
    let mut replicas = vec![
        Some(replica(&db, ports[0], "a")),
        Some(replica(&db, ports[1], "b")),
    ];
    let http = reqwest::Client::new();
    for port in ports {
        let ok = wait_until(Duration::from_secs(20), || async {
            matches!(http.get(format!("http://127.0.0.1:{port}/health/ready")).send().await, Ok(r) if r.status() == 200)
        })
        .await;
        assert!(ok, "replica on {port} not ready");
    }
    let urls = [0, 1].map(|i| format!("http://127.0.0.1:{}{path}", ports[i]));

    let started = Instant::now();
    let acks = Arc::new(AtomicUsize::new(0));
    let citizens: Vec<_> = (0..CONTACTS)
        .map(|c| {
            let (http, urls, acks) = (http.clone(), urls.clone(), acks.clone());
            tokio::spawn(async move {
                let from = format!("9196{c:08}");
                let texts = [
                    format!("The street light near house {c} is broken"),
                    format!("Lane {c}, Kothrud"),
                    "yes".to_owned(),
                    "status".to_owned(),
                ];
                for (k, text) in texts.iter().enumerate() {
                    let body =
                        text_message_payload(PHONE, &from, &format!("wamid.R{c:04}{k}"), text)
                            .to_string();
                    deliver_until_ok(&http, &urls, (c + k) % 2, body, SECRET).await;
                    acks.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    let total = CONTACTS * 4;
    let ok = wait_until(Duration::from_secs(60), || async {
        acks.load(Ordering::SeqCst) >= total * 2 / 5
    })
    .await;
    assert!(ok, "the burst did not get going");
    let killed_at = acks.load(Ordering::SeqCst);
    if let Some(mut a) = replicas[0].take() {
        a.0.kill().unwrap();
        a.0.wait().unwrap();
    }
    for c in join_all(citizens).await {
        c.unwrap();
    }
    let delivered = graph
        .wait_for_deliveries(total, Duration::from_secs(90))
        .await;
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered_after = graph.delivered();
    let raw = graph
        .requests()
        .into_iter()
        .filter(|r| r.status == 200)
        .count();
    eprintln!(
        "2 replicas, {CONTACTS}×4 messages, replica a killed after {killed_at} acks: {} replies in {:.1}s ({} raw sends)",
        delivered.len(),
        elapsed.as_secs_f64(),
        raw
    );
    assert_eq!(delivered.len(), total, "every message answered");
    assert_eq!(delivered_after.len(), total, "no extra replies");
    drop(replicas);

    let store = ombud::app::open_store(&test_config(&db)).await.unwrap();
    let tenant = store
        .tenant_by_slug(&ombud_core::TenantSlug::parse("state").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut inbound = 0;
    let conversations = store.conversations(&tenant.id).await.unwrap();
    assert_eq!(conversations.len(), CONTACTS);
    for conversation in &conversations {
        let messages = store.messages(&tenant.id, &conversation.id).await.unwrap();
        inbound += assert_each_answered_once(&messages);
        // Never two runs of one conversation at once, whichever replica ran them.
        let mut runs = store
            .executions(&tenant.id, &conversation.id)
            .await
            .unwrap();
        runs.sort_by_key(|r| r.started_at);
        for pair in runs.windows(2) {
            assert!(
                pair[0].finished_at <= pair[1].started_at,
                "overlapping runs: {pair:?}"
            );
            assert!(
                pair[0].to_seq < pair[1].from_seq,
                "a message ran twice: {pair:?}"
            );
        }
    }
    assert_eq!(inbound, total);
    let complaints = store.complaints(&tenant.id, 10_000).await.unwrap();
    assert_eq!(
        complaints.len(),
        CONTACTS,
        "complaints created twice or lost"
    );
    let owners: HashSet<_> = complaints.iter().map(|c| c.contact_id.clone()).collect();
    assert_eq!(owners.len(), CONTACTS);
    // Unique and gap-free per tenant-local day, across both replicas.
    let mut per_day: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for c in &complaints {
        let mut parts = c.number.as_str().rsplitn(2, '-');
        let n = parts.next().unwrap().parse().unwrap();
        per_day
            .entry(parts.next().unwrap().to_owned())
            .or_default()
            .push(n);
    }
    for numbers in per_day.values_mut() {
        numbers.sort();
        assert_eq!(*numbers, (1..=numbers.len() as u32).collect::<Vec<_>>());
    }
}

/// A slow echo agent shared by two in-process replicas, which notices when one
/// conversation runs on both at the same moment.
#[derive(Default)]
struct Watch {
    running: std::sync::Mutex<HashSet<ombud_core::ConversationId>>,
    overlaps: AtomicUsize,
    runs: AtomicUsize,
    /// How long a run takes beyond the default 30 ms.
    slow: Duration,
}

#[async_trait::async_trait]
impl ombud_agents::AgentRuntime for Watch {
    async fn run(
        &self,
        input: ombud_agents::RunInput,
        _: &dyn ombud_agents::Tools,
    ) -> Result<ombud_agents::RunOutput, ombud_agents::AgentError> {
        if !self
            .running
            .lock()
            .unwrap()
            .insert(input.conversation_id.clone())
        {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30) + self.slow).await;
        self.running.lock().unwrap().remove(&input.conversation_id);
        Ok(ombud_agents::RunOutput {
            replies: input
                .messages
                .iter()
                .map(|m| ombud_agents::Reply {
                    text: format!("echo: {}", m.body),
                    in_reply_to: Some(m.id.clone()),
                    choices: None,
                })
                .collect(),
            state: input.state,
            ..Default::default()
        })
    }
}

/// Two in-process replicas on one PostgreSQL schema, both running `watch` as
/// the intake agent, and the webhook URL of a tenant's channel on each.
async fn two_replicas(
    watch: &Arc<Watch>,
    tweak: impl Fn(&mut ombud::Config),
) -> (TestDb, FakeGraph, [String; 2]) {
    let runtimes = || Some(ombud_engine::Runtimes::builtin().with("intake", watch.clone()));
    let (db, graph, urls, _) = replicas_running(runtimes, tweak).await;
    (db, graph, urls)
}

/// A replica in process: its address, store and engine.
type Replicated = (
    std::net::SocketAddr,
    Arc<dyn ombud_store::Store>,
    Arc<ombud_engine::Engine>,
);

/// Two in-process replicas on one PostgreSQL schema running `runtimes`
/// (None: the built-in ones); the webhook URL of a tenant's channel on
/// each, and the replicas themselves.
async fn replicas_running(
    runtimes: impl Fn() -> Option<ombud_engine::Runtimes>,
    tweak: impl Fn(&mut ombud::Config),
) -> (TestDb, FakeGraph, [String; 2], Vec<Replicated>) {
    std::env::set_var("OMBUD_TEST_E2E_BACKEND", "postgres");
    let db = TestDb::new().await;
    let graph = FakeGraph::start().await;
    let mut apps = Vec::new();
    let mut running = Vec::new();
    for _ in 0..2 {
        let mut config = test_config(&db);
        config.agents.sweep_interval_ms = 100;
        tweak(&mut config);
        let app = ombud::App::build(
            &config,
            ombud::AppOptions {
                runtimes: runtimes(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let (addr, store) = (app.addr(), app.store());
        running.push((addr, store.clone(), app.engine()));
        tokio::spawn(app.run(std::future::pending()));
        apps.push((addr, store));
    }
    let store = apps[0].1.clone();
    let (tenant, _) = ombud_engine::provision::create_tenant(
        store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        ombud_store::NewTenant {
            id: ombud_core::TenantId::new(),
            slug: ombud_core::TenantSlug::parse("state").unwrap(),
            name: "State".into(),
            complaint_prefix: ombud_core::ComplaintPrefix::parse("ST").unwrap(),
            default_language: ombud_core::Language::en(),
            timezone: ombud_core::TimeZoneName::parse("UTC").unwrap(),
        },
        true,
    )
    .await
    .unwrap();
    let (_, channel) = ombud_engine::provision::add_whatsapp_channel(
        store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        &ombud_core::ProviderHosts::parse("127.0.0.1").unwrap(),
        &tenant.slug,
        "wa".into(),
        ombud_core::WhatsAppConfig {
            phone_number_id: PHONE.into(),
            app_secret: ombud_core::Secret::new(SECRET),
            verify_token: ombud_core::Secret::new("v"),
            access_token: ombud_core::Secret::new("t"),
            graph_url: graph.url(),
            api_version: "v23.0".into(),
            waba_id: None,
            templates: Default::default(),
        },
    )
    .await
    .unwrap();
    let urls = [0, 1].map(|i| format!("http://{}{}", apps[i].0, channel.webhook_path()));
    (db, graph, urls, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_never_runs_on_two_replicas_at_once() {
    let watch = Arc::new(Watch::default());
    let (_db, graph, urls) = two_replicas(&watch, |_| {}).await;
    let http = reqwest::Client::new();
    let acks = AtomicUsize::new(0);
    // 40 conversations × 6 messages, all at once, each message to alternate replicas.
    let posts = (0..40)
        .flat_map(|c| (0..6).map(move |k| (c, k)))
        .map(|(c, k)| {
            let body = text_message_payload(
                PHONE,
                &format!("9195{c:08}"),
                &format!("wamid.W{c:03}{k}"),
                &format!("m{k}"),
            )
            .to_string();
            let (http, urls, acks) = (&http, &urls, &acks);
            async move {
                deliver_until_ok(http, urls, (c + k) % 2, body, SECRET).await;
                acks.fetch_add(1, Ordering::SeqCst);
            }
        });
    join_all(posts).await;
    let delivered = graph
        .wait_for_deliveries(240, Duration::from_secs(30))
        .await;
    assert_eq!(delivered.len(), 240, "every message answered");
    assert_eq!(
        watch.overlaps.load(Ordering::SeqCst),
        0,
        "a conversation ran on both replicas at once"
    );
    assert!(
        watch.runs.load(Ordering::SeqCst) < 240,
        "messages were batched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_longer_than_its_lease_keeps_it_and_is_not_run_twice() {
    // Runs take 1.5 s; a lease lasts 1 s unless renewed, and each replica
    // sweeps for due conversations with free leases every 100 ms.
    let watch = Arc::new(Watch {
        slow: Duration::from_millis(1500),
        ..Default::default()
    });
    let (_db, graph, urls) = two_replicas(&watch, |c| c.agents.lease_secs = 1).await;
    let http = reqwest::Client::new();
    for c in 0..3 {
        let body = text_message_payload(PHONE, &format!("9196{c:08}"), &format!("wamid.L{c}"), "m")
            .to_string();
        deliver_until_ok(&http, &urls, c % 2, body, SECRET).await;
    }
    let delivered = graph.wait_for_deliveries(3, Duration::from_secs(15)).await;
    assert_eq!(delivered.len(), 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        watch.overlaps.load(Ordering::SeqCst),
        0,
        "a run was taken over while it ran"
    );
    assert_eq!(
        watch.runs.load(Ordering::SeqCst),
        3,
        "each conversation ran once"
    );
    assert_eq!(graph.delivered().len(), 3, "no reply twice");
}

/// Admin changes to one tenant through two replicas at once: every change
/// has its entry, and the tenant's chain stays one line that verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_through_two_replicas_at_once_keep_one_audit_chain() {
    std::env::set_var("OMBUD_TEST_E2E_BACKEND", "postgres");
    let db = TestDb::new().await;
    let mut addrs = Vec::new();
    let mut store = None;
    for _ in 0..2 {
        let app = ombud::App::build(&test_config(&db), ombud::AppOptions::default())
            .await
            .unwrap();
        addrs.push(app.addr());
        store.get_or_insert(app.store());
        tokio::spawn(app.run(std::future::pending()));
    }
    let store = store.unwrap();
    let ops = ombud::cli::operations(store.clone());
    let cli = ombud_engine::Acting::cli();
    let (tenant, _) = ombud_engine::provision::create_tenant(
        store.as_ref(),
        &ombud_core::SystemClock,
        &cli,
        ombud_store::NewTenant {
            id: ombud_core::TenantId::new(),
            slug: ombud_core::TenantSlug::parse("state").unwrap(),
            name: "State".into(),
            complaint_prefix: ombud_core::ComplaintPrefix::parse("ST").unwrap(),
            default_language: ombud_core::Language::en(),
            timezone: ombud_core::TimeZoneName::parse("UTC").unwrap(),
        },
        true,
    )
    .await
    .unwrap();
    let (key, _) = ops
        .create_api_key(
            &cli,
            ombud_web::auth::KeyRequest {
                tenant: tenant.id.clone(),
                name: "admin tool".into(),
                scopes: vec![ombud_core::Scope::WebhooksManage],
                rate_limit_per_minute: 100_000,
                expires_in_days: None,
                created_by: None,
            },
        )
        .await
        .unwrap();
    let http = reqwest::Client::new();
    const CHANGES: usize = 40;
    let made = join_all((0..CHANGES).map(|i| {
        let (http, key) = (http.clone(), key.clone());
        let url = format!("http://{}/api/v1/webhooks", addrs[i % 2]);
        async move {
            http.post(url)
                .bearer_auth(key)
                .json(&serde_json::json!({"url": format!("http://127.0.0.1:9/hook/{i}")}))
                .send()
                .await
                .unwrap()
                .status()
        }
    }))
    .await;
    assert!(made.iter().all(|s| s.as_u16() == 201), "{made:?}");
    let chain = store.audit_chain(&tenant.id, 0, 1000).await.unwrap();
    // The tenant, the key, then one entry per endpoint.
    assert_eq!(chain.len(), 2 + CHANGES);
    assert_eq!(
        chain.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=(2 + CHANGES) as i64).collect::<Vec<_>>()
    );
    let verified = ops.verify_audit(&tenant.id, None).await.unwrap().unwrap();
    assert_eq!(verified.last_seq, (2 + CHANGES) as i64);
}

/// What the jobs of the test below did: executions per job key.
#[derive(Default)]
struct Effects(std::sync::Mutex<BTreeMap<String, u32>>);

#[async_trait::async_trait]
impl ombud_engine::scheduler::JobHandler for Effects {
    async fn run(&self, job: &ombud_store::Job) -> Result<(), String> {
        // Long enough that the kill lands while jobs are in flight.
        tokio::time::sleep(Duration::from_millis(3)).await;
        *self.0.lock().unwrap().entry(job.key.clone()).or_default() += 1;
        Ok(())
    }
}

/// Replica a's jobs: the same effect, and once told to freeze, each job
/// it starts takes effect and then hangs, as a process killed between a
/// job's effect and recording its outcome would look to the others.
#[derive(Default)]
struct Freezing {
    effects: Arc<Effects>,
    freeze: std::sync::atomic::AtomicBool,
    hung: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl ombud_engine::scheduler::JobHandler for Freezing {
    async fn run(&self, job: &ombud_store::Job) -> Result<(), String> {
        use std::sync::atomic::Ordering::SeqCst;
        if !self.freeze.load(SeqCst) {
            return self.effects.run(job).await;
        }
        *self
            .effects
            .0
            .lock()
            .unwrap()
            .entry(job.key.clone())
            .or_default() += 1;
        self.hung.fetch_add(1, SeqCst);
        std::future::pending().await
    }
}

/// 1,000 jobs due at once, two replicas on one PostgreSQL, one of them
/// killed mid-way (its runtime torn down with jobs in flight and leases
/// held, its connections dropped): every job takes effect, and the only
/// jobs run twice are ones the dead replica had in flight (their effect
/// done, their outcome not yet recorded), which is why a job's effect is
/// keyed by the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_jobs_due_at_once_take_effect_once_across_two_replicas_one_killed() {
    use ombud_engine::scheduler::{one_off, Jobs, Scheduler, SchedulerConfig};
    const JOBS: usize = 1000;
    const CONCURRENCY: usize = 4;
    std::env::set_var("OMBUD_TEST_E2E_BACKEND", "postgres");
    let db = TestDb::new().await;
    let config = test_config(&db);
    let store = ombud::app::open_store(&config).await.unwrap();
    let now = chrono::Utc::now();
    for i in 0..JOBS {
        let job = one_off(
            "test.effect",
            &format!("effect-{i:04}"),
            serde_json::json!({}),
            now,
        );
        store.schedule_job(job, now).await.unwrap();
    }
    let effects = Arc::new(Effects::default());
    let scheduler_config = SchedulerConfig {
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(3),
        concurrency: CONCURRENCY,
        ..Default::default()
    };
    let frozen = Arc::new(Freezing {
        effects: effects.clone(),
        ..Default::default()
    });
    let replica = |store, name: &str, jobs: Jobs| {
        Arc::new(Scheduler::new(
            store,
            Arc::new(ombud_core::SystemClock),
            jobs,
            scheduler_config.clone(),
            name.into(),
        ))
    };

    // Replica a, in a runtime of its own (a process of its own, as far as
    // the database can tell: its own pool).
    let (kill, killed) = tokio::sync::oneshot::channel::<()>();
    let a = {
        let config = config.clone();
        let a = replica(
            ombud::app::open_store(&config).await.unwrap(),
            "a",
            Jobs::default().handle("test.effect", frozen.clone()),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let stop = tokio_util::sync::CancellationToken::new();
                tokio::spawn(a.run(stop, tokio_util::task::TaskTracker::new()));
                let _ = killed.await;
            });
            // The crash: every task dropped where it stands.
            rt.shutdown_background();
        })
    };
    let b = replica(
        store.clone(),
        "b",
        Jobs::default().handle("test.effect", effects.clone()),
    );
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(b.run(stop.clone(), tokio_util::task::TaskTracker::new()));

    let started = Instant::now();
    let done = || effects.0.lock().unwrap().len();
    while done() < JOBS / 4 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "stuck at {}",
            done()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The kill lands while a holds jobs: from now on a's jobs hang after
    // taking effect, and a dies once one of them has.
    frozen
        .freeze
        .store(true, std::sync::atomic::Ordering::SeqCst);
    while frozen.hung.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "replica a took no job after {}",
            done()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let at_kill = done();
    kill.send(()).unwrap();
    a.join().unwrap();
    loop {
        let stats = store.job_stats(chrono::Utc::now()).await.unwrap();
        if done() == JOBS && stats.due == 0 && stats.running == 0 {
            assert_eq!(stats.failed, 0);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{} of {JOBS} took effect; {stats:?}",
            done()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    let effects = effects.0.lock().unwrap().clone();
    let twice: Vec<&String> = effects
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k)
        .collect();
    assert_eq!(effects.len(), JOBS, "every job took effect");
    assert!(
        twice.len() <= CONCURRENCY && effects.values().all(|n| *n <= 2),
        "run twice: {twice:?} (only the dead replica's {CONCURRENCY} in flight may be)"
    );
    // A job claimed twice was held by replica a when it died: its lease
    // ran out and b claimed it again (a claim counts an attempt).
    let mut held_by_a = 0;
    for key in effects.keys() {
        let job = store.job(key).await.unwrap().unwrap();
        assert_eq!(job.state, ombud_store::JobState::Done, "{key}");
        held_by_a += usize::from(job.attempts >= 2);
    }
    assert!(
        (1..=CONCURRENCY).contains(&held_by_a),
        "replica a died holding {held_by_a} jobs (at most its {CONCURRENCY} permits, and the kill lands mid-way)"
    );
    eprintln!(
        "{JOBS} jobs, replica a killed holding {held_by_a} after {at_kill} had taken effect: all done in {:.1}s, {} run twice",
        started.elapsed().as_secs_f64(),
        twice.len()
    );
}

/// A JPEG's skeleton (start, JFIF header, a scan, end): what the media
/// checks read, without a picture worth showing.
fn small_jpeg(marker: u8) -> Vec<u8> {
    let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
    b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    b.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0]);
    b.extend_from_slice(&[marker, 0x12, 0x34, 0xFF, 0xD9]);
    b
}

/// Replicas keep media in the S3-compatible store (the server scripts/test
/// starts): a photo fetched by the replica that took the webhook is served
/// by the other, and nothing is kept in the data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_photos_through_the_s3_compatible_store() {
    let endpoint = std::env::var("OMBUD_TEST_S3_ENDPOINT").expect(
        "OMBUD_TEST_S3_ENDPOINT is not set: scripts/test starts an S3-compatible server (scripts/s3) and sets it",
    );
    let bucket = format!("media-{}", ombud_core::id::new_id_body().to_lowercase());
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        made.status().is_success(),
        "create bucket: {}",
        made.status()
    );
    let s3 = ombud::backup::s3::S3Settings {
        endpoint: Some(endpoint.clone()),
        region: Some("eu-west-1".into()),
        access_key_id: Some("AKIAOMBUDTESTS".into()),
        secret_access_key: Some(ombud_core::Secret::new("tests-only-not-a-secret")),
        path_style: None,
    };
    let store_url = format!("s3://{bucket}/media");
    let (db, graph, urls, replicas) = replicas_running(
        || None,
        |c| {
            c.media.store = Some(store_url.clone());
            c.media.s3 = s3.clone();
        },
    )
    .await;
    let http = reqwest::Client::new();
    let photo = small_jpeg(0x77);
    let (media_id, sha256) = graph.add_media(&photo, "image/jpeg");
    let citizen = "919500000001";
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1", "phone_number_id": PHONE},
            "contacts": [{"profile": {"name": "A"}, "wa_id": citizen}],
            "messages": [{"from": citizen, "id": "wamid.S3PHOTO", "timestamp": "1763856000",
                          "type": "image",
                          "image": {"mime_type": "image/jpeg", "sha256": sha256, "id": media_id}}]
        }}]}]
    })
    .to_string();
    deliver_until_ok(&http, &urls, 0, body, SECRET).await;
    let replies = graph.wait_for_deliveries(1, Duration::from_secs(20)).await;
    assert!(
        replies[0].body.starts_with("Thank you, we have your photo"),
        "{replies:?}"
    );

    // Which attachment: from the conversation, through either replica's store.
    let (_, store, engine) = &replicas[1];
    let tenant = store
        .tenant_by_slug(&ombud_core::TenantSlug::parse("state").unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = engine
        .ops()
        .create_api_key(
            &ombud_engine::Acting::cli(),
            ombud_web::auth::KeyRequest {
                tenant: tenant.id.clone(),
                name: "reader".into(),
                scopes: vec![ombud_core::Scope::ComplaintsRead],
                rate_limit_per_minute: 1000,
                expires_in_days: None,
                created_by: None,
            },
        )
        .await
        .unwrap()
        .0;
    let conversations = store.conversations(&tenant.id).await.unwrap();
    let messages = store
        .messages(&tenant.id, &conversations[0].id)
        .await
        .unwrap();
    let id = messages.iter().find_map(|m| m.media.clone()).unwrap().id;
    // Both replicas serve it.
    for (addr, _, _) in &replicas {
        let res = http
            .get(format!("http://{addr}/api/v1/attachments/{id}/content"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "replica {addr}");
        assert_eq!(res.bytes().await.unwrap(), photo);
    }
    let bucket = ombud::backup::s3::Bucket::new(&bucket, &s3).unwrap();
    let kept = bucket.list(&format!("media/{}/", tenant.id)).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        !db.dir.path().join("media").exists(),
        "nothing kept in the data directory"
    );
}
