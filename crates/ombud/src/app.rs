//! The application: store, engine and HTTP server, built from a config. `build`
//! binds the listener (port 0 works) so tests start the real server in process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ombud_channels::{ChannelSender, Senders};
use ombud_core::{Clock, SystemClock};
use ombud_engine::{Engine, Runtimes};
use ombud_store::postgres::PgStore;
use ombud_store::sqlite::SqliteStore;
use ombud_store::Store;
use ombud_web::{AppState, RouterOptions};
use tokio::net::TcpListener;

use crate::Config;

pub struct App {
    /// Held while serving on SQLite: one process owns a data dir's queue and outbox.
    _lock: Option<std::fs::File>,
    listener: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    /// The operators' listener for `/metrics` and health (`metrics_listen`).
    admin: Option<(TcpListener, axum::Router)>,
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    /// Cancelled when shutdown begins; see `AppState::closing`.
    closing: tokio_util::sync::CancellationToken,
    /// What slow or numerous clients may hold (`server.*`).
    limits: ombud_web::server::ConnectionLimits,
    /// How long requests in flight may take to finish at shutdown.
    grace: Duration,
    /// Signs the audit trail's chain heads every hour and at shutdown.
    audit_key: Arc<ombud_core::audit::SigningKey>,
    /// How long the trail is kept; older entries go at the hourly checkpoint.
    audit_retention: chrono::Duration,
    /// Scheduled backups (`backup.schedule`), if any.
    backups: Option<ombud_engine::scheduler::Recurring>,
    /// The configuration, for the jobs that need it (backups).
    config: Config,
}

/// What a caller may swap in; the defaults are what `ombud serve` uses.
#[derive(Default)]
pub struct AppOptions {
    pub runtimes: Option<Runtimes>,
    pub demo_graph_sink: bool,
    /// Where "now" comes from (default: the wall clock).
    pub clock: Option<Arc<dyn Clock>>,
}

/// Opens the configured store, applying pending migrations: PostgreSQL when
/// `database_url` is set, else SQLite under the data dir (created if needed).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let sealer = config.sealer()?;
    if let Some(url) = &config.database_url {
        let store = PgStore::connect(url.expose(), config.database_max_connections, sealer)
            .await
            .with_context(|| format!("opening {}", config.database_description()))?;
        return Ok(Arc::new(store));
    }
    let dir = config.data_dir.clone();
    let path = config.database_path();
    let store = tokio::task::spawn_blocking(move || {
        create_private_dir(&dir)?;
        SqliteStore::open(&path, sealer).with_context(|| format!("opening {}", path.display()))
    })
    .await??;
    Ok(Arc::new(store))
}

/// Creates the data dir, for this user only, if it does not exist.
fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data dir {}", dir.display()))
}

impl App {
    pub async fn build(config: &Config, options: AppOptions) -> anyhow::Result<Self> {
        // Before anything counts: what is counted before the recorder is
        // installed is lost.
        ombud_web::metrics::install();
        let store = open_store(config).await?;
        // Several servers may share one PostgreSQL; one SQLite file has one server.
        let lock = match config.database_url {
            Some(_) => None,
            None => Some(lock_data_dir(config)?),
        };
        if config.database_url.is_some() && config.secret_key.is_none() {
            tracing::warn!(
                key = %config.data_dir.join("secret.key").display(),
                "on PostgreSQL every replica must seal with the same key: set OMBUD_SECRET_KEY to it on each (a key in one replica's data dir is that replica's alone)"
            );
        }
        for path in crate::secret_key::readable_by_others(config) {
            tracing::warn!(
                path = %path.display(),
                "readable by other users of this machine: it may hold tenants' data or the sealing key; chmod go-rwx it"
            );
        }
        let mut engine_config = config.engine();
        engine_config.seal_key = Some(config.seal_key()?);
        engine_config.process = Some(config.process_settings());
        let outbound = Arc::new(engine_config.outbound.clone());
        let senders = Senders::new(
            outbound.provider_client(Senders::client_builder(
                engine_config.outbox.send_timeout,
                engine_config.outbox.concurrency,
            ))?,
            outbound.providers().clone(),
        );
        let webchat_bell = senders.webchat.bell.clone();
        let closing = tokio_util::sync::CancellationToken::new();
        let sender: Arc<dyn ChannelSender> = Arc::new(senders);
        let engine = Engine::new(
            store.clone(),
            sender,
            options.runtimes.unwrap_or_default(),
            options.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            engine_config,
        )?;
        let listener = TcpListener::bind(config.listen_addr())
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        engine.start().await.context("starting the engine")?;
        let state = AppState {
            store: store.clone(),
            engine: engine.clone(),
            webchat_bell,
            closing: closing.clone(),
            live: ombud_web::dashboard::live::LiveHub::new(store.clone()),
        };
        let admin = match config.metrics_addr() {
            Some(at) => {
                let listener = TcpListener::bind(at)
                    .await
                    .with_context(|| format!("binding metrics_listen {at}"))?;
                Some((listener, ombud_web::admin_router(state.clone())))
            }
            None => None,
        };
        let router = ombud_web::router(
            state,
            RouterOptions {
                max_body_bytes: config.max_body_bytes,
                demo_graph_sink: options.demo_graph_sink,
                operator_token: ombud_web::health::OperatorToken::new(config.metrics_token.clone()),
                dashboard: config.dashboard(),
            },
        );
        let backups = crate::backup::scheduled::recurring(config)?;
        if backups.is_some() {
            crate::backup::scheduled::describe();
            let dest = config.backup_destination()?;
            crate::backup::scheduled::set_gauges_from(&dest, engine.now(), &engine).await;
        }
        Ok(Self {
            backups,
            config: config.clone(),
            audit_key: Arc::new(config.audit_key()?),
            audit_retention: chrono::Duration::days(i64::from(config.audit.retention_days)),
            closing,
            limits: config.server.limits(),
            grace: Duration::from_secs(config.shutdown_grace_secs),
            _lock: lock,
            listener,
            addr,
            router,
            admin,
            engine,
            store,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served when it has a listener of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn engine(&self) -> Arc<Engine> {
        self.engine.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets requests and
    /// agent runs in flight finish (bounded by the grace period) and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.addr, "ombud listening");
        if let Some((listener, router)) = self.admin {
            let addr = listener.local_addr()?;
            tracing::info!(%addr, "metrics and health on their own listener");
            let closing = self.closing.clone();
            let (limits, grace) = (self.limits.clone(), self.grace);
            tokio::spawn(async move {
                let stop = async move { closing.cancelled().await };
                ombud_web::server::serve(listener, router, limits, stop, grace).await;
            });
        }
        let checkpoints = ombud_engine::ops::audit::CheckpointJob {
            ops: self.engine.ops().clone(),
            key: self.audit_key.clone(),
            retention: self.audit_retention,
        };
        let mut jobs = ombud_engine::scheduler::Jobs::default()
            .handle(
                ombud_engine::ops::audit::CHECKPOINT_JOB,
                Arc::new(checkpoints),
            )
            .every(ombud_engine::ops::audit::checkpoint_every_hour())
            .handle(
                ombud_engine::ops::retention::SWEEP_JOB,
                Arc::new(ombud_engine::ops::retention::SweepJob {
                    ops: self.engine.ops().clone(),
                    policy: self.config.retention.policy(),
                }),
            )
            .every(ombud_engine::ops::retention::every_quarter_hour());
        if let Some(backups) = self.backups.clone() {
            let handler = crate::backup::scheduled::BackupJob::handler(&self.config, &self.engine);
            jobs = jobs
                .handle(crate::backup::scheduled::JOB, handler)
                .every(backups);
        } else {
            jobs = jobs.retire(crate::backup::scheduled::JOB);
        }
        self.engine
            .start_scheduler(jobs)
            .await
            .context("starting the scheduler")?;
        let closing = self.closing.clone();
        let shutdown = async move {
            shutdown.await;
            closing.cancel();
        };
        ombud_web::server::serve(
            self.listener,
            self.router,
            self.limits,
            shutdown,
            self.grace,
        )
        .await;
        tracing::info!("no longer accepting requests; finishing work in flight");
        self.engine.shutdown().await;
        sign_checkpoints(&self.engine, &self.audit_key).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn sign_checkpoints(engine: &Engine, key: &ombud_core::audit::SigningKey) {
    match engine.ops().sign_checkpoints(key).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(chains = n, "signed the audit trail's chain heads"),
        Err(e) => tracing::error!(error = %e, "could not sign the audit trail's chain heads"),
    }
}

/// Takes the data dir's serve lock. On start a server returns sends left claimed to
/// the outbox, which is only safe if no other server is sending from the same
/// database; a second `ombud serve` on one SQLite data dir is refused. The lock goes
/// with the process, also on `kill -9`.
pub(crate) fn lock_data_dir(config: &Config) -> anyhow::Result<std::fs::File> {
    let path = config.data_dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another ombud server is already using {} (one server per SQLite data dir)",
            config.data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
