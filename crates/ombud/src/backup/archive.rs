//! The backup file: a tar stream, zstd-compressed with zstd's content
//! checksum, optionally encrypted with `age`. Its first entry is the manifest;
//! then the database and the keys, each named in the manifest with its size
//! and SHA-256. A flipped byte fails zstd's checksum or a SHA-256, a cut file
//! ends before zstd's frame does: each is told apart (see [`BackupError`]).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::BackupError;

/// The layout this build writes and reads.
pub const FORMAT: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const DATABASE: &str = "database.sqlite";
/// A PostgreSQL deployment's dump (`pg_dump --format=custom`).
pub const PG_DUMP: &str = "database.pgdump";
pub const SECRET_KEY: &str = "secret.key";
pub const AUDIT_KEY: &str = "audit.key";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub ombud_version: String,
    pub schema_version: i64,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The schema a PostgreSQL dump holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_schema: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Rows per table at the snapshot.
    pub tables: BTreeMap<String, u64>,
    /// Every other entry, in order: its name, size and SHA-256 (hex).
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// SHA-256 (hex) and size of a file.
pub fn digest_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

pub fn digest_bytes(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// What goes in after the manifest: a file on disk, or bytes.
pub enum Part<'a> {
    File(&'a str, &'a Path),
    Bytes(&'a str, &'a [u8]),
}

/// Writes the archive to `out`: manifest first, then `parts` in order.
/// `progress` is told the bytes of each part as they go.
pub fn write(
    out: impl Write,
    manifest: &Manifest,
    parts: &[Part<'_>],
    progress: &dyn Fn(u64),
) -> std::io::Result<()> {
    let mut zstd = zstd::stream::write::Encoder::new(out, 3)?;
    zstd.include_checksum(true)?;
    let mut tar = tar::Builder::new(zstd);
    let manifest_json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    append(
        &mut tar,
        MANIFEST,
        manifest_json.len() as u64,
        &manifest_json[..],
    )?;
    for part in parts {
        match part {
            Part::File(name, path) => {
                let file = std::fs::File::open(path)?;
                let len = file.metadata()?.len();
                append(
                    &mut tar,
                    name,
                    len,
                    Progress {
                        inner: file,
                        progress,
                    },
                )?;
            }
            Part::Bytes(name, data) => append(&mut tar, name, data.len() as u64, *data)?,
        }
    }
    let zstd = tar.into_inner()?;
    let mut out = zstd.finish()?;
    out.flush()
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    len: u64,
    data: impl Read,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(len);
    header.set_mode(0o600);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, data)
}

struct Progress<'a, R> {
    inner: R,
    progress: &'a dyn Fn(u64),
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

/// What reading an archive found: the manifest, and each entry's checksum
/// as read (files written under `dir`, small ones kept in memory too).
pub struct Unpacked {
    pub manifest: Manifest,
    pub files: BTreeMap<String, (String, u64)>,
    pub keys: BTreeMap<String, Vec<u8>>,
}

/// Reads an archive from `input` (decrypted already), writing the database
/// to `dir` and keeping the keys in memory; checks the manifest's format and
/// every entry against it.
pub fn read(input: impl Read, dir: &Path, progress: &dyn Fn(u64)) -> Result<Unpacked, BackupError> {
    let zstd = zstd::stream::read::Decoder::new(input).map_err(BackupError::from_read)?;
    let mut tar = tar::Archive::new(zstd);
    let mut entries = tar.entries().map_err(BackupError::from_read)?;
    let mut manifest: Option<Manifest> = None;
    let mut files = BTreeMap::new();
    let mut keys = BTreeMap::new();
    for entry in &mut entries {
        let mut entry = entry.map_err(BackupError::from_read)?;
        let name = entry
            .path()
            .map_err(BackupError::from_read)?
            .to_string_lossy()
            .into_owned();
        if manifest.is_none() {
            if name != MANIFEST {
                return Err(BackupError::Corrupted(format!(
                    "its first entry is {name:?}, not the manifest: is this an Ombud backup?"
                )));
            }
            let mut text = Vec::new();
            entry
                .read_to_end(&mut text)
                .map_err(BackupError::from_read)?;
            let m: Manifest = serde_json::from_slice(&text)
                .map_err(|e| BackupError::Corrupted(format!("its manifest does not parse: {e}")))?;
            if m.format > FORMAT {
                return Err(BackupError::Newer(format!(
                    "it is in backup format {}, and this Ombud ({}) reads format {FORMAT}: restore it with Ombud {} or later",
                    m.format,
                    env!("CARGO_PKG_VERSION"),
                    m.ombud_version
                )));
            }
            manifest = Some(m);
            continue;
        }
        let safe = [DATABASE, PG_DUMP, SECRET_KEY, AUDIT_KEY].contains(&name.as_str());
        if !safe {
            return Err(BackupError::Corrupted(format!(
                "it holds an unknown entry {name:?}"
            )));
        }
        let mut hasher = Sha256::new();
        let bytes = if name == DATABASE || name == PG_DUMP {
            let mut file = std::fs::File::create(dir.join(&name))?;
            let mut tee = Tee {
                hasher: &mut hasher,
                out: &mut file,
                progress,
            };
            let n = std::io::copy(&mut entry, &mut tee).map_err(BackupError::from_read)?;
            file.sync_all()?;
            n
        } else {
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(BackupError::from_read)?;
            hasher.update(&data);
            let n = data.len() as u64;
            keys.insert(name.clone(), data);
            n
        };
        files.insert(name, (hex::encode(hasher.finalize()), bytes));
    }
    // Past the tar's end: zstd checks its content checksum at the frame's end.
    let mut rest = tar.into_inner();
    let mut sink = [0u8; 8192];
    while rest.read(&mut sink).map_err(BackupError::from_read)? > 0 {}
    let manifest = manifest.ok_or_else(|| BackupError::Truncated("it holds no manifest".into()))?;
    for f in &manifest.files {
        match files.get(&f.name) {
            None => {
                return Err(BackupError::Truncated(format!(
                    "{} is named in the manifest but missing",
                    f.name
                )))
            }
            Some((sha, bytes)) if *sha != f.sha256 || *bytes != f.bytes => {
                return Err(BackupError::Corrupted(format!(
                    "{} does not match the checksum in the manifest",
                    f.name
                )))
            }
            Some(_) => {}
        }
    }
    Ok(Unpacked {
        manifest,
        files,
        keys,
    })
}

struct Tee<'a, W> {
    hasher: &'a mut Sha256,
    out: &'a mut W,
    progress: &'a dyn Fn(u64),
}

impl<W: Write> Write for Tee<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        (self.progress)(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
