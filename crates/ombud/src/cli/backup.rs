//! `ombud backup create | verify | prune` and `ombud restore`: the CLI over
//! [`crate::backup`], with a human line or a JSON summary, and refusals that
//! exit with their own codes.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::Config;

#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Take a backup now (the server may keep running): one file in the
    /// backup directory, or in --to.
    Create {
        /// The directory to write it to (default: backup.dir, else <data_dir>/backups).
        #[arg(long)]
        to: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete the backups in the backup directory that retention does not
    /// keep (backup.keep_daily, keep_weekly, keep_monthly; the newest
    /// verified one always stays).
    Prune {
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into a scratch place and read it back; exits 3 if it
    /// is corrupted, 4 truncated, 5 if the key is wrong, 6 if it is too new.
    Verify {
        /// The backup file.
        file: Option<PathBuf>,
        /// The newest backup in the backup directory.
        #[arg(long, conflicts_with = "file")]
        latest: bool,
        /// The age identity file that opens an encrypted backup.
        #[arg(long)]
        identity: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup file.
    file: PathBuf,
    /// The data directory to restore into (a PostgreSQL backup: where its
    /// keys go).
    #[arg(long)]
    data_dir: PathBuf,
    /// Restore a PostgreSQL backup into this database (its schema in the
    /// search path, else public).
    #[arg(long)]
    database_url: Option<String>,
    /// Replace the database (and keys) the directory holds.
    #[arg(long)]
    force: bool,
    /// The age identity file that opens an encrypted backup.
    #[arg(long)]
    identity: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn restore(args: RestoreArgs, mut config: Config) -> anyhow::Result<()> {
    if args.identity.is_some() {
        config.backup.age_identity = args.identity;
    }
    let restored = crate::backup::restore(
        &config,
        &args.file,
        &args.data_dir,
        args.database_url.as_deref(),
        args.force,
        &ombud_engine::Acting::cli(),
    )
    .await;
    Ok(report(restored, args.json, |r| {
        format!(
            "restored {} into {}: {} tenants, {} rows, schema {}{}",
            r.verified.file.display(),
            r.data_dir.display(),
            r.verified.tenants,
            r.verified.manifest.tables.values().sum::<u64>(),
            r.verified.manifest.schema_version,
            r.verified
                .migrated_from
                .map(|v| format!(" (migrated from {v})"))
                .unwrap_or_default()
        )
    })?)
}

pub async fn run(command: BackupCommand, mut config: Config) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create { to, json } => {
            let created =
                crate::backup::take(&config, to.as_deref(), &ombud_engine::Acting::cli(), None)
                    .await
                    .map_err(|e| crate::backup::BackupError::Other(format!("{e:#}")));
            Ok(report(created, json, |c| {
                format!(
                    "backed up {} rows at schema {} to {} ({} bytes{}, {:.1}s)",
                    c.manifest.tables.values().sum::<u64>(),
                    c.manifest.schema_version,
                    c.file.display(),
                    c.bytes,
                    if c.encrypted {
                        ", encrypted"
                    } else {
                        ", NOT encrypted"
                    },
                    c.seconds
                )
            })?)
        }
        BackupCommand::Prune { json } => {
            let dir = config.backup_dir();
            let gone = crate::backup::prune(&dir, &config.backup)
                .map_err(|e| crate::backup::BackupError::Other(format!("{e:#}")));
            Ok(report(gone, json, |gone| {
                format!("{} backups deleted from {}", gone.len(), dir.display())
            })?)
        }
        BackupCommand::Verify {
            file,
            latest,
            identity,
            json,
        } => {
            if identity.is_some() {
                config.backup.age_identity = identity;
            }
            let file = match (file, latest) {
                (Some(f), _) => f,
                (None, true) => crate::backup::latest(&config.backup_dir())?,
                (None, false) => anyhow::bail!("name the backup file, or give --latest"),
            };
            let verified =
                crate::backup::verify(&config, &file, &ombud_engine::Acting::cli(), None).await;
            Ok(report(verified, json, |v| {
                format!(
                    "verified {}: restored and read back {} tenants, {} complaints, {} channels' secrets opened; {} rows match the manifest",
                    v.file.display(),
                    v.tenants,
                    v.complaints_read,
                    v.channels_opened,
                    v.manifest.tables.values().sum::<u64>()
                )
            })?)
        }
    }
}

/// Prints a command's summary: JSON with `json`, else `human`'s line. A
/// refusal goes back to the CLI, which prints it and exits with its code
/// (with `json`, a JSON body says it on stdout too).
pub fn report<T: serde::Serialize>(
    result: Result<T, crate::backup::BackupError>,
    json: bool,
    human: impl Fn(&T) -> String,
) -> Result<(), crate::backup::BackupError> {
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
