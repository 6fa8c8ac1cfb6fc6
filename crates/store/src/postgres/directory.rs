//! Contacts, conversations and messages page by page, on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use super::{decode_all, decode_opt, PgStore};
use crate::decode;
use crate::*;

/// Past every id: `~` sorts after the base32 alphabet (ids are compared as
/// bytes, `collate "C"`).
const PAST_ALL: &str = "~";

#[async_trait]
impl DirectoryStore for PgStore {
    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> StoreResult<Option<Contact>> {
        let sql = format!(
            "select {} from contacts where tenant_id = $1 and id = $2",
            decode::CONTACT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::contact)
    }

    async fn set_contact_block(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        block: Option<ombud_core::conversation::Block>,
        audit: Audit,
    ) -> StoreResult<Option<Contact>> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "update contacts set blocked_until = $3, block_reason = $4, block_told = false
             where tenant_id = $1 and id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(block.as_ref().map(|b| b.until))
        .bind(block.as_ref().map(|b| b.reason.clone()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        super::audit::append(&mut tx, &audit).await?;
        let sql = format!(
            "select {} from contacts where tenant_id = $1 and id = $2",
            decode::CONTACT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let contact = decode_opt(row, decode::contact)?;
        tx.commit().await?;
        Ok(contact)
    }

    async fn erase_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        erasure: Erasure,
    ) -> StoreResult<EraseOutcome> {
        let mut tx = self.pool.begin().await?;
        let outcome = super::erase::erase(&mut tx, tenant, id, &erasure).await?;
        if let EraseOutcome::Erased(_) = outcome {
            tx.commit().await?;
        }
        Ok(outcome)
    }

    async fn conversation_of_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> StoreResult<Option<ConversationId>> {
        let row: Option<(String,)> = sqlx::query_as(
            "select id from conversations where tenant_id = $1 and contact_id = $2
             order by created_at desc limit 1",
        )
        .bind(tenant.as_str())
        .bind(contact.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id,)| decode::stored_id("id", &id)).transpose()
    }

    async fn conversation_of_address(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        address: &str,
    ) -> StoreResult<Option<ConversationId>> {
        let row: Option<(String,)> = sqlx::query_as(
            "select cv.id from conversations cv join contacts ct on ct.id = cv.contact_id
             where ct.tenant_id = $1 and ct.channel_id = $2 and ct.external_id = $3
             order by cv.created_at desc limit 1",
        )
        .bind(tenant.as_str())
        .bind(channel.as_str())
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id,)| decode::stored_id("id", &id)).transpose()
    }

    async fn contact_page(
        &self,
        tenant: &TenantId,
        before: Option<&ContactId>,
        limit: u32,
    ) -> StoreResult<Vec<Contact>> {
        let sql = format!(
            "select {} from contacts where tenant_id = $1 and id collate \"C\" < $2
             order by id collate \"C\" desc limit $3",
            decode::CONTACT_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(before.map_or(PAST_ALL, |b| b.as_str()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::contact)
    }

    async fn conversation_page(
        &self,
        tenant: &TenantId,
        state: Option<ConversationState>,
        before: Option<&ConversationId>,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        let sql = format!(
            "select {} from conversations where tenant_id = $1 and id collate \"C\" < $2
               and ($3::text is null or state = $3)
             order by id collate \"C\" desc limit $4",
            decode::CONVERSATION_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(before.map_or(PAST_ALL, |b| b.as_str()))
            .bind(state.map(|s| s.as_str()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::conversation)
    }

    async fn message_page(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: Option<(DateTime<Utc>, MessageId)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let (at, id) = match after {
            Some((at, id)) => (Some(at), id.to_string()),
            None => (None, String::new()),
        };
        let sql = format!(
            "select {} from messages where tenant_id = $1 and conversation_id = $2
               and ($3::timestamptz is null or created_at > $3
                    or (created_at = $3 and id collate \"C\" > $4))
             order by created_at, id collate \"C\" limit $5",
            decode::MESSAGE_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .bind(at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::message)
    }
}
