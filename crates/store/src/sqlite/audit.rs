//! The audit trail on SQLite. One writer makes the chain linear by itself.

use async_trait::async_trait;
use ombud_core::audit::{self as rules, AuditEntry, Checkpoint, NewAuditEntry};
use ombud_core::*;
use rusqlite::{params, params_from_iter, Connection};

use super::rows::{all, emit, time_text};
use super::SqliteStore;
use crate::audit::{self, AuditFilter, AuditStore, ChainHead};
use crate::list_query::SQLITE;
use crate::StoreResult;
use ombud_core::event::payload::AuditRecorded;

/// Appends `entries` to their tenants' chains inside the caller's
/// transaction, each with its `audit.recorded` event.
pub(crate) fn append(conn: &Connection, entries: &[NewAuditEntry]) -> StoreResult<()> {
    for e in entries {
        let tenant = e.tenant_id.as_str();
        conn.prepare_cached(
            "insert or ignore into audit_heads (tenant_id, seq, hash, start_seq, start_hash)
             values (?1, 0, ?2, 0, ?2)",
        )?
        .execute(params![tenant, rules::GENESIS])?;
        let (seq, hash): (i64, String) = conn
            .prepare_cached("select seq, hash from audit_heads where tenant_id = ?1")?
            .query_row(params![tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let chained = e.clone().chained(seq, &hash);
        conn.prepare_cached(&audit::insert_sql(&SQLITE))?
            .execute(params_from_iter(audit::entry_params(&chained)))?;
        conn.prepare_cached("update audit_heads set seq = ?2, hash = ?3 where tenant_id = ?1")?
            .execute(params![tenant, chained.seq, chained.hash])?;
        emit(conn, &e.tenant_id, &AuditRecorded(chained), e.at)?;
    }
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<()> {
        self.write(move |conn| append(conn, &entries)).await
    }

    async fn audit_events(
        &self,
        tenant: &TenantId,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let (sql, params) = audit::list_sql(&SQLITE, tenant, filter, before, limit);
        self.read(move |conn| all(conn, &sql, params_from_iter(params.iter()), audit::entry))
            .await
    }

    async fn audit_chain(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            all(
                conn,
                &format!(
                    "select {} from audit_events where tenant_id = ?1 and seq > ?2
                     order by seq limit ?3",
                    audit::ENTRY_COLS
                ),
                params![tenant.as_str(), after, limit],
                audit::entry,
            )
        })
        .await
    }

    async fn audit_heads(&self) -> StoreResult<Vec<ChainHead>> {
        self.read(|conn| {
            all(
                conn,
                "select tenant_id, seq, hash, start_seq, start_hash from audit_heads
                 order by tenant_id",
                [],
                audit::head,
            )
        })
        .await
    }

    async fn save_checkpoint(&self, c: Checkpoint) -> StoreResult<()> {
        self.write(move |conn| {
            conn.prepare_cached(&format!(
                "insert or ignore into audit_checkpoints ({}) values (?1, ?2, ?3, ?4, ?5, ?6)",
                audit::CHECKPOINT_COLS
            ))?
            .execute(params![
                c.tenant_id.as_str(),
                c.seq,
                c.hash,
                time_text(c.at),
                c.key,
                c.signature
            ])?;
            Ok(())
        })
        .await
    }

    async fn checkpoints(&self, tenant: &TenantId) -> StoreResult<Vec<Checkpoint>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            all(
                conn,
                &format!(
                    "select {} from audit_checkpoints where tenant_id = ?1 order by seq",
                    audit::CHECKPOINT_COLS
                ),
                params![tenant.as_str()],
                audit::checkpoint,
            )
        })
        .await
    }

    async fn prune_audit(&self, at: &Checkpoint) -> StoreResult<u64> {
        let at = at.clone();
        self.write(move |conn| {
            let t = at.tenant_id.as_str();
            let n = conn
                .prepare_cached("delete from audit_events where tenant_id = ?1 and seq <= ?2")?
                .execute(params![t, at.seq])?;
            conn.prepare_cached("delete from audit_checkpoints where tenant_id = ?1 and seq < ?2")?
                .execute(params![t, at.seq])?;
            conn.prepare_cached(
                "update audit_heads set start_seq = ?2, start_hash = ?3 where tenant_id = ?1",
            )?
            .execute(params![t, at.seq, at.hash])?;
            Ok(n as u64)
        })
        .await
    }
}
