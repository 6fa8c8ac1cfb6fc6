//! Complaints: numbering, idempotent creation, look-ups.

use async_trait::async_trait;
use ombud_core::*;
use rusqlite::params;

use super::rows::{self, all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::*;

#[async_trait]
impl ComplaintStore for SqliteStore {
    async fn create_complaint(
        &self,
        tenant: &Tenant,
        new: NewComplaint,
    ) -> StoreResult<(Complaint, bool)> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let t = tenant.id.as_str();
            if let Some(key) = &new.origin_key {
                let sql = format!(
                    "select {} from complaints where tenant_id = ?1 and origin_key = ?2",
                    decode::COMPLAINT_COLS
                );
                if let Some(existing) = one(conn, &sql, params![t, key], decode::complaint)? {
                    return Ok((existing, false));
                }
            }
            if let Some(cat) = &new.category_id {
                let owned: bool = conn
                    .prepare_cached("select 1 from categories where id = ?1 and tenant_id = ?2")?
                    .exists(params![cat.as_str(), t])?;
                if !owned {
                    return Err(StoreError::Invalid(ValidationError::new(
                        "category_id",
                        "no such category",
                    )));
                }
            }
            // The counter row is updated inside this transaction, so numbers are
            // gap-free: a rolled-back complaint takes its number back with it.
            let day = tenant.local_date(new.at);
            let day_text = day.format("%Y%m%d").to_string();
            let n: i64 = conn
                .prepare_cached(
                    "insert into complaint_counters (tenant_id, day, last) values (?1, ?2, 1)
                     on conflict (tenant_id, day) do update set last = last + 1
                     returning last",
                )?
                .query_row(params![t, day_text], |r| r.get(0))?;
            let origin_key = new.origin_key.clone();
            let (actor, at) = (new.actor.clone(), new.at);
            let complaint = new.clone().into_complaint(&tenant, n as u32);
            let c = &complaint;
            let at_text = time_text(at);
            let sla = crate::sla::SlaColumns::of(c);
            conn.prepare_cached(
                "insert into complaints (id, tenant_id, number, channel_id, contact_id, conversation_id,
                    category_id, description, location, language, priority, status, source, origin_key,
                    created_at, updated_at, sla, sla_state, sla_due_at, area, sla_next_at,
                    latitude, longitude)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15,
                    ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
            )?
            .execute(params![
                c.id.as_str(),
                t,
                c.number.as_str(),
                c.channel_id.as_ref().map(|v| v.as_str()),
                c.contact_id.as_ref().map(|v| v.as_str()),
                c.conversation_id.as_ref().map(|v| v.as_str()),
                c.category_id.as_ref().map(|v| v.as_str()),
                c.description,
                c.location,
                c.language.as_str(),
                c.priority.as_str(),
                c.status.as_str(),
                c.source.as_str(),
                origin_key,
                at_text,
                sla.clock,
                sla.state,
                sla.due_at.map(time_text),
                c.area,
                sla.next_at.map(time_text),
                c.point.map(|p| p.latitude),
                c.point.map(|p| p.longitude)
            ])?;
            for job in new.jobs(c) {
                super::jobs::insert(conn, &job, at)?;
            }
            if let Some(conversation) = &c.conversation_id {
                for message in &new.media {
                    conn.prepare_cached(
                        "update attachments set complaint_id = ?1
                         where tenant_id = ?2 and message_id = ?3 and conversation_id = ?4
                           and complaint_id is null",
                    )?
                    .execute(params![c.id.as_str(), t, message.as_str(), conversation.as_str()])?;
                }
            }
            conn.prepare_cached(
                "insert into complaint_events (tenant_id, complaint_id, actor, action, to_value, created_at)
                 values (?1, ?2, ?3, 'created', ?4, ?5)",
            )?
            .execute(params![t, c.id.as_str(), actor, c.status.as_str(), at_text])?;
            rows::emit(
                conn,
                &tenant.id,
                &ombud_core::event::payload::ComplaintCreated(c.clone()),
                at,
            )?;
            super::audit::append(conn, &new.audit_entries(&complaint))?;
            Ok((complaint, true))
        })
        .await
    }

    async fn complaint_by_number(
        &self,
        tenant: &TenantId,
        number: &ComplaintNumber,
    ) -> StoreResult<Option<Complaint>> {
        let (tenant, number) = (tenant.clone(), number.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from complaints where tenant_id = ?1 and number = ?2",
                decode::COMPLAINT_COLS
            );
            one(
                conn,
                &sql,
                params![tenant.as_str(), number.as_str()],
                decode::complaint,
            )
        })
        .await
    }

    async fn complaints_of_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        open_only: bool,
        limit: u32,
    ) -> StoreResult<Vec<Complaint>> {
        let (tenant, contact) = (tenant.clone(), contact.clone());
        self.read(move |conn| {
            // Two statements, not one with `?3 = 0 or …`: a parameter that can
            // change the plan makes SQLite recompile the statement at every bind.
            let open = if open_only {
                format!("and {}", crate::work::OPEN)
            } else {
                String::new()
            };
            let sql = format!(
                "select {} from complaints where tenant_id = ?1 and contact_id = ?2 {open}
                 order by created_at desc limit ?3",
                decode::COMPLAINT_COLS
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), contact.as_str(), limit],
                decode::complaint,
            )
        })
        .await
    }

    async fn complaints(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<Complaint>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "select {} from complaints where tenant_id = ?1 order by created_at desc, id desc limit ?2",
                decode::COMPLAINT_COLS
            );
            all(conn, &sql, params![tenant.as_str(), limit], decode::complaint)
        })
        .await
    }

    async fn complaint(
        &self,
        tenant: &TenantId,
        id: &ComplaintId,
    ) -> StoreResult<Option<Complaint>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from complaints where tenant_id = ?1 and id = ?2",
                decode::COMPLAINT_COLS
            );
            one(
                conn,
                &sql,
                params![tenant.as_str(), id.as_str()],
                decode::complaint,
            )
        })
        .await
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
        // No page before: after every time (times are text that sorts).
        let (at, id) = after.map_or((String::new(), String::new()), |p| {
            (time_text(p.next_at), p.complaint_id.to_string())
        });
        self.read(move |conn| {
            all(
                conn,
                &format!(
                    "select {} from complaints
                     where sla_next_at is not null and sla_next_at <= ?1
                       and (sla_next_at, id) > (?2, ?3)
                     order by sla_next_at, id limit ?4",
                    SlaPending::COLUMNS
                ),
                params![time_text(now), at, id, limit],
                SlaPending::decode,
            )
        })
        .await
    }

    async fn complaints_with_line(
        &self,
        tenant: &TenantId,
        action: &str,
        to_value: Option<&str>,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64> {
        let (tenant, action) = (tenant.clone(), action.to_owned());
        let value = to_value.unwrap_or_default().to_owned();
        let sql = format!(
            "select count(distinct complaint_id) from complaint_events
             where tenant_id = ?1 and action = ?2 and created_at >= ?3 and created_at < ?4 {}",
            if to_value.is_some() {
                "and to_value = ?5"
            } else {
                "and ?5 = ?5"
            }
        );
        self.read(move |conn| {
            let n: i64 = conn.query_row(
                &sql,
                params![
                    tenant.as_str(),
                    action,
                    time_text(from),
                    time_text(to),
                    value
                ],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
        .await
    }

    async fn member_loads(
        &self,
        tenant: &TenantId,
        members: &[UserId],
    ) -> StoreResult<Vec<ombud_core::routing::Load>> {
        let (tenant, members) = (tenant.clone(), members.to_vec());
        self.read(move |conn| super::work::loads_in(conn, tenant.as_str(), &members))
            .await
    }

    async fn complaint_events(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<ComplaintEvent>> {
        let (tenant, complaint) = (tenant.clone(), complaint.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from complaint_events where tenant_id = ?1 and complaint_id = ?2 order by id",
                decode::COMPLAINT_EVENT_COLS
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), complaint.as_str()],
                decode::complaint_event,
            )
        })
        .await
    }
}
