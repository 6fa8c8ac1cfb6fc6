//! The server's sealing key, and its rotation (`ombud secret-key rotate`).
//!
//! The key is `secret_key` (`OMBUD_SECRET_KEY`), or else `<data_dir>/secret.key`,
//! made readable by this user only on first start. A rotation writes the new
//! key to `secret.key.next` first, re-seals every secret in one transaction,
//! then renames: `secret.key` becomes `secret.key.previous` (kept for the
//! backups made before) and `secret.key.next` becomes `secret.key`. Cut short
//! anywhere, the database is under one of the two keys and running the
//! command again finishes the job; `ombud serve` refuses to start meanwhile.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ombud_core::seal::SealKey;
use ombud_store::Sealer;
use serde_json::json;

use crate::Config;

const FILE: &str = "secret.key";
const NEXT: &str = "secret.key.next";
const PREVIOUS: &str = "secret.key.previous";

impl Config {
    /// The key that seals tenants' secrets: `secret_key`, else the one in
    /// `<data_dir>/secret.key`, made (readable by this user only) if missing.
    pub fn seal_key(&self) -> anyhow::Result<SealKey> {
        if let Some(key) = &self.secret_key {
            return SealKey::from_base64(key.expose()).map_err(anyhow::Error::msg);
        }
        let next = self.data_dir.join(NEXT);
        if next.exists() {
            anyhow::bail!(
                "{} is left from a key rotation that did not finish: run `ombud secret-key rotate` to finish it",
                next.display()
            );
        }
        let path = self.data_dir.join(FILE);
        let (key, made) = read_or_make(&path, SealKey::from_base64, || {
            let key = SealKey::generate();
            let text = key.to_base64();
            (key, text)
        })?;
        if made {
            tracing::info!(path = %path.display(), "made a new key for sealing tenants' secrets; back it up with the database");
        }
        Ok(key)
    }

    /// What the store seals and opens secrets with.
    pub fn sealer(&self) -> anyhow::Result<Sealer> {
        Ok(Sealer::new(self.seal_key()?))
    }
}

fn read_key(path: &Path) -> anyhow::Result<Option<SealKey>> {
    read_key_file(path, SealKey::from_base64)
}

/// The key in the file at `path`, if there is one.
fn read_key_file<T>(
    path: &Path,
    parse: impl Fn(&str) -> Result<T, String>,
) -> anyhow::Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_key(path: &Path, key: &SealKey) -> anyhow::Result<()> {
    write_key_file(path, &key.to_base64())
}

/// Reads the key file at `path` with `parse`, or makes it with `make` (the
/// key and its text) when there is none; whether it was made. Two processes
/// starting at once on one data directory (a server and a command, or two
/// replicas) end with one key between them: the file appears whole, and the
/// one that comes second reads the first one's key.
pub(crate) fn read_or_make<T>(
    path: &Path,
    parse: impl Fn(&str) -> Result<T, String>,
    make: impl FnOnce() -> (T, String),
) -> anyhow::Result<(T, bool)> {
    let read = || read_key_file(path, &parse);
    if let Some(key) = read()? {
        return Ok((key, false));
    }
    let (key, text) = make();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    match place_key_file(path, &text) {
        Ok(()) => Ok((key, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let theirs = read()?.with_context(|| format!("{} vanished", path.display()))?;
            Ok((theirs, false))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Writes a new key file (`text` and a newline), readable by this user
/// only, and syncs it. Refuses to replace one.
pub(crate) fn write_key_file(path: &Path, text: &str) -> anyhow::Result<()> {
    place_key_file(path, text).with_context(|| format!("creating {}", path.display()))
}

/// Writes the file aside, whole and synced, then links it into place, which
/// fails with `AlreadyExists` if another process got there first: nobody
/// ever reads a key file half written.
fn place_key_file(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut aside = tempfile::Builder::new()
        .prefix(".key-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(dir)?;
    writeln!(aside, "{text}")?;
    aside.as_file().sync_all()?;
    std::fs::hard_link(aside.path(), path)?;
    drop(aside);
    std::fs::File::open(dir)?.sync_all()
}

/// `ombud secret-key rotate`: re-seals every secret under a new key. With
/// `secret_key` set, the new key is `new_key` (the operator keeps it before
/// anything changes) and must then be given to every replica.
pub async fn rotate(config: &Config, new_key: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let given = new_key
        .map(|k| SealKey::from_base64(k).map_err(|e| anyhow::anyhow!("--new-key: {e}")))
        .transpose()?;
    let dir = &config.data_dir;
    let (current, next, in_file) = match &config.secret_key {
        Some(key) => {
            let current = SealKey::from_base64(key.expose()).map_err(anyhow::Error::msg)?;
            let next = given.context(
                "secret_key is set (OMBUD_SECRET_KEY): give the new key with --new-key (openssl rand -base64 32), keep it safe, then run this",
            )?;
            (current, next, false)
        }
        None => {
            let current = read_key(&dir.join(FILE))?.with_context(|| {
                format!(
                    "{} does not exist: nothing is sealed yet",
                    dir.join(FILE).display()
                )
            })?;
            let next = match (read_key(&dir.join(NEXT))?, given) {
                // Finishing a rotation cut short: its key may be in use already.
                (Some(next), _) => next,
                (None, given) => {
                    let next = given.unwrap_or_else(SealKey::generate);
                    write_key(&dir.join(NEXT), &next)?;
                    sync_dir(dir)?;
                    next
                }
            };
            (current, next, true)
        }
    };
    // Whatever was sealed under either key opens; all of it ends under `next`.
    let opening = Sealer::with_fallbacks(current.clone(), vec![next.clone()]);
    let sealing = Sealer::new(next.clone());
    let resealed = match &config.database_url {
        Some(url) => {
            let store = ombud_store::postgres::PgStore::connect(url.expose(), 2, opening.clone())
                .await
                .with_context(|| format!("opening {}", config.database_description()))?;
            ombud_store::postgres::reseal_secrets(store.pool(), &opening, &sealing).await?
        }
        None => {
            // No server may run on this SQLite file meanwhile.
            let _lock = crate::app::lock_data_dir(config)?;
            let path = config.database_path();
            tokio::task::spawn_blocking(move || {
                ombud_store::sqlite::reseal_secrets(&path, &opening, &sealing)
            })
            .await??
        }
    };
    if in_file {
        std::fs::rename(dir.join(FILE), dir.join(PREVIOUS))
            .with_context(|| format!("keeping the old key as {PREVIOUS}"))?;
        std::fs::rename(dir.join(NEXT), dir.join(FILE))
            .with_context(|| format!("putting the new key in {FILE}"))?;
        sync_dir(dir)?;
    }
    Ok(json!({
        "resealed": resealed,
        "key": if in_file { dir.join(FILE).display().to_string() } else { "the key given with --new-key: set OMBUD_SECRET_KEY to it on every replica now".into() },
        "previous_key": in_file.then(|| dir.join(PREVIOUS).display().to_string()),
    }))
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// Files in the data dir that others than this user may read (or the dir
/// itself), for `ombud serve` to warn about.
pub fn readable_by_others(config: &Config) -> Vec<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = &config.data_dir;
    let mut found = Vec::new();
    let open = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o077 != 0);
    if open(dir) {
        found.push(dir.clone());
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() && open(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod race_tests {
    /// Replicas starting at once on one fresh data directory: every one
    /// gets the same keys, and none fails (one used to fail with "File
    /// exists", or read a key file another was still writing).
    #[test]
    fn processes_starting_at_once_share_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let config = crate::Config {
                data_dir: dir.path().join("data"),
                ..crate::Config::default()
            };
            let start = std::sync::Barrier::new(8);
            let keys: Vec<(String, String)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            let seal = config.seal_key().expect("a sealing key");
                            let audit = config.audit_key().expect("an audit key");
                            (seal.to_base64(), audit.to_base64())
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key each");
            let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("data"))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".key-"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
        }
    }
}
