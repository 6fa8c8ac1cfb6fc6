//! `--spawn`: a throwaway Ombud for the load test: a temp data dir, SQLite or a
//! fresh schema on the given PostgreSQL, T tenants whose per-contact limits are
//! out of the way, each with a WhatsApp channel (its own number and app secret)
//! pointed at our sink, and N server processes.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use ombud_agents::intake::{IntakeConfig, Limits};
use ombud_core::*;
use ombud_engine::provision;
use ombud_store::{NewAgentVersion, NewTenant};

use crate::app::open_store;
use crate::Config;

use super::driver::Target;

/// The servers under test; stopped (SIGKILL) when dropped.
pub struct Spawned {
    pub targets: Vec<Target>,
    pub urls: Vec<String>,
    pub pids: Vec<u32>,
    pub backend: String,
    /// The first tenant, and its staff's session tokens (`--staff-streams`).
    pub first_tenant: TenantId,
    pub staff_tokens: Vec<String>,
    /// How to open the servers' store from here.
    pub config: Config,
    children: Vec<Child>,
    dir: Option<tempfile::TempDir>,
}

impl Spawned {
    /// The servers' data directory (SQLite: the whole deployment).
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }

    /// Stops the servers and keeps their data dir (database and logs) instead of
    /// deleting it, for a run that went wrong; returns where it is.
    pub fn stop_and_keep(mut self) -> Option<std::path::PathBuf> {
        self.stop();
        self.dir.take().map(|d| d.keep())
    }

    fn stop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn spawn(
    tenants: usize,
    replicas: usize,
    database_url: Option<&str>,
    sink_url: &str,
    preload: usize,
    staff_streams: usize,
) -> anyhow::Result<Spawned> {
    let dir = tempfile::Builder::new()
        .prefix("ombud-loadtest")
        .tempdir()?;
    let url = match database_url {
        Some(base) => Some(ombud_store::postgres::scratch_schema_url(base).await?),
        None => None,
    };
    if url.is_none() && replicas > 1 {
        anyhow::bail!("several replicas need PostgreSQL: pass --database-url");
    }
    // The sink stands in for Meta's Graph API: the servers may send to it.
    let sink_host = sink_url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once(':'))
        .map(|(host, _)| host.to_owned())
        .context("the sink's URL has no host and port")?;
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        database_url: url.clone().map(Secret::new),
        ..Config::default()
    };
    config.outbound.provider_hosts = sink_host.clone();
    let providers = config.outbound_policy();
    let store = open_store(&config).await?;
    // The built-in limits (20 a day, 5 a minute) would silence a load test.
    // The burst window is short because the agent remembers each arrival
    // within it (up to the burst limit) in the conversation's state.
    let intake = IntakeConfig {
        limits: Limits {
            per_day: 1_000_000,
            burst: 1_000_000,
            burst_window_secs: 1,
        },
        ..IntakeConfig::default()
    };
    let mut channels = Vec::with_capacity(tenants);
    for i in 0..tenants {
        let (tenant, _) = provision::create_tenant(
            store.as_ref(),
            &ombud_core::SystemClock,
            &ombud_engine::Acting::cli(),
            NewTenant {
                id: ombud_core::TenantId::new(),
                slug: TenantSlug::parse(&slug(i))?,
                name: format!("Load Test Office {i}"),
                complaint_prefix: ComplaintPrefix::parse(&prefix(i))?,
                default_language: Language::en(),
                timezone: TimeZoneName::parse("Asia/Kolkata")?,
            },
            true,
        )
        .await?;
        store
            .create_agent_version(
                &tenant.id,
                NewAgentVersion {
                    agent_name: provision::DEFAULT_AGENT.into(),
                    kind: ombud_agents::intake::KIND.into(),
                    config: serde_json::to_value(&intake)?,
                    changelog: "load test: limits out of the way".into(),
                    author: "system".into(),
                },
                chrono::Utc::now(),
            )
            .await?;
        let phone = format!("55501{i:05}");
        let secret = format!("loadtest-app-secret-{i}");
        let (_, channel) = provision::add_whatsapp_channel(
            store.as_ref(),
            &ombud_core::SystemClock,
            &ombud_engine::Acting::cli(),
            providers.providers(),
            &tenant.slug,
            "Load".into(),
            WhatsAppConfig {
                phone_number_id: phone.clone(),
                app_secret: Secret::new(secret.clone()),
                verify_token: Secret::new("v"),
                access_token: Secret::new("t"),
                graph_url: sink_url.to_owned(),
                api_version: WhatsAppConfig::DEFAULT_API_VERSION.into(),
                waba_id: None,
                templates: Default::default(),
            },
        )
        .await?;
        channels.push((channel.webhook_path(), secret, phone));
    }
    if preload > 0 {
        preload_history(store.as_ref(), tenants, preload).await?;
    }
    let first_tenant = store
        .tenant_by_slug(&TenantSlug::parse(&slug(0))?)
        .await?
        .context("the first tenant")?
        .id;
    let staff_tokens = staff_sessions(store.as_ref(), &first_tenant, staff_streams).await?;
    drop(store);

    let exe = std::env::current_exe().context("finding the ombud binary")?;
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for i in 0..replicas {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(dir.path().join(format!("server-{i}.log")))?;
        let mut cmd = Command::new(&exe);
        cmd.arg("serve")
            .env("OMBUD_DATA_DIR", dir.path())
            .env("OMBUD_LISTEN", format!("127.0.0.1:{port}"))
            .env("OMBUD_LOG_FORMAT", "json")
            .env("OMBUD_OUTBOUND__PROVIDER_HOSTS", &sink_host)
            .env("OMBUD_METRICS_LISTEN", "127.0.0.1:0")
            // Every load-test client (the citizens' webhooks, the staff
            // pages) comes from 127.0.0.1; people come from many addresses.
            .env("OMBUD_SERVER__MAX_CONNECTIONS_PER_ADDRESS", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(url) = &url {
            cmd.env("OMBUD_DATABASE_URL", url);
        }
        children.push(cmd.spawn().context("starting ombud serve")?);
        urls.push(format!("http://127.0.0.1:{port}"));
    }
    let targets = channels
        .into_iter()
        .map(|(path, secret, phone_number_id)| Target {
            urls: urls.clone(),
            path,
            secret,
            phone_number_id,
        })
        .collect();
    let spawned = Spawned {
        targets,
        pids: children.iter().map(|c| c.id()).collect(),
        urls,
        backend: if url.is_some() {
            format!("postgres ×{replicas}")
        } else {
            "sqlite".into()
        },
        first_tenant,
        staff_tokens,
        config,
        children,
        dir: Some(dir),
    };
    let http = reqwest::Client::new();
    for base in &spawned.urls {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http.get(format!("{base}/health/ready")).send().await;
            if matches!(&ready, Ok(r) if r.status().is_success()) {
                break;
            }
            if Instant::now() > deadline {
                anyhow::bail!("{base} did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(spawned)
}

/// Stores `total` messages, each with its complaint, spread evenly over the
/// tenants and over a quarter as many contacts (not the load's citizens), as
/// `ombud seed` does: history the servers find but do not answer again.
async fn preload_history(
    store: &dyn ombud_store::Store,
    tenants: usize,
    total: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    eprintln!("preloading {total} stored messages…");
    for i in 0..tenants {
        let share = total / tenants + usize::from(i < total % tenants);
        if share > 0 {
            crate::seed::run(store, &slug(i), share, (share / 4).max(1)).await?;
        }
    }
    eprintln!(
        "preloaded {total} stored messages in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A staff member of the tenant with `n` sessions (one per open page),
/// made in the store as a sign-in would; their tokens.
async fn staff_sessions(
    store: &dyn ombud_store::Store,
    tenant: &TenantId,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let now = chrono::Utc::now();
    let user = store
        .create_user(
            ombud_store::NewUser {
                id: UserId::new(),
                email: Email::parse("loadtest-staff@example.invalid")?,
                name: "Load test staff".into(),
                // No password signs in as this member: only the sessions do.
                password_hash: String::new(),
                must_change_password: false,
                platform_admin: false,
                memberships: vec![(tenant.clone(), Role::Staff)],
            },
            now,
            Vec::new(),
        )
        .await?;
    let mut tokens = Vec::with_capacity(n);
    for _ in 0..n {
        let token = ombud_web::dashboard::random_token();
        store
            .create_session(
                ombud_store::Session {
                    token_hash: ombud_web::dashboard::token_hash(&token),
                    user_id: user.id.clone(),
                    tenant_id: tenant.clone(),
                    csrf_token: ombud_web::dashboard::random_token(),
                    created_at: now,
                    last_seen_at: now,
                    expires_at: now + chrono::Duration::hours(12),
                },
                Vec::new(),
            )
            .await?;
        tokens.push(token);
    }
    Ok(tokens)
}

/// The slug of the tenant with index `i`.
fn slug(i: usize) -> String {
    format!("load{i}")
}

/// A complaint prefix per tenant index: LA, LB, … LZ, LBA, …
fn prefix(i: usize) -> String {
    let mut letters = Vec::new();
    let mut n = i;
    loop {
        letters.push(b'A' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    letters.push(b'L');
    letters.reverse();
    String::from_utf8(letters).unwrap_or_else(|_| "LOAD".into())
}
