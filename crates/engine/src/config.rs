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
