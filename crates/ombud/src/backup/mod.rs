//! Backups that are proven restorable: `ombud backup create`, `verify` and
//! `ombud restore` (docs/backups.md). A backup is one file: the manifest, a
//! consistent snapshot of the database and the keys that open it, compressed
//! and, with `backup.age_recipients`, encrypted with `age`. Verifying restores
//! it into a scratch place and reads it back with the store.

pub mod archive;
mod encrypt;
mod postgres;
pub mod scheduled;

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
    /// The directory backups go to (default `<data_dir>/backups`).
    pub dir: Option<PathBuf>,
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
            dir: None,
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

    pub fn keep(&self) -> ombud_core::generations::Keep {
        ombud_core::generations::Keep {
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
        }
    }
}

impl Config {
    pub fn backup_dir(&self) -> PathBuf {
        self.backup
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
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
    pub file: PathBuf,
    pub bytes: u64,
    pub encrypted: bool,
    pub seconds: f64,
    pub manifest: Manifest,
}

/// Takes a backup (see [`create`]) and records it in every tenant's audit
/// trail as `backup.created` by `acting`.
pub async fn take(
    config: &Config,
    to: Option<&Path>,
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
        &created.file,
        vec![
            FieldChange::set("bytes", created.bytes),
            FieldChange::set("encrypted", created.encrypted),
            FieldChange::set("schema_version", created.manifest.schema_version),
        ],
    )
    .await?;
    Ok(created)
}

/// Writes `action` on the backup `file` into every tenant's trail of the
/// deployment `config` names, if it has a database.
async fn record(
    config: &Config,
    ops: Option<&ombud_engine::Operations>,
    acting: &Acting,
    action: &str,
    file: &Path,
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
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = Target::new("backup", &name, Some(name.clone()));
    Ok(ops
        .record_deployment_action(acting, action, target, changes)
        .await?)
}

/// Takes a backup of the configured deployment into `to` (a directory;
/// default `backup_dir`). The server may keep running.
pub async fn create(
    config: &Config,
    to: Option<&Path>,
    now: DateTime<Utc>,
) -> anyhow::Result<Created> {
    let started = std::time::Instant::now();
    let dir = to
        .map(Path::to_owned)
        .unwrap_or_else(|| config.backup_dir());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(&dir)
        .with_context(|| format!("a scratch directory in {}", dir.display()))?;
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
    let (config, now) = (config.clone(), now);
    let created =
        tokio::task::spawn_blocking(move || package(&config, &dir, scratch, snapshot, now))
            .await??;
    Ok(Created {
        seconds: started.elapsed().as_secs_f64(),
        ..created
    })
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

/// Packs a snapshot and the keys into the backup file in `dir`.
fn package(
    config: &Config,
    dir: &Path,
    scratch: tempfile::TempDir,
    snapshot: Snapshot,
    now: DateTime<Utc>,
) -> anyhow::Result<Created> {
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
    let partial = scratch.path().join("archive");
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
    let sealed = scratch.path().join("sealed");
    let ready = if recipients.is_empty() {
        partial
    } else {
        encrypt::encrypt(&partial, &sealed, &recipients)?;
        sealed
    };
    let file = dir.join(&name);
    std::fs::File::open(&ready)?.sync_all()?;
    std::fs::rename(&ready, &file)?;
    std::fs::File::open(dir)?.sync_all()?;
    let bytes = std::fs::metadata(&file)?.len();
    Ok(Created {
        file,
        bytes,
        encrypted: !recipients.is_empty(),
        seconds: 0.0,
        manifest,
    })
}

/// What `backup verify` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    pub file: PathBuf,
    pub manifest: Manifest,
    /// Tenants read back through the store, with complaints read from each.
    pub tenants: usize,
    pub complaints_read: usize,
    /// Channels whose sealed secrets opened with the backup's key.
    pub channels_opened: usize,
    /// Migrations applied to bring an older backup up to this build.
    pub migrated_from: Option<i64>,
}

/// Restores `file` into `dir` (a scratch place when verifying) and reads it
/// back: checksums, the integrity check, row counts against the manifest,
/// then tenants, complaints and sealed secrets through the store.
pub async fn restore_into(
    config: &Config,
    file: &Path,
    dir: &Path,
) -> Result<(Verified, archive::Unpacked), BackupError> {
    let identity = config.backup.age_identity.as_deref();
    let bar = progress_bar(std::fs::metadata(file)?.len(), "reading");
    let unpacked = {
        let file = file.to_owned();
        let dir = dir.to_owned();
        let identity = identity.map(Path::to_owned);
        let bar = bar.clone();
        tokio::task::spawn_blocking(move || -> Result<archive::Unpacked, BackupError> {
            let tick = |n: u64| bar.inc(n);
            let mut input = encrypt::open(&file, identity.as_deref())?;
            let result = archive::read(input.reader(), &dir, &tick);
            input.finish(result)
        })
        .await
        .map_err(|e| BackupError::Other(e.to_string()))??
    };
    bar.finish_and_clear();
    let manifest = unpacked.manifest.clone();
    let latest = ombud_store::sqlite::latest_schema_version();
    if manifest.schema_version > latest {
        return Err(too_new(&manifest, manifest.schema_version, latest));
    }
    let key = unpacked
        .keys
        .get(SECRET_KEY)
        .and_then(|k| std::str::from_utf8(k).ok())
        .and_then(|k| ombud_core::seal::SealKey::from_base64(k).ok())
        .ok_or_else(|| BackupError::Corrupted("its secret.key is missing or unreadable".into()))?;
    let sealer = ombud_store::Sealer::new(key);
    let mut verified = Verified {
        file: file.to_owned(),
        manifest: manifest.clone(),
        tenants: 0,
        complaints_read: 0,
        channels_opened: 0,
        migrated_from: (manifest.schema_version < latest).then_some(manifest.schema_version),
    };
    match manifest.backend.as_str() {
        "sqlite" => {
            let db = dir.join(DATABASE);
            let (version, _) = ombud_store::sqlite::schema_versions(&db).map_err(other)?;
            if version > latest {
                return Err(too_new(&manifest, version, latest));
            }
            if let Err(problem) = ombud_store::sqlite::integrity(&db).map_err(other)? {
                return Err(BackupError::Corrupted(format!(
                    "its database fails SQLite's integrity check: {problem}"
                )));
            }
            let counts = {
                let conn = ombud_store::sqlite::open_read_only(&db).map_err(other)?;
                ombud_store::sqlite::table_counts(&conn).map_err(other)?
            };
            same_counts(&manifest, &counts)?;
            let store = ombud_store::sqlite::SqliteStore::open(&db, sealer).map_err(other)?;
            read_back(&store, &mut verified).await?;
            drop(store);
            // What the store wrote (a migration) is folded into the file,
            // which may then be moved on its own.
            ombud_store::sqlite::settle(&db, std::time::Duration::from_secs(10)).map_err(other)?;
        }
        "postgres" => {
            let url = config.database_url.as_ref().ok_or_else(|| {
                BackupError::Other(
                    "a PostgreSQL backup is verified on a PostgreSQL server: set database_url (OMBUD_DATABASE_URL) to one where a scratch database may be made".into(),
                )
            })?;
            let schema = manifest
                .pg_schema
                .clone()
                .unwrap_or_else(|| "public".into());
            let scratch =
                postgres::restore_scratch(url.expose(), &dir.join(PG_DUMP), &schema).await?;
            let checked = async {
                let counts = postgres::table_counts(&scratch.url).await.map_err(other)?;
                same_counts(&manifest, &counts)?;
                let store = ombud_store::postgres::PgStore::connect(&scratch.url, 2, sealer)
                    .await
                    .map_err(other)?;
                read_back(&store, &mut verified).await?;
                drop(store);
                Ok::<(), BackupError>(())
            }
            .await;
            scratch.drop_now().await;
            checked?;
        }
        other_backend => {
            return Err(BackupError::Newer(format!(
                "it is a backup of a {other_backend:?} deployment, which this Ombud does not know"
            )))
        }
    }
    Ok((verified, unpacked))
}

fn too_new(manifest: &Manifest, version: i64, latest: i64) -> BackupError {
    BackupError::Newer(format!(
        "it is at schema version {version}, and this Ombud ({}) knows up to {latest}: restore it with Ombud {} or later",
        env!("CARGO_PKG_VERSION"),
        manifest.ombud_version
    ))
}

fn same_counts(
    manifest: &Manifest,
    counts: &std::collections::BTreeMap<String, u64>,
) -> Result<(), BackupError> {
    if *counts != manifest.tables {
        return Err(BackupError::Corrupted(format!(
            "its tables hold other row counts than the manifest says ({})",
            differences(&manifest.tables, counts)
        )));
    }
    Ok(())
}

/// Reads every tenant back through the store, a page of complaints each,
/// and opens every channel's sealed secrets.
async fn read_back(
    store: &dyn ombud_store::Store,
    verified: &mut Verified,
) -> Result<(), BackupError> {
    for tenant in store.tenants().await.map_err(other)? {
        verified.tenants += 1;
        verified.complaints_read += store.complaints(&tenant.id, 20).await.map_err(other)?.len();
        // Decoding a channel opens its sealed secrets: a wrong key fails here.
        let channels = store.channels(&tenant.id).await.map_err(|e| {
            BackupError::WrongKey(format!(
                "the sealed secrets of {} do not open with the backup's secret.key ({e})",
                tenant.slug
            ))
        })?;
        verified.channels_opened += channels.len();
    }
    Ok(())
}

fn other(e: impl std::fmt::Display) -> BackupError {
    BackupError::Other(e.to_string())
}

fn differences(
    want: &std::collections::BTreeMap<String, u64>,
    got: &std::collections::BTreeMap<String, u64>,
) -> String {
    let names: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    names
        .into_iter()
        .filter(|n| want.get(*n) != got.get(*n))
        .take(5)
        .map(|n| {
            format!(
                "{n}: {:?} in the manifest, {:?} found",
                want.get(n),
                got.get(n)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The newest backup in `dir`.
pub fn latest(dir: &Path) -> anyhow::Result<PathBuf> {
    list(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .pop()
        .map(|l| l.file)
        .with_context(|| format!("no backup in {}", dir.display()))
}

/// Verifies `file` by restoring it into a scratch directory.
pub async fn verify(
    config: &Config,
    file: &Path,
    acting: &Acting,
    ops: Option<&ombud_engine::Operations>,
) -> Result<Verified, BackupError> {
    let scratch = tempfile::Builder::new().prefix("ombud-verify-").tempdir()?;
    let (verified, _) = restore_into(config, file, scratch.path()).await?;
    // Beside the file: retention keeps verified backups.
    let at = ops.map(|o| o.now()).unwrap_or_else(Utc::now);
    let marker = json!({"verified_at": at, "tenants": verified.tenants, "complaints_read": verified.complaints_read});
    std::fs::write(marker_of(file), marker.to_string())?;
    let changes = vec![
        FieldChange::set("tenants", verified.tenants),
        FieldChange::set("schema_version", verified.manifest.schema_version),
    ];
    record(config, ops, acting, "backup.verified", file, changes)
        .await
        .map_err(|e| BackupError::Other(format!("verified, but not recorded: {e:#}")))?;
    Ok(verified)
}

/// Restores a PostgreSQL backup: verified first (in a scratch database on
/// the target's server), then `pg_restore`d into the target's schema; the
/// keys go into `dir`, for `secret_key`/`audit_key` or a data directory.
async fn restore_postgres(
    config: &Config,
    file: &Path,
    dir: &Path,
    url: &str,
    force: bool,
    acting: &Acting,
) -> Result<Restored, BackupError> {
    let mut target = config.clone();
    target.database_url = Some(ombud_core::Secret::new(url));
    target.data_dir = dir.to_owned();
    target.secret_key = None;
    target.audit_key = None;
    std::fs::create_dir_all(dir)?;
    let scratch = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(dir)?;
    let (verified, unpacked) = restore_into(&target, file, scratch.path()).await?;
    if verified.manifest.backend != "postgres" {
        return Err(BackupError::Other(
            "this is a SQLite backup: restore it into a data directory (without --database-url), then move it with `ombud migrate-db`".into(),
        ));
    }
    let schema = verified
        .manifest
        .pg_schema
        .clone()
        .unwrap_or_else(|| "public".into());
    postgres::restore_target(url, &scratch.path().join(PG_DUMP), &schema, force).await?;
    write_keys(dir, &unpacked)?;
    let changes = vec![FieldChange::set("created_at", verified.manifest.created_at)];
    record(&target, None, acting, "backup.restored", file, changes)
        .await
        .map_err(|e| BackupError::Other(format!("restored, but not recorded: {e:#}")))?;
    Ok(Restored {
        data_dir: dir.to_owned(),
        verified,
    })
}

/// Writes the backup's keys into `dir` (0600), replacing what is there.
fn write_keys(dir: &Path, unpacked: &archive::Unpacked) -> Result<(), BackupError> {
    for name in [SECRET_KEY, AUDIT_KEY] {
        let Some(data) = unpacked.keys.get(name) else {
            continue;
        };
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        crate::secret_key::write_key_file(&path, String::from_utf8_lossy(data).trim_end())
            .map_err(|e| BackupError::Other(e.to_string()))?;
    }
    Ok(())
}

/// What `ombud restore` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Restored {
    pub data_dir: PathBuf,
    pub verified: Verified,
}

/// Restores `file`: a SQLite backup into the data directory `dir`; a
/// PostgreSQL one into the database `database_url` names, with its keys
/// written into `dir`.
pub async fn restore(
    config: &Config,
    file: &Path,
    dir: &Path,
    database_url: Option<&str>,
    force: bool,
    acting: &Acting,
) -> Result<Restored, BackupError> {
    if let Some(url) = database_url {
        return restore_postgres(config, file, dir, url, force, acting).await;
    }
    let target = dir.join("ombud.db");
    if target.exists() && !force {
        return Err(BackupError::Other(format!(
            "{} holds a database already: restore into an empty directory, or give --force to replace it",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)?;
    let scratch = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(dir)?;
    let (verified, unpacked) = restore_into(config, file, scratch.path()).await?;
    if verified.manifest.backend != "sqlite" {
        return Err(BackupError::Other(
            "this is a PostgreSQL backup: restore it into PostgreSQL with --database-url".into(),
        ));
    }
    for stale in ["ombud.db-wal", "ombud.db-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    std::fs::rename(scratch.path().join(DATABASE), &target)?;
    write_keys(dir, &unpacked)?;
    std::fs::File::open(dir)?.sync_all()?;
    // The restored deployment's trails say where they came from.
    let mut restored = config.clone();
    restored.data_dir = dir.to_owned();
    restored.database_url = None;
    restored.secret_key = None;
    restored.audit_key = None;
    let changes = vec![FieldChange::set("created_at", verified.manifest.created_at)];
    record(&restored, None, acting, "backup.restored", file, changes)
        .await
        .map_err(|e| BackupError::Other(format!("restored, but not recorded: {e:#}")))?;
    Ok(Restored {
        data_dir: dir.to_owned(),
        verified,
    })
}

fn progress_bar(len: u64, what: &'static str) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(what);
    bar
}

/// Prints a command's summary: JSON with `json`, else `human`'s line. A
/// refusal goes back to the CLI, which prints it and exits with its code
/// (with `json`, a JSON body says it on stdout too).
pub fn report<T: serde::Serialize>(
    result: Result<T, BackupError>,
    json: bool,
    human: impl Fn(&T) -> String,
) -> Result<(), BackupError> {
    match result {
        Ok(value) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            Ok(())
        }
        Ok(value) => {
            println!("{}", human(&value));
            Ok(())
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    json!({"ok": false, "error": e.to_string(), "exit_code": e.exit_code()})
                );
            }
            Err(e)
        }
    }
}

/// The file that says a backup was verified: `<backup>.verified`.
pub fn marker_of(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".verified");
    PathBuf::from(name)
}

/// A backup in a directory, as retention and `--latest` see it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub file: PathBuf,
    pub created_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
}

/// The backups in `dir`, oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<Listed>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stamp) = name.strip_prefix("ombud-").and_then(|n| {
            n.strip_suffix(".tar.zst")
                .or_else(|| n.strip_suffix(".tar.zst.age"))
        }) else {
            continue;
        };
        let Ok(created) = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ") else {
            continue;
        };
        let verified_at = std::fs::read_to_string(marker_of(&path))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| serde_json::from_value(v["verified_at"].clone()).ok());
        found.push(Listed {
            file: path,
            created_at: created.and_utc(),
            verified_at,
        });
    }
    found.sort_by_key(|l| l.created_at);
    Ok(found)
}

/// Deletes the backups in `dir` that retention does not keep (see
/// `ombud_core::generations`); the files deleted.
pub fn prune(dir: &Path, settings: &BackupSettings) -> anyhow::Result<Vec<PathBuf>> {
    let zone = ombud_core::TimeZoneName::parse(&settings.timezone)?;
    let listed = list(dir)?;
    let generations: Vec<ombud_core::generations::Generation> = listed
        .iter()
        .map(|l| ombud_core::generations::Generation {
            created_at: l.created_at,
            verified: l.verified_at.is_some(),
        })
        .collect();
    let keep = ombud_core::generations::keep(&generations, settings.keep(), &zone);
    let mut gone = Vec::new();
    for (i, l) in listed.into_iter().enumerate() {
        if keep.contains(&i) {
            continue;
        }
        std::fs::remove_file(&l.file)?;
        let _ = std::fs::remove_file(marker_of(&l.file));
        gone.push(l.file);
    }
    Ok(gone)
}
