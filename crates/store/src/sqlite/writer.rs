//! The single writer. Jobs queue on a channel; the writer thread takes the first,
//! then everything else already waiting (up to a bound), and runs them all in one
//! `BEGIN IMMEDIATE … COMMIT`. Results are released only after the commit, so a
//! caller that got `Ok` knows its write is durable.
//!
//! One failing job must not undo the others. Giving each job its own savepoint
//! does that, but the profile showed it costly: every page a job touches that an
//! earlier job of the group already changed is copied into the savepoint's
//! journal (a temp file once it passes 64 KiB). Jobs rarely fail, so the group
//! first runs without savepoints; only if a job fails is the whole group rolled
//! back and run again, this time each job in its own savepoint. Jobs are
//! therefore written to be run more than once (`FnMut`, no effect outside the
//! connection).

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, StoreResult};

const MAX_GROUP: usize = 256;

trait Job: Send {
    /// Does the work on `conn`; true if it succeeded. May run again after a
    /// rollback.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Hands the caller its result once the group's commit succeeded or failed.
    fn finish(self: Box<Self>, committed: Result<(), &StoreError>);
}

struct Pending<T, F> {
    work: F,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = (self.work)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), &StoreError>) {
        let result = match (committed, self.result) {
            (Err(e), _) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Unavailable(
                "the writer did not run the job".into(),
            )),
        };
        let _ = self.reply.send(result);
    }
}

pub struct Writer {
    jobs: mpsc::UnboundedSender<Box<dyn Job>>,
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

    pub async fn submit<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = Box::new(Pending {
            work,
            result: None,
            reply,
        });
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer dropped the job".into()))?
    }
}

fn run(conn: Connection, mut rx: mpsc::UnboundedReceiver<Box<dyn Job>>) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
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

fn run_group(conn: &Connection, group: &mut Vec<Box<dyn Job>>) {
    let committed = match run_all(conn, group) {
        Ok(true) => commit(conn),
        Ok(false) => {
            // A job failed: undo the group and run each job in its own savepoint.
            let _ = exec(conn, "rollback");
            run_isolated(conn, group).and_then(|()| commit(conn))
        }
        Err(e) => Err(e),
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, "sqlite writer could not commit a group");
        let _ = exec(conn, "rollback");
    }
    for job in group.drain(..) {
        job.finish(committed.as_ref().map(|_| ()));
    }
}

/// Runs every job in one transaction; false as soon as one fails.
fn run_all(conn: &Connection, group: &mut [Box<dyn Job>]) -> StoreResult<bool> {
    exec(conn, "begin immediate")?;
    Ok(group.iter_mut().all(|job| job.run(conn)))
}

fn run_isolated(conn: &Connection, group: &mut [Box<dyn Job>]) -> StoreResult<()> {
    exec(conn, "begin immediate")?;
    for job in group.iter_mut() {
        exec(conn, "savepoint job")?;
        if job.run(conn) {
            exec(conn, "release job")?;
        } else {
            exec(conn, "rollback to job")?;
            exec(conn, "release job")?;
        }
    }
    Ok(())
}

fn commit(conn: &Connection) -> StoreResult<()> {
    exec(conn, "commit")
}

/// Runs one transaction-control statement, prepared once: these run for every
/// group, and parsing them each time showed in the profile.
fn exec(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection) -> i64 {
        conn.query_row("select count(*) from t", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_failing_job_undoes_only_itself_and_the_rest_of_its_group_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("pragma journal_mode = wal; create table t (v integer unique)")
            .unwrap();
        let writer = Writer::start(conn).unwrap();

        // The first job holds the writer, so the next ones queue into one group.
        let hold = writer.submit(|_: &Connection| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            Ok(())
        });
        let insert = |v: i64| {
            writer.submit(move |c: &Connection| {
                c.execute("insert into t (v) values (?1)", [v])?;
                Ok(v)
            })
        };
        // Writes a row, then fails: its row must not stay.
        let failing = writer.submit(|c: &Connection| {
            c.execute("insert into t (v) values (100)", [])?;
            c.execute("insert into t (v) values (1)", [])?; // 1 exists by then
            Ok(())
        });
        let (held, a, bad, b) = tokio::join!(hold, insert(1), failing, insert(2));
        held.unwrap();
        assert_eq!(a.unwrap(), 1);
        assert!(matches!(bad, Err(StoreError::Conflict { .. })), "{bad:?}");
        assert_eq!(b.unwrap(), 2);

        let check = Connection::open(&path).unwrap();
        assert_eq!(count(&check), 2);
        let stray: i64 = check
            .query_row("select count(*) from t where v = 100", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stray, 0, "the failed job's first insert was undone");
    }
}
