//! WhatsApp templates on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::template::{TemplateUpdate, WaTemplate};
use ombud_core::*;
use rusqlite::params;

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::templates::{self, NotifyFailures, TemplateStore, WA_TEMPLATE_COLS};
use crate::work::NOTIFY_FAILED;
use crate::{stored, Audit, StoreError, StoreResult};

#[async_trait]
impl TemplateStore for SqliteStore {
    async fn wa_templates(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
    ) -> StoreResult<Vec<WaTemplate>> {
        let (tenant, channel) = (tenant.clone(), channel.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {WA_TEMPLATE_COLS} from whatsapp_templates
                 where tenant_id = ?1 and channel_id = ?2 order by name, language"
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), channel.as_str()],
                templates::wa_template,
            )
        })
        .await
    }

    async fn replace_wa_templates(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        list: Vec<WaTemplate>,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()> {
        let (tenant, channel) = (tenant.clone(), channel.clone());
        self.write(move |conn| {
            let (t, c) = (tenant.as_str(), channel.as_str());
            let owned = conn
                .prepare_cached("select 1 from channels where tenant_id = ?1 and id = ?2")?
                .exists(params![t, c])?;
            if !owned {
                return Err(StoreError::NotFound("WhatsApp channel"));
            }
            conn.prepare_cached(
                "delete from whatsapp_templates where tenant_id = ?1 and channel_id = ?2",
            )?
            .execute(params![t, c])?;
            let mut insert = conn.prepare_cached(
                "insert into whatsapp_templates (tenant_id, channel_id, name, language, status,
                    category, body, header, named_params, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 on conflict (channel_id, name, language) do nothing",
            )?;
            let at = time_text(stored(at));
            for w in list.iter().take(templates::MAX_TEMPLATES) {
                insert.execute(params![
                    t,
                    c,
                    w.name,
                    w.language,
                    w.status,
                    w.category,
                    w.body,
                    w.header,
                    w.named_params,
                    at
                ])?;
            }
            super::audit::append(conn, &audit)
        })
        .await
    }

    async fn update_wa_template(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        u: TemplateUpdate,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (tenant, channel) = (tenant.clone(), channel.clone());
        self.write(move |conn| {
            let (t, c) = (tenant.as_str(), channel.as_str());
            let at = time_text(stored(at));
            let known = conn
                .prepare_cached(
                    "update whatsapp_templates set status = coalesce(?5, status),
                        category = coalesce(?6, category), updated_at = ?7
                     where tenant_id = ?1 and channel_id = ?2 and name = ?3 and language = ?4",
                )?
                .execute(params![t, c, u.name, u.language, u.status, u.category, at])?
                > 0;
            if !known {
                conn.prepare_cached(
                    "insert into whatsapp_templates (tenant_id, channel_id, name, language, status,
                        category, body, header, named_params, updated_at)
                     select ?1, ?2, ?3, ?4, ?5, ?6, null, null, 0, ?7
                     where exists (select 1 from channels where tenant_id = ?1 and id = ?2)
                     on conflict (channel_id, name, language) do nothing",
                )?
                .execute(params![
                    t,
                    c,
                    u.name,
                    u.language,
                    u.status.as_deref().unwrap_or("PENDING"),
                    u.category.as_deref().unwrap_or(""),
                    at
                ])?;
            }
            Ok(known)
        })
        .await
    }

    async fn notify_failures(
        &self,
        tenant: &TenantId,
        since: DateTime<Utc>,
    ) -> StoreResult<NotifyFailures> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let t = tenant.as_str();
            let since = time_text(since);
            let count: i64 = conn
                .prepare_cached(
                    "select count(*) from complaint_events
                     where tenant_id = ?1 and action = ?2 and created_at >= ?3",
                )?
                .query_row(params![t, NOTIFY_FAILED, since], |r| r.get(0))?;
            let latest = one(
                conn,
                "select e.to_value, c.number from complaint_events e
                 join complaints c on c.id = e.complaint_id
                 where e.tenant_id = ?1 and e.action = ?2 and e.created_at >= ?3
                 order by e.created_at desc, e.id desc limit 1",
                params![t, NOTIFY_FAILED, since],
                |r| {
                    Ok((
                        r.opt_text("to_value")?.unwrap_or_default(),
                        r.text("number")?,
                    ))
                },
            )?;
            Ok(NotifyFailures {
                count: count as u64,
                latest,
            })
        })
        .await
    }
}
