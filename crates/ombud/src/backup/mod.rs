//! Backups that are proven restorable: `ombud backup create`, `verify` and
//! `ombud restore` (docs/backups.md). A backup is one file: the manifest, a
//! consistent snapshot of the database and the keys that open it, compressed
//! and, with `backup.age_recipients`, encrypted with `age`. Verifying restores
//! it into a scratch place and reads it back with the store.

pub mod archive;
mod destination;
mod encrypt;
mod postgres;
mod restore;
mod retention;
pub mod s3;
pub mod scheduled;

pub use destination::{Destination, Listed};
pub use restore::{restore, restore_into, verify, Restored, Verified};
pub use retention::{latest, prune};

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::Config;
use archive::{Manifest, Part, AUDIT_KEY, DATABASE, PG_DUMP, SECRET_KEY};
use ombud_core::audit::{Acting, FieldChange, Target};

/// Why a backup was refused: each a different exit code, for scripts.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("corrupted: {0}")]
    Corrupted(String),
    #[error("truncated: {0}")]
    Truncated(String),
    #[error("wrong key: {0}")]
    WrongKey(String),
    #[error("too new: {0}")]
    Newer(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

impl BackupError {
    /// An error reading the archive: one that ends early is a cut file,
    /// anything else a damaged one.
    pub fn from_read(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof
            || e.to_string().contains("incomplete frame")
        {
            Self::Truncated(format!("the file ends before the backup does ({e})"))
        } else {
            Self::Corrupted(format!("it does not decompress ({e})"))
        }
    }

    /// Any other failure (the store, S3, a missing file), with its causes.
    pub fn other(e: anyhow::Error) -> Self {
        Self::Other(format!("{e:#}"))
    }

    /// `ombud backup verify` and `restore` exit with these.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Corrupted(_) => 3,
            Self::Truncated(_) => 4,
            Self::WrongKey(_) => 5,
            Self::Newer(_) => 6,
            Self::Io(_) | Self::Other(_) => 1,
        }
    }
}

/// Where backups go and how they are sealed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// Where backups go: a directory, or `s3://bucket/prefix` (default
    /// `<data_dir>/backups`).
    pub to: Option<String>,
    /// The S3-compatible store `s3://` destinations are in.
    pub s3: s3::S3Settings,
    /// `age` recipients (`age1…` public keys, comma-separated) the backups
    /// are encrypted to. Unset: backups are not encrypted, and a warning says so.
    pub age_recipients: String,
    /// An `age` identity file that opens them, for verify and restore.
    pub age_identity: Option<PathBuf>,
    /// When `ombud serve` takes a backup (cron, five fields, in `timezone`);
    /// unset: never. Each is verified right after it is made.
    pub schedule: Option<String>,
    /// The zone `schedule` and the retention's days are read in.
    pub timezone: String,
    /// Verified backups kept: the newest of each of the last this many days,
    /// ISO weeks and months. The newest verified backup always stays.
    pub keep_daily: usize,
    pub keep_weekly: usize,
    pub keep_monthly: usize,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            to: None,
            s3: Default::default(),
            age_recipients: String::new(),
            age_identity: None,
            schedule: None,
            timezone: "UTC".into(),
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 6,
        }
    }
}

impl BackupSettings {
    /// The schedule, checked; None when backups are not scheduled.
    pub fn schedule(
        &self,
    ) -> Result<Option<ombud_core::schedule::Schedule>, ombud_core::ValidationError> {
        let Some(text) = self.schedule.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let zone = ombud_core::TimeZoneName::parse(&self.timezone)
            .map_err(|e| ombud_core::ValidationError::new("backup.timezone", e.reason))?;
        ombud_core::schedule::Schedule::parse("backup.schedule", text, &zone).map(Some)
    }

    /// Checks the settings: the key that is wrong, and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let recipients = self.age_recipients.split(',').map(str::trim);
        for r in recipients.filter(|r| !r.is_empty()) {
            if !(r.starts_with("age1") || r.starts_with("ssh-")) {
                return Err((
                    "backup.age_recipients",
                    "each must be an age public key (age1…) or an SSH public key, comma-separated"
                        .into(),
                ));
            }
        }
        if let Some(to) = self.to.as_deref() {
            if to.trim().is_empty() {
                return Err((
                    "backup.to",
                    "must be a directory or s3://bucket/prefix".into(),
                ));
            }
            if to.starts_with("s3://") {
                s3::parse_url(to).map_err(|reason| ("backup.to", reason))?;
            }
        }
        if let Some(endpoint) = self.s3.endpoint.as_deref() {
            let scheme = endpoint
                .parse::<reqwest::Url>()
                .map(|u| u.scheme().to_owned());
            if !matches!(scheme.as_deref(), Ok("http" | "https")) {
                return Err((
                    "backup.s3.endpoint",
                    "must be an http:// or https:// URL".into(),
                ));
            }
        }
        self.s3
            .keys()
            .map_err(|reason| ("backup.s3.access_key_id", reason.to_owned()))?;
        self.schedule().map_err(|e| {
            let key = if e.field == "backup.timezone" {
                "backup.timezone"
            } else {
                "backup.schedule"
            };
            (key, e.reason)
        })?;
        Ok(())
    }

    pub fn keep(&self) -> ombud_core::generations::Keep {
        ombud_core::generations::Keep {
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
        }
    }
}

impl Config {
    /// Where backups go: `backup.to`, else `<data_dir>/backups`.
    pub fn backup_destination(&self) -> anyhow::Result<Destination> {
        match &self.backup.to {
            Some(to) => Destination::new(to, &self.backup),
            None => Ok(Destination::Dir(self.data_dir.join("backups"))),
        }
    }

    fn age_recipients(&self) -> Vec<String> {
        self.backup
            .age_recipients
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// What `backup create` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Created {
    /// Its path, or its `s3://` URL.
    pub file: String,
    /// Its file or object name.
    pub name: String,
    pub bytes: u64,
    pub encrypted: bool,
    pub seconds: f64,
    pub manifest: Manifest,
}

/// Takes a backup (see [`create`]) and records it in every tenant's audit
/// trail as `backup.created` by `acting`.
pub async fn take(
    config: &Config,
    to: Option<&str>,
    acting: &Acting,
    ops: Option<&ombud_engine::Operations>,
) -> anyhow::Result<Created> {
    let now = ops.map(|o| o.now()).unwrap_or_else(Utc::now);
    let created = create(config, to, now).await?;
    record(
        config,
        ops,
        acting,
        "backup.created",
        &created.name,
        vec![
            FieldChange::set("bytes", created.bytes),
            FieldChange::set("encrypted", created.encrypted),
            FieldChange::set("schema_version", created.manifest.schema_version),
        ],
    )
    .await?;
    Ok(created)
}

/// Writes `action` on the backup `name` into every tenant's trail of the
/// deployment `config` names, if it has a database.
async fn record(
    config: &Config,
    ops: Option<&ombud_engine::Operations>,
    acting: &Acting,
    action: &str,
    name: &str,
    changes: Vec<FieldChange>,
) -> anyhow::Result<usize> {
    let opened;
    let ops = match ops {
        Some(ops) => ops,
        None => {
            if config.database_url.is_none() && !config.database_path().exists() {
                return Ok(0);
            }
            opened = crate::cli::operations(crate::app::open_store(config).await?);
            &opened
        }
    };
    let target = Target::new("backup", name, Some(name.to_owned()));
    Ok(ops
        .record_deployment_action(acting, action, target, changes)
        .await?)
}

/// Takes a backup of the configured deployment into `to` (a directory or
/// `s3://bucket/prefix`; default `backup.to`). The server may keep running.
pub async fn create(
    config: &Config,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<Created> {
    let started = std::time::Instant::now();
    let dest = match to {
        Some(to) => Destination::new(to, &config.backup)?,
        None => config.backup_destination()?,
    };
    let scratch = dest.scratch(&config.data_dir)?;
    let snapshot = match &config.database_url {
        Some(url) => {
            let db = scratch.path().join(PG_DUMP);
            let dumped = postgres::dump(url.expose(), &db).await?;
            Snapshot {
                backend: "postgres",
                file: (PG_DUMP, db),
                schema_version: dumped.schema_version,
                tables: dumped.tables,
                pg_schema: Some(dumped.schema),
            }
        }
        None => {
            let db = scratch.path().join(DATABASE);
            let database = config.database_path();
            if !database.exists() {
                anyhow::bail!("no database at {}", database.display());
            }
            let copy = {
                let (from, into) = (database.clone(), db.clone());
                tokio::task::spawn_blocking(move || ombud_store::sqlite::snapshot(&from, &into))
                    .await?
                    .with_context(|| format!("copying {}", database.display()))?
            };
            Snapshot {
                backend: "sqlite",
                file: (DATABASE, db),
                schema_version: copy.schema_version,
                tables: copy.tables,
                pg_schema: None,
            }
        }
    };
    let packed = {
        let (config, dir) = (config.clone(), scratch.path().to_owned());
        tokio::task::spawn_blocking(move || package(&config, &dir, snapshot, now)).await??
    };
    let bytes = std::fs::metadata(&packed.file)?.len();
    let bar = progress_bar(bytes, "storing");
    let tick = |n: u64| bar.inc(n);
    dest.store(&packed.file, &packed.name, &tick)
        .await
        .with_context(|| format!("storing the backup in {}", dest.describe()))?;
    bar.finish_and_clear();
    Ok(Created {
        file: dest.location_of(&packed.name),
        name: packed.name,
        bytes,
        encrypted: packed.encrypted,
        seconds: started.elapsed().as_secs_f64(),
        manifest: packed.manifest,
    })
}

/// A finished backup file, in the scratch directory.
struct Packed {
    file: PathBuf,
    name: String,
    encrypted: bool,
    manifest: Manifest,
}

/// A consistent copy of the database, in the scratch directory.
struct Snapshot {
    backend: &'static str,
    /// Its entry name and where it is.
    file: (&'static str, PathBuf),
    schema_version: i64,
    tables: std::collections::BTreeMap<String, u64>,
    pg_schema: Option<String>,
}

/// Packs a snapshot and the keys into a backup file in `scratch`.
fn package(
    config: &Config,
    scratch: &Path,
    snapshot: Snapshot,
    now: DateTime<Utc>,
) -> anyhow::Result<Packed> {
    let recipients = config.age_recipients();
    if recipients.is_empty() {
        tracing::warn!("backup.age_recipients is not set: this backup is not encrypted, and it holds citizens' personal data and the keys that open their secrets");
    }
    let (entry, db) = (snapshot.file.0, snapshot.file.1.as_path());
    let secret = format!("{}\n", config.seal_key()?.to_base64());
    let audit = format!("{}\n", config.audit_key()?.to_base64());
    let (db_sha, db_bytes) = archive::digest_file(db)?;
    let created_at = now;
    let manifest = Manifest {
        format: archive::FORMAT,
        ombud_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: snapshot.schema_version,
        backend: snapshot.backend.into(),
        pg_schema: snapshot.pg_schema,
        created_at,
        tables: snapshot.tables,
        files: vec![
            archive::FileEntry {
                name: entry.into(),
                bytes: db_bytes,
                sha256: db_sha,
            },
            archive::FileEntry {
                name: SECRET_KEY.into(),
                bytes: secret.len() as u64,
                sha256: archive::digest_bytes(secret.as_bytes()),
            },
            archive::FileEntry {
                name: AUDIT_KEY.into(),
                bytes: audit.len() as u64,
                sha256: archive::digest_bytes(audit.as_bytes()),
            },
        ],
    };
    let name = format!(
        "ombud-{}.tar.zst{}",
        created_at.format("%Y%m%dT%H%M%S%.3fZ"),
        if recipients.is_empty() { "" } else { ".age" }
    );
    let partial = scratch.join("archive");
    let bar = progress_bar(db_bytes, "backing up");
    {
        let out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        let tick = |n: u64| bar.inc(n);
        archive::write(
            out,
            &manifest,
            &[
                Part::File(entry, db),
                Part::Bytes(SECRET_KEY, secret.as_bytes()),
                Part::Bytes(AUDIT_KEY, audit.as_bytes()),
            ],
            &tick,
        )?;
    }
    bar.finish_and_clear();
    let sealed = scratch.join("sealed");
    let ready = if recipients.is_empty() {
        partial
    } else {
        encrypt::encrypt(&partial, &sealed, &recipients)?;
        sealed
    };
    Ok(Packed {
        file: ready,
        name,
        encrypted: !recipients.is_empty(),
        manifest,
    })
}

fn progress_bar(len: u64, what: &'static str) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    // Without a length (a download): how much so far, and how fast.
    let (bar, template) = if len == 0 {
        (
            indicatif::ProgressBar::new_spinner(),
            "{msg} {spinner} {bytes} {binary_bytes_per_sec}",
        )
    } else {
        (
            indicatif::ProgressBar::new(len),
            "{msg} {bar:40} {bytes}/{total_bytes} {eta}",
        )
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(what);
    bar
}
