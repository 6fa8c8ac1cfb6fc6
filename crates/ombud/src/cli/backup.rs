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
    /// backup destination, or in --to.
    Create {
        /// A directory or s3://bucket/prefix (default: backup.to, else
        /// <data_dir>/backups).
        #[arg(long)]
        to: Option<String>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the backups in the backup destination (or --from), oldest
    /// first, with when each was verified.
    List {
        /// A directory or s3://bucket/prefix (default: backup.to).
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete the backups in the backup destination that retention does not
    /// keep (backup.keep_daily, keep_weekly, keep_monthly; the newest
    /// verified one always stays).
    Prune {
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into a scratch place and read it back; exits 3 if it
    /// is corrupted, 4 truncated, 5 if the key is wrong, 6 if it is too new.
    Verify {
        /// The backup: a file, or an s3://bucket/prefix/name URL.
        #[arg(required_unless_present = "latest")]
        file: Option<String>,
        /// The newest backup in the backup destination.
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
    /// The backup: a file, or an s3://bucket/prefix/name URL.
    #[arg(required_unless_present = "latest")]
    file: Option<String>,
    /// The newest backup in the backup destination (backup.to).
    #[arg(long, conflicts_with = "file")]
    latest: bool,
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
    let file = named_or_latest(args.file, &config).await?;
    let restored = crate::backup::restore(
        &config,
        &file,
        &args.data_dir,
        args.database_url.as_deref(),
        args.force,
        &ombud_engine::Acting::cli(),
    )
    .await;
    Ok(report(restored, args.json, |r| {
        format!(
            "restored {} into {}: {} tenants, {} rows, schema {}{}",
            r.verified.file,
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
                    .map_err(crate::backup::BackupError::other);
            Ok(report(created, json, |c| {
                format!(
                    "backed up {} rows at schema {} to {} ({} bytes{}, {:.1}s)",
                    c.manifest.tables.values().sum::<u64>(),
                    c.manifest.schema_version,
                    c.file,
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
        BackupCommand::List { from, json } => {
            let dest = match from {
                Some(from) => crate::backup::Destination::new(&from, &config.backup)?,
                None => config.backup_destination()?,
            };
            let listed = dest.list().await.map_err(crate::backup::BackupError::other);
            Ok(report(listed, json, |listed| {
                let mut lines: Vec<String> = listed
                    .iter()
                    .map(|l| {
                        format!(
                            "{}  {} bytes  {}",
                            l.location,
                            l.bytes,
                            l.verified_at
                                .map(|at| format!("verified {}", at.format("%Y-%m-%d %H:%M UTC")))
                                .unwrap_or_else(|| "NOT verified".into())
                        )
                    })
                    .collect();
                lines.push(format!("{} backups in {}", listed.len(), dest.describe()));
                lines.join("\n")
            })?)
        }
        BackupCommand::Prune { json } => {
            let dest = config.backup_destination()?;
            let gone = crate::backup::prune(&dest, &config.backup)
                .await
                .map_err(crate::backup::BackupError::other);
            Ok(report(gone, json, |gone| {
                format!("{} backups deleted from {}", gone.len(), dest.describe())
            })?)
        }
        BackupCommand::Verify {
            file,
            latest: _,
            identity,
            json,
        } => {
            if identity.is_some() {
                config.backup.age_identity = identity;
            }
            let file = named_or_latest(file, &config).await?;
            let verified =
                crate::backup::verify(&config, &file, &ombud_engine::Acting::cli(), None).await;
            Ok(report(verified, json, |v| {
                format!(
                    "verified {}: restored and read back {} tenants, {} complaints, {} channels' secrets opened; {} rows match the manifest",
                    v.file,
                    v.tenants,
                    v.complaints_read,
                    v.channels_opened,
                    v.manifest.tables.values().sum::<u64>()
                )
            })?)
        }
    }
}

/// The backup named, else (`--latest`, which clap requires then) the
/// newest in the backup destination.
async fn named_or_latest(file: Option<String>, config: &Config) -> anyhow::Result<String> {
    match file {
        Some(file) => Ok(file),
        None => crate::backup::latest(&config.backup_destination()?).await,
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
