//! The embedded default: one SQLite file in WAL mode. All writes go through one
//! writer thread that groups whatever is waiting into a single transaction (group
//! commit); reads use a small pool of connections on blocking threads. Nothing
//! blocking ever runs on the async runtime's threads.

mod accounts;
mod agents;
mod api_keys;
mod attachments;
pub(crate) mod audit;
mod complaints;
mod counters;
mod directory;
mod erase;
mod handoff;
mod idempotency;
mod inbound;
mod jobs;
mod leases;
mod outbox;
mod resets;
mod retention;
mod rows;
mod runs;
mod schema;
mod secrets;
pub use secrets::reseal_secrets;
pub use snapshot::{
    integrity, open_read_only, schema_versions, settle, snapshot, table_counts, Snapshot,
};
mod snapshot;
mod surveys;
mod templates;
mod tenants;
mod test_chats;
mod webhooks;
mod work;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::catalog::Catalog;
use crate::{Backlog, HealthStore, Pending, SchemaStatus, Sealer, StoreError, StoreResult};
use rows::{all, one};
pub use schema::migrate;

/// The newest schema version this build knows (both backends share the
/// numbering).
pub fn latest_schema_version() -> i64 {
    schema::latest_version()
}
use writer::Writer;

const READERS: usize = 4;
const STATEMENT_CACHE: usize = 256;
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
const WRITER_BUSY_STEP: std::time::Duration = std::time::Duration::from_micros(100);
/// 5 s of `WRITER_BUSY_STEP`s, the busy timeout of every other connection.
const WRITER_BUSY_STEPS: i32 = 50_000;
/// WAL frames (pages) past which a checkpoint also restarts the WAL.
const WAL_RESTART_FRAMES: i64 = 16_384;
/// Passive passes after the first, before a restart, to copy what was
/// written during the pass before; the restart copies what is left with the
/// writer held.
const CATCH_UP_PASSES: usize = 4;
/// Frames left uncopied that are few enough to restart with.
const RESTART_LEFT_FRAMES: i64 = 256;
/// How many 100 µs waits a WAL restart may spend on readers before giving up.
const CHECKPOINT_MAX_WAITS: i32 = 100;

/// The SQLite store. Cheap to clone; all clones share the writer and the pool.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Writer,
    /// Idle read connections; `reader_slots` bounds how many exist, so a burst of
    /// reads waits for a connection instead of opening (and parsing the schema
    /// of) a new one each.
    readers: Mutex<Vec<Connection>>,
    reader_slots: Arc<Semaphore>,
    leases: leases::Leases,
    catalog: Arc<Catalog>,
    /// Seals and opens tenants' secrets (see [`crate::sealing`]).
    sealer: Arc<Sealer>,
    /// Rate limits' counters: one process, so in memory.
    counters: crate::counters::MemoryCounters,
    /// Tells the checkpointer thread to stop when the store goes.
    checkpointer_stop: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.checkpointer_stop.store(true, Ordering::Relaxed);
    }
}

impl SqliteStore {
    /// Opens (creating if needed, readable by this user only) the database
    /// at `path`, applies any pending migrations, and seals secrets that rows
    /// from before sealing still hold in plain text.
    pub fn open(path: &Path, sealer: Sealer) -> StoreResult<Self> {
        create_private(path)?;
        let conn = open_connection(path, false)?;
        schema::migrate(&conn)?;
        secrets::seal_in_place(&conn, &sealer)?;
        // Checkpoints copy the WAL back into the database file; left to the
        // writer they would stall every write behind them, so a thread of their
        // own does them.
        conn.execute_batch("pragma wal_autocheckpoint = 0")
            .map_err(StoreError::internal)?;
        // While a checkpoint restarts the WAL, the writer must wait; SQLite's
        // own busy handler sleeps 1, 2, 5, 10… ms per try, up to ~25 ms past
        // the moment the lock is free, and every write of the server waits
        // with it. Look again every 100 µs instead, for as long as the busy
        // timeout would have waited.
        conn.busy_handler(Some(|waited| {
            std::thread::sleep(WRITER_BUSY_STEP);
            waited < WRITER_BUSY_STEPS
        }))
        .map_err(StoreError::internal)?;
        let writer = Writer::start(conn)?;
        let checkpointer_stop = Arc::new(AtomicBool::new(false));
        start_checkpointer(open_connection(path, false)?, checkpointer_stop.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer,
                readers: Mutex::new(Vec::new()),
                reader_slots: Arc::new(Semaphore::new(READERS)),
                leases: Default::default(),
                catalog: Default::default(),
                sealer: Arc::new(sealer),
                counters: Default::default(),
                checkpointer_stop,
            }),
        })
    }

    fn leases(&self) -> leases::LeasesGuard<'_> {
        self.inner.leases.lock()
    }

    fn catalog(&self) -> &Arc<Catalog> {
        &self.inner.catalog
    }

    fn sealer(&self) -> Arc<Sealer> {
        self.inner.sealer.clone()
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` inside the writer's current group transaction. The result is
    /// returned only after that transaction has committed. `f` may run more than
    /// once (after a rollback caused by another job), so it must not change
    /// anything but the database.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.submit(f).await
    }

    /// Runs `f` on the writer's connection, as a job of its current group,
    /// for the reads every message makes. In WAL mode a read connection throws
    /// its page cache away whenever anything was committed since its last
    /// read, which under load is every time, so each of its reads starts cold
    /// (~50 µs for a run's context, measured); the writer's cache stays warm.
    /// `f` sees the group's earlier writes, and its answer is released only
    /// once they are committed, as for any job; it must not write.
    pub(crate) async fn read_warm<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.submit(f).await
    }

    /// Runs `f` on a pooled read connection on a blocking thread.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let slot = inner
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(StoreError::internal)?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let pooled = inner.readers.lock().map_err(StoreError::internal)?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&inner.path, true)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(StoreError::internal)?
    }
}

/// Checkpoints the WAL every `CHECKPOINT_EVERY` until `stop` is set (see
/// `checkpoint`).
fn start_checkpointer(conn: Connection, stop: Arc<AtomicBool>) -> StoreResult<()> {
    std::thread::Builder::new()
        .name("ombud-sqlite-checkpoint".into())
        .spawn(move || {
            // A restart holds the writer while it waits for readers: wait in
            // short steps and give up after about 10 ms (the next round tries
            // again) rather than SQLite's default of sleeping 1 ms and more per
            // step for up to the busy timeout.
            let waits = conn.busy_handler(Some(|waited| {
                std::thread::sleep(std::time::Duration::from_micros(100));
                waited < CHECKPOINT_MAX_WAITS
            }));
            if let Err(e) = waits {
                tracing::warn!(error = %e, "could not set the checkpointer's busy handler");
            }
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = checkpoint(&conn, WAL_RESTART_FRAMES) {
                    tracing::warn!(error = %e, "sqlite checkpoint failed; will try again");
                }
            }
        })
        .map_err(StoreError::internal)?;
    Ok(())
}

/// Copies the WAL into the database without holding up the writer (passive),
/// and restarts the WAL from its beginning once it holds more than
/// `WAL_RESTART_FRAMES` pages.
///
/// The restart is what keeps the WAL bounded: while reads never stop and the
/// writer commits every few milliseconds, SQLite never rewinds the log on its
/// own, and it grows by every page ever written (gigabytes in a minute under
/// load, with the WAL index mapped into memory growing with it). Restarting on
/// every round (4 a second) stalled the writer for 10–25 % of its time;
/// restarting only past the bound (about once a second at full load, never
/// when quiet, where the writer rewinds the fully copied log by itself) keeps
/// the WAL under ~64 MB plus one round's growth.
///
/// A restart holds the writer while it copies what the passive pass left and
/// syncs the database file, and that sync used to carry every page the pass
/// had copied: 30–120 ms a restart, longer as the run went on (the disk busier
/// with the WAL's own writes). So before restarting, the filesystem holding
/// the database is synced (the WAL's pages with it; on a filesystem shared
/// with other busy writers, theirs too) and the frames written meanwhile are
/// copied, both without the writer held; the restart then syncs only what is
/// left (measured in a 150 s soak at 1,729 msgs/s: a restart's median stall
/// 32–118 ms before, 15–49 ms after).
/// Returns whether it restarted the WAL.
fn checkpoint(conn: &Connection, restart_past: i64) -> rusqlite::Result<bool> {
    let frames: i64 = conn.query_row("pragma wal_checkpoint(passive)", [], |r| r.get(1))?;
    if frames <= restart_past {
        return Ok(false);
    }
    if let Some(path) = conn.path() {
        // Should this fail, the restart syncs the pages itself, as before.
        if let Err(e) = sync_filesystem_of(Path::new(path)) {
            tracing::warn!(error = %e, "could not sync the database before a WAL restart");
        }
    }
    for _ in 0..CATCH_UP_PASSES {
        let (log, copied): (i64, i64) =
            conn.query_row("pragma wal_checkpoint(passive)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?;
        if log - copied <= RESTART_LEFT_FRAMES {
            break;
        }
    }
    let busy: i64 = conn.query_row("pragma wal_checkpoint(restart)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

/// Flushes the dirty pages of the filesystem holding `db` (the database's
/// among them) to disk. Not through a descriptor of the database file itself:
/// closing one would drop every POSIX lock this process holds on the file,
/// SQLite's included, and another process could then take the database as
/// unused (and, closing, delete the WAL still in use here). The directory's
/// descriptor holds no lock.
#[cfg(target_os = "linux")]
fn sync_filesystem_of(db: &Path) -> std::io::Result<()> {
    let dir = match db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = std::fs::File::open(dir)?;
    Ok(rustix::fs::syncfs(&dir)?)
}

#[cfg(not(target_os = "linux"))]
fn sync_filesystem_of(_db: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Creates the database file, readable and writable by this user only, if it
/// does not exist yet; SQLite gives its WAL and shared-memory files the
/// database file's mode.
fn create_private(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Unavailable(format!("{}: {e}", path.display()))),
    }
}

fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(StoreError::internal)?;
    // rusqlite keeps 16 prepared statements by default; the hot path uses more
    // than that on one connection, and a miss re-parses the SQL.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let pragmas = if read_only {
        "pragma foreign_keys = on;"
    } else {
        "pragma journal_mode = wal; pragma synchronous = normal; pragma foreign_keys = on;"
    };
    conn.execute_batch(pragmas).map_err(StoreError::internal)?;
    Ok(conn)
}

#[async_trait]
impl HealthStore for SqliteStore {
    async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        self.read(|conn| {
            Ok(SchemaStatus {
                applied: schema::applied_version(conn)?,
                expected: schema::latest_version(),
            })
        })
        .await
    }

    async fn backlog(&self) -> StoreResult<Backlog> {
        self.read(|conn| {
            let pending = |table: &str| {
                let sql = format!(
                    "select count(*) as n, min(created_at) as oldest from {table}
                     where status in ('pending', 'sending')"
                );
                one(conn, &sql, [], |r| {
                    Ok(Pending {
                        count: r.int("n")? as u64,
                        oldest: r.opt_time("oldest")?,
                    })
                })
                .map(Option::unwrap_or_default)
            };
            Ok(Backlog {
                messages: pending("outbox")?,
                webhooks: pending("webhook_deliveries")?,
            })
        })
        .await
    }

    async fn database_size(&self) -> StoreResult<u64> {
        let path = self.inner.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            Ok(size(&path) + size(Path::new(&wal)))
        })
        .await
        .map_err(StoreError::internal)?
    }

    async fn integrity_check(&self) -> StoreResult<Result<(), String>> {
        self.read(|conn| {
            let found = all(conn, "pragma quick_check", [], |r| r.text("quick_check"))?;
            Ok(match found.as_slice() {
                [ok] if ok == "ok" => Ok(()),
                problems => Err(problems.join("; ")),
            })
        })
        .await
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            use rusqlite::ErrorCode::*;
            match f.code {
                ConstraintViolation
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    return crate::error::missing_reference();
                }
                ConstraintViolation => {
                    let reason = msg.clone().unwrap_or_else(|| e.to_string());
                    let field = reason
                        .rsplit('.')
                        .next()
                        .unwrap_or("value")
                        .trim()
                        .to_owned();
                    return StoreError::Conflict {
                        field,
                        reason: "already exists".into(),
                    };
                }
                DatabaseBusy | DatabaseLocked | CannotOpen | DiskFull | ReadOnly => {
                    return StoreError::Unavailable(e.to_string());
                }
                _ => {}
            }
        }
        StoreError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames in the WAL now, as a passive checkpoint reports them.
    fn wal_frames(conn: &Connection) -> i64 {
        conn.query_row("pragma wal_checkpoint(passive)", [], |r| r.get(1))
            .unwrap()
    }

    /// The tables a table's foreign keys point at, by column.
    fn foreign_keys(conn: &Connection, table: &str) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare(&format!("pragma foreign_key_list({table})"))
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get("from")?, r.get("table")?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    #[test]
    fn a_replys_foreign_key_is_gone_for_every_connection_and_the_schema_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let other = open_connection(&path, false).unwrap();
        let migrating = open_connection(&path, false).unwrap();
        schema::migrate(&migrating).unwrap();
        for conn in [&migrating, &other] {
            // A statement reads the schema again when its version moved
            // (pragmas alone do not look).
            let messages: i64 = conn
                .query_row("select count(*) from messages", [], |r| r.get(0))
                .unwrap();
            assert_eq!(messages, 0);
            let keys = foreign_keys(conn, "messages");
            assert!(
                !keys.iter().any(|(from, _)| from == "in_reply_to"),
                "{keys:?}"
            );
            assert!(
                keys.contains(&("conversation_id".into(), "conversations".into())),
                "the other keys stay: {keys:?}"
            );
            let check: String = conn
                .query_row("pragma integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok");
        }
        let index: i64 = other
            .query_row(
                "select count(*) from sqlite_schema where name = 'messages_in_reply_to'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 0);
    }

    #[test]
    fn the_wal_is_restarted_past_its_bound_and_left_alone_below_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = open_connection(&path, false).unwrap();
        writer
            .execute_batch("pragma wal_autocheckpoint = 0; create table t (v blob)")
            .unwrap();
        let reader = open_connection(&path, true).unwrap();
        let checkpointer = open_connection(&path, false).unwrap();
        let write = |n: usize| {
            for _ in 0..n {
                writer
                    .execute("insert into t (v) values (zeroblob(4000))", [])
                    .unwrap();
            }
        };
        let count = || -> i64 {
            reader
                .query_row("select count(*) from t", [], |r| r.get(0))
                .unwrap()
        };

        // Under load a reader always holds a snapshot in the WAL, which keeps
        // SQLite from rewinding the log itself: it only grows.
        write(50);
        reader.execute_batch("begin").unwrap();
        assert_eq!(count(), 50);
        assert!(
            !checkpoint(&checkpointer, 1_000).unwrap(),
            "below the bound"
        );
        write(1);
        assert!(wal_frames(&checkpointer) > 50, "appended, not rewound");
        reader.execute_batch("commit").unwrap();

        // Past the bound the checkpoint restarts it, once readers let it.
        assert!(checkpoint(&checkpointer, 10).unwrap(), "past the bound");
        reader.execute_batch("begin").unwrap();
        assert_eq!(count(), 51);
        write(1);
        assert!(wal_frames(&checkpointer) < 10, "the log started again");
        reader.execute_batch("commit").unwrap();
        assert_eq!(count(), 52, "nothing was lost");
    }
}
