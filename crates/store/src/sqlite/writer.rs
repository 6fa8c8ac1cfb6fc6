//! The single writer. Jobs queue on a channel; the writer thread takes the first,
//! then everything else already waiting (up to a bound), and runs them all in one
//! `BEGIN IMMEDIATE … COMMIT`. Each job runs in its own savepoint, so one failing
//! job rolls back only itself. Results are released only after the commit, so a
//! caller that got `Ok` knows its write is durable.

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, StoreResult};

const MAX_GROUP: usize = 256;

type Finish = Box<dyn FnOnce(StoreResult<()>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Finish) + Send>;

pub struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Writer {
    pub fn start(conn: Connection) -> StoreResult<Self> {
        let (jobs, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("ombud-sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(StoreError::internal)?;
        Ok(Self { jobs })
    }

    pub async fn submit<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |committed| {
                let _ = tx.send(committed.and(result));
            });
            (ok, finish)
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer dropped the job".into()))?
    }
}

fn run(conn: Connection, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        run_group(&conn, &mut group);
    }
}

fn run_group(conn: &Connection, group: &mut Vec<Job>) {
    if let Err(e) = exec(conn, "begin immediate") {
        // Dropping the jobs unrun tells each caller the store is unavailable.
        tracing::error!(error = %e, "sqlite writer could not begin a transaction");
        group.clear();
        return;
    }
    let mut finishes: Vec<Finish> = Vec::with_capacity(group.len());
    for job in group.drain(..) {
        if let Err(e) = exec(conn, "savepoint job") {
            tracing::error!(error = %e, "sqlite savepoint failed; job not run");
            continue;
        }
        let (ok, finish) = job(conn);
        let ended = if ok {
            exec(conn, "release job")
        } else {
            exec(conn, "rollback to job").and_then(|()| exec(conn, "release job"))
        };
        if let Err(e) = ended {
            tracing::error!(error = %e, "sqlite savepoint release failed");
        }
        finishes.push(finish);
    }
    let committed = exec(conn, "commit").map_err(StoreError::from);
    if committed.is_err() {
        let _ = exec(conn, "rollback");
    }
    for finish in finishes {
        let result = match &committed {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
        };
        finish(result);
    }
}

/// Runs one transaction-control statement, prepared once: these run several
/// times per job, and parsing them each time showed in the profile.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}
