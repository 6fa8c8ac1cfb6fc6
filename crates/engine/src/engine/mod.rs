use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ombud_channels::ChannelSender;
use ombud_core::{Channel, Clock};
use ombud_store::{ConversationKey, InboundBatch, IngestOutcome, Store, StoreResult};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use ombud_agents::llm::LlmRuntime;
use ombud_agents::process::ProcessRuntime;

use ::metrics::gauge;

use crate::metrics::{self, ChannelHealth, Sampled, Sampler, TenantNames};
use crate::outbound::OutboundPolicy;
use crate::outbox::OutboxSender;
use crate::queue::ConversationQueue;
use crate::runner::{RunResult, Runner};
use crate::scheduler::{Jobs, Scheduler};
use crate::webhooks::WebhookDispatcher;
use crate::{EngineConfig, Runtimes};

mod health;
pub use health::EngineHealth;

/// The running engine. `ingest` is the one door for inbound messages: it stores
/// them durably, then queues their conversations.
pub struct Engine {
    store: Arc<dyn Store>,
    queue: Arc<ConversationQueue>,
    runner: Arc<Runner>,
    outbox: Arc<OutboxSender>,
    outbox_wake: Arc<Notify>,
    webhooks: Arc<WebhookDispatcher>,
    webhook_wake: Arc<Notify>,
    outbound: Arc<OutboundPolicy>,
    /// Pages go to the operator's PagerDuty or webhook, through the guard.
    paging_client: reqwest::Client,
    /// Reaches what tenants configured (models, transcribers), through the
    /// guard.
    llm_client: reqwest::Client,
    clock: Arc<dyn Clock>,
    ops: crate::Operations,
    config: EngineConfig,
    stop: CancellationToken,
    runs: TaskTracker,
    sends: TaskTracker,
    dispatcher_alive: Arc<AtomicBool>,
    sender_alive: Arc<AtomicBool>,
    webhooks_alive: Arc<AtomicBool>,
    /// Failed attempts so far per conversation, for backoff and the final failure.
    attempts: std::sync::Mutex<std::collections::HashMap<ConversationKey, u32>>,
    names: Arc<TenantNames>,
    channel_health: Arc<ChannelHealth>,
    sampled: Arc<std::sync::RwLock<Sampled>>,
    scheduler: std::sync::OnceLock<Arc<Scheduler>>,
    /// Scheduled jobs in flight on this replica.
    jobs_running: TaskTracker,
    /// Tells the scheduler a job is due now (a media fetch).
    scheduler_wake: Arc<Notify>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        sender: Arc<dyn ChannelSender>,
        runtimes: Runtimes,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Result<Arc<Self>, crate::OutboundError> {
        let outbox_wake = Arc::new(Notify::new());
        let webhook_wake = Arc::new(Notify::new());
        let outbound = Arc::new(config.outbound.clone());
        let llm_client = outbound.client(
            reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .user_agent(concat!("Ombud/", env!("CARGO_PKG_VERSION"))),
        )?;
        let paging_client = outbound.client(
            reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .user_agent(concat!("Ombud/", env!("CARGO_PKG_VERSION"))),
        )?;
        let runtimes = runtimes.or_with(ombud_agents::llm::KIND, || {
            Arc::new(
                LlmRuntime::new(
                    llm_client.clone(),
                    Some(outbound.clone()),
                    config.seal_key.clone(),
                )
                .with_retry_base(config.llm_retry_base),
            )
        });
        let runtimes = match &config.process {
            Some(settings) => runtimes.or_with(ombud_agents::process::KIND, || {
                Arc::new(ProcessRuntime::new(settings.clone()))
            }),
            None => runtimes,
        };
        let ops = crate::Operations::new(store.clone(), clock.clone())
            .with_outbound(outbound.clone())
            .with_agents(config.seal_key.clone(), config.process.clone())
            .with_mail(config.mail.is_some())
            .with_sender(sender.clone())
            .with_sessions(config.session_idle)
            .with_wakes(webhook_wake.clone(), outbox_wake.clone());
        let names = Arc::new(TenantNames::default());
        let channel_health = Arc::new(ChannelHealth::default());
        let webhooks = WebhookDispatcher::new(
            store.clone(),
            clock.clone(),
            outbound.clone(),
            config.webhooks.clone(),
            webhook_wake.clone(),
        )?;
        Ok(Arc::new(Self {
            queue: Arc::new(ConversationQueue::new(config.max_concurrent_runs)),
            runner: Arc::new(Runner {
                store: store.clone(),
                runtimes,
                clock: clock.clone(),
                retry_base: config.run_retry_base,
                max_attempts: config.run_max_attempts.max(1),
                replica_id: config.replica_id.clone(),
                lease: config.lease,
                send_lease: config.outbox.lease,
            }),
            outbox: Arc::new(OutboxSender::new(
                store.clone(),
                sender,
                clock.clone(),
                config.outbox.clone(),
                outbox_wake.clone(),
                names.clone(),
                channel_health.clone(),
            )),
            outbox_wake,
            webhooks: Arc::new(webhooks),
            paging_client,
            ops,
            webhook_wake,
            outbound,
            store,
            clock,
            config,
            stop: CancellationToken::new(),
            runs: TaskTracker::new(),
            sends: TaskTracker::new(),
            dispatcher_alive: Arc::new(AtomicBool::new(false)),
            sender_alive: Arc::new(AtomicBool::new(false)),
            webhooks_alive: Arc::new(AtomicBool::new(false)),
            attempts: Default::default(),
            names,
            channel_health,
            sampled: Default::default(),
            scheduler: Default::default(),
            jobs_running: TaskTracker::new(),
            llm_client,
            scheduler_wake: Arc::new(Notify::new()),
        }))
    }

    /// Starts the workers and recovers: claims a dead process left are released
    /// where the backend allows it (else they expire), and every conversation with
    /// unanswered messages that nobody holds is queued.
    pub async fn start(self: &Arc<Self>) -> StoreResult<()> {
        let released = self.store.release_claims().await?;
        if released > 0 {
            tracing::info!(released, "claims left by the last process were released");
        }
        let due = self.store.due_conversations(self.clock.now()).await?;
        if !due.is_empty() {
            tracing::info!(count = due.len(), "queueing conversations left unanswered");
        }
        for key in due {
            self.queue.enqueue(key);
        }
        self.warn_about_sandboxes().await?;
        let this = self.clone();
        let alive = self.dispatcher_alive.clone();
        alive.store(true, Ordering::SeqCst);
        tokio::spawn(async move {
            this.dispatch().await;
            alive.store(false, Ordering::SeqCst);
        });
        let this = self.clone();
        tokio::spawn(async move { this.sweep().await });
        let outbox = self.outbox.clone();
        let (stop, sends) = (self.stop.clone(), self.sends.clone());
        let alive = self.sender_alive.clone();
        alive.store(true, Ordering::SeqCst);
        tokio::spawn(async move {
            outbox.run(stop, sends).await;
            alive.store(false, Ordering::SeqCst);
        });
        let sampler = Sampler {
            store: self.store.clone(),
            clock: self.clock.clone(),
            config: self.config.sample.clone(),
            last: self.sampled.clone(),
        };
        let this = self.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move { sampler.run(stop, || this.set_worker_gauges()).await });
        if self.config.paging.enabled() {
            let this = self.clone();
            let look = move || {
                let now = this.clock.now();
                let channels = this.channel_health.snapshot();
                (now, channels, this.sampled(), this.worker_counts().crashed)
            };
            let config = self.config.paging.clone();
            let http = self.paging_client.clone();
            tokio::spawn(crate::paging::run(config, http, look, self.stop.clone()));
        }
        let webhooks = self.webhooks.clone();
        let (stop, sends) = (self.stop.clone(), self.sends.clone());
        let alive = self.webhooks_alive.clone();
        alive.store(true, Ordering::SeqCst);
        tokio::spawn(async move {
            webhooks.run(stop, sends).await;
            alive.store(false, Ordering::SeqCst);
        });
        Ok(())
    }

    /// Starts running scheduled work of the kinds `jobs` handles, and keeps
    /// its recurring jobs scheduled. Once per engine; later calls are ignored.
    pub async fn start_scheduler(self: &Arc<Self>, jobs: Jobs) -> StoreResult<()> {
        let jobs =
            crate::mail::with_mail_jobs(jobs, &self.config, self.store.clone(), self.clock.clone());
        let jobs = crate::ops::templates::with_sync_job(jobs, self.ops.clone());
        let jobs = crate::ops::surveys::with_survey_jobs(jobs, self.ops.clone());
        let jobs = crate::ops::reminders::with_reminder_jobs(jobs, self.ops.clone());
        let jobs = crate::ops::sla::with_sla_jobs(jobs, self.ops.clone());
        let jobs = crate::ops::routing::with_routing_jobs(jobs, self.ops.clone());
        let jobs = crate::ops::verification::with_verification_jobs(jobs, self.ops.clone());
        let jobs = match &self.ops.sender {
            Some(sender) => crate::media::with_media_jobs(
                jobs,
                crate::media::MediaWork {
                    store: self.store.clone(),
                    clock: self.clock.clone(),
                    sender: sender.clone(),
                    media: self.config.media.clone(),
                    queue: self.queue.clone(),
                    http: self.llm_client.clone(),
                    seal_key: self.config.seal_key.clone(),
                },
            ),
            None => jobs,
        };
        let holder = format!(
            "{}-{}",
            self.config.replica_id,
            ombud_core::id::new_id_body()
        );
        let scheduler = Arc::new(
            Scheduler::new(
                self.store.clone(),
                self.clock.clone(),
                jobs,
                self.config.scheduler.clone(),
                holder,
            )
            .with_wake(self.scheduler_wake.clone()),
        );
        if self.scheduler.set(scheduler.clone()).is_err() {
            return Ok(());
        }
        scheduler.keep_recurring().await?;
        let (stop, tracker) = (self.stop.clone(), self.jobs_running.clone());
        tokio::spawn(async move { scheduler.run(stop, tracker).await });
        Ok(())
    }

    /// Stores a channel delivery (durable when this returns) and queues the
    /// conversations it made due.
    pub async fn ingest(
        &self,
        channel: &Channel,
        batch: InboundBatch,
    ) -> StoreResult<IngestOutcome> {
        let idle = self.ops.session_idle(&channel.tenant_id).await?;
        let fetches = batch.messages.iter().any(|m| m.media.is_some());
        let outcome = self
            .store
            .ingest(channel, batch, self.clock.now(), idle)
            .await?;
        if fetches && !outcome.stored.is_empty() {
            // Their fetch jobs are due now.
            self.scheduler_wake.notify_one();
        }
        if !outcome.stored.is_empty() {
            let tenant = self
                .names
                .slug(self.store.as_ref(), &channel.tenant_id)
                .await;
            metrics::messages(&tenant, channel.kind(), "inbound", outcome.stored.len());
        }
        self.events_written();
        for key in &outcome.due {
            self.queue.enqueue(key.clone());
        }
        Ok(outcome)
    }

    /// Queues a conversation (after a hand-back to the bot, say).
    pub fn enqueue(&self, key: ConversationKey) {
        self.queue.enqueue(key);
    }

    async fn dispatch(self: Arc<Self>) {
        loop {
            while let Some(key) = self.queue.take_next() {
                let this = self.clone();
                let span = tracing::info_span!("run", tenant = %key.tenant_id, conversation = %key.conversation_id);
                self.runs
                    .spawn(tracing::Instrument::instrument(this.run_one(key), span));
            }
            // Every enqueue and finished run passes here (they wake this loop).
            let stats = self.queue.stats();
            gauge!(metrics::QUEUE_DUE).set(stats.waiting as f64);
            gauge!(metrics::RUNS_ACTIVE).set(stats.active as f64);
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = self.queue.changed() => {}
            }
        }
    }

    /// Queues, now and then, due conversations nobody holds: a dead replica's, or
    /// ones whose messages came in through another replica.
    async fn sweep(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.sweep_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.store.due_conversations(self.clock.now()).await {
                Ok(due) => due.into_iter().for_each(|key| self.queue.enqueue(key)),
                Err(error) => {
                    metrics::error("queue", "database");
                    tracing::warn!(%error, "sweep for due conversations failed")
                }
            }
        }
    }

    async fn run_one(self: Arc<Self>, key: ConversationKey) {
        let attempt = self.failed_attempts(&key) + 1;
        // Boxed: a run's future is some 11 KB, and unboxed it made this
        // task's twice that, copied whole each time the task was spawned
        // and moved (measured: about a tenth of the work per message).
        let run = Box::pin(self.runner.run(&key, attempt));
        let (retry_after, failed) = match run.await {
            RunResult::Done(sends) => {
                self.clear_attempts(&key);
                self.events_written();
                if !sends.claimed.is_empty() {
                    let outbox = self.outbox.clone();
                    self.sends
                        .spawn(async move { outbox.deliver_in_order(sends.claimed).await });
                }
                if sends.waiting > 0 {
                    // Behind an unfinished send of the conversation: the outbox
                    // poller sends them in turn.
                    self.outbox_wake.notify_one();
                }
                if sends.more_due {
                    // A later session's messages: run again once this ends.
                    self.queue.enqueue(key.clone());
                }
                (None, false)
            }
            RunResult::Retry(delay) => (Some(delay), true),
            RunResult::Busy => (Some(self.config.busy_retry), false),
        };
        if failed {
            self.count_failure(&key);
        }
        self.queue.finish(&key);
        if let Some(delay) = retry_after {
            let this = self.clone();
            self.runs.spawn(async move {
                tokio::select! {
                    _ = this.stop.cancelled() => {}
                    _ = tokio::time::sleep(delay) => this.queue.enqueue(key),
                }
            });
        }
    }

    fn failed_attempts(&self, key: &ConversationKey) -> u32 {
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.get(key).copied().unwrap_or(0)
    }

    fn count_failure(&self, key: &ConversationKey) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        *attempts.entry(key.clone()).or_insert(0) += 1;
    }

    fn clear_attempts(&self, key: &ConversationKey) {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// Now, by the engine's clock (to the microsecond the stores keep): what
    /// the web layer reads time from, so that tests can move it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.ops.now()
    }

    /// Every change of state goes through these.
    /// Where photos and voice notes are kept (None: nowhere).
    pub fn media(&self) -> Option<&Arc<dyn crate::media::MediaStore>> {
        self.config.media.as_ref()
    }

    pub fn ops(&self) -> &crate::Operations {
        &self.ops
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Tells the outbox sender that new sends are waiting (it also polls).
    pub fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }

    /// Tells the webhook dispatcher that new deliveries are waiting (it also
    /// polls): after endpoints change, or a test event or replay.
    pub fn wake_webhooks(&self) {
        self.webhook_wake.notify_one();
    }

    /// After a change that wrote domain events: wakes the dispatcher if any
    /// endpoint may take them (waking it costs a claim, a write).
    pub fn events_written(&self) {
        if self.webhooks.active() {
            self.webhook_wake.notify_one();
        }
    }

    /// The guard for URLs tenants give (webhook receivers, LLM endpoints).
    pub fn outbound(&self) -> &crate::OutboundPolicy {
        &self.outbound
    }

    /// Says loudly at start which deployed process agents run without a
    /// sandbox, or ask for one this machine does not have.
    async fn warn_about_sandboxes(&self) -> StoreResult<()> {
        let bwrap = self.config.process.as_ref().and_then(|p| p.bwrap.as_ref());
        for tenant in self.store.tenants().await? {
            for channel in self.store.channels(&tenant.id).await? {
                let Some(id) = &channel.deployed_version else {
                    continue;
                };
                let Some(v) = self.store.agent_version(&tenant.id, id).await? else {
                    continue;
                };
                if v.kind != ombud_agents::process::KIND {
                    continue;
                }
                let (tenant, agent) = (tenant.slug.as_str(), v.agent_name.as_str());
                match v.config["sandbox"]["mode"].as_str() {
                    Some("none") => {
                        tracing::warn!(tenant, channel = %channel.id, agent, version = v.number,
                        "a deployed process agent runs WITHOUT a sandbox (sandbox.mode = none): its workers run as Ombud's user")
                    }
                    _ if bwrap.is_none() => {
                        tracing::warn!(tenant, channel = %channel.id, agent, version = v.number,
                        "a deployed process agent asks for bubblewrap, which is not installed: its runs will fail (apt-get install bubblewrap)")
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Where process agents run and what they may run; None without them.
    pub fn process_settings(&self) -> Option<&ombud_agents::process::ProcessSettings> {
        self.config.process.as_ref()
    }

    /// Runs one message of a test-panel chat with the chat's version, as a
    /// channel would run it but sending nothing; see `test_panel`.
    pub async fn test_turn(
        &self,
        acting: &crate::Acting,
        tenant: &Arc<ombud_core::Tenant>,
        chat: &ombud_core::TestChatId,
        text: &str,
    ) -> StoreResult<(ombud_store::TestChat, ombud_store::TestTurn)> {
        let panel = crate::test_panel::TestPanel {
            store: self.store.as_ref(),
            runtimes: &self.runner.runtimes,
            clock: self.clock.as_ref(),
        };
        panel.turn(acting, tenant, chat, text).await
    }

    /// Seals and opens secrets tenants keep in agent versions.
    pub fn seal_key(&self) -> Option<&ombud_core::seal::SealKey> {
        self.config.seal_key.as_ref()
    }

    /// Stops taking new work and waits (up to the configured grace) for the runs
    /// and sends in flight. Whatever is left stays in the database for next time.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.runs.close();
        self.sends.close();
        self.jobs_running.close();
        let grace = self.config.shutdown_grace;
        let waited = tokio::time::timeout(grace, async {
            self.runs.wait().await;
            self.sends.wait().await;
            self.jobs_running.wait().await;
        })
        .await;
        if waited.is_err() {
            tracing::warn!(
                ?grace,
                "shutdown grace ran out; unfinished work resumes on next start"
            );
        }
    }
}
