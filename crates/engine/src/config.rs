use std::time::Duration;

/// How the engine runs; the binary fills this from `ombud.toml` and `OMBUD_*`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// At most this many agent runs at once, across all conversations. A run
    /// mostly waits on the database, and the runs of a moment share its group
    /// commits, so this bounds throughput: runs/s ≈ this ÷ a run's wall time.
    pub max_concurrent_runs: usize,
    /// A failed run is retried after `run_retry_base · 2^n`, `run_max_attempts` in all.
    pub run_retry_base: Duration,
    pub run_max_attempts: u32,
    /// How long shutdown waits for runs and sends in flight.
    pub shutdown_grace: Duration,
    /// This process's name on leases; unique per process.
    pub replica_id: String,
    /// A conversation's lease: longer than any run may take.
    pub lease: Duration,
    /// How soon to try a conversation again that another replica is running.
    pub busy_retry: Duration,
    /// How often to look for due conversations nobody is running (a dead
    /// replica's, or ones that arrived through another replica).
    pub sweep_interval: Duration,
    pub outbox: OutboxConfig,
    pub webhooks: WebhookConfig,
    /// How often the metrics that need the database are sampled.
    pub sample: crate::metrics::SampleConfig,
    /// Where critical conditions are paged, if anywhere.
    pub paging: crate::paging::PagingConfig,
    /// What tenants' URLs may reach (see [`crate::outbound`]).
    pub outbound: crate::OutboundPolicy,
    /// Opens the API keys tenants stored sealed in LLM agent versions.
    pub seal_key: Option<ombud_core::seal::SealKey>,
    /// The LLM runtime's first wait before retrying a provider call.
    pub llm_retry_base: Duration,
    /// Where process agents' workers live and what fences them; without it,
    /// process agents have no runtime.
    pub process: Option<ombud_agents::process::ProcessSettings>,
    /// Timing of scheduled work.
    pub scheduler: crate::scheduler::SchedulerConfig,
    /// The SMTP server mail goes through; None: no mail (links are shown to
    /// whoever made them, as before).
    pub mail: Option<crate::mail::MailConfig>,
    /// The quiet spell that ends a conversation's session, for tenants that
    /// did not choose their own (`conversations.session_idle_hours`).
    pub session_idle: ombud_core::SessionIdle,
    /// Where photos and voice notes are kept; None: nowhere (their
    /// fetches fail, and the messages are answered without them).
    pub media: Option<std::sync::Arc<dyn crate::media::MediaStore>>,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// A receiver that has not answered by then has failed the attempt.
    pub timeout: Duration,
    /// Waits before each retry; after the last, the delivery has failed.
    pub retry_schedule: Vec<Duration>,
    /// An endpoint all of whose attempts failed for this long is disabled.
    pub disable_after: Duration,
    /// A claimed delivery not recorded within this is made again.
    pub lease: Duration,
    pub poll_interval: Duration,
}

impl WebhookConfig {
    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    pub fn default_schedule() -> Vec<Duration> {
        [5, 300, 1800, 7200, 18000, 36000, 36000]
            .into_iter()
            .map(Duration::from_secs)
            .collect()
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            concurrency: 32,
            timeout: Duration::from_secs(15),
            retry_schedule: Self::default_schedule(),
            disable_after: Duration::from_secs(5 * 24 * 3600),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Sends in flight at once (each waits on the provider, then on a commit).
    pub concurrency: usize,
    pub send_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A message still undelivered this long after it was written is marked failed.
    pub give_up_after: Duration,
    /// A claimed send not completed within this is sent again (same idempotency key).
    pub lease: Duration,
    /// Longest sleep between looks at the outbox when nothing wakes the sender.
    pub poll_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_concurrent_runs: 64,
            run_retry_base: Duration::from_secs(5),
            run_max_attempts: 5,
            shutdown_grace: Duration::from_secs(10),
            replica_id: format!("rep_{}", ombud_core::id::new_id_body()),
            lease: Duration::from_secs(60),
            busy_retry: Duration::from_millis(250),
            sweep_interval: Duration::from_secs(5),
            outbox: OutboxConfig::default(),
            webhooks: WebhookConfig::default(),
            sample: Default::default(),
            paging: Default::default(),
            outbound: Default::default(),
            seal_key: None,
            mail: None,
            session_idle: ombud_core::SessionIdle::default(),
            llm_retry_base: Duration::from_millis(500),
            process: None,
            scheduler: Default::default(),
            media: None,
        }
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            concurrency: 64,
            send_timeout: Duration::from_secs(15),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            give_up_after: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        }
    }
}
