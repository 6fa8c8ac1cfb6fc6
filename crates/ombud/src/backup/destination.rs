//! Where backups are kept: a directory, or a prefix in an S3-compatible
//! bucket (`s3://bucket/prefix`). Each backup is one file or object named
//! `ombud-<UTC time>.tar.zst[.age]`; beside it, `<name>.verified` says when
//! it was verified by restoring it, which retention and the metrics read.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::s3;
use super::BackupSettings;

/// A directory, or a prefix in a bucket.
#[derive(Debug, Clone)]
pub enum Destination {
    Dir(PathBuf),
    S3 {
        bucket: Box<s3::Bucket>,
        /// `s3://bucket/prefix`, as the operator wrote it (for messages).
        url: String,
        /// Keys start with this: empty, or a prefix ending with `/`.
        prefix: String,
    },
}

/// A backup in a destination, as retention and `--latest` see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    /// Its file name, or its object's name under the prefix.
    pub name: String,
    /// Its path, or its `s3://` URL: what `verify` and `restore` take.
    pub location: String,
    pub bytes: u64,
    pub created_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
}

/// When a backup named `name` was made, from its name; None when the name
/// is not a backup's.
fn created_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix("ombud-").and_then(|n| {
        n.strip_suffix(".tar.zst")
            .or_else(|| n.strip_suffix(".tar.zst.age"))
    })?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ")
        .ok()
        .map(|t| t.and_utc())
}

fn marker(name: &str) -> String {
    format!("{name}.verified")
}

fn verified_at(marker: &[u8]) -> Option<DateTime<Utc>> {
    let v: serde_json::Value = serde_json::from_slice(marker).ok()?;
    serde_json::from_value(v["verified_at"].clone()).ok()
}

impl Destination {
    /// `to` read: `s3://bucket/prefix`, else a directory.
    pub fn new(to: &str, settings: &BackupSettings) -> anyhow::Result<Self> {
        if !to.starts_with("s3://") {
            return Ok(Self::Dir(PathBuf::from(to)));
        }
        let (bucket, prefix) = s3::parse_url(to).map_err(|e| anyhow::anyhow!("{to}: {e}"))?;
        Ok(Self::S3 {
            bucket: Box::new(s3::Bucket::new(&bucket, &settings.s3)?),
            url: format!("s3://{bucket}/{prefix}")
                .trim_end_matches('/')
                .to_owned(),
            prefix: if prefix.is_empty() {
                prefix
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// A backup named by its path or `s3://` URL: where it is kept, and its
    /// name there.
    pub fn locate(location: &str, settings: &BackupSettings) -> anyhow::Result<(Self, String)> {
        if location.starts_with("s3://") {
            let (place, name) = location
                .rsplit_once('/')
                .filter(|(_, name)| !name.is_empty())
                .with_context(|| format!("{location} names no object"))?;
            return Ok((Self::new(place, settings)?, name.to_owned()));
        }
        let path = Path::new(location);
        let name = path
            .file_name()
            .with_context(|| format!("{location} names no file"))?
            .to_string_lossy()
            .into_owned();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Ok((Self::Dir(dir.to_owned()), name))
    }

    /// The directory or the `s3://` URL.
    pub fn describe(&self) -> String {
        match self {
            Self::Dir(dir) => dir.display().to_string(),
            Self::S3 { url, .. } => url.clone(),
        }
    }

    /// Where the backup `name` is: a path, or an `s3://` URL.
    pub fn location_of(&self, name: &str) -> String {
        match self {
            Self::Dir(dir) => dir.join(name).display().to_string(),
            Self::S3 { url, .. } => format!("{url}/{name}"),
        }
    }

    /// A scratch directory to make a backup in: in the backup directory
    /// itself (so the finished file is renamed into place, never copied),
    /// else in `local` (the data directory) when it exists, else the
    /// system's temp directory.
    pub fn scratch(&self, local: &Path) -> anyhow::Result<tempfile::TempDir> {
        let root = match self {
            Self::Dir(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                dir.clone()
            }
            Self::S3 { .. } if local.is_dir() => local.to_owned(),
            Self::S3 { .. } => std::env::temp_dir(),
        };
        tempfile::Builder::new()
            .prefix(".backup-")
            .tempdir_in(&root)
            .with_context(|| format!("a scratch directory in {}", root.display()))
    }

    /// Keeps the finished backup `file` as `name`.
    pub async fn store(
        &self,
        file: &Path,
        name: &str,
        tick: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()> {
        match self {
            Self::Dir(dir) => {
                let out = std::fs::File::open(file)?;
                out.sync_all()?;
                std::fs::rename(file, dir.join(name))?;
                std::fs::File::open(dir)?.sync_all()?;
                tick(out.metadata()?.len());
                Ok(())
            }
            Self::S3 { bucket, prefix, .. } => {
                bucket
                    .put_file(&format!("{prefix}{name}"), file, tick)
                    .await
            }
        }
    }

    /// A local file holding the backup `name`: the file itself, or the
    /// object downloaded into `scratch`.
    pub async fn fetch(
        &self,
        name: &str,
        scratch: &Path,
        tick: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<PathBuf> {
        match self {
            Self::Dir(dir) => Ok(dir.join(name)),
            Self::S3 { bucket, prefix, .. } => {
                let into = scratch.join(format!("fetched-{name}"));
                bucket
                    .get_file(&format!("{prefix}{name}"), &into, tick)
                    .await?;
                Ok(into)
            }
        }
    }

    /// Writes `<name>.verified` beside the backup.
    pub async fn mark_verified(&self, name: &str, what: &serde_json::Value) -> anyhow::Result<()> {
        let body = what.to_string().into_bytes();
        match self {
            Self::Dir(dir) => Ok(std::fs::write(dir.join(marker(name)), body)?),
            Self::S3 { bucket, prefix, .. } => {
                bucket
                    .put_bytes(&format!("{prefix}{}", marker(name)), body)
                    .await
            }
        }
    }

    /// Deletes the backup `name` and its marker.
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        match self {
            Self::Dir(dir) => {
                std::fs::remove_file(dir.join(name))?;
                let _ = std::fs::remove_file(dir.join(marker(name)));
                Ok(())
            }
            Self::S3 { bucket, prefix, .. } => {
                bucket.delete(&format!("{prefix}{}", marker(name))).await?;
                bucket.delete(&format!("{prefix}{name}")).await
            }
        }
    }

    /// The backups kept here, oldest first.
    pub async fn list(&self) -> anyhow::Result<Vec<Listed>> {
        let mut found = Vec::new();
        match self {
            Self::Dir(dir) => {
                let entries =
                    std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let Some(created_at) = created_at(&name) else {
                        continue;
                    };
                    found.push(Listed {
                        location: self.location_of(&name),
                        bytes: entry.metadata().map(|m| m.len()).unwrap_or(0),
                        created_at,
                        verified_at: std::fs::read(dir.join(marker(&name)))
                            .ok()
                            .and_then(|m| verified_at(&m)),
                        name,
                    });
                }
            }
            Self::S3 { bucket, prefix, .. } => {
                let objects = bucket.list(prefix).await?;
                let names: std::collections::HashSet<&str> = objects
                    .iter()
                    .filter_map(|(key, _)| key.strip_prefix(prefix.as_str()))
                    .collect();
                for (key, bytes) in &objects {
                    let Some(name) = key.strip_prefix(prefix.as_str()) else {
                        continue;
                    };
                    let Some(created_at) = created_at(name) else {
                        continue;
                    };
                    let verified_at = if names.contains(marker(name).as_str()) {
                        bucket
                            .get_bytes(&format!("{prefix}{}", marker(name)))
                            .await?
                            .and_then(|m| verified_at(&m))
                    } else {
                        None
                    };
                    found.push(Listed {
                        name: name.to_owned(),
                        location: self.location_of(name),
                        bytes: *bytes,
                        created_at,
                        verified_at,
                    });
                }
            }
        }
        found.sort_by_key(|l| l.created_at);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_is_located_by_its_path_or_its_url() {
        let settings = BackupSettings {
            s3: s3::S3Settings {
                access_key_id: Some("AKIDEXAMPLE".into()),
                secret_access_key: Some(ombud_core::Secret::new("not-a-real-secret")),
                endpoint: Some("http://127.0.0.1:9000".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let (dest, name) = Destination::locate(
            "s3://ombud-backups/pune/ombud-20261206T030000.000Z.tar.zst",
            &settings,
        )
        .unwrap();
        assert_eq!(dest.describe(), "s3://ombud-backups/pune");
        assert_eq!(name, "ombud-20261206T030000.000Z.tar.zst");
        assert_eq!(
            dest.location_of(&name),
            "s3://ombud-backups/pune/ombud-20261206T030000.000Z.tar.zst"
        );
        let (dest, name) = Destination::locate("backups/ombud-x.tar.zst", &settings).unwrap();
        assert_eq!(
            (dest.describe().as_str(), name.as_str()),
            ("backups", "ombud-x.tar.zst")
        );
        let (dest, _) = Destination::locate("ombud-x.tar.zst", &settings).unwrap();
        assert_eq!(dest.describe(), ".");
        assert!(Destination::locate("s3://ombud-backups/pune/", &settings).is_err());
    }

    #[test]
    fn only_backups_names_are_read_as_backups() {
        assert!(created_at("ombud-20261206T030000.000Z.tar.zst").is_some());
        assert!(created_at("ombud-20261206T030000.000Z.tar.zst.age").is_some());
        assert!(created_at("ombud-20261206T030000.000Z.tar.zst.verified").is_none());
        assert!(created_at("notes.txt").is_none());
    }
}
