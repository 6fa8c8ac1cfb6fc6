//! Webhook endpoints and the webhook outbox on PostgreSQL. Deliveries are
//! claimed with `for update skip locked`, like the send outbox; an ordered
//! endpoint's deliveries are serialised by locking the endpoint row while its
//! head is chosen.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use sqlx::PgConnection;

use super::{decode_all, decode_opt, insert_event, write_event, PgColumns, PgStore};
use crate::decode::{self, Columns};
use crate::webhooks::disabled_event;
use crate::*;

fn event_types_json(types: &[EventType]) -> StoreResult<serde_json::Value> {
    serde_json::to_value(types).map_err(StoreError::internal)
}

async fn endpoint_of(
    conn: &mut PgConnection,
    sealer: &Sealer,
    tenant: &TenantId,
    id: &WebhookEndpointId,
    lock: bool,
) -> StoreResult<Option<WebhookEndpoint>> {
    let sql = format!(
        "select {} from webhook_endpoints where tenant_id = $1 and id = $2{}",
        decode::WEBHOOK_ENDPOINT_COLS,
        if lock { " for update" } else { "" }
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(conn)
        .await?;
    decode_opt(row, |r| decode::webhook_endpoint(r, sealer))
}

fn delivery_sql(filter: &str) -> String {
    format!(
        "select {} from webhook_deliveries d join events e on e.id = d.event_id where {filter}",
        decode::WEBHOOK_DELIVERY_COLS
    )
}

#[async_trait]
impl WebhookStore for PgStore {
    async fn create_webhook_endpoint(&self, e: &WebhookEndpoint, audit: Audit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into webhook_endpoints (id, tenant_id, url, description, event_types, enabled,
                ordered, secret, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(e.id.as_str())
        .bind(e.tenant_id.as_str())
        .bind(&e.url)
        .bind(&e.description)
        .bind(event_types_json(&e.event_types)?)
        .bind(e.enabled)
        .bind(e.ordered)
        .bind(self.sealer.seal(e.tenant_id.as_str(), e.secret.expose()))
        .bind(e.created_at)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        let mut conn = self.pool.acquire().await?;
        endpoint_of(&mut conn, &self.sealer, tenant, id, false).await
    }

    async fn webhook_endpoints(&self, tenant: &TenantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let sql = format!(
            "select {} from webhook_endpoints where tenant_id = $1 order by created_at, id",
            decode::WEBHOOK_ENDPOINT_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, |r| decode::webhook_endpoint(r, &self.sealer))
    }

    async fn update_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        change: EndpointChange,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.pool.begin().await?;
        let Some(mut e) = endpoint_of(&mut tx, &self.sealer, tenant, id, true).await? else {
            return Err(StoreError::NotFound("webhook endpoint"));
        };
        change.apply(&mut e, now);
        sqlx::query(
            "update webhook_endpoints set url = $3, description = $4, event_types = $5,
                enabled = $6, ordered = $7, disabled_reason = $8, failing_since = $9,
                updated_at = $10
             where tenant_id = $1 and id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(&e.url)
        .bind(&e.description)
        .bind(event_types_json(&e.event_types)?)
        .bind(e.enabled)
        .bind(e.ordered)
        .bind(&e.disabled_reason)
        .bind(e.failing_since)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn rotate_webhook_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        secret: Secret,
        overlap_until: DateTime<Utc>,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<WebhookEndpoint> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "update webhook_endpoints set previous_secret = secret, previous_secret_until = $4,
                secret = $3, updated_at = $5
             where tenant_id = $1 and id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(self.sealer.seal(tenant.as_str(), secret.expose()))
        .bind(overlap_until)
        .bind(stored(at))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("webhook endpoint"));
        }
        let e = endpoint_of(&mut tx, &self.sealer, tenant, id, false)
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn delete_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // Lock in the order an attempt being recorded does (its delivery,
        // then the endpoint), or the two deadlock and PostgreSQL aborts one.
        sqlx::query(
            "select id from webhook_deliveries where tenant_id = $1 and endpoint_id = $2
             order by id for update",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let n = sqlx::query("delete from webhook_endpoints where tenant_id = $1 and id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            return Ok(false);
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn emit_once(
        &self,
        tenant: &TenantId,
        id: EventId,
        kind: EventType,
        data: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // Two runs at once: the second waits on the first's row, then finds it.
        let written = sqlx::query(
            "insert into events (id, tenant_id, type, data, created_at) values ($1, $2, $3, $4, $5)
             on conflict (id) do nothing",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(kind.as_str())
        .bind(&data)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if written == 0 {
            return Ok(false);
        }
        super::deliver_event(&mut tx, &id, tenant, kind, at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn send_test_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<EventId> {
        let mut tx = self.pool.begin().await?;
        let Some(e) = endpoint_of(&mut tx, &self.sealer, tenant, id, false).await? else {
            return Err(StoreError::NotFound("webhook endpoint"));
        };
        crate::webhooks::check_enabled(&e)?;
        let data = crate::webhooks::test_event_data(&e);
        let event = write_event(&mut tx, tenant, EventType::WebhookTest, &data, now).await?;
        sqlx::query(
            "insert into webhook_deliveries (tenant_id, endpoint_id, event_id, status, attempts,
                next_attempt_at, created_at, updated_at)
             values ($1, $2, $3, 'pending', 0, $4, $4, $4)",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(event.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(event)
    }

    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let mut tx = self.pool.begin().await?;
        // Two replicas must not both find the same ordered endpoint's head
        // free; the advisory lock keeps claims of this kind one at a time
        // (each is short), while sending stays parallel.
        sqlx::query("select pg_advisory_xact_lock(7031)")
            .execute(&mut *tx)
            .await?;
        let sql = format!(
            "with due as (
                select d.id from webhook_deliveries d
                join webhook_endpoints w on w.id = d.endpoint_id
                where ((d.status = 'pending' and d.next_attempt_at <= $1)
                    or (d.status = 'sending' and d.lease_until <= $1))
                  and w.enabled
                  and (not w.ordered or not exists (
                    select 1 from webhook_deliveries earlier
                    where earlier.endpoint_id = d.endpoint_id and earlier.id < d.id
                      and earlier.status in ('pending', 'sending')))
                order by d.next_attempt_at, d.id
                limit $2
                for update of d skip locked
             ), claimed as (
                update webhook_deliveries d set status = 'sending', attempts = d.attempts + 1,
                    lease_until = $3, updated_at = $1
                from due where d.id = due.id
                returning d.*
             )
             select {}, e.data as event_data, e.created_at as event_at
             from claimed d join events e on e.id = d.event_id
             order by d.next_attempt_at, d.id",
            decode::WEBHOOK_DELIVERY_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(i64::from(limit))
            .bind(lease_until)
            .fetch_all(&mut *tx)
            .await?;
        let mut endpoints: HashMap<WebhookEndpointId, WebhookEndpoint> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let r = PgColumns(row);
            let delivery = decode::webhook_delivery(&r)?;
            let (event_at, data) = (r.time("event_at")?, r.json("event_data")?);
            if !endpoints.contains_key(&delivery.endpoint_id) {
                let e = endpoint_of(
                    &mut tx,
                    &self.sealer,
                    &delivery.tenant_id,
                    &delivery.endpoint_id,
                    false,
                )
                .await?
                .ok_or(StoreError::NotFound("webhook endpoint"))?;
                endpoints.insert(delivery.endpoint_id.clone(), e);
            }
            let endpoint = endpoints[&delivery.endpoint_id].clone();
            out.push(DueDelivery {
                delivery,
                endpoint,
                event_at,
                data,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn record_webhook_attempt(&self, record: AttemptRecord) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let a = &record.attempt;
        let at = a.attempted_at;
        let found: Option<(String, String)> = sqlx::query_as(
            "select tenant_id, endpoint_id from webhook_deliveries where id = $1 for update",
        )
        .bind(record.delivery_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((tenant, endpoint_id)) = found else {
            // The endpoint was deleted while this was in flight.
            return Ok(false);
        };
        let tenant: TenantId = decode::stored_id("tenant_id", &tenant)?;
        let endpoint_id: WebhookEndpointId = decode::stored_id("endpoint_id", &endpoint_id)?;
        sqlx::query(
            "insert into webhook_attempts (delivery_id, attempted_at, status_code, latency_ms,
                response, error) values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(record.delivery_id)
        .bind(at)
        .bind(a.status_code.map(i64::from))
        .bind(a.latency_ms as i64)
        .bind(&a.response)
        .bind(&a.error)
        .execute(&mut *tx)
        .await?;
        let (status, next, delivered) = match &record.outcome {
            AttemptOutcome::Delivered => ("delivered", at, Some(at)),
            AttemptOutcome::Retry { at: next } => ("pending", *next, None),
            AttemptOutcome::Failed | AttemptOutcome::Gone => ("failed", at, None),
        };
        sqlx::query(
            "update webhook_deliveries set status = $2, next_attempt_at = $3, lease_until = null,
                last_status = $4, last_error = $5, delivered_at = coalesce($6, delivered_at),
                updated_at = $7 where id = $1",
        )
        .bind(record.delivery_id)
        .bind(status)
        .bind(next)
        .bind(a.status_code.map(i64::from))
        .bind(&a.error)
        .bind(delivered)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        if record.outcome == AttemptOutcome::Delivered {
            sqlx::query(
                "update webhook_endpoints set failing_since = null
                 where id = $1 and failing_since is not null",
            )
            .bind(endpoint_id.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(false);
        }
        sqlx::query(
            "update webhook_endpoints set failing_since = coalesce(failing_since, $2) where id = $1",
        )
        .bind(endpoint_id.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let mut disabled = false;
        if let Some(endpoint) =
            endpoint_of(&mut tx, &self.sealer, &tenant, &endpoint_id, true).await?
        {
            if let Some(reason) = crate::webhooks::disable_reason(&endpoint, &record) {
                disabled = true;
                sqlx::query(
                    "update webhook_endpoints set enabled = false, disabled_reason = $2,
                        updated_at = $3 where id = $1",
                )
                .bind(endpoint_id.as_str())
                .bind(&reason)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                let data = disabled_event(&endpoint, &reason);
                insert_event(
                    &mut tx,
                    &tenant,
                    EventType::WebhookEndpointDisabled,
                    &data,
                    at,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }

    async fn claim_webhook_run(
        &self,
        after: &WebhookDelivery,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let mut tx = self.pool.begin().await?;
        let Some(endpoint) = endpoint_of(
            &mut tx,
            &self.sealer,
            &after.tenant_id,
            &after.endpoint_id,
            false,
        )
        .await?
        else {
            return Ok(Vec::new());
        };
        if !endpoint.enabled || !endpoint.ordered {
            return Ok(Vec::new());
        }
        let sql = format!(
            "select {}, e.data as event_data, e.created_at as event_at
             from webhook_deliveries d join events e on e.id = d.event_id
             where d.endpoint_id = $1 and d.id > $2 and d.status in ('pending', 'sending')
             order by d.id limit $3
             for update of d",
            decode::WEBHOOK_DELIVERY_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after.endpoint_id.as_str())
            .bind(after.id)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        let mut out = Vec::new();
        for row in &rows {
            let r = PgColumns(row);
            let mut delivery = decode::webhook_delivery(&r)?;
            // In order: the run ends at the first one not due yet.
            if delivery.status != WebhookStatus::Pending || delivery.next_attempt_at > now {
                break;
            }
            sqlx::query(
                "update webhook_deliveries set status = 'sending', attempts = attempts + 1,
                    lease_until = $2, updated_at = $3 where id = $1",
            )
            .bind(delivery.id)
            .bind(lease_until)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            delivery.attempts += 1;
            delivery.status = WebhookStatus::Sending;
            out.push(DueDelivery {
                delivery,
                endpoint: endpoint.clone(),
                event_at: r.time("event_at")?,
                data: r.json("event_data")?,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn release_webhook_deliveries(&self, ids: Vec<i64>) -> StoreResult<()> {
        sqlx::query(
            "update webhook_deliveries set status = 'pending', attempts = greatest(attempts - 1, 0),
                lease_until = null where id = any($1) and status = 'sending'",
        )
        .bind(ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let next: Option<DateTime<Utc>> = sqlx::query_scalar(
            "select min(d.next_attempt_at) from webhook_deliveries d
             join webhook_endpoints w on w.id = d.endpoint_id
             where d.status = 'pending' and w.enabled
                       and (not w.ordered or not exists (
                         select 1 from webhook_deliveries earlier
                         where earlier.endpoint_id = d.endpoint_id and earlier.id < d.id
                           and earlier.status in ('pending', 'sending')))",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(next)
    }

    async fn any_enabled_endpoint(&self) -> StoreResult<bool> {
        let any: bool =
            sqlx::query_scalar("select exists (select 1 from webhook_endpoints where enabled)")
                .fetch_one(&self.pool)
                .await?;
        Ok(any)
    }

    async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        status: Option<WebhookStatus>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let sql = delivery_sql(
            "d.tenant_id = $1 and d.endpoint_id = $2 and ($3::text is null or d.status = $3)
               and d.id < $4 order by d.id desc limit $5",
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(endpoint.as_str())
            .bind(status.map(|s| s.as_str()))
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::webhook_delivery)
    }

    async fn webhook_delivery(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        event: &EventId,
    ) -> StoreResult<Option<WebhookDelivery>> {
        let sql = delivery_sql("d.tenant_id = $1 and d.endpoint_id = $2 and d.event_id = $3");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(endpoint.as_str())
            .bind(event.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::webhook_delivery)
    }

    async fn webhook_attempts(
        &self,
        tenant: &TenantId,
        delivery_id: i64,
    ) -> StoreResult<Vec<WebhookAttempt>> {
        let sql = format!(
            "select {} from webhook_attempts a
             where a.delivery_id = $2 and exists (
               select 1 from webhook_deliveries d where d.id = a.delivery_id and d.tenant_id = $1)
             order by a.id",
            decode::WEBHOOK_ATTEMPT_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(delivery_id)
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::webhook_attempt)
    }

    async fn replay_webhook(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        event: &EventId,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let found: Option<(String,)> = sqlx::query_as(
            "update webhook_deliveries set
                status = case when status = 'sending' then status else 'pending' end,
                next_attempt_at = case when status = 'sending' then next_attempt_at else $4 end,
                lease_until = case when status = 'sending' then lease_until else null end,
                updated_at = $4
             where tenant_id = $1 and endpoint_id = $2 and event_id = $3
             returning status",
        )
        .bind(tenant.as_str())
        .bind(endpoint.as_str())
        .bind(event.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Ok(false);
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn replay_failed_webhooks(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "update webhook_deliveries set status = 'pending', next_attempt_at = $4, updated_at = $4
             where tenant_id = $1 and endpoint_id = $2 and status = 'failed' and created_at >= $3",
        )
        .bind(tenant.as_str())
        .bind(endpoint.as_str())
        .bind(since)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(n)
    }
}
