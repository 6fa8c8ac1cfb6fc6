//! Reading a backup back: restoring it into a scratch place to verify it,
//! or into a deployment (`ombud restore`).

use std::path::{Path, PathBuf};

use super::*;
/// What `backup verify` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    /// Its path, or its `s3://` URL.
    pub file: String,
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
        file: file.display().to_string(),
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

/// The backup at `location` (a path or an `s3://` URL), where it is kept,
/// its name there, and a local file holding it (fetched into `scratch`
/// when it is not local).
async fn fetch(
    config: &Config,
    location: &str,
    scratch: &Path,
) -> Result<(Destination, String, PathBuf), BackupError> {
    let (dest, name) = Destination::locate(location, &config.backup).map_err(BackupError::other)?;
    let bar = match dest {
        Destination::S3 { .. } => progress_bar(0, "fetching"),
        Destination::Dir(_) => indicatif::ProgressBar::hidden(),
    };
    let tick = |n: u64| bar.inc(n);
    let local = dest
        .fetch(&name, scratch, &tick)
        .await
        .map_err(BackupError::other)?;
    bar.finish_and_clear();
    if !local.is_file() {
        return Err(BackupError::Other(format!("{location}: no such backup")));
    }
    Ok((dest, name, local))
}

/// Restores `file` into `dir` after fetching it there when it is not local.
async fn fetch_and_restore_into(
    config: &Config,
    location: &str,
    dir: &Path,
) -> Result<(Verified, archive::Unpacked, Destination, String), BackupError> {
    let (dest, name, local) = fetch(config, location, dir).await?;
    let (mut verified, unpacked) = restore_into(config, &local, dir).await?;
    verified.file = location.to_owned();
    Ok((verified, unpacked, dest, name))
}

/// Verifies the backup at `location` (a path or an `s3://` URL) by
/// restoring it into a scratch directory; marks it verified beside it.
pub async fn verify(
    config: &Config,
    location: &str,
    acting: &Acting,
    ops: Option<&ombud_engine::Operations>,
) -> Result<Verified, BackupError> {
    let scratch = tempfile::Builder::new().prefix("ombud-verify-").tempdir()?;
    let (verified, _, dest, name) =
        fetch_and_restore_into(config, location, scratch.path()).await?;
    // Beside the file: retention keeps verified backups.
    let at = ops.map(|o| o.now()).unwrap_or_else(Utc::now);
    let marker = json!({"verified_at": at, "tenants": verified.tenants, "complaints_read": verified.complaints_read});
    dest.mark_verified(&name, &marker)
        .await
        .map_err(|e| BackupError::Other(format!("verified, but not marked so: {e:#}")))?;
    let changes = vec![
        FieldChange::set("tenants", verified.tenants),
        FieldChange::set("schema_version", verified.manifest.schema_version),
    ];
    record(config, ops, acting, "backup.verified", &name, changes)
        .await
        .map_err(|e| BackupError::Other(format!("verified, but not recorded: {e:#}")))?;
    Ok(verified)
}

/// Restores a PostgreSQL backup: verified first (in a scratch database on
/// the target's server), then `pg_restore`d into the target's schema; the
/// keys go into `dir`, for `secret_key`/`audit_key` or a data directory.
async fn restore_postgres(
    config: &Config,
    location: &str,
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
    let (verified, unpacked, _, name) =
        fetch_and_restore_into(&target, location, scratch.path()).await?;
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
    record(&target, None, acting, "backup.restored", &name, changes)
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
    location: &str,
    dir: &Path,
    database_url: Option<&str>,
    force: bool,
    acting: &Acting,
) -> Result<Restored, BackupError> {
    if let Some(url) = database_url {
        return restore_postgres(config, location, dir, url, force, acting).await;
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
    let (verified, unpacked, _, name) =
        fetch_and_restore_into(config, location, scratch.path()).await?;
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
    record(&restored, None, acting, "backup.restored", &name, changes)
        .await
        .map_err(|e| BackupError::Other(format!("restored, but not recorded: {e:#}")))?;
    Ok(Restored {
        data_dir: dir.to_owned(),
        verified,
    })
}
