//! Scheduled work on PostgreSQL. Replicas claim at once: `for update skip
//! locked` hands each due job to one of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::schedule::JobOutcome;
use ombud_core::*;
use sqlx::{PgConnection, Row};

use super::{decode_all, decode_opt, PgStore};
use crate::jobs::{self, Finish, Job, JobStats, JobStore, NewJob, JOB_COLS};
use crate::StoreResult;

pub(super) async fn insert(
    conn: &mut PgConnection,
    new: &NewJob,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let (schedule, zone) = match &new.schedule {
        Some((s, z)) => (Some(s.as_str()), Some(z.as_str())),
        None => (None, None),
    };
    let n = sqlx::query(
        "insert into jobs (id, kind, key, tenant_id, payload, schedule, timezone, due_at,
            max_attempts, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
         on conflict (key) do nothing",
    )
    .bind(new.id.as_str())
    .bind(&new.kind)
    .bind(&new.key)
    .bind(new.tenant_id.as_ref().map(TenantId::as_str))
    .bind(&new.payload)
    .bind(schedule)
    .bind(zone)
    .bind(new.due_at)
    .bind(i64::from(new.max_attempts))
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[async_trait]
impl JobStore for PgStore {
    async fn schedule_job(&self, new: NewJob, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, &new, at).await
    }

    async fn set_recurring(&self, new: NewJob, at: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if !insert(&mut tx, &new, at).await? {
            let (schedule, zone) = match &new.schedule {
                Some((s, z)) => (Some(s.as_str()), Some(z.as_str())),
                None => (None, None),
            };
            sqlx::query(
                "update jobs set schedule = $2, timezone = $3, due_at = $4, payload = $5,
                    state = 'due', attempts = 0, updated_at = $6
                 where key = $1 and (schedule is distinct from $2 or timezone is distinct from $3)",
            )
            .bind(&new.key)
            .bind(schedule)
            .bind(zone)
            .bind(new.due_at)
            .bind(&new.payload)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn cancel_job(&self, key: &str) -> StoreResult<bool> {
        let n = sqlx::query("delete from jobs where key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn job(&self, key: &str) -> StoreResult<Option<Job>> {
        let sql = format!("select {JOB_COLS} from jobs where key = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, jobs::job)
    }

    async fn claim_jobs(
        &self,
        holder: &str,
        kinds: &[String],
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "update jobs set leased_by = $1, lease_until = $3, attempts = attempts + 1,
                updated_at = $2
             where id in (
                 select id from jobs
                 where state = 'due' and due_at <= $2
                   and (lease_until is null or lease_until <= $2)
                   and kind = any($4)
                 order by due_at, id limit $5
                 for update skip locked)
             returning {JOB_COLS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holder)
            .bind(now)
            .bind(lease_until)
            .bind(kinds)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = decode_all(&rows, jobs::job)?;
        claimed.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
        Ok(claimed)
    }

    async fn note_job(&self, id: &JobId, holder: &str, note: &str) -> StoreResult<bool> {
        let n = sqlx::query("update jobs set last_error = $3 where id = $1 and leased_by = $2")
            .bind(id.as_str())
            .bind(holder)
            .bind(note)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn renew_job(
        &self,
        id: &JobId,
        holder: &str,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "update jobs set lease_until = $3
             where id = $1 and leased_by = $2 and state = 'due'",
        )
        .bind(id.as_str())
        .bind(holder)
        .bind(lease_until)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn finish_job(
        &self,
        id: &JobId,
        holder: &str,
        outcome: JobOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let f = Finish::from(outcome);
        let n = sqlx::query(
            "update jobs set state = $3, due_at = coalesce($4, due_at),
                attempts = case when $5 then 0 else attempts end,
                last_error = $6, last_run_at = $7, runs = runs + 1,
                leased_by = null, lease_until = null, updated_at = $7
             where id = $1 and leased_by = $2 and state = 'due'",
        )
        .bind(id.as_str())
        .bind(holder)
        .bind(f.state.as_str())
        .bind(f.due_at)
        .bind(f.reset_attempts)
        .bind(jobs::clip(f.error))
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn next_job_due(&self, kinds: &[String]) -> StoreResult<Option<DateTime<Utc>>> {
        let next: Option<DateTime<Utc>> = sqlx::query_scalar(
            "select min(greatest(due_at, coalesce(lease_until, due_at))) from jobs
             where state = 'due' and kind = any($1)",
        )
        .bind(kinds)
        .fetch_one(&self.pool)
        .await?;
        Ok(next)
    }

    async fn job_stats(&self, now: DateTime<Utc>) -> StoreResult<JobStats> {
        let row = sqlx::query(
            "select
                count(*) filter (where state = 'due' and due_at <= $1
                    and (lease_until is null or lease_until <= $1)) as due,
                count(*) filter (where state = 'due' and lease_until > $1) as running,
                count(*) filter (where state = 'failed') as failed,
                min(due_at) filter (where state = 'due' and due_at <= $1
                    and (lease_until is null or lease_until <= $1)) as oldest
             from jobs",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        let count = |col: &str| -> StoreResult<u64> { Ok(row.try_get::<i64, _>(col)? as u64) };
        Ok(JobStats {
            due: count("due")?,
            running: count("running")?,
            failed: count("failed")?,
            oldest_due: row.try_get("oldest")?,
        })
    }
}
