//! `ombud bench agents`: what an agent run costs.
//!
//! - **Process round trip on a warm worker**: the reference Python worker
//!   (`examples/workers/complaint_worker.py`) gets a run, calls
//!   `create_complaint`, gets the result, replies and is done, over and over
//!   for one conversation. Tools answer from memory, so this is the runtime
//!   and the worker alone. The worker is started once: the count of spawns is
//!   checked to stay at one.
//! - **Queue overhead with the intake agent**: one message stored through the
//!   engine (as the webhook does), queued, run by the built-in intake agent,
//!   committed with its reply, and handed to a channel sender that answers at
//!   once; timed from `ingest` to the send, one message at a time, on the
//!   real store (SQLite in a temporary dir, or `--database-url`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use async_trait::async_trait;
use clap::Args;
use ombud_agents::process::{CommandAllowList, ProcessRuntime, ProcessSettings};
use ombud_agents::{AgentRuntime, ComplaintDraft, RunInput, ToolError, Tools};
use ombud_channels::{ChannelSender, SendError};
use ombud_core::*;
use ombud_engine::{provision, Engine, Runtimes};
use ombud_store::{InboundBatch, InboundMessage, NewTenant};
use serde_json::json;
use tokio::sync::mpsc;

use crate::app::open_store;
use crate::Config;

#[derive(Args, Debug)]
pub struct AgentBenchArgs {
    /// Timed runs of each kind (after 20 untimed).
    #[arg(long, default_value_t = 500)]
    samples: usize,
    /// The process worker's sandbox: bubblewrap or none.
    #[arg(long, default_value = "none")]
    sandbox: String,
    /// The worker script (the reference worker, from the repository's root).
    #[arg(long, default_value = "examples/workers/complaint_worker.py")]
    script: std::path::PathBuf,
    /// The Python the worker runs with.
    #[arg(long, default_value = "/usr/bin/python3")]
    python: String,
    /// Each queue sample a whole complaint dialogue (the load test's four
    /// messages, each reply waited for: a complaint filed, then its status)
    /// instead of a greeting.
    #[arg(long)]
    dialogue: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Timing {
    what: &'static str,
    samples: usize,
    median_us: f64,
    p90_us: f64,
    p99_us: f64,
    min_us: f64,
    max_us: f64,
}

fn timing(what: &'static str, mut took: Vec<Duration>) -> Timing {
    took.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let at = |q: f64| us(took[((took.len() - 1) as f64 * q).round() as usize]);
    Timing {
        what,
        samples: took.len(),
        median_us: at(0.5),
        p90_us: at(0.9),
        p99_us: at(0.99),
        min_us: us(took[0]),
        max_us: us(took[took.len() - 1]),
    }
}

pub async fn agents(args: AgentBenchArgs, base: Config) -> anyhow::Result<()> {
    anyhow::ensure!(args.samples >= 10, "--samples must be at least 10");
    let process = process_round_trip(&args).await?;
    let queue = queue_overhead(&args, base).await?;
    let results = [process, queue];
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    println!(
        "{:<44} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "what", "samples", "median µs", "p90 µs", "p99 µs", "min µs", "max µs"
    );
    for t in &results {
        println!(
            "{:<44} {:>8} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>10.0}",
            t.what, t.samples, t.median_us, t.p90_us, t.p99_us, t.min_us, t.max_us
        );
    }
    Ok(())
}

/// Tools that answer from memory.
struct MemoryTools {
    tenant: Tenant,
    made: Mutex<u32>,
}

#[async_trait]
impl Tools for MemoryTools {
    async fn categories(&self) -> Result<Arc<Vec<Category>>, ToolError> {
        Ok(Arc::new(Vec::new()))
    }
    async fn create_complaint(
        &self,
        _key: &str,
        d: ComplaintDraft,
    ) -> Result<Complaint, ToolError> {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        *made += 1;
        let now = chrono::Utc::now();
        let number = ComplaintNumber::new(&self.tenant.complaint_prefix, now.date_naive(), *made);
        Ok(d.into_complaint(&self.tenant.id, number, now))
    }
    async fn complaint_status(&self, _n: &ComplaintNumber) -> Result<Option<Complaint>, ToolError> {
        Ok(None)
    }
    async fn open_complaints(&self) -> Result<Vec<Complaint>, ToolError> {
        Ok(Vec::new())
    }
    async fn add_to_complaint(
        &self,
        n: &ComplaintNumber,
        _t: &str,
    ) -> Result<Complaint, ToolError> {
        Err(ToolError(format!("no complaint {n}")))
    }
}

fn bench_tenant() -> Tenant {
    Tenant {
        id: TenantId::new(),
        slug: TenantSlug::parse("bench").unwrap_or_else(|_| unreachable!()),
        name: "Bench".into(),
        complaint_prefix: ComplaintPrefix::parse("BENCH").unwrap_or_else(|_| unreachable!()),
        default_language: Language::en(),
        timezone: TimeZoneName::parse("UTC").unwrap_or_else(|_| unreachable!()),
        created_at: chrono::Utc::now(),
    }
}

async fn process_round_trip(args: &AgentBenchArgs) -> anyhow::Result<Timing> {
    let script = std::fs::canonicalize(&args.script).with_context(|| {
        format!(
            "{}: run from the repository's root or pass --script",
            args.script.display()
        )
    })?;
    let dir = script.parent().unwrap_or(&script).display().to_string();
    let temp = tempfile::tempdir()?;
    let mut settings = ProcessSettings::for_data_dir(temp.path());
    // The operator running the benchmark chose the program.
    settings.commands = CommandAllowList::Any;
    let runtime = ProcessRuntime::new(settings);
    let config = json!({
        "command": args.python,
        "args": ["-u", script.display().to_string()],
        "sandbox": {"mode": args.sandbox, "read_only": [dir]},
        "max_workers": 1,
    });
    let config = ombud_agents::config::validate(ombud_agents::AgentKind::Process, &config)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tenant = Arc::new(bench_tenant());
    let tools = MemoryTools {
        tenant: tenant.as_ref().clone(),
        made: Mutex::new(0),
    };
    let conversation = ConversationId::new();
    let contact = Contact {
        id: ContactId::new(),
        tenant_id: tenant.id.clone(),
        channel_id: ChannelId::new(),
        external_id: "bench".into(),
        profile_name: None,
        language: None,
        first_seen_at: chrono::Utc::now(),
        last_seen_at: chrono::Utc::now(),
        messages_in: 0,
        messages_out: 0,
        block: None,
    };
    let (config, version, agent) = (Arc::new(config), AgentVersionId::new(), AgentId::new());
    let mut took = Vec::with_capacity(args.samples);
    for i in 0..args.samples + 20 {
        let message = Message {
            id: MessageId::new(),
            tenant_id: tenant.id.clone(),
            channel_id: contact.channel_id.clone(),
            conversation_id: conversation.clone(),
            direction: Direction::Inbound,
            seq: i as i64 + 1,
            provider_id: None,
            kind: MessageKind::Text,
            body: "The street light is broken".into(),
            in_reply_to: None,
            status: DeliveryStatus::Received,
            error: None,
            created_at: chrono::Utc::now(),
            payload: None,
            choices: None,
            sender: None,
            session: 1,
            media: None,
        };
        let input = RunInput {
            tenant: tenant.clone(),
            contact: contact.clone(),
            conversation_id: conversation.clone(),
            state: json!({}),
            messages: vec![message],
            config: config.clone(),
            version: Some(version.clone()),
            agent: Some(agent.clone()),
            now: chrono::Utc::now(),
        };
        let started = Instant::now();
        let output = runtime.run(input, &tools).await?;
        let elapsed = started.elapsed();
        if let Some(f) = output.failure {
            anyhow::bail!("the worker failed: {}", f.error);
        }
        anyhow::ensure!(
            output.replies.len() == 1 && output.tool_calls.len() == 1,
            "one reply and one tool call per run"
        );
        if i >= 20 {
            took.push(elapsed);
        }
    }
    anyhow::ensure!(
        runtime.spawned() == 1 && runtime.live_workers() == 1,
        "the warm path started {} workers, not one",
        runtime.spawned()
    );
    Ok(timing(
        "process round trip, warm worker (1 tool call)",
        took,
    ))
}

/// A channel that takes every send at once and says when.
pub(crate) struct Instant0(pub mpsc::UnboundedSender<Instant>);

#[async_trait]
impl ChannelSender for Instant0 {
    async fn send_text(
        &self,
        _: &Channel,
        _: &str,
        _: &str,
        key: &str,
    ) -> Result<String, SendError> {
        let _ = self.0.send(Instant::now());
        Ok(format!("wamid.{key}"))
    }
}

/// A tenant with a WhatsApp channel, for a benchmark on `store`.
pub(crate) async fn bench_office(
    store: &dyn ombud_store::Store,
) -> anyhow::Result<(Tenant, Channel)> {
    let (tenant, _) = provision::create_tenant(
        store,
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        NewTenant {
            id: ombud_core::TenantId::new(),
            slug: TenantSlug::parse(&format!("bench{}", &id::new_id_body()[..6].to_lowercase()))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            name: "Bench".into(),
            complaint_prefix: ComplaintPrefix::parse("BENCH")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            default_language: Language::en(),
            timezone: TimeZoneName::parse("UTC").map_err(|e| anyhow::anyhow!("{e}"))?,
        },
        true,
    )
    .await?;
    let (tenant, channel) = provision::add_whatsapp_channel(
        store,
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        &ProviderHosts::parse("127.0.0.1").map_err(anyhow::Error::msg)?,
        &tenant.slug,
        "bench".into(),
        WhatsAppConfig {
            phone_number_id: "100000000000010".into(),
            app_secret: Secret::new("bench"),
            verify_token: Secret::new("bench"),
            access_token: Secret::new("bench"),
            graph_url: "http://127.0.0.1:9".into(),
            api_version: "v23.0".into(),
            waba_id: None,
            templates: Default::default(),
        },
    )
    .await?;
    Ok((tenant, channel))
}

async fn queue_overhead(args: &AgentBenchArgs, base: Config) -> anyhow::Result<Timing> {
    let temp = tempfile::tempdir()?;
    let mut config = base;
    config.data_dir = temp.path().to_owned();
    // Its own throwaway database, as the other benchmarks: no bench
    // tenants in a deployment's PostgreSQL (whose secrets the new key in
    // the temp dir could not open either).
    config.database_url = None;
    let store = open_store(&config).await.context("opening the store")?;
    let (tenant, channel) = bench_office(store.as_ref()).await?;
    let (tx, mut sent) = mpsc::unbounded_channel();
    let engine = Engine::new(
        store.clone(),
        Arc::new(Instant0(tx)),
        Runtimes::builtin(),
        Arc::new(SystemClock),
        config.engine(),
    )?;
    engine.start().await?;
    // A new person each time: the intake agent greets them at once, or
    // they go through a complaint's dialogue.
    let said: &[&str] = match args.dialogue {
        true => crate::loadtest::DIALOGUE,
        false => &["hello"],
    };
    let mut took = Vec::with_capacity(args.samples);
    for i in 0..args.samples + 20 {
        let started = Instant::now();
        let mut answered = started;
        for (k, text) in said.iter().enumerate() {
            let batch = InboundBatch {
                messages: vec![InboundMessage {
                    from: format!("9100{i:08}"),
                    profile_name: None,
                    provider_id: format!("wamid.bench.{i}.{k}"),
                    kind: MessageKind::Text,
                    body: text.replace("{n}", &i.to_string()),
                    payload: None,
                    sent_at: None,
                    media: None,
                }],
                statuses: vec![],
            };
            engine.ingest(&channel, batch).await?;
            answered = tokio::time::timeout(Duration::from_secs(10), sent.recv())
                .await
                .context("no reply within 10 s")?
                .context("the sender closed")?;
            // Further parts of the same reply, if any, are not waited for.
            while sent.try_recv().is_ok() {}
        }
        if i >= 20 {
            took.push(answered.duration_since(started));
        }
    }
    if args.dialogue {
        let filed = store
            .count_complaints(&tenant.id, &Default::default())
            .await?;
        anyhow::ensure!(
            filed == (args.samples + 20) as u64,
            "{filed} complaints filed by {} dialogues",
            args.samples + 20
        );
    }
    engine.shutdown().await;
    Ok(timing(
        match args.dialogue {
            true => "queue + intake agent: a complaint's dialogue of 4 messages",
            false => "queue + intake agent: ingest → reply handed to channel",
        },
        took,
    ))
}
