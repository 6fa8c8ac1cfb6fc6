//! Handed-over conversations: the inbox, staff replies, handing back.

use async_trait::async_trait;
use ombud_core::*;
use rusqlite::params;

use super::rows::{all, one, parse_time, time_text};
use super::SqliteStore;
use crate::handoff::{self, HandedOver, InboxFilter, InboxItem, LiveEvent, INBOX_LIMIT, LIVE_PAGE};
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
        let template = reply.template.cloned();
        let assignee = reply.assignee.map(|u| u.as_str().to_owned());
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
            if let Some(user) = &assignee {
                conn.prepare_cached(
                    "update conversations set assignee_id = ?3
                     where tenant_id = ?1 and id = ?2 and assignee_id is null",
                )?
                .execute(params![tenant.as_str(), conversation.as_str(), user])?;
            }
            let channel: ChannelId = decode::stored_id("channel_id", &channel)?;
            let contact: ContactId = decode::stored_id("contact_id", &contact)?;
            let id = super::work::send(
                conn,
                tenant.as_str(),
                &channel,
                &conversation,
                Some(&contact),
                crate::work::Outgoing::staff(&body, template.as_ref(), &sender),
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
                "update conversations set state = 'bot', run_cursor = inbound_seq,
                        assignee_id = null, updated_at = ?3
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

    async fn close_session(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<bool> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        self.write(move |conn| {
            let n = conn.execute(
                "update conversations set session_closed_at = ?3, updated_at = ?3,
                        run_cursor = case when state = 'human' then inbound_seq else run_cursor end,
                        state = 'bot', assignee_id = null
                 where tenant_id = ?1 and id = ?2 and session_closed_at is null",
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

    async fn inbox(
        &self,
        tenant: &TenantId,
        user: &UserId,
        filter: InboxFilter,
    ) -> StoreResult<Vec<InboxItem>> {
        let (tenant, user) = (tenant.clone(), user.clone());
        self.read(move |conn| {
            let sql = handoff::inbox_sql(filter, |n| format!("?{n}"));
            all(
                conn,
                &sql,
                params![tenant.as_str(), user.as_str(), INBOX_LIMIT],
                handoff::inbox_item,
            )
        })
        .await
    }

    async fn unread_count(&self, tenant: &TenantId, user: &UserId) -> StoreResult<u64> {
        let (tenant, user) = (tenant.clone(), user.clone());
        self.read(move |conn| {
            let sql = handoff::unread_sql(|n| format!("?{n}"));
            let n: i64 = conn
                .prepare_cached(&sql)?
                .query_row(params![tenant.as_str(), user.as_str()], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn mark_read(
        &self,
        tenant: &TenantId,
        user: &UserId,
        conversation: &ConversationId,
        upto: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (tenant, user, conversation) = (tenant.clone(), user.clone(), conversation.clone());
        let upto = time_text(stored(upto));
        self.write(move |conn| {
            conn.prepare_cached(
                "insert into conversation_reads (user_id, conversation_id, tenant_id, read_at)
                 select ?1, v.id, v.tenant_id, ?4 from conversations v
                 where v.tenant_id = ?2 and v.id = ?3
                 on conflict (user_id, conversation_id)
                 do update set read_at = max(read_at, excluded.read_at)",
            )?
            .execute(params![
                user.as_str(),
                tenant.as_str(),
                conversation.as_str(),
                upto
            ])?;
            Ok(())
        })
        .await
    }

    async fn live_events(
        &self,
        tenant: &TenantId,
        after: (DateTime<Utc>, &str),
    ) -> StoreResult<Vec<LiveEvent>> {
        let tenant = tenant.clone();
        let (since, after_id) = (time_text(stored(after.0)), after.1.to_owned());
        self.read(move |conn| {
            let mut events = Vec::new();
            let mut read = conn.prepare_cached(
                "select id, type, data, created_at from events
                 where tenant_id = ?1 and (created_at > ?2 or (created_at = ?2 and id > ?4))
                 order by created_at, id limit ?3",
            )?;
            let mut rows = read.query(params![tenant.as_str(), since, LIVE_PAGE, after_id])?;
            while let Some(r) = rows.next()? {
                let data: String = r.get(2)?;
                let at: String = r.get(3)?;
                events.push(handoff::live_event(
                    r.get(0)?,
                    parse_time("created_at", &at)?,
                    r.get(1)?,
                    &serde_json::from_str(&data).unwrap_or_default(),
                ));
            }
            let mut of_message = conn.prepare_cached(
                "select conversation_id from messages where tenant_id = ?1 and id = ?2",
            )?;
            for e in &mut events {
                if let Some(m) = &e.message {
                    e.conversation = of_message
                        .query_row(params![tenant.as_str(), m], |r| r.get(0))
                        .map(Some)
                        .or_else(|e| match e {
                            rusqlite::Error::QueryReturnedNoRows => Ok(None),
                            e => Err(e),
                        })?;
                }
            }
            let mut state_of = conn.prepare_cached(
                "select state from conversations where tenant_id = ?1 and id = ?2",
            )?;
            let mut states: std::collections::HashMap<String, Option<String>> =
                std::collections::HashMap::new();
            for e in &mut events {
                let Some(c) = e.conversation.clone() else {
                    continue;
                };
                if !states.contains_key(&c) {
                    let state: Option<String> = state_of
                        .query_row(params![tenant.as_str(), c], |r| r.get(0))
                        .map(Some)
                        .or_else(|e| match e {
                            rusqlite::Error::QueryReturnedNoRows => Ok(None),
                            e => Err(e),
                        })?;
                    states.insert(c.clone(), state);
                }
                e.set_people(states[&c].as_deref());
            }
            Ok(events)
        })
        .await
    }

    async fn latest_event_at(&self, tenant: &TenantId) -> StoreResult<Option<DateTime<Utc>>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let at: Option<String> = conn
                .prepare_cached("select max(created_at) from events where tenant_id = ?1")?
                .query_row(params![tenant.as_str()], |r| r.get(0))?;
            at.map(|t| parse_time("created_at", &t)).transpose()
        })
        .await
    }
}
