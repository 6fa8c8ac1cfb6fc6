//! The send outbox: claim due rows with a lease, record how each send went.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::event::payload;
use ombud_core::*;
use rusqlite::params;

use super::rows::{self, all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::*;

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        self.write(move |conn| {
            let now_t = time_text(now);
            let sql = format!(
                "select {} from outbox o
                 join messages m on m.id = o.message_id
                 join conversations v on v.id = m.conversation_id
                 join contacts c on c.id = v.contact_id
                 left join messages r on r.id = m.in_reply_to
                 where ((o.status = 'pending' and o.next_attempt_at <= ?1)
                     or (o.status = 'sending' and o.lease_until <= ?1))
                   and not exists (
                     select 1 from outbox earlier
                     where earlier.conversation_id = o.conversation_id and earlier.id < o.id
                       and earlier.status in ('pending', 'sending'))
                 order by o.next_attempt_at, o.id limit ?2",
                decode::OUTBOX_ITEM_COLS
            );
            let items = all(conn, &sql, params![now_t, limit], decode::outbox_item)?;
            let mut claim = conn.prepare_cached(
                "update outbox set status = 'sending', attempts = attempts + 1, lease_until = ?2,
                    updated_at = ?3 where id = ?1",
            )?;
            for item in &items {
                claim.execute(params![item.id, time_text(lease_until), now_t])?;
            }
            Ok(items)
        })
        .await
    }

    async fn complete_outbox(
        &self,
        id: i64,
        outcome: SendOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(move |conn| {
            let at_t = time_text(at);
            let Some((message_id, tenant)) = one(
                conn,
                "select message_id, tenant_id from outbox where id = ?1",
                [id],
                |r| Ok((r.text("message_id")?, r.text("tenant_id")?)),
            )?
            else {
                return Err(StoreError::NotFound("outbox item"));
            };
            let tenant: TenantId = decode::stored_id("tenant_id", &tenant)?;
            match &outcome {
                SendOutcome::Sent { provider_id } => {
                    conn.prepare_cached(
                        "update outbox set status = 'sent', lease_until = null, last_error = null,
                            updated_at = ?2 where id = ?1",
                    )?
                    .execute(params![id, at_t])?;
                    // A status report may already have moved the message further.
                    conn.prepare_cached(
                        "update messages set provider_id = coalesce(provider_id, ?2),
                            status = case when status = 'pending' then 'sent' else status end,
                            updated_at = ?3 where id = ?1",
                    )?
                    .execute(params![message_id, provider_id, at_t])?;
                    rows::emit(
                        conn,
                        &tenant,
                        &payload::MessageSent {
                            message_id: message_id.to_string(),
                            provider_id: provider_id.to_string(),
                        },
                        at,
                    )?;
                }
                SendOutcome::Retry {
                    next_attempt_at,
                    error,
                } => {
                    conn.prepare_cached(
                        "update outbox set status = 'pending', lease_until = null, next_attempt_at = ?2,
                            last_error = ?3, updated_at = ?4 where id = ?1",
                    )?
                    .execute(params![id, time_text(*next_attempt_at), error, at_t])?;
                }
                SendOutcome::Failed { error } => {
                    conn.prepare_cached(
                        "update outbox set status = 'failed', lease_until = null, last_error = ?2,
                            updated_at = ?3 where id = ?1",
                    )?
                    .execute(params![id, error, at_t])?;
                    conn.prepare_cached(
                        "update messages set status = 'failed', error = ?2, updated_at = ?3 where id = ?1",
                    )?
                    .execute(params![message_id, error, at_t])?;
                    rows::emit(
                        conn,
                        &tenant,
                        &payload::MessageFailed {
                            message_id: message_id.to_string(),
                            error: Some(error.to_string()),
                        },
                        at,
                    )?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn release_outbox(&self, ids: Vec<i64>) -> StoreResult<()> {
        self.write(move |conn| {
            let mut release = conn.prepare_cached(
                "update outbox set status = 'pending', attempts = max(attempts - 1, 0),
                    lease_until = null where id = ?1 and status = 'sending'",
            )?;
            for id in &ids {
                release.execute([id])?;
            }
            Ok(())
        })
        .await
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.read(|conn| {
            let next: Option<String> = conn.query_row(
                "select min(t) from (
                    select min(next_attempt_at) as t from outbox where status = 'pending'
                    union all
                    select min(lease_until) from outbox where status = 'sending')",
                [],
                |r| r.get(0),
            )?;
            next.map(|s| rows::parse_time("next_attempt_at", &s))
                .transpose()
        })
        .await
    }

    async fn release_claims(&self) -> StoreResult<u64> {
        self.write(|conn| {
            let sends = conn.execute(
                "update outbox set status = 'pending', lease_until = null where status = 'sending'",
                [],
            )?;
            let deliveries = conn.execute(
                "update webhook_deliveries set status = 'pending', lease_until = null
                 where status = 'sending'",
                [],
            )?;
            Ok((sends + deliveries) as u64)
        })
        .await
    }
}
