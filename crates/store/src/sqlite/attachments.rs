//! Attachments on SQLite (see `crate::attachments`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::params;

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::attachments::{self, Attachment, AttachmentStore, Settled, ATTACHMENT_COLS};
use crate::{stored, StoreError, StoreResult};

#[async_trait]
impl AttachmentStore for SqliteStore {
    async fn attachment(
        &self,
        tenant: &TenantId,
        id: &AttachmentId,
    ) -> StoreResult<Option<Attachment>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {ATTACHMENT_COLS} from attachments where id = ?1 and tenant_id = ?2"
            );
            one(
                conn,
                &sql,
                params![id.as_str(), tenant.as_str()],
                attachments::attachment,
            )
        })
        .await
    }

    async fn complaint_attachments(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<Attachment>> {
        let (tenant, complaint) = (tenant.clone(), complaint.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {ATTACHMENT_COLS} from attachments where complaint_id = ?1 and tenant_id = ?2
                 order by created_at, id"
            );
            all(conn, &sql, params![complaint.as_str(), tenant.as_str()], attachments::attachment)
        })
        .await
    }

    async fn settle_attachment(
        &self,
        tenant: &TenantId,
        id: &AttachmentId,
        settled: Settled,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.clone());
        let info = serde_json::to_string(&settled.info(&id))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        self.write(move |conn| {
            let now = time_text(stored(at));
            let changed = conn
                .prepare_cached(
                    "update attachments set state = ?3, content_type = ?4, sha256 = ?5, size = ?6,
                        seconds = ?7, error = ?8, updated_at = ?9, transcript = ?11,
                        transcript_language = ?12, transcript_model = ?13
                     where id = ?1 and tenant_id = ?2 and state = ?10",
                )?
                .execute(params![
                    id.as_str(),
                    tenant.as_str(),
                    settled.state.as_str(),
                    settled.content_type,
                    settled.sha256,
                    settled.size.map(|n| n as i64),
                    settled.seconds,
                    settled.error,
                    now,
                    settled.from.as_str(),
                    settled.transcript,
                    settled.transcript_language,
                    settled.transcript_model
                ])?;
            if changed == 0 {
                return Ok(false);
            }
            if let Some(job) = &settled.then {
                super::jobs::insert(conn, job, at)?;
            }
            conn.prepare_cached(
                "update messages set media = ?2
                 where id = (select message_id from attachments where id = ?1)",
            )?
            .execute(params![id.as_str(), info])?;
            Ok(true)
        })
        .await
    }

    async fn media_garbage(&self, limit: u32) -> StoreResult<Vec<(TenantId, String)>> {
        self.read(move |conn| {
            all(
                conn,
                attachments::GARBAGE,
                params![limit],
                attachments::garbage,
            )
        })
        .await
    }

    async fn media_in_use(&self, tenant: &TenantId, sha256: &str) -> StoreResult<bool> {
        let (tenant, sha256) = (tenant.clone(), sha256.to_owned());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached(attachments::IN_USE)?
                .query_row(params![tenant.as_str(), sha256], |r| r.get::<_, bool>(0))?)
        })
        .await
    }

    async fn forget_media_garbage(&self, tenant: &TenantId, sha256: &str) -> StoreResult<()> {
        let (tenant, sha256) = (tenant.clone(), sha256.to_owned());
        self.write(move |conn| {
            conn.prepare_cached(attachments::FORGET)?
                .execute(params![tenant.as_str(), sha256])?;
            Ok(())
        })
        .await
    }
}
