//! WhatsApp templates on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::template::{TemplateUpdate, WaTemplate};
use ombud_core::*;
use sqlx::Row;

use super::{decode_all, PgStore};
use crate::templates::{self, NotifyFailures, TemplateStore, WA_TEMPLATE_COLS};
use crate::work::NOTIFY_FAILED;
use crate::{stored, Audit, StoreError, StoreResult};

#[async_trait]
impl TemplateStore for PgStore {
    async fn wa_templates(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
    ) -> StoreResult<Vec<WaTemplate>> {
        let sql = format!(
            "select {WA_TEMPLATE_COLS} from whatsapp_templates
             where tenant_id = $1 and channel_id = $2 order by name, language"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(channel.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, templates::wa_template)
    }

    async fn replace_wa_templates(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        list: Vec<WaTemplate>,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()> {
        let (t, c) = (tenant.as_str(), channel.as_str());
        let mut tx = self.pool.begin().await?;
        // Locks the channel's row: two syncs take turns.
        let owned =
            sqlx::query("select 1 from channels where tenant_id = $1 and id = $2 for update")
                .bind(t)
                .bind(c)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if !owned {
            return Err(StoreError::NotFound("WhatsApp channel"));
        }
        sqlx::query("delete from whatsapp_templates where tenant_id = $1 and channel_id = $2")
            .bind(t)
            .bind(c)
            .execute(&mut *tx)
            .await?;
        for w in list.iter().take(templates::MAX_TEMPLATES) {
            sqlx::query(
                "insert into whatsapp_templates (tenant_id, channel_id, name, language, status,
                    category, body, header, named_params, updated_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 on conflict (channel_id, name, language) do nothing",
            )
            .bind(t)
            .bind(c)
            .bind(&w.name)
            .bind(&w.language)
            .bind(&w.status)
            .bind(&w.category)
            .bind(&w.body)
            .bind(&w.header)
            .bind(w.named_params)
            .bind(stored(at))
            .execute(&mut *tx)
            .await?;
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_wa_template(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        u: TemplateUpdate,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (t, c) = (tenant.as_str(), channel.as_str());
        let known = sqlx::query(
            "update whatsapp_templates set status = coalesce($5, status),
                category = coalesce($6, category), updated_at = $7
             where tenant_id = $1 and channel_id = $2 and name = $3 and language = $4",
        )
        .bind(t)
        .bind(c)
        .bind(&u.name)
        .bind(&u.language)
        .bind(&u.status)
        .bind(&u.category)
        .bind(stored(at))
        .execute(&self.pool)
        .await?
        .rows_affected()
            > 0;
        if !known {
            sqlx::query(
                "insert into whatsapp_templates (tenant_id, channel_id, name, language, status,
                    category, body, header, named_params, updated_at)
                 select $1, $2, $3, $4, $5, $6, null, null, false, $7
                 where exists (select 1 from channels where tenant_id = $1 and id = $2)
                 on conflict (channel_id, name, language) do update
                    set status = excluded.status, updated_at = excluded.updated_at",
            )
            .bind(t)
            .bind(c)
            .bind(&u.name)
            .bind(&u.language)
            .bind(u.status.as_deref().unwrap_or("PENDING"))
            .bind(u.category.as_deref().unwrap_or(""))
            .bind(stored(at))
            .execute(&self.pool)
            .await?;
        }
        Ok(known)
    }

    async fn notify_failures(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
    ) -> StoreResult<NotifyFailures> {
        let count: i64 = sqlx::query_scalar(
            "select count(*) from complaint_events
             where tenant_id = $1 and action = $2 and created_at >= $3",
        )
        .bind(tenant.as_str())
        .bind(NOTIFY_FAILED)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        let latest = sqlx::query(
            "select e.to_value, c.number from complaint_events e
             join complaints c on c.id = e.complaint_id
             where e.tenant_id = $1 and e.action = $2 and e.created_at >= $3
             order by e.created_at desc, e.id desc limit 1",
        )
        .bind(tenant.as_str())
        .bind(NOTIFY_FAILED)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| -> StoreResult<(String, String)> {
            let reason: Option<String> = r.try_get("to_value")?;
            Ok((reason.unwrap_or_default(), r.try_get("number")?))
        })
        .transpose()?;
        Ok(NotifyFailures {
            count: count as u64,
            latest,
        })
    }
}
