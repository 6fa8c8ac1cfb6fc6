//! The command line. Setup commands print JSON on stdout; logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ombud_core::*;
use ombud_engine::provision::{self, ProvisionError};
use ombud_store::prelude::*;
use ombud_store::{NewTenant, StoreError};
use serde_json::json;

use crate::app::{open_store, shutdown_signal, App, AppOptions};
use crate::Config;

pub mod audit;
mod backup;
mod channel;
mod contact;
pub use channel::{channel_json, ChannelAdd, ChannelCommand};

#[derive(Parser, Debug)]
#[command(
    name = "ombud",
    version,
    about = "Self-hosted AI agent gateway for complaint handling"
)]
pub struct Cli {
    /// Configuration file (default: ./ombud.toml when present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// The complaint list's pages at scale, over HTTP, on a seeded tenant.
    Dashboard(crate::bench::DashboardBenchArgs),
    /// Webhook deliveries per second to a local receiver.
    Webhooks(crate::bench_api::WebhookBenchArgs),
    /// The API's complaint list under wrk at scale (p50/p90/p99).
    Api(crate::bench_api::ApiBenchArgs),
    /// A process agent's round trip on a warm worker, and the queue's
    /// per-message overhead with the intake agent.
    Agents(crate::bench_agents::AgentBenchArgs),
    /// Thousands of slow connections held open while `/health/live` and
    /// signed WhatsApp POSTs are timed.
    Slowloris(crate::bench_slowloris::SlowlorisBenchArgs),
    /// The retention sweep under a steady load: the database's size over
    /// time, each sweep's longest batch, the latency of storing a message.
    Retention(crate::bench_retention::RetentionBenchArgs),
    /// How well the intake agent files a set of complaints (its own set,
    /// or yours): right, asked, and filed wrong, by language.
    Intake(crate::bench_intake::IntakeBenchArgs),
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: webhooks, agent runs, outbound sends.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the API's OpenAPI 3.1 document (what /openapi.json serves).
    Openapi,
    /// Create a demo tenant and channel if absent, then serve, printing how to try it.
    Demo,
    /// Send a text to a running Ombud as WhatsApp would, signed with the channel's secret.
    Say {
        /// The tenant whose (first) channel receives the message.
        #[arg(long, default_value = "demo")]
        tenant: String,
        /// The sender's WhatsApp id (phone number).
        #[arg(long, default_value = "919800000001")]
        from: String,
        /// Base URL of the running server (default: http://<listen>).
        #[arg(long)]
        url: Option<String>,
        /// The message text.
        text: String,
    },
    /// Copy a SQLite deployment into PostgreSQL and verify it (counts, checksums).
    MigrateDb {
        /// The source: sqlite:PATH (the server may keep running; the copy reads a snapshot).
        #[arg(long)]
        from: String,
        /// The target: a postgres:// URL of an empty database.
        #[arg(long)]
        to: String,
        /// Copy even if the target already holds data.
        #[arg(long)]
        allow_non_empty: bool,
    },
    /// Load a running (or spawned) Ombud as WhatsApp does and measure it.
    Loadtest(crate::loadtest::LoadtestArgs),
    /// The load test's HTTP-only baseline server (started by `loadtest`).
    #[command(hide = true)]
    LoadtestHello {
        #[arg(long)]
        listen: String,
    },
    /// Benchmarks: `ombud bench dashboard --complaints 1000000`.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Fill a tenant with complaints and messages, for benchmarks and drills.
    Seed {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 1000)]
        complaints: usize,
        /// Distinct citizens the complaints come from.
        #[arg(long, default_value_t = 1000)]
        contacts: usize,
    },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// A person's data: export it, or erase them.
    #[command(subcommand)]
    Contact(contact::ContactCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// The key that seals tenants' secrets.
    #[command(subcommand)]
    SecretKey(SecretKeyCommand),
    /// The audit trail: check it, export it.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Backups: take one, or verify one by restoring it into a scratch place.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Restore a backup into a data directory (refused if it holds a database,
    /// unless --force), or a PostgreSQL backup into a database.
    Restore(backup::RestoreArgs),
}

#[derive(Subcommand, Debug)]
pub enum SecretKeyCommand {
    /// Re-seal every secret under a new key (stop the servers first). With
    /// OMBUD_SECRET_KEY set, give the new key; else secret.key is replaced and
    /// the old one kept as secret.key.previous.
    Rotate {
        /// The new key, 32 bytes in base64 (openssl rand -base64 32).
        #[arg(long, value_name = "BASE64")]
        new_key: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Give someone a role in a tenant: a new account (its one-time password is
    /// printed, once) or, for an email that has one, a membership of it.
    Create(UserCreate),
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Make an API key for a tenant's own systems; the key is printed once.
    Create(ApiKeyCreate),
}

#[derive(Args, Debug)]
pub struct ApiKeyCreate {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// What the key is for, e.g. "ERP sync".
    #[arg(long)]
    pub name: String,
    /// Comma-separated: complaints:read, complaints:write, conversations:read,
    /// conversations:write, webhooks:manage, agents:read, agents:write,
    /// audit:read, contacts:erase.
    #[arg(long)]
    pub scopes: String,
    /// Days until the key stops working (default: never).
    #[arg(long)]
    pub expires_days: Option<u32>,
    /// Requests per minute.
    #[arg(long, default_value_t = ombud_core::api_key::DEFAULT_RATE_LIMIT)]
    pub rate_limit: u32,
}

#[derive(Args, Debug)]
pub struct UserCreate {
    #[arg(long)]
    pub email: String,
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// owner, admin, staff or viewer.
    #[arg(long)]
    pub role: String,
    /// Display name (default: the part of the email before the @).
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant with the default categories and intake agent.
    Create(TenantCreate),
    /// List tenants.
    List,
}

#[derive(Args, Debug)]
pub struct TenantCreate {
    #[arg(long)]
    pub slug: String,
    #[arg(long)]
    pub name: String,
    /// Complaint number prefix, 2-8 letters (PUNE → PUNE-20261123-0001).
    #[arg(long)]
    pub prefix: String,
    #[arg(long, default_value = "en")]
    pub language: String,
    #[arg(long, default_value = "Asia/Kolkata")]
    pub timezone: String,
    /// Start without the built-in categories.
    #[arg(long)]
    pub no_default_categories: bool,
}

/// Runs the command; the exit code is 0 on success, 2 on bad input, 1 otherwise.
pub fn main(cli: Cli) -> ExitCode {
    // Whatever Ombud creates (its data dir, database, WAL, keys, workers'
    // files) is for its own user only.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(refused) = e.downcast_ref::<crate::backup::BackupError>() {
                eprintln!("error: the backup is refused: {refused}");
                return ExitCode::from(refused.exit_code());
            }
            let invalid = e.downcast_ref::<ValidationError>().is_some()
                || matches!(
                    e.downcast_ref::<ProvisionError>(),
                    Some(
                        ProvisionError::Invalid(_)
                            | ProvisionError::NoTenant(_)
                            | ProvisionError::Store(
                                StoreError::Conflict { .. } | StoreError::Invalid(_)
                            )
                    )
                )
                || matches!(
                    e.downcast_ref::<StoreError>(),
                    Some(StoreError::Conflict { .. } | StoreError::Invalid(_))
                );
            eprintln!("error: {e:#}");
            if invalid {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    // sqlx logs PostgreSQL's notices ("… already exists, skipping") at info.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = App::build(&config, AppOptions::default()).await?;
            app.run(shutdown_signal()).await
        }
        Command::Migrate => {
            let store = open_store(&config).await?;
            let status = store.schema_status().await?;
            print_json(
                &json!({"database": config.database_description(), "schema_version": status.applied}),
            );
            Ok(())
        }
        Command::Demo => crate::demo::run(config).await,
        Command::Openapi => {
            println!("{}", ombud_web::api::openapi_json());
            Ok(())
        }
        Command::SecretKey(SecretKeyCommand::Rotate { new_key }) => {
            print_json(&crate::secret_key::rotate(&config, new_key.as_deref()).await?);
            Ok(())
        }
        Command::MigrateDb {
            from,
            to,
            allow_non_empty,
        } => {
            print_json(&crate::migrate_db::run(&config, &from, &to, allow_non_empty).await?);
            Ok(())
        }
        Command::Loadtest(args) => {
            let json = args.json;
            let summary = crate::loadtest::run(args).await?;
            if json {
                print_json(&summary);
            } else {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    crate::loadtest::table(&summary)
                );
            }
            let (lost, duplicated) = (
                summary["lost"].as_u64().unwrap_or(0),
                summary["duplicated"].as_u64().unwrap_or(0),
            );
            if lost > 0 || duplicated > 0 {
                anyhow::bail!("{lost} message(s) lost and {duplicated} duplicated");
            }
            Ok(())
        }
        Command::LoadtestHello { listen } => crate::loadtest::serve_hello(&listen).await,
        Command::Bench(BenchCommand::Webhooks(args)) => {
            crate::bench_api::webhooks(args, config).await
        }
        Command::Bench(BenchCommand::Api(args)) => crate::bench_api::api(args, config).await,
        Command::Bench(BenchCommand::Agents(args)) => {
            crate::bench_agents::agents(args, config).await
        }
        Command::Bench(BenchCommand::Retention(args)) => {
            crate::bench_retention::retention(args, config).await
        }
        Command::Bench(BenchCommand::Intake(args)) => {
            crate::bench_intake::intake(args, config).await
        }
        Command::Bench(BenchCommand::Slowloris(args)) => {
            crate::bench_slowloris::run(args, config).await
        }
        Command::Bench(BenchCommand::Dashboard(args)) => {
            crate::bench::dashboard(args, config).await
        }
        Command::Seed {
            tenant,
            complaints,
            contacts,
        } => {
            let store = open_store(&config).await?;
            print_json(&crate::seed::run(store.as_ref(), &tenant, complaints, contacts).await?);
            Ok(())
        }
        Command::Say {
            tenant,
            from,
            url,
            text,
        } => {
            print_json(&crate::say::run(&config, &tenant, &from, &text, url).await?);
            Ok(())
        }
        Command::Tenant(TenantCommand::Create(args)) => {
            let store = open_store(&config).await?;
            let new = NewTenant {
                id: ombud_core::TenantId::new(),
                slug: TenantSlug::parse(&args.slug)?,
                name: non_empty("name", &args.name)?,
                complaint_prefix: ComplaintPrefix::parse(&args.prefix)?,
                default_language: Language::parse(&args.language)?,
                timezone: TimeZoneName::parse(&args.timezone)?,
            };
            let (tenant, version) = provision::create_tenant(
                store.as_ref(),
                &ombud_core::SystemClock,
                &ombud_engine::Acting::cli(),
                new,
                !args.no_default_categories,
            )
            .await?;
            let categories = store.categories(&tenant.id).await?;
            print_json(&json!({
                "tenant": tenant,
                "agent_version": {"id": version.id, "agent": version.agent_name, "number": version.number},
                "categories": categories.iter().map(|c| &c.slug).collect::<Vec<_>>(),
            }));
            Ok(())
        }
        Command::Apikey(ApiKeyCommand::Create(args)) => {
            let store = open_store(&config).await?;
            print_json(&crate::accounts::create_api_key(store, &args).await?);
            Ok(())
        }
        Command::User(UserCommand::Create(args)) => {
            let store = open_store(&config).await?;
            print_json(&crate::accounts::create_user(store, &args).await?);
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            let store = open_store(&config).await?;
            print_json(&json!({"tenants": store.tenants().await?}));
            Ok(())
        }
        Command::Channel(command) => channel::run(command, &config).await,
        Command::Contact(command) => contact::run(command, &config).await,
        Command::Audit(command) => audit::run(command, &config).await,
        Command::Backup(command) => backup::run(command, config).await,
        Command::Restore(args) => backup::restore(args, config).await,
    }
}

pub(crate) fn non_empty(field: &str, value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        Err(ValidationError::new(field, "must not be empty"))
    } else {
        Ok(v.to_owned())
    }
}

pub(crate) fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// For callers that hold a store as a trait object.
pub async fn tenant_by_slug(store: &dyn Store, slug: &str) -> anyhow::Result<Tenant> {
    let slug = TenantSlug::parse(slug)?;
    Ok(store
        .tenant_by_slug(&slug)
        .await?
        .ok_or_else(|| ProvisionError::NoTenant(slug.to_string()))?)
}

/// The operations, for a command that changes state (no server's workers to
/// wake: a running server finds the work on its next sweep).
pub fn operations(store: std::sync::Arc<dyn ombud_store::Store>) -> ombud_engine::Operations {
    ombud_engine::Operations::new(store, std::sync::Arc::new(ombud_core::SystemClock))
}
