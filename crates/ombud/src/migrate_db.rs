//! `ombud migrate-db --from sqlite:PATH --to postgres://…`: moves a SQLite
//! deployment to PostgreSQL, with a progress bar, then proves the copy with row
//! counts and a checksum per table.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ombud_store::copy;
use ombud_store::postgres::PgStore;

/// Secrets are copied sealed: the PostgreSQL replicas need the key of the
/// SQLite deployment (`OMBUD_SECRET_KEY`, or the `secret.key` beside the file).
pub async fn run(
    config: &crate::Config,
    from: &str,
    to: &str,
    allow_non_empty: bool,
) -> anyhow::Result<serde_json::Value> {
    let source = PathBuf::from(
        from.strip_prefix("sqlite:")
            .ok_or_else(|| ombud_core::ValidationError::new("from", "must be sqlite:PATH"))?,
    );
    if !source.is_file() {
        return Err(ombud_core::ValidationError::new(
            "from",
            format!("{} is not a file", source.display()),
        )
        .into());
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(ombud_core::ValidationError::new("to", "must be a postgres:// URL").into());
    }
    // The key of the deployment the file belongs to.
    let owner = crate::Config {
        data_dir: source
            .parent()
            .map(|p| p.to_owned())
            .unwrap_or_else(|| config.data_dir.clone()),
        ..config.clone()
    };
    let sealer = owner.sealer()?;
    // Bring the source's schema up to date too, so both sides have the same
    // columns (and its secrets sealed).
    let path = source.clone();
    let opening = sealer.clone();
    tokio::task::spawn_blocking(move || ombud_store::sqlite::SqliteStore::open(&path, opening))
        .await?
        .with_context(|| format!("opening {}", source.display()))?;
    let target = PgStore::connect(to, 4, sealer)
        .await
        .context("opening the target")?;

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>20} [{bar:40}] {pos}/{len} rows {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let current = Arc::new(Mutex::new(String::new()));
    let progress: copy::Progress = {
        let (bar, current) = (bar.clone(), current.clone());
        Box::new(move |table, done, total| {
            let mut name = current.lock().unwrap_or_else(|e| e.into_inner());
            if *name != table {
                *name = table.to_owned();
                bar.set_prefix(table.to_owned());
                bar.set_length(total);
            }
            bar.set_position(done);
        })
    };
    let started = std::time::Instant::now();
    let report = copy::sqlite_to_postgres(&source, &target, allow_non_empty, progress).await?;
    bar.finish_and_clear();
    let summary = serde_json::json!({
        "from": source,
        // Secrets were copied sealed, as they were.
        "secret_key": match &config.secret_key {
            Some(_) => "the servers on PostgreSQL keep using OMBUD_SECRET_KEY".to_owned(),
            None => format!(
                "give the content of {} to every server on PostgreSQL as OMBUD_SECRET_KEY",
                owner.data_dir.join("secret.key").display()
            ),
        },
        "ok": report.ok(),
        "seconds": started.elapsed().as_secs_f64(),
        "tables": report.tables.iter().map(|t| serde_json::json!({
            "table": t.table, "rows": t.rows, "checksum_matches": t.matches(),
            "sha256": t.source_sha256,
        })).collect::<Vec<_>>(),
    });
    if !report.ok() {
        let bad: Vec<&str> = report
            .tables
            .iter()
            .filter(|t| !t.matches())
            .map(|t| t.table.as_str())
            .collect();
        anyhow::bail!("checksums differ for {}: {summary}", bad.join(", "));
    }
    Ok(summary)
}
