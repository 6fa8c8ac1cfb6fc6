//! `ombud loadtest --backup-at`: a backup taken while the load runs, then
//! verified, with the replies' latency while it ran (docs/performance.md).

use std::time::Duration;

use serde_json::{json, Value};

use super::driver::Outcome;

/// A backup taken while the load ran.
pub(super) struct TakenBackup {
    dir: std::path::PathBuf,
    file: std::path::PathBuf,
    bytes: u64,
    /// Seconds into the load when it began and ended.
    from: f64,
    to: f64,
    /// Inbound messages stored (so acknowledged) when it began.
    stored_before: u64,
    _keep: tempfile::TempDir,
}

/// Waits `at` seconds, counts the inbound messages stored so far, then takes
/// a backup of the data directory `dir` while the load goes on.
pub(super) async fn during_load(
    dir: std::path::PathBuf,
    at: f64,
    load_started: std::time::Instant,
) -> anyhow::Result<TakenBackup> {
    tokio::time::sleep(Duration::from_secs_f64(at)).await;
    let config = crate::Config {
        data_dir: dir.clone(),
        ..crate::Config::default()
    };
    let stored_before = inbound_messages(&config.database_path())?;
    let from = load_started.elapsed().as_secs_f64();
    let to_dir = tempfile::Builder::new()
        .prefix("ombud-loadtest-backup")
        .tempdir()?;
    let to = to_dir.path().display().to_string();
    let created = crate::backup::create(&config, Some(&to), chrono::Utc::now()).await?;
    Ok(TakenBackup {
        dir,
        file: created.file.into(),
        bytes: created.bytes,
        from,
        to: load_started.elapsed().as_secs_f64(),
        stored_before,
        _keep: to_dir,
    })
}

fn inbound_messages(db: &std::path::Path) -> anyhow::Result<u64> {
    let conn = ombud_store::sqlite::open_read_only(db)?;
    let n: i64 = conn.query_row(
        "select count(*) from messages where direction = 'inbound'",
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Verifies the backup by restoring it, checks it holds every message
/// stored before it began, and sets the replies' latency while it ran
/// against the ten seconds just before it.
pub(super) async fn summary(b: &TakenBackup, o: &Outcome) -> anyhow::Result<Value> {
    let config = crate::Config {
        data_dir: b.dir.clone(),
        ..crate::Config::default()
    };
    let scratch = tempfile::tempdir()?;
    let (verified, _) = crate::backup::restore_into(&config, &b.file, scratch.path()).await?;
    let in_backup = inbound_messages(&scratch.path().join(crate::backup::archive::DATABASE))?;
    let merged = |range: std::ops::Range<usize>| {
        let mut h = super::driver::histogram();
        for w in o.windows.iter().take(range.end).skip(range.start) {
            let _ = h.add(&w.replies);
        }
        h
    };
    let (from, to) = (
        b.from.floor() as usize,
        (b.to.ceil() as usize).max(b.from as usize + 1),
    );
    let during = merged(from..to);
    // The ten seconds just before it (a run's first seconds are its warm-up).
    let before = merged(from.saturating_sub(10)..from);
    Ok(json!({
        "started_at_s": b.from,
        "seconds": b.to - b.from,
        "bytes": b.bytes,
        "verified_tenants": verified.tenants,
        "inbound_stored_before": b.stored_before,
        "inbound_in_backup": in_backup,
        "holds_every_message_stored_before": in_backup >= b.stored_before,
        "replies_during": super::latency(&during),
        "replies_before": super::latency(&before),
    }))
}
