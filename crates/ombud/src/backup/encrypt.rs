//! Encryption to `age` recipients through the operator's `age` (the
//! age-encryption.org/v1 format any `age` or `rage` opens). Ombud does not
//! carry its own implementation of the format.

use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use super::BackupError;

fn age() -> Command {
    Command::new(std::env::var_os("OMBUD_AGE").unwrap_or_else(|| "age".into()))
}

fn missing(e: std::io::Error) -> BackupError {
    BackupError::Other(format!(
        "could not run `age` ({e}): install it (Debian: apt-get install age; or set OMBUD_AGE to its path)"
    ))
}

/// Encrypts `from` into `to` for every recipient.
pub fn encrypt(from: &Path, to: &Path, recipients: &[String]) -> Result<(), BackupError> {
    let mut cmd = age();
    for r in recipients {
        cmd.arg("-r").arg(r);
    }
    let out = cmd
        .arg("-o")
        .arg(to)
        .arg(from)
        .stdin(Stdio::null())
        .output()
        .map_err(missing)?;
    if !out.status.success() {
        return Err(BackupError::Other(format!(
            "age could not encrypt the backup: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// A backup file opened for reading: plain, or decrypted by `age` as it is read.
pub enum Opened {
    Plain(std::fs::File),
    Decrypting(Child, ChildStdout),
}

/// Opens `file`; one ending in `.age` is decrypted with `identity`.
pub fn open(file: &Path, identity: Option<&Path>) -> Result<Opened, BackupError> {
    let encrypted = file.extension().is_some_and(|e| e == "age");
    if !encrypted {
        return Ok(Opened::Plain(std::fs::File::open(file)?));
    }
    let identity = identity.ok_or_else(|| {
        BackupError::WrongKey(
            "it is encrypted: give the age identity that opens it (backup.age_identity, or --identity)"
                .into(),
        )
    })?;
    let mut child = age()
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(missing)?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| BackupError::Other("age's output is not piped".into()))?;
    Ok(Opened::Decrypting(child, out))
}

impl Opened {
    pub fn reader(&mut self) -> &mut dyn Read {
        match self {
            Self::Plain(f) => f,
            Self::Decrypting(_, out) => out,
        }
    }

    /// Waits for `age`: its own failure (a wrong key, a damaged header) says
    /// more than what reading its output found.
    pub fn finish<T>(self, result: Result<T, BackupError>) -> Result<T, BackupError> {
        let Self::Decrypting(child, out) = self else {
            return result;
        };
        // Whatever is left unread: age stops writing once nobody reads.
        drop(out);
        let out = child.wait_with_output()?;
        if out.status.success() {
            return result;
        }
        let why = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        Err(if why.contains("no identity matched") {
            BackupError::WrongKey(format!("none of the given age identities opens it ({why})"))
        } else if result.is_ok() {
            BackupError::Corrupted(format!("age could not decrypt it ({why})"))
        } else if why.contains("broken pipe") || why.is_empty() {
            // age stopped because reading stopped: the reading's error says why.
            return result;
        } else {
            BackupError::Corrupted(format!("age could not decrypt it ({why})"))
        })
    }
}
