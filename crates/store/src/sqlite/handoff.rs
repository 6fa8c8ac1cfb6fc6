//! Handed-over conversations: the inbox, staff replies, handing back.

use async_trait::async_trait;
use ombud_core::*;
use rusqlite::params;

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::handoff::{self, HandedOver, INBOX_LIMIT};
use crate::*;

#[async_trait]
impl HandoffStore for SqliteStore {
    async fn handed_over(&self, tenant: &TenantId) -> StoreResult<Vec<HandedOver>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = handoff::handed_over_sql(
                "v.tenant_id = ?1 and v.state = 'human'
                 order by v.last_inbound_at desc nulls last, v.id limit ?2",
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), INBOX_LIMIT],
                handoff::handed_over,
            )
        })
        .await
    }

    async fn conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> StoreResult<Option<HandedOver>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            let sql = handoff::handed_over_sql("v.tenant_id = ?1 and v.id = ?2");
            one(
                conn,
                &sql,
                params![tenant.as_str(), id.as_str()],
                handoff::handed_over,
            )
        })
        .await
    }

    async fn staff_reply(
        &self,
        tenant: &TenantId,
        reply: StaffReply<'_>,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<MessageId> {
        let tenant = tenant.clone();
        let (conversation, body) = (reply.conversation.clone(), reply.body.to_owned());
        let (sender, take_over) = (reply.sender.to_owned(), reply.take_over);
        self.write(move |conn| {
            let found: Option<(String, String, String)> = conn
                .prepare_cached(
                    "select state, channel_id, contact_id from conversations
                     where tenant_id = ?1 and id = ?2",
                )?
                .query_row(params![tenant.as_str(), conversation.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?;
            let Some((state, channel, contact)) = found else {
                return Err(StoreError::NotFound("conversation"));
            };
            if state != ConversationState::Human.as_str() {
                if !take_over {
                    return Err(StoreError::Invalid(ValidationError::new(
                        "conversation",
                        "is answered by the bot, not handed over to people",
                    )));
                }
                conn.prepare_cached(
                    "update conversations set state = 'human', updated_at = ?3
                     where tenant_id = ?1 and id = ?2",
                )?
                .execute(params![
                    tenant.as_str(),
                    conversation.as_str(),
                    time_text(stored(at))
                ])?;
            }
            let channel: ChannelId = decode::stored_id("channel_id", &channel)?;
            let contact: ContactId = decode::stored_id("contact_id", &contact)?;
            let id = super::work::send(
                conn,
                tenant.as_str(),
                &channel,
                &conversation,
                Some(&contact),
                crate::work::Outgoing::staff(&body, &sender),
                stored(at),
            )?;
            super::audit::append(conn, &audit)?;
            Ok(id)
        })
        .await
    }

    async fn hand_back(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "update conversations set state = 'bot', run_cursor = inbound_seq, updated_at = ?3
                 where tenant_id = ?1 and id = ?2 and state = 'human'",
                params![
                    tenant.as_str(),
                    conversation.as_str(),
                    time_text(stored(at))
                ],
            )?;
            if n == 1 {
                super::audit::append(conn, &audit)?;
            }
            Ok(n == 1)
        })
        .await
    }
}
