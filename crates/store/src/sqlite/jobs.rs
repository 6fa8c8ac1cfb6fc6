//! Scheduled work on SQLite. The one writer serializes claims by itself.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::schedule::JobOutcome;
use ombud_core::*;
use rusqlite::{params, Connection};

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::jobs::{self, Finish, Job, JobStats, JobStore, NewJob, JOB_COLS};
use crate::StoreResult;

pub(super) fn insert(conn: &Connection, new: &NewJob, at: DateTime<Utc>) -> StoreResult<bool> {
    let (schedule, zone) = match &new.schedule {
        Some((s, z)) => (Some(s.as_str()), Some(z.as_str())),
        None => (None, None),
    };
    let n = conn
        .prepare_cached(
            "insert into jobs (id, kind, key, tenant_id, payload, schedule, timezone, due_at,
                max_attempts, created_at, updated_at)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
             on conflict (key) do nothing",
        )?
        .execute(params![
            new.id.as_str(),
            new.kind,
            new.key,
            new.tenant_id.as_ref().map(TenantId::as_str),
            new.payload.to_string(),
            schedule,
            zone,
            time_text(new.due_at),
            new.max_attempts,
            time_text(at),
        ])?;
    Ok(n == 1)
}

fn by_key(conn: &Connection, key: &str) -> StoreResult<Option<Job>> {
    let sql = format!("select {JOB_COLS} from jobs where key = ?1");
    one(conn, &sql, [key], jobs::job)
}

fn kinds_json(kinds: &[String]) -> String {
    serde_json::Value::from(kinds.to_vec()).to_string()
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn schedule_job(&self, new: NewJob, at: DateTime<Utc>) -> StoreResult<bool> {
        self.write(move |conn| insert(conn, &new, at)).await
    }

    async fn set_recurring(&self, new: NewJob, at: DateTime<Utc>) -> StoreResult<()> {
        self.write(move |conn| {
            if insert(conn, &new, at)? {
                return Ok(());
            }
            let (schedule, zone) = match &new.schedule {
                Some((s, z)) => (Some(s.as_str()), Some(z.as_str())),
                None => (None, None),
            };
            conn.prepare_cached(
                "update jobs set schedule = ?2, timezone = ?3, due_at = ?4, payload = ?5,
                    state = 'due', attempts = 0, updated_at = ?6
                 where key = ?1 and (schedule is not ?2 or timezone is not ?3)",
            )?
            .execute(params![
                new.key,
                schedule,
                zone,
                time_text(new.due_at),
                new.payload.to_string(),
                time_text(at)
            ])?;
            Ok(())
        })
        .await
    }

    async fn cancel_job(&self, key: &str) -> StoreResult<bool> {
        let key = key.to_owned();
        self.write(move |conn| {
            Ok(conn
                .prepare_cached("delete from jobs where key = ?1")?
                .execute([&key])?
                == 1)
        })
        .await
    }

    async fn job(&self, key: &str) -> StoreResult<Option<Job>> {
        let key = key.to_owned();
        self.read(move |conn| by_key(conn, &key)).await
    }

    async fn claim_jobs(
        &self,
        holder: &str,
        kinds: &[String],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let (holder, kinds) = (holder.to_owned(), kinds_json(kinds));
        self.write(move |conn| {
            let sql = format!(
                "update jobs set leased_by = ?1, lease_until = ?3, attempts = attempts + 1,
                    updated_at = ?2
                 where id in (
                     select id from jobs
                     where state = 'due' and due_at <= ?2
                       and (lease_until is null or lease_until <= ?2)
                       and kind in (select value from json_each(?4))
                     order by due_at, id limit ?5)
                 returning {JOB_COLS}"
            );
            let mut claimed = all(
                conn,
                &sql,
                params![holder, time_text(now), time_text(lease_until), kinds, limit],
                jobs::job,
            )?;
            claimed.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
            Ok(claimed)
        })
        .await
    }

    async fn note_job(&self, id: &JobId, holder: &str, note: &str) -> StoreResult<bool> {
        let (id, holder, note) = (id.clone(), holder.to_owned(), note.to_owned());
        self.write(move |conn| {
            let n = conn
                .prepare_cached("update jobs set last_error = ?3 where id = ?1 and leased_by = ?2")?
                .execute(rusqlite::params![id.as_str(), holder, note])?;
            Ok(n == 1)
        })
        .await
    }

    async fn renew_job(
        &self,
        id: &JobId,
        holder: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (id, holder) = (id.clone(), holder.to_owned());
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "update jobs set lease_until = ?3
                     where id = ?1 and leased_by = ?2 and state = 'due'",
                )?
                .execute(params![id.as_str(), holder, time_text(lease_until)])?
                == 1)
        })
        .await
    }

    async fn finish_job(
        &self,
        id: &JobId,
        holder: &str,
        outcome: JobOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (id, holder) = (id.clone(), holder.to_owned());
        let f = Finish::from(outcome);
        let error = jobs::clip(f.error);
        self.write(move |conn| {
            Ok(conn
                .prepare_cached(
                    "update jobs set state = ?3, due_at = coalesce(?4, due_at),
                        attempts = case when ?5 then 0 else attempts end,
                        last_error = ?6, last_run_at = ?7, runs = runs + 1,
                        leased_by = null, lease_until = null, updated_at = ?7
                     where id = ?1 and leased_by = ?2 and state = 'due'",
                )?
                .execute(params![
                    id.as_str(),
                    holder,
                    f.state.as_str(),
                    f.due_at.map(time_text),
                    f.reset_attempts,
                    error,
                    time_text(at),
                ])?
                == 1)
        })
        .await
    }

    async fn next_job_due(&self, kinds: &[String]) -> StoreResult<Option<DateTime<Utc>>> {
        let kinds = kinds_json(kinds);
        self.read(move |conn| {
            let next: Option<String> = conn
                .prepare_cached(
                    "select min(max(due_at, coalesce(lease_until, due_at))) from jobs
                     where state = 'due' and kind in (select value from json_each(?1))",
                )?
                .query_row([kinds], |r| r.get(0))?;
            next.map(|t| super::rows::parse_time("due_at", &t))
                .transpose()
        })
        .await
    }

    async fn job_stats(&self, now: DateTime<Utc>) -> StoreResult<JobStats> {
        self.read(move |conn| {
            let now = time_text(now);
            let (due, running, failed, oldest): (i64, i64, i64, Option<String>) = conn
                .prepare_cached(
                    "select
                        coalesce(sum(state = 'due' and due_at <= ?1
                            and (lease_until is null or lease_until <= ?1)), 0),
                        coalesce(sum(state = 'due' and lease_until > ?1), 0),
                        coalesce(sum(state = 'failed'), 0),
                        min(case when state = 'due' and due_at <= ?1
                            and (lease_until is null or lease_until <= ?1) then due_at end)
                     from jobs",
                )?
                .query_row([&now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(JobStats {
                due: due as u64,
                running: running as u64,
                failed: failed as u64,
                oldest_due: oldest
                    .map(|t| super::rows::parse_time("due_at", &t))
                    .transpose()?,
            })
        })
        .await
    }
}
