//! Contacts, conversations and messages page by page, on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::params;

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::*;

/// Past every id: `~` sorts after the base32 alphabet.
const PAST_ALL: &str = "~";

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> StoreResult<Option<Contact>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from contacts where tenant_id = ?1 and id = ?2",
                decode::CONTACT_COLS
            );
            one(conn, &sql, [tenant.as_str(), id.as_str()], decode::contact)
        })
        .await
    }

    async fn set_contact_block(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        block: Option<ombud_core::conversation::Block>,
        audit: Audit,
    ) -> StoreResult<Option<Contact>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.write(move |conn| {
            let (until, reason) = match &block {
                Some(b) => (
                    Some(super::rows::time_text(b.until)),
                    Some(b.reason.clone()),
                ),
                None => (None, None),
            };
            let n = conn
                .prepare_cached(
                    "update contacts set blocked_until = ?3, block_reason = ?4, block_told = 0
                     where tenant_id = ?1 and id = ?2",
                )?
                .execute(rusqlite::params![
                    tenant.as_str(),
                    id.as_str(),
                    until,
                    reason
                ])?;
            if n == 0 {
                return Ok(None);
            }
            super::audit::append(conn, &audit)?;
            let sql = format!(
                "select {} from contacts where tenant_id = ?1 and id = ?2",
                decode::CONTACT_COLS
            );
            one(conn, &sql, [tenant.as_str(), id.as_str()], decode::contact)
        })
        .await
    }

    async fn erase_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        erasure: Erasure,
    ) -> StoreResult<EraseOutcome> {
        let (tenant, id) = (tenant.clone(), id.clone());
        let outcome = self
            .write(move |conn| super::erase::erase(conn, &tenant, &id, &erasure))
            .await?;
        if let EraseOutcome::Erased(_) = outcome {
            // The WAL still holds the pages as they were before: fold it in
            // and empty it.
            let path = self.path().to_owned();
            tokio::task::spawn_blocking(move || {
                super::snapshot::settle(&path, std::time::Duration::from_secs(30))
            })
            .await
            .map_err(StoreError::internal)??;
        }
        Ok(outcome)
    }

    async fn conversation_of_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> StoreResult<Option<ConversationId>> {
        let (tenant, contact) = (tenant.clone(), contact.clone());
        self.read(move |conn| {
            one(
                conn,
                "select id from conversations where tenant_id = ?1 and contact_id = ?2
                 order by created_at desc limit 1",
                [tenant.as_str(), contact.as_str()],
                |r| decode::id(r, "id"),
            )
        })
        .await
    }

    async fn conversation_of_address(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        address: &str,
    ) -> StoreResult<Option<ConversationId>> {
        let (tenant, channel, address) = (tenant.clone(), channel.clone(), address.to_owned());
        self.read(move |conn| {
            one(
                conn,
                "select cv.id from conversations cv join contacts ct on ct.id = cv.contact_id
                 where ct.tenant_id = ?1 and ct.channel_id = ?2 and ct.external_id = ?3
                 order by cv.created_at desc limit 1",
                [tenant.as_str(), channel.as_str(), address.as_str()],
                |r| decode::id(r, "id"),
            )
        })
        .await
    }

    async fn contact_page(
        &self,
        tenant: &TenantId,
        before: Option<&ContactId>,
        limit: u32,
    ) -> StoreResult<Vec<Contact>> {
        let tenant = tenant.clone();
        let before = before.map_or(PAST_ALL.to_owned(), |b| b.to_string());
        self.read(move |conn| {
            let sql = format!(
                "select {} from contacts where tenant_id = ?1 and id < ?2 order by id desc limit ?3",
                decode::CONTACT_COLS
            );
            all(conn, &sql, params![tenant.as_str(), before, limit], decode::contact)
        })
        .await
    }

    async fn conversation_page(
        &self,
        tenant: &TenantId,
        state: Option<ConversationState>,
        before: Option<&ConversationId>,
        limit: u32,
    ) -> StoreResult<Vec<Conversation>> {
        let tenant = tenant.clone();
        let before = before.map_or(PAST_ALL.to_owned(), |b| b.to_string());
        self.read(move |conn| {
            let sql = format!(
                "select {} from conversations where tenant_id = ?1 and id < ?2
                   and (?3 is null or state = ?3) order by id desc limit ?4",
                decode::CONVERSATION_COLS
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), before, state.map(|s| s.as_str()), limit],
                decode::conversation,
            )
        })
        .await
    }

    async fn message_page(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: Option<(DateTime<Utc>, MessageId)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        let (at, id) = match after {
            Some((at, id)) => (time_text(at), id.to_string()),
            None => (String::new(), String::new()),
        };
        self.read(move |conn| {
            let sql = format!(
                "select {} from messages where tenant_id = ?1 and conversation_id = ?2
                   and (created_at > ?3 or (created_at = ?3 and id > ?4))
                 order by created_at, id limit ?5",
                decode::MESSAGE_COLS
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), conversation.as_str(), at, id, limit],
                decode::message,
            )
        })
        .await
    }
}
