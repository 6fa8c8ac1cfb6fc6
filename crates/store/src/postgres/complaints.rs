//! Complaints: numbering, idempotent creation, look-ups.

use async_trait::async_trait;
use ombud_core::*;

use super::{decode_all, decode_opt, PgStore};
use crate::decode;
use crate::*;

#[async_trait]
impl ComplaintStore for PgStore {
    async fn create_complaint(
        &self,
        tenant: &Tenant,
        new: NewComplaint,
    ) -> StoreResult<(Complaint, bool)> {
        let t = tenant.id.as_str();
        let mut tx = self.pool.begin().await?;
        if let Some(key) = &new.origin_key {
            // Serialize creators of the same key, so a racing duplicate waits and
            // then finds the first complaint instead of hitting the unique index.
            sqlx::query("select pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))")
                .bind(t)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            let sql = format!(
                "select {} from complaints where tenant_id = $1 and origin_key = $2",
                decode::COMPLAINT_COLS
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(t)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(existing) = decode_opt(row, decode::complaint)? {
                return Ok((existing, false));
            }
        }
        if let Some(cat) = &new.category_id {
            let owned: bool = sqlx::query_scalar(
                "select exists (select 1 from categories where id = $1 and tenant_id = $2)",
            )
            .bind(cat.as_str())
            .bind(t)
            .fetch_one(&mut *tx)
            .await?;
            if !owned {
                return Err(StoreError::Invalid(ValidationError::new(
                    "category_id",
                    "no such category",
                )));
            }
        }
        // The counter row is locked and bumped inside this transaction: numbers are
        // unique and gap-free per tenant-local day, across any number of replicas.
        let day = tenant.local_date(new.at);
        let n: i64 = sqlx::query_scalar(
            "insert into complaint_counters (tenant_id, day, last) values ($1, $2, 1)
             on conflict (tenant_id, day) do update set last = complaint_counters.last + 1
             returning last",
        )
        .bind(t)
        .bind(day.format("%Y%m%d").to_string())
        .fetch_one(&mut *tx)
        .await?;
        let origin_key = new.origin_key.clone();
        let (actor, at) = (new.actor.clone(), new.at);
        let made = new.clone().into_complaint(tenant, n as u32);
        let audit = new.audit_entries(&made);
        let c = made;
        let sla = crate::sla::SlaColumns::of(&c);
        sqlx::query(
            "insert into complaints (id, tenant_id, number, channel_id, contact_id, conversation_id,
                category_id, description, location, language, priority, status, source, origin_key,
                created_at, updated_at, sla, sla_state, sla_due_at, area, sla_next_at,
                latitude, longitude)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15,
                $16, $17, $18, $19, $20, $21, $22)",
        )
        .bind(c.id.as_str())
        .bind(t)
        .bind(c.number.as_str())
        .bind(c.channel_id.as_ref().map(|v| v.as_str()))
        .bind(c.contact_id.as_ref().map(|v| v.as_str()))
        .bind(c.conversation_id.as_ref().map(|v| v.as_str()))
        .bind(c.category_id.as_ref().map(|v| v.as_str()))
        .bind(&c.description)
        .bind(&c.location)
        .bind(c.language.as_str())
        .bind(c.priority.as_str())
        .bind(c.status.as_str())
        .bind(c.source.as_str())
        .bind(&origin_key)
        .bind(at)
        .bind(&sla.clock)
        .bind(sla.state)
        .bind(sla.due_at)
        .bind(&c.area)
        .bind(sla.next_at)
        .bind(c.point.map(|p| p.latitude))
        .bind(c.point.map(|p| p.longitude))
        .execute(&mut *tx)
        .await?;
        for job in new.jobs(&c) {
            super::jobs::insert(&mut tx, &job, at).await?;
        }
        if let Some(conversation) = &c.conversation_id {
            for message in &new.media {
                sqlx::query(
                    "update attachments set complaint_id = $1
                     where tenant_id = $2 and message_id = $3 and conversation_id = $4
                       and complaint_id is null",
                )
                .bind(c.id.as_str())
                .bind(tenant.id.as_str())
                .bind(message.as_str())
                .bind(conversation.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query(
            "insert into complaint_events (tenant_id, complaint_id, actor, action, to_value, created_at)
             values ($1, $2, $3, 'created', $4, $5)",
        )
        .bind(t)
        .bind(c.id.as_str())
        .bind(&actor)
        .bind(c.status.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let created = ombud_core::event::payload::ComplaintCreated(c.clone());
        super::emit(&mut tx, &tenant.id, &created, at).await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok((c, true))
    }

    async fn complaint_by_number(
        &self,
        tenant: &TenantId,
        number: &ComplaintNumber,
    ) -> StoreResult<Option<Complaint>> {
        let sql = format!(
            "select {} from complaints where tenant_id = $1 and number = $2",
            decode::COMPLAINT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(number.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::complaint)
    }

    async fn complaints_of_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        open_only: bool,
        limit: u32,
    ) -> StoreResult<Vec<Complaint>> {
        let sql = format!(
            "select {} from complaints where tenant_id = $1 and contact_id = $2
               and (not $3 or {})
             order by created_at desc limit $4",
            decode::COMPLAINT_COLS,
            crate::work::OPEN
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(contact.as_str())
            .bind(open_only)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::complaint)
    }

    async fn complaints(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<Complaint>> {
        let sql = format!(
            "select {} from complaints where tenant_id = $1 order by created_at desc, id desc limit $2",
            decode::COMPLAINT_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::complaint)
    }

    async fn complaint(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
    ) -> StoreResult<Option<Complaint>> {
        let sql = format!(
            "select {} from complaints where tenant_id = $1 and id = $2",
            decode::COMPLAINT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::complaint)
    }

    async fn list_complaints(
        &self,
        tenant: &TenantId,
        filter: &ComplaintFilter,
        sort: ComplaintSort,
        after: Option<&ComplaintCursor>,
        limit: u32,
    ) -> StoreResult<Vec<ComplaintRow>> {
        super::work::list(self, tenant, filter, sort, after, limit).await
    }

    async fn count_complaints(
        &self,
        tenant: &TenantId,
        filter: &ComplaintFilter,
    ) -> StoreResult<u64> {
        super::work::count(self, tenant, filter).await
    }

    async fn change_complaints(
        &self,
        tenant: &TenantId,
        batch: ChangeBatch,
    ) -> StoreResult<Vec<ChangeOutcome>> {
        super::work::change(self, tenant, batch).await
    }

    async fn edit_complaint(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
        batches: Vec<ChangeBatch>,
    ) -> StoreResult<Complaint> {
        super::work::edit(self, tenant, id, batches).await
    }

    async fn sla_due(&self, tenant: &TenantId, due: SlaDue) -> StoreResult<SlaFired> {
        super::work::sla_due(self, tenant, due).await
    }

    async fn overview(
        &self,
        tenant: &Tenant,
        since: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Overview> {
        super::work::overview(self, tenant, since, now).await
    }

    async fn sla_alerts_due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        after: Option<&SlaPending>,
        limit: u32,
    ) -> StoreResult<Vec<SlaPending>> {
        // The first page, and the pages after one (the columns are
        // `SlaPending::COLUMNS`).
        let sql = match after {
            None => {
                "select tenant_id, id, sla_next_at from complaints
                 where sla_next_at is not null and sla_next_at <= $1
                   and $3::timestamptz is null and $4::text is null
                 order by sla_next_at, id limit $2"
            }
            Some(_) => {
                "select tenant_id, id, sla_next_at from complaints
                 where sla_next_at is not null and sla_next_at <= $1
                   and (sla_next_at, id) > ($3, $4)
                 order by sla_next_at, id limit $2"
            }
        };
        let rows = sqlx::query(sql)
            .bind(now)
            .bind(i64::from(limit))
            .bind(after.map(|p| p.next_at))
            .bind(after.map(|p| p.complaint_id.as_str()))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, SlaPending::decode)
    }

    async fn complaints_with_line(
        &self,
        tenant: &TenantId,
        action: &str,
        to_value: Option<&str>,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "select count(distinct complaint_id) from complaint_events
             where tenant_id = $1 and action = $2 and created_at >= $3 and created_at < $4
               and ($5::text is null or to_value = $5)",
        )
        .bind(tenant.as_str())
        .bind(action)
        .bind(from)
        .bind(to)
        .bind(to_value)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }

    async fn member_loads(
        &self,
        tenant: &TenantId,
        members: &[UserId],
    ) -> StoreResult<Vec<ombud_core::routing::Load>> {
        let mut conn = self.pool.acquire().await?;
        super::work::loads_in(&mut conn, tenant.as_str(), members, false).await
    }

    async fn complaint_events(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<ComplaintEvent>> {
        let sql = format!(
            "select {} from complaint_events where tenant_id = $1 and complaint_id = $2 order by id",
            decode::COMPLAINT_EVENT_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(complaint.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::complaint_event)
    }
}
