//! The audit trail on PostgreSQL. Replicas append at once: the chain's head
//! row is locked for the rest of the transaction, so each entry follows the
//! one committed before it.

use async_trait::async_trait;
use ombud_core::audit::{self as rules, AuditEntry, Checkpoint, NewAuditEntry};
use ombud_core::*;
use sqlx::{PgConnection, Row};

use super::work::bind_all;
use super::{decode_all, PgStore};
use crate::audit::{self, AuditFilter, AuditStore, ChainHead};
use crate::list_query::POSTGRES;
use crate::StoreResult;
use ombud_core::event::payload::AuditRecorded;

/// Appends `entries` to their tenants' chains inside the caller's
/// transaction, each with its `audit.recorded` event.
pub(crate) async fn append(tx: &mut PgConnection, entries: &[NewAuditEntry]) -> StoreResult<()> {
    for e in entries {
        let tenant = e.tenant_id.as_str();
        sqlx::query(
            "insert into audit_heads (tenant_id, seq, hash, start_seq, start_hash)
             values ($1, 0, $2, 0, $2) on conflict (tenant_id) do nothing",
        )
        .bind(tenant)
        .bind(rules::GENESIS)
        .execute(&mut *tx)
        .await?;
        let head = sqlx::query("select seq, hash from audit_heads where tenant_id = $1 for update")
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await?;
        let (seq, hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        let chained = e.clone().chained(seq, &hash);
        let params = audit::entry_params(&chained);
        let sql = audit::insert_sql(&POSTGRES);
        bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &params)
            .execute(&mut *tx)
            .await?;
        sqlx::query("update audit_heads set seq = $2, hash = $3 where tenant_id = $1")
            .bind(tenant)
            .bind(chained.seq)
            .bind(&chained.hash)
            .execute(&mut *tx)
            .await?;
        super::emit(tx, &e.tenant_id, &AuditRecorded(chained), e.at).await?;
    }
    Ok(())
}

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        append(&mut tx, &entries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_events(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let (sql, params) = audit::list_sql(&POSTGRES, tenant, filter, before, limit);
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &params)
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, audit::entry)
    }

    async fn audit_chain(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let sql = format!(
            "select {} from audit_events where tenant_id = $1 and seq > $2 order by seq limit $3",
            audit::ENTRY_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, audit::entry)
    }

    async fn audit_heads(&self) -> StoreResult<Vec<ChainHead>> {
        let rows = sqlx::query(
            "select tenant_id, seq, hash, start_seq, start_hash from audit_heads order by tenant_id",
        )
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, audit::head)
    }

    async fn save_checkpoint(&self, c: Checkpoint) -> StoreResult<()> {
        let sql = format!(
            "insert into audit_checkpoints ({}) values ($1, $2, $3, $4, $5, $6)
             on conflict (tenant_id, seq) do nothing",
            audit::CHECKPOINT_COLS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(c.tenant_id.as_str())
            .bind(c.seq)
            .bind(&c.hash)
            .bind(c.at)
            .bind(&c.key)
            .bind(&c.signature)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn checkpoints(&self, tenant: &TenantId) -> StoreResult<Vec<Checkpoint>> {
        let sql = format!(
            "select {} from audit_checkpoints where tenant_id = $1 order by seq",
            audit::CHECKPOINT_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, audit::checkpoint)
    }

    async fn prune_audit(&self, at: &Checkpoint) -> StoreResult<u64> {
        let t = at.tenant_id.as_str();
        let mut tx = self.pool.begin().await?;
        // The head's lock: no entry is appended while the start moves.
        sqlx::query("select seq from audit_heads where tenant_id = $1 for update")
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
        let n = sqlx::query("delete from audit_events where tenant_id = $1 and seq <= $2")
            .bind(t)
            .bind(at.seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("delete from audit_checkpoints where tenant_id = $1 and seq < $2")
            .bind(t)
            .bind(at.seq)
            .execute(&mut *tx)
            .await?;
        sqlx::query("update audit_heads set start_seq = $2, start_hash = $3 where tenant_id = $1")
            .bind(t)
            .bind(at.seq)
            .bind(&at.hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n)
    }
}
