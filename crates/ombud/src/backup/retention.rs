//! The backups in a directory: which are verified, which is newest, and
//! which retention lets go (`ombud_core::generations`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::BackupSettings;

/// The newest backup in `dir`.
pub fn latest(dir: &Path) -> anyhow::Result<PathBuf> {
    list(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .pop()
        .map(|l| l.file)
        .with_context(|| format!("no backup in {}", dir.display()))
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
