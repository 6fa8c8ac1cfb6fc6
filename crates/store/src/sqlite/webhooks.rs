//! Webhook endpoints and the webhook outbox on SQLite.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::{params, Connection};

use super::rows::{self, all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::webhooks::disabled_event;
use crate::*;

fn event_types_json(types: &[EventType]) -> StoreResult<String> {
    serde_json::to_string(types).map_err(StoreError::internal)
}

fn endpoint_of(
    conn: &Connection,
    s: &Sealer,
    tenant: &TenantId,
    id: &WebhookEndpointId,
) -> StoreResult<Option<WebhookEndpoint>> {
    let sql = format!(
        "select {} from webhook_endpoints where tenant_id = ?1 and id = ?2",
        decode::WEBHOOK_ENDPOINT_COLS
    );
    one(conn, &sql, [tenant.as_str(), id.as_str()], |r| {
        decode::webhook_endpoint(r, s)
    })
}

fn delivery_where(
    conn: &Connection,
    filter: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<WebhookDelivery>> {
    let sql = format!(
        "select {} from webhook_deliveries d join events e on e.id = d.event_id where {filter}",
        decode::WEBHOOK_DELIVERY_COLS
    );
    all(conn, &sql, p, decode::webhook_delivery)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook_endpoint(&self, e: &WebhookEndpoint, audit: Audit) -> StoreResult<()> {
        let e = e.clone();
        let secret = self.sealer().seal(e.tenant_id.as_str(), e.secret.expose());
        self.write(move |conn| {
            conn.execute(
                "insert into webhook_endpoints (id, tenant_id, url, description, event_types, enabled,
                    ordered, secret, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![e.id.as_str(), e.tenant_id.as_str(), e.url, e.description,
                        event_types_json(&e.event_types)?, e.enabled, e.ordered,
                        secret, time_text(e.created_at)],
            )?;
            super::audit::append(conn, &audit)
        })
        .await
    }

    async fn webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        let s = self.sealer();
        self.read(move |conn| endpoint_of(conn, &s, &tenant, &id))
            .await
    }

    async fn webhook_endpoints(&self, tenant: &TenantId) -> StoreResult<Vec<WebhookEndpoint>> {
        let tenant = tenant.clone();
        let s = self.sealer();
        self.read(move |conn| {
            let sql = format!(
                "select {} from webhook_endpoints where tenant_id = ?1 order by created_at, id",
                decode::WEBHOOK_ENDPOINT_COLS
            );
            all(conn, &sql, [tenant.as_str()], |r| {
                decode::webhook_endpoint(r, &s)
            })
        })
        .await
    }

    async fn update_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        change: EndpointChange,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<WebhookEndpoint> {
        let (tenant, id) = (tenant.clone(), id.clone());
        let s = self.sealer();
        self.write(move |conn| {
            let Some(mut e) = endpoint_of(conn, &s, &tenant, &id)? else {
                return Err(StoreError::NotFound("webhook endpoint"));
            };
            change.clone().apply(&mut e, now);
            conn.execute(
                "update webhook_endpoints set url = ?3, description = ?4, event_types = ?5,
                    enabled = ?6, ordered = ?7, disabled_reason = ?8, failing_since = ?9,
                    updated_at = ?10
                 where tenant_id = ?1 and id = ?2",
                params![
                    tenant.as_str(),
                    id.as_str(),
                    e.url,
                    e.description,
                    event_types_json(&e.event_types)?,
                    e.enabled,
                    e.ordered,
                    e.disabled_reason,
                    e.failing_since.map(time_text),
                    time_text(now)
                ],
            )?;
            super::audit::append(conn, &audit)?;
            Ok(e)
        })
        .await
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
        let (tenant, id) = (tenant.clone(), id.clone());
        let s = self.sealer();
        let secret = Secret::new(s.seal(tenant.as_str(), secret.expose()));
        self.write(move |conn| {
            let n = conn.execute(
                "update webhook_endpoints set previous_secret = secret, previous_secret_until = ?4,
                    secret = ?3, updated_at = ?5
                 where tenant_id = ?1 and id = ?2",
                params![
                    tenant.as_str(),
                    id.as_str(),
                    secret.expose(),
                    time_text(overlap_until),
                    time_text(stored(at))
                ],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("webhook endpoint"));
            }
            super::audit::append(conn, &audit)?;
            endpoint_of(conn, &s, &tenant, &id)?.ok_or(StoreError::NotFound("webhook endpoint"))
        })
        .await
    }

    async fn delete_webhook_endpoint(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.write(move |conn| {
            // Attempts and deliveries go with it (foreign keys cascade).
            let n = conn.execute(
                "delete from webhook_endpoints where tenant_id = ?1 and id = ?2",
                [tenant.as_str(), id.as_str()],
            )?;
            if n == 1 {
                super::audit::append(conn, &audit)?;
            }
            Ok(n == 1)
        })
        .await
    }

    async fn emit_once(
        &self,
        tenant: &TenantId,
        id: EventId,
        kind: EventType,
        data: serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let exists = conn
                .prepare_cached("select 1 from events where id = ?1")?
                .exists([id.as_str()])?;
            if exists {
                return Ok(false);
            }
            rows::insert_event_as(conn, id.clone(), &tenant, kind, &data, at)?;
            Ok(true)
        })
        .await
    }

    async fn send_test_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookEndpointId,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<EventId> {
        let (tenant, id) = (tenant.clone(), id.clone());
        let s = self.sealer();
        self.write(move |conn| {
            let Some(e) = endpoint_of(conn, &s, &tenant, &id)? else {
                return Err(StoreError::NotFound("webhook endpoint"));
            };
            crate::webhooks::check_enabled(&e)?;
            let event = rows::write_event(
                conn,
                &tenant,
                EventType::WebhookTest,
                &crate::webhooks::test_event_data(&e),
                now,
            )?;
            conn.execute(
                "insert into webhook_deliveries (tenant_id, endpoint_id, event_id, status, attempts,
                    next_attempt_at, created_at, updated_at)
                 values (?1, ?2, ?3, 'pending', 0, ?4, ?4, ?4)",
                params![tenant.as_str(), id.as_str(), event.as_str(), time_text(now)],
            )?;
            super::audit::append(conn, &audit)?;
            Ok(event)
        })
        .await
    }

    async fn claim_webhook_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let s = self.sealer();
        self.write(move |conn| {
            let now_t = time_text(now);
            let sql = format!(
                "select {}, e.data as event_data, e.created_at as event_at
                 from webhook_deliveries d
                 join webhook_endpoints w on w.id = d.endpoint_id
                 join events e on e.id = d.event_id
                 where ((d.status = 'pending' and d.next_attempt_at <= ?1)
                     or (d.status = 'sending' and d.lease_until <= ?1))
                   and w.enabled = 1
                   and (w.ordered = 0 or not exists (
                     select 1 from webhook_deliveries earlier
                     where earlier.endpoint_id = d.endpoint_id and earlier.id < d.id
                       and earlier.status in ('pending', 'sending')))
                 order by d.next_attempt_at, d.id limit ?2",
                decode::WEBHOOK_DELIVERY_COLS
            );
            let claimed = all(conn, &sql, params![now_t, limit], |r| {
                let mut delivery = decode::webhook_delivery(r)?;
                delivery.attempts += 1;
                Ok((delivery, r.time("event_at")?, r.json("event_data")?))
            })?;
            let mut claim = conn.prepare_cached(
                "update webhook_deliveries set status = 'sending', attempts = attempts + 1,
                    lease_until = ?2, updated_at = ?3 where id = ?1",
            )?;
            let mut endpoints: HashMap<WebhookEndpointId, WebhookEndpoint> = HashMap::new();
            let mut out = Vec::with_capacity(claimed.len());
            for (mut delivery, event_at, data) in claimed {
                claim.execute(params![delivery.id, time_text(lease_until), now_t])?;
                delivery.status = WebhookStatus::Sending;
                if !endpoints.contains_key(&delivery.endpoint_id) {
                    let e = endpoint_of(conn, &s, &delivery.tenant_id, &delivery.endpoint_id)?
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
            Ok(out)
        })
        .await
    }

    async fn record_webhook_attempt(&self, record: AttemptRecord) -> StoreResult<bool> {
        let s = self.sealer();
        self.write(move |conn| {
            let a = &record.attempt;
            let at = time_text(a.attempted_at);
            let Some((tenant, endpoint_id)) = one(
                conn,
                "select tenant_id, endpoint_id from webhook_deliveries where id = ?1",
                [record.delivery_id],
                |r| Ok((r.text("tenant_id")?, r.text("endpoint_id")?)),
            )?
            else {
                // The endpoint was deleted while this was in flight.
                return Ok(false);
            };
            let tenant: TenantId = decode::stored_id("tenant_id", &tenant)?;
            let endpoint_id: WebhookEndpointId = decode::stored_id("endpoint_id", &endpoint_id)?;
            conn.prepare_cached(
                "insert into webhook_attempts (delivery_id, attempted_at, status_code, latency_ms,
                    response, error) values (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![record.delivery_id, at, a.status_code, a.latency_ms as i64,
                             a.response, a.error])?;
            let (status, next, delivered) = match &record.outcome {
                AttemptOutcome::Delivered => ("delivered", at.clone(), Some(at.clone())),
                AttemptOutcome::Retry { at: next } => ("pending", time_text(*next), None),
                AttemptOutcome::Failed | AttemptOutcome::Gone => ("failed", at.clone(), None),
            };
            conn.prepare_cached(
                "update webhook_deliveries set status = ?2, next_attempt_at = ?3, lease_until = null,
                    last_status = ?4, last_error = ?5, delivered_at = coalesce(?6, delivered_at),
                    updated_at = ?7 where id = ?1",
            )?
            .execute(params![record.delivery_id, status, next, a.status_code, a.error,
                             delivered, at])?;
            if record.outcome == AttemptOutcome::Delivered {
                conn.prepare_cached(
                    "update webhook_endpoints set failing_since = null
                     where id = ?1 and failing_since is not null",
                )?
                .execute([endpoint_id.as_str()])?;
                return Ok(false);
            }
            conn.prepare_cached(
                "update webhook_endpoints set failing_since = coalesce(failing_since, ?2)
                 where id = ?1",
            )?
            .execute(params![endpoint_id.as_str(), at])?;
            let Some(endpoint) = endpoint_of(conn, &s, &tenant, &endpoint_id)? else {
                return Ok(false);
            };
            if let Some(reason) = crate::webhooks::disable_reason(&endpoint, &record) {
                conn.execute(
                    "update webhook_endpoints set enabled = 0, disabled_reason = ?2, updated_at = ?3
                     where id = ?1",
                    params![endpoint_id.as_str(), reason, at],
                )?;
                rows::insert_event(
                    conn,
                    &tenant,
                    EventType::WebhookEndpointDisabled,
                    &disabled_event(&endpoint, &reason),
                    a.attempted_at,
                )?;
                return Ok(true);
            }
            Ok(false)
        })
        .await
    }

    async fn claim_webhook_run(
        &self,
        after: &WebhookDelivery,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let after = after.clone();
        let s = self.sealer();
        self.write(move |conn| {
            let now_t = time_text(now);
            let sql = format!(
                "select {}, e.data as event_data, e.created_at as event_at
                 from webhook_deliveries d join events e on e.id = d.event_id
                 where d.endpoint_id = ?1 and d.id > ?2 and d.status in ('pending', 'sending')
                 order by d.id limit ?3",
                decode::WEBHOOK_DELIVERY_COLS
            );
            let next = all(
                conn,
                &sql,
                params![after.endpoint_id.as_str(), after.id, limit],
                |r| {
                    Ok((
                        decode::webhook_delivery(r)?,
                        r.time("event_at")?,
                        r.json("event_data")?,
                    ))
                },
            )?;
            let Some(endpoint) = endpoint_of(conn, &s, &after.tenant_id, &after.endpoint_id)?
            else {
                return Ok(Vec::new());
            };
            if !endpoint.enabled || !endpoint.ordered {
                return Ok(Vec::new());
            }
            let mut claim = conn.prepare_cached(
                "update webhook_deliveries set status = 'sending', attempts = attempts + 1,
                    lease_until = ?2, updated_at = ?3 where id = ?1 and status = 'pending'",
            )?;
            let mut out = Vec::new();
            for (mut delivery, event_at, data) in next {
                // In order: the run ends at the first one not due yet.
                if delivery.status != WebhookStatus::Pending || delivery.next_attempt_at > now {
                    break;
                }
                claim.execute(params![delivery.id, time_text(lease_until), now_t])?;
                delivery.attempts += 1;
                delivery.status = WebhookStatus::Sending;
                out.push(DueDelivery {
                    delivery,
                    endpoint: endpoint.clone(),
                    event_at,
                    data,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn release_webhook_deliveries(&self, ids: Vec<i64>) -> StoreResult<()> {
        self.write(move |conn| {
            let mut release = conn.prepare_cached(
                "update webhook_deliveries set status = 'pending', attempts = max(attempts - 1, 0),
                    lease_until = null where id = ?1 and status = 'sending'",
            )?;
            for id in &ids {
                release.execute([id])?;
            }
            Ok(())
        })
        .await
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.read(|conn| {
            let next: Option<String> = conn
                .prepare_cached(
                    "select min(d.next_attempt_at) from webhook_deliveries d
                     join webhook_endpoints w on w.id = d.endpoint_id
                     where d.status = 'pending' and w.enabled = 1
                       and (w.ordered = 0 or not exists (
                         select 1 from webhook_deliveries earlier
                         where earlier.endpoint_id = d.endpoint_id and earlier.id < d.id
                           and earlier.status in ('pending', 'sending')))",
                )?
                .query_row([], |r| r.get(0))?;
            next.map(|t| rows::parse_time("next_attempt_at", &t))
                .transpose()
        })
        .await
    }

    async fn any_enabled_endpoint(&self) -> StoreResult<bool> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "select exists (select 1 from webhook_endpoints where enabled = 1)",
                )?
                .query_row([], |r| r.get::<_, bool>(0))?)
        })
        .await
    }

    async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        status: Option<WebhookStatus>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let (tenant, endpoint) = (tenant.clone(), endpoint.clone());
        self.read(move |conn| {
            delivery_where(
                conn,
                "d.tenant_id = ?1 and d.endpoint_id = ?2 and (?3 is null or d.status = ?3)
                   and d.id < ?4 order by d.id desc limit ?5",
                params![
                    tenant.as_str(),
                    endpoint.as_str(),
                    status.map(|s| s.as_str()),
                    before.unwrap_or(i64::MAX),
                    limit
                ],
            )
        })
        .await
    }

    async fn webhook_delivery(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        event: &EventId,
    ) -> StoreResult<Option<WebhookDelivery>> {
        let (tenant, endpoint, event) = (tenant.clone(), endpoint.clone(), event.clone());
        self.read(move |conn| {
            Ok(delivery_where(
                conn,
                "d.tenant_id = ?1 and d.endpoint_id = ?2 and d.event_id = ?3",
                [tenant.as_str(), endpoint.as_str(), event.as_str()],
            )?
            .pop())
        })
        .await
    }

    async fn webhook_attempts(
        &self,
        tenant: &TenantId,
        delivery_id: i64,
    ) -> StoreResult<Vec<WebhookAttempt>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "select {} from webhook_attempts a
                 where a.delivery_id = ?2 and exists (
                   select 1 from webhook_deliveries d where d.id = a.delivery_id and d.tenant_id = ?1)
                 order by a.id",
                decode::WEBHOOK_ATTEMPT_COLS
            );
            all(conn, &sql, params![tenant.as_str(), delivery_id], decode::webhook_attempt)
        })
        .await
    }

    async fn replay_webhook(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        event: &EventId,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, endpoint, event) = (tenant.clone(), endpoint.clone(), event.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "update webhook_deliveries set status = 'pending', next_attempt_at = ?4,
                    lease_until = null, updated_at = ?4
                 where tenant_id = ?1 and endpoint_id = ?2 and event_id = ?3
                   and status != 'sending'",
                params![
                    tenant.as_str(),
                    endpoint.as_str(),
                    event.as_str(),
                    time_text(now)
                ],
            )?;
            // In flight already: that is as good as a replay.
            let found = n == 1
                || one(
                    conn,
                    "select 1 from webhook_deliveries
                     where tenant_id = ?1 and endpoint_id = ?2 and event_id = ?3",
                    [tenant.as_str(), endpoint.as_str(), event.as_str()],
                    |_| Ok(()),
                )?
                .is_some();
            if found {
                super::audit::append(conn, &audit)?;
            }
            Ok(found)
        })
        .await
    }

    async fn replay_failed_webhooks(
        &self,
        tenant: &TenantId,
        endpoint: &WebhookEndpointId,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<u64> {
        let (tenant, endpoint) = (tenant.clone(), endpoint.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "update webhook_deliveries set status = 'pending', next_attempt_at = ?4,
                    updated_at = ?4
                 where tenant_id = ?1 and endpoint_id = ?2 and status = 'failed'
                   and created_at >= ?3",
                params![
                    tenant.as_str(),
                    endpoint.as_str(),
                    time_text(since),
                    time_text(now)
                ],
            )?;
            super::audit::append(conn, &audit)?;
            Ok(n as u64)
        })
        .await
    }
}
