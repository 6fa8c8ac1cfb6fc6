//! Attachments on PostgreSQL (see `crate::attachments`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use super::{decode_all, decode_opt, PgStore};
use crate::attachments::{self, Attachment, AttachmentStore, Settled, ATTACHMENT_COLS};
use crate::{stored, StoreError, StoreResult};

#[async_trait]
impl AttachmentStore for PgStore {
    async fn attachment(
        &self,
        tenant: &TenantId,
        id: &AttachmentId,
    ) -> StoreResult<Option<Attachment>> {
        let sql =
            format!("select {ATTACHMENT_COLS} from attachments where id = $1 and tenant_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, attachments::attachment)
    }

    async fn complaint_attachments(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<Attachment>> {
        let sql = format!(
            "select {ATTACHMENT_COLS} from attachments where complaint_id = $1 and tenant_id = $2
             order by created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(complaint.as_str())
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, attachments::attachment)
    }

    async fn settle_attachment(
        &self,
        tenant: &TenantId,
        id: &AttachmentId,
        settled: Settled,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let info = serde_json::to_string(&settled.info(id))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let message: Option<String> = sqlx::query_scalar(
            "update attachments set state = $3, content_type = $4, sha256 = $5, size = $6,
                seconds = $7, error = $8, updated_at = $9, transcript = $11,
                transcript_language = $12, transcript_model = $13
             where id = $1 and tenant_id = $2 and state = $10
             returning message_id",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(settled.state.as_str())
        .bind(&settled.content_type)
        .bind(&settled.sha256)
        .bind(settled.size.map(|n| n as i64))
        .bind(settled.seconds)
        .bind(&settled.error)
        .bind(stored(at))
        .bind(settled.from.as_str())
        .bind(&settled.transcript)
        .bind(&settled.transcript_language)
        .bind(&settled.transcript_model)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(message) = message else {
            return Ok(false);
        };
        if let Some(job) = &settled.then {
            super::jobs::insert(&mut tx, job, at).await?;
        }
        sqlx::query("update messages set media = $2 where id = $1")
            .bind(&message)
            .bind(info)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn media_garbage(&self, limit: u32) -> StoreResult<Vec<(TenantId, String)>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(attachments::GARBAGE.replace('?', "$")))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, attachments::garbage)
    }

    async fn media_in_use(&self, tenant: &TenantId, sha256: &str) -> StoreResult<bool> {
        Ok(
            sqlx::query_scalar(sqlx::AssertSqlSafe(attachments::IN_USE.replace('?', "$")))
                .bind(tenant.as_str())
                .bind(sha256)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn forget_media_garbage(&self, tenant: &TenantId, sha256: &str) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(attachments::FORGET.replace('?', "$")))
            .bind(tenant.as_str())
            .bind(sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
