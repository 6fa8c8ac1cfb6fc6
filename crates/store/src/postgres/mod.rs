//! PostgreSQL, for deployments that outgrow one machine: the same traits and
//! behaviour as SQLite, safe for several Ombud replicas on one database. Where
//! SQLite relies on its single writer, this module relies on row locks: counters
//! and cursors are updated in place (`update … returning`), outbox rows are claimed
//! with `for update skip locked`, and claims are leases that expire.
//!
//! Queries built with `format!` only splice in the constant column lists of
//! `decode`; every value is a bind parameter (hence `AssertSqlSafe`).

mod accounts;
mod agents;
mod api_keys;
mod attachments;
pub(crate) mod audit;
mod complaints;
mod directory;
mod erase;
mod handoff;
mod idempotency;
mod inbound;
mod jobs;
mod outbox;
mod resets;
mod retention;
mod runs;
mod schema;
mod secrets;
pub use secrets::reseal_secrets;
mod surveys;
mod templates;
mod tenants;
mod test_chats;
mod webhooks;
mod work;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

use crate::catalog::Catalog;
use crate::decode::{Columns, Decoded};
use crate::{Backlog, HealthStore, Pending, SchemaStatus, Sealer, StoreError, StoreResult};

/// The PostgreSQL store. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    catalog: Arc<Catalog>,
    /// Seals and opens tenants' secrets (see [`crate::sealing`]).
    sealer: Arc<Sealer>,
}

impl PgStore {
    /// Connects with up to `max_connections`, applies pending migrations, and
    /// seals secrets that rows from before sealing still hold in plain text.
    pub async fn connect(url: &str, max_connections: u32, sealer: Sealer) -> StoreResult<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("connecting to PostgreSQL: {e}")))?;
        schema::migrate(&pool).await?;
        secrets::seal_in_place(&pool, &sealer).await?;
        Ok(Self {
            pool,
            catalog: Default::default(),
            sealer: Arc::new(sealer),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl crate::CounterStore for PgStore {
    async fn hit(
        &self,
        key: &str,
        window: Duration,
        n: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<crate::Hits> {
        let start = crate::counters::window_start(window, now);
        let ends = start + chrono::TimeDelta::from_std(window).unwrap_or_default();
        let (count, last_at): (i64, Option<DateTime<Utc>>) = if n == 0 {
            sqlx::query_as(
                "select count, last_at from rate_counters where key = $1 and window_start = $2",
            )
            .bind(key)
            .bind(start)
            .fetch_optional(&self.pool)
            .await?
            .unwrap_or((0, None))
        } else {
            sqlx::query_as(
                "insert into rate_counters (key, window_start, count, last_at) values ($1, $2, $3, $4)
                 on conflict (key, window_start)
                 do update set count = rate_counters.count + excluded.count, last_at = excluded.last_at
                 returning count, last_at",
            )
            .bind(key)
            .bind(start)
            .bind(i64::from(n))
            .bind(now)
            .fetch_one(&self.pool)
            .await?
        };
        if count == i64::from(n) && n > 0 {
            // A key's first hit in a window: its ended windows go, and now and
            // then everybody's from the day before.
            sqlx::query("delete from rate_counters where key = $1 and window_start < $2")
                .bind(key)
                .bind(start)
                .execute(&self.pool)
                .await?;
            if now.timestamp_subsec_nanos().is_multiple_of(256) {
                sqlx::query("delete from rate_counters where window_start < $1")
                    .bind(now - chrono::TimeDelta::days(1))
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(crate::Hits {
            count: count.max(0) as u64,
            window_ends: ends,
            last_at,
        })
    }

    async fn forget_hits(&self, key: &str) -> StoreResult<()> {
        sqlx::query("delete from rate_counters where key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl HealthStore for PgStore {
    async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        Ok(SchemaStatus {
            applied: schema::applied_version(&self.pool).await?,
            expected: schema::latest_version(),
        })
    }

    async fn backlog(&self) -> StoreResult<Backlog> {
        let pending = |table: &'static str| async move {
            let sql = format!(
                "select count(*) as n, min(created_at) as oldest from {table}
                 where status in ('pending', 'sending')"
            );
            let (n, oldest): (i64, Option<DateTime<Utc>>) =
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&self.pool)
                    .await?;
            Ok::<_, StoreError>(Pending {
                count: n as u64,
                oldest,
            })
        };
        Ok(Backlog {
            messages: pending("outbox").await?,
            webhooks: pending("webhook_deliveries").await?,
        })
    }

    async fn database_size(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("select pg_database_size(current_database())")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn integrity_check(&self) -> StoreResult<Result<(), String>> {
        let failures: Option<i64> = sqlx::query_scalar(
            "select checksum_failures from pg_stat_database where datname = current_database()",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(match failures.unwrap_or(0) {
            0 => Ok(()),
            n => Err(format!(
                "PostgreSQL counted {n} page checksum failures in this database"
            )),
        })
    }
}

/// A PostgreSQL row seen through [`Columns`].
pub struct PgColumns<'a>(pub &'a PgRow);

impl Columns for PgColumns<'_> {
    fn text(&self, col: &str) -> Decoded<String> {
        Ok(self.0.try_get(col)?)
    }
    fn opt_text(&self, col: &str) -> Decoded<Option<String>> {
        Ok(self.0.try_get(col)?)
    }
    fn int(&self, col: &str) -> Decoded<i64> {
        Ok(self.0.try_get(col)?)
    }
    fn opt_int(&self, col: &str) -> Decoded<Option<i64>> {
        Ok(self.0.try_get(col)?)
    }
    fn opt_real(&self, col: &str) -> Decoded<Option<f64>> {
        Ok(self.0.try_get(col)?)
    }
    fn flag(&self, col: &str) -> Decoded<bool> {
        Ok(self.0.try_get(col)?)
    }
    fn opt_flag(&self, col: &str) -> Decoded<Option<bool>> {
        Ok(self.0.try_get(col)?)
    }
    fn time(&self, col: &str) -> Decoded<DateTime<Utc>> {
        Ok(self.0.try_get(col)?)
    }
    fn opt_time(&self, col: &str) -> Decoded<Option<DateTime<Utc>>> {
        Ok(self.0.try_get(col)?)
    }
    fn json(&self, col: &str) -> Decoded<serde_json::Value> {
        Ok(self.0.try_get(col)?)
    }
}

/// Maps rows through a decoder.
pub fn decode_all<T>(
    rows: &[PgRow],
    map: impl Fn(&dyn Columns) -> Decoded<T>,
) -> StoreResult<Vec<T>> {
    rows.iter().map(|r| map(&PgColumns(r))).collect()
}

pub fn decode_opt<T>(
    row: Option<PgRow>,
    map: impl Fn(&dyn Columns) -> Decoded<T>,
) -> StoreResult<Option<T>> {
    row.map(|r| map(&PgColumns(&r))).transpose()
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some("23505") => StoreError::Conflict {
                    field: db.constraint().unwrap_or("value").to_owned(),
                    reason: "already exists".into(),
                },
                // Serialization failures and deadlocks: the caller may try again.
                Some("23503") => crate::error::missing_reference(),
                Some("40001") | Some("40P01") => StoreError::Unavailable(e.to_string()),
                _ => StoreError::Internal(e.to_string()),
            },
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

/// Writes a domain event inside the caller's transaction, with a webhook
/// delivery for each of the tenant's enabled endpoints that takes its type.
pub async fn insert_event(
    tx: &mut sqlx::PgConnection,
    tenant: &ombud_core::TenantId,
    kind: ombud_core::EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<ombud_core::EventId> {
    insert_event_as(tx, ombud_core::EventId::new(), tenant, kind, data, at).await
}

/// [`insert_event`] with the event's id given.
pub async fn insert_event_as(
    tx: &mut sqlx::PgConnection,
    id: ombud_core::EventId,
    tenant: &ombud_core::TenantId,
    kind: ombud_core::EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<ombud_core::EventId> {
    write_event_as(&mut *tx, &id, tenant, kind, data, at).await?;
    deliver_event(tx, &id, tenant, kind, at).await?;
    Ok(id)
}

/// The deliveries of an event written: one for each of the tenant's enabled
/// endpoints that takes its type.
pub async fn deliver_event(
    tx: &mut sqlx::PgConnection,
    id: &ombud_core::EventId,
    tenant: &ombud_core::TenantId,
    kind: ombud_core::EventType,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "insert into webhook_deliveries (tenant_id, endpoint_id, event_id, status, attempts,
            next_attempt_at, created_at, updated_at)
         select $1, id, $2, 'pending', 0, $3, $3, $3 from webhook_endpoints
         where tenant_id = $1 and enabled
           and ((event_types = '[]'::jsonb and not $5) or event_types ? $4)",
    )
    .bind(tenant.as_str())
    .bind(id.as_str())
    .bind(at)
    .bind(kind.as_str())
    .bind(kind.opt_in())
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes an event of a typed payload (see [`insert_event`]).
pub async fn emit(
    tx: &mut sqlx::PgConnection,
    tenant: &ombud_core::TenantId,
    payload: &impl ombud_core::event::payload::Payload,
    at: DateTime<Utc>,
) -> StoreResult<ombud_core::EventId> {
    insert_event(tx, tenant, payload.kind(), &payload.data(), at).await
}

/// The event row alone.
pub async fn write_event(
    tx: &mut sqlx::PgConnection,
    tenant: &ombud_core::TenantId,
    kind: ombud_core::EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<ombud_core::EventId> {
    let id = ombud_core::EventId::new();
    write_event_as(tx, &id, tenant, kind, data, at).await?;
    Ok(id)
}

async fn write_event_as(
    tx: &mut sqlx::PgConnection,
    id: &ombud_core::EventId,
    tenant: &ombud_core::TenantId,
    kind: ombud_core::EventType,
    data: &serde_json::Value,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "insert into events (id, tenant_id, type, data, created_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(id.as_str())
    .bind(tenant.as_str())
    .bind(kind.as_str())
    .bind(data)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// For tests: a fresh, empty schema on the server at `base_url`, and a URL whose
/// connections use it, so every test gets its own database without creating one.
pub async fn scratch_schema_url(base_url: &str) -> StoreResult<String> {
    let schema = format!("t_{}", ombud_core::id::new_id_body().to_lowercase());
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(base_url)
        .await
        .map_err(|e| StoreError::Unavailable(format!("connecting to {base_url}: {e}")))?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("create schema {schema}")))
        .execute(&pool)
        .await?;
    pool.close().await;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{base_url}{sep}options=-c%20search_path%3D{schema}"
    ))
}
