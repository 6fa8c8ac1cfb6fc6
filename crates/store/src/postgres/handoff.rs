//! Handed-over conversations: the inbox, staff replies, handing back.

use async_trait::async_trait;
use ombud_core::*;
use sqlx::Row;

use super::{decode_all, decode_opt, PgStore};
use crate::handoff::{self, HandedOver, INBOX_LIMIT};
use crate::*;

#[async_trait]
impl HandoffStore for PgStore {
    async fn handed_over(&self, tenant: &TenantId) -> StoreResult<Vec<HandedOver>> {
        let sql = handoff::handed_over_sql(
            "v.tenant_id = $1 and v.state = 'human'
             order by v.last_inbound_at desc nulls last, v.id limit $2",
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(i64::from(INBOX_LIMIT))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, handoff::handed_over)
    }

    async fn conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> StoreResult<Option<HandedOver>> {
        let sql = handoff::handed_over_sql("v.tenant_id = $1 and v.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, handoff::handed_over)
    }

    async fn staff_reply(
        &self,
        tenant: &TenantId,
        reply: StaffReply<'_>,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<MessageId> {
        let StaffReply {
            conversation,
            body,
            sender,
            take_over,
        } = reply;
        let mut tx = self.pool.begin().await?;
        // Locked, so a hand-back cannot slip in between the check and the send.
        let row = sqlx::query(
            "select state, channel_id, contact_id from conversations
             where tenant_id = $1 and id = $2 for update",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound("conversation"));
        };
        let state: String = row.try_get("state")?;
        if state != ConversationState::Human.as_str() {
            if !take_over {
                return Err(StoreError::Invalid(ValidationError::new(
                    "conversation",
                    "is answered by the bot, not handed over to people",
                )));
            }
            sqlx::query(
                "update conversations set state = 'human', updated_at = $3
                 where tenant_id = $1 and id = $2",
            )
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .bind(stored(at))
            .execute(&mut *tx)
            .await?;
        }
        let channel: ChannelId =
            decode::stored_id("channel_id", &row.try_get::<String, _>("channel_id")?)?;
        let contact: ContactId =
            decode::stored_id("contact_id", &row.try_get::<String, _>("contact_id")?)?;
        let id = super::work::send(
            &mut tx,
            tenant.as_str(),
            &channel,
            conversation,
            Some(&contact),
            crate::work::Outgoing::staff(body, sender),
            stored(at),
        )
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn hand_back(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update conversations set state = 'bot', run_cursor = inbound_seq, updated_at = $3
             where tenant_id = $1 and id = $2 and state = 'human'",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(stored(at))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
