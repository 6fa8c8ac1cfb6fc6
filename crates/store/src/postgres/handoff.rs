//! Handed-over conversations: the inbox, staff replies, handing back.

use async_trait::async_trait;
use ombud_core::*;
use sqlx::Row;

use super::{decode_all, decode_opt, PgStore};
use crate::handoff::{self, HandedOver, InboxFilter, InboxItem, LiveEvent, INBOX_LIMIT, LIVE_PAGE};
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
            template,
            sender,
            take_over,
            assignee,
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
        if let Some(user) = assignee {
            sqlx::query(
                "update conversations set assignee_id = $3
                 where tenant_id = $1 and id = $2 and assignee_id is null",
            )
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .bind(user.as_str())
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
            crate::work::Outgoing::staff(body, template, sender),
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
            "update conversations set state = 'bot', run_cursor = inbound_seq,
                    assignee_id = null, updated_at = $3
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

    async fn close_session(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update conversations set session_closed_at = $3, updated_at = $3,
                    run_cursor = case when state = 'human' then inbound_seq else run_cursor end,
                    state = 'bot', assignee_id = null
             where tenant_id = $1 and id = $2 and session_closed_at is null",
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

    async fn inbox(
        &self,
        tenant: &TenantId,
        user: &UserId,
        filter: InboxFilter,
    ) -> StoreResult<Vec<InboxItem>> {
        let sql = handoff::inbox_sql(filter, |n| format!("${n}"));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(user.as_str())
            .bind(i64::from(INBOX_LIMIT))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, handoff::inbox_item)
    }

    async fn unread_count(&self, tenant: &TenantId, user: &UserId) -> StoreResult<u64> {
        let sql = handoff::unread_sql(|n| format!("${n}"));
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(user.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn mark_read(
        &self,
        tenant: &TenantId,
        user: &UserId,
        conversation: &ConversationId,
        upto: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "insert into conversation_reads (user_id, conversation_id, tenant_id, read_at)
             select $1, v.id, v.tenant_id, $4 from conversations v
             where v.tenant_id = $2 and v.id = $3
             on conflict (user_id, conversation_id)
             do update set read_at = greatest(conversation_reads.read_at, excluded.read_at)",
        )
        .bind(user.as_str())
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(stored(upto))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn live_events(
        &self,
        tenant: &TenantId,
        after: (DateTime<Utc>, &str),
    ) -> StoreResult<Vec<LiveEvent>> {
        let rows = sqlx::query(
            "select id, type, data, created_at from events
             where tenant_id = $1 and (created_at > $2 or (created_at = $2 and id > $4))
             order by created_at, id limit $3",
        )
        .bind(tenant.as_str())
        .bind(stored(after.0))
        .bind(i64::from(LIVE_PAGE))
        .bind(after.1)
        .fetch_all(&self.pool)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            let data: serde_json::Value = r.try_get("data")?;
            events.push(handoff::live_event(
                r.try_get("id")?,
                r.try_get("created_at")?,
                r.try_get("type")?,
                &data,
            ));
        }
        let messages: Vec<String> = events.iter().filter_map(|e| e.message.clone()).collect();
        if !messages.is_empty() {
            let found: Vec<(String, String)> = sqlx::query_as(
                "select id, conversation_id from messages where tenant_id = $1 and id = any($2)",
            )
            .bind(tenant.as_str())
            .bind(&messages)
            .fetch_all(&self.pool)
            .await?;
            let found: std::collections::HashMap<String, String> = found.into_iter().collect();
            for e in &mut events {
                if let Some(m) = &e.message {
                    e.conversation = found.get(m).cloned();
                }
            }
        }
        let conversations: Vec<String> = events
            .iter()
            .filter_map(|e| e.conversation.clone())
            .collect();
        if !conversations.is_empty() {
            let states: Vec<(String, String)> = sqlx::query_as(
                "select id, state from conversations where tenant_id = $1 and id = any($2)",
            )
            .bind(tenant.as_str())
            .bind(&conversations)
            .fetch_all(&self.pool)
            .await?;
            let states: std::collections::HashMap<String, String> = states.into_iter().collect();
            for e in &mut events {
                let state = e.conversation.as_ref().and_then(|c| states.get(c));
                e.set_people(state.map(String::as_str));
            }
        }
        Ok(events)
    }

    async fn latest_event_at(&self, tenant: &TenantId) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(
            sqlx::query_scalar("select max(created_at) from events where tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
