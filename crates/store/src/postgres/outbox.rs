//! The send outbox. Rows are claimed with `for update skip locked`, so replicas
//! never claim the same send; a claim is a lease, taken over once it expires.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::event::payload;
use ombud_core::*;

use super::{decode_all, PgStore};
use crate::decode;
use crate::*;

#[async_trait]
impl OutboxStore for PgStore {
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "with due as (
                select o.id from outbox o
                where ((o.status = 'pending' and o.next_attempt_at <= $1)
                    or (o.status = 'sending' and o.lease_until <= $1))
                  and not exists (
                    select 1 from outbox earlier
                    where earlier.conversation_id = o.conversation_id and earlier.id < o.id
                      and earlier.status in ('pending', 'sending'))
                order by o.next_attempt_at, o.id
                limit $2
                for update of o skip locked
             ), claimed as (
                update outbox o set status = 'sending', attempts = o.attempts + 1,
                    lease_until = $3, updated_at = $1
                from due where o.id = due.id
                returning o.*
             )
             select {} from claimed o
             join messages m on m.id = o.message_id
             join conversations v on v.id = m.conversation_id
             join contacts c on c.id = v.contact_id
             left join messages r on r.id = m.in_reply_to
             order by o.next_attempt_at, o.id",
            decode::OUTBOX_ITEM_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(i64::from(limit))
            .bind(lease_until)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        // `attempts` came back already incremented; the decoder adds one for the
        // SQLite path, which reads before it updates.
        let mut items = decode_all(&rows, decode::outbox_item)?;
        for item in &mut items {
            item.attempts -= 1;
        }
        Ok(items)
    }

    async fn complete_outbox(
        &self,
        id: i64,
        outcome: SendOutcome,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let found: Option<(String, String)> =
            sqlx::query_as("select message_id, tenant_id from outbox where id = $1 for update")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((message_id, tenant)) = found else {
            return Err(StoreError::NotFound("outbox item"));
        };
        let tenant: TenantId = decode::stored_id("tenant_id", &tenant)?;
        match outcome {
            SendOutcome::Sent { provider_id } => {
                sqlx::query("update outbox set status = 'sent', lease_until = null, last_error = null, updated_at = $2 where id = $1")
                    .bind(id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "update messages set provider_id = coalesce(provider_id, $2),
                        status = case when status = 'pending' then 'sent' else status end,
                        updated_at = $3 where id = $1",
                )
                .bind(&message_id)
                .bind(&provider_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                let sent = payload::MessageSent {
                    message_id: message_id.to_string(),
                    provider_id: provider_id.to_string(),
                };
                super::emit(&mut tx, &tenant, &sent, at).await?;
            }
            SendOutcome::Retry {
                next_attempt_at,
                error,
            } => {
                sqlx::query(
                    "update outbox set status = 'pending', lease_until = null, next_attempt_at = $2,
                        last_error = $3, updated_at = $4 where id = $1",
                )
                .bind(id)
                .bind(next_attempt_at)
                .bind(&error)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            SendOutcome::Failed { error } => {
                sqlx::query("update outbox set status = 'failed', lease_until = null, last_error = $2, updated_at = $3 where id = $1")
                    .bind(id)
                    .bind(&error)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("update messages set status = 'failed', error = $2, updated_at = $3 where id = $1")
                    .bind(&message_id)
                    .bind(&error)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                let failed = payload::MessageFailed {
                    message_id: message_id.to_string(),
                    error: Some(error.to_string()),
                };
                super::emit(&mut tx, &tenant, &failed, at).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn release_outbox(&self, ids: Vec<i64>) -> StoreResult<()> {
        sqlx::query(
            "update outbox set status = 'pending', attempts = greatest(attempts - 1, 0),
                lease_until = null where id = any($1) and status = 'sending'",
        )
        .bind(ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "select least(
                (select min(next_attempt_at) from outbox where status = 'pending'),
                (select min(lease_until) from outbox where status = 'sending'))",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Other replicas may hold live claims, so nothing is released early here:
    /// claims left by a dead replica are taken over when their lease expires.
    async fn release_claims(&self) -> StoreResult<u64> {
        Ok(0)
    }
}
