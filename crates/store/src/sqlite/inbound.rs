//! Ingesting a channel delivery: contacts, conversations, messages, statuses.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::event::payload;
use ombud_core::*;
use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{self, time_text};
use super::SqliteStore;
use crate::decode;
use crate::*;

#[async_trait]
impl InboundStore for SqliteStore {
    async fn ingest(
        &self,
        channel: &Channel,
        batch: InboundBatch,
        at: DateTime<Utc>,
        idle: SessionIdle,
    ) -> StoreResult<IngestOutcome> {
        let channel = channel.clone();
        self.write(move |conn| {
            let mut outcome = IngestOutcome::default();
            for m in &batch.messages {
                outcome.add(store_message(conn, &channel, m, at, idle)?);
            }
            for s in &batch.statuses {
                if apply_status(conn, &channel, s, at)? {
                    outcome.statuses_applied += 1;
                }
            }
            Ok(outcome)
        })
        .await
    }
}

/// Stores one inbound message unless its provider id was seen before. Returns its id,
/// and the conversation if the bot now owes it an answer.
fn store_message(
    conn: &Connection,
    channel: &Channel,
    m: &InboundMessage,
    at: DateTime<Utc>,
    idle: SessionIdle,
) -> StoreResult<Option<(MessageId, Option<ConversationKey>)>> {
    let seen: bool = conn
        .prepare_cached("select 1 from messages where channel_id = ?1 and provider_id = ?2")?
        .exists(params![channel.id.as_str(), m.provider_id])?;
    if seen {
        return Ok(None);
    }
    let now = time_text(at);
    let tenant = channel.tenant_id.as_str();
    let contact_id: Option<String> = conn
        .prepare_cached("select id from contacts where channel_id = ?1 and external_id = ?2")?
        .query_row(params![channel.id.as_str(), m.from], |r| r.get(0))
        .optional()?;
    let contact_id = match contact_id {
        Some(id) => {
            conn.prepare_cached(
                "update contacts set last_seen_at = ?2, messages_in = messages_in + 1,
                    profile_name = coalesce(?3, profile_name) where id = ?1",
            )?
            .execute(params![id, now, m.profile_name])?;
            id
        }
        None => {
            let id = ContactId::new().to_string();
            conn.prepare_cached(
                "insert into contacts (id, tenant_id, channel_id, external_id, profile_name,
                    first_seen_at, last_seen_at, messages_in) values (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1)",
            )?
            .execute(params![id, tenant, channel.id.as_str(), m.from, m.profile_name, now])?;
            id
        }
    };
    let open: Option<(String, String, i64, i64, Option<String>, bool)> = conn
        .prepare_cached(
            "select id, state, inbound_seq, session, active_at, session_closed_at is not null
             from conversations where contact_id = ?1 and state != 'closed'",
        )?
        .query_row([&contact_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    let (conversation_id, state, last_seq, session) = match open {
        Some((id, state, seq, session, active_at, closed)) => {
            let active_at = active_at
                .map(|a| rows::parse_time("active_at", &a))
                .transpose()?;
            match idle.starts_new(active_at, closed, at) {
                true => (id, "bot".to_owned(), seq, session + 1),
                false => (id, state, seq, session),
            }
        }
        None => {
            let id = ConversationId::new().to_string();
            conn.prepare_cached(
                "insert into conversations (id, tenant_id, channel_id, contact_id, state, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, 'bot', ?5, ?5)",
            )?
            .execute(params![id, tenant, channel.id.as_str(), contact_id, now])?;
            (id, "bot".to_owned(), 0, 1)
        }
    };
    // The single writer runs this, so nothing moves the counter in between;
    // no `returning`, which SQLite buffers in a temporary table. A new
    // session is open, and the bot's to answer.
    let seq = last_seq + 1;
    conn.prepare_cached(
        "update conversations set inbound_seq = ?3, last_inbound_at = ?2, active_at = ?2,
            updated_at = ?2,
            state = case when session = ?4 then state else 'bot' end,
            session_closed_at = case when session = ?4 then session_closed_at end,
            session = ?4
         where id = ?1",
    )?
    .execute(params![conversation_id, now, seq, session])?;
    let message_id = MessageId::new();
    let attachment = m.media.as_ref().map(|r| (AttachmentId::new(), r));
    let media = attachment
        .as_ref()
        .map(|(id, _)| serde_json::to_string(&media::MediaInfo::fetching(id.clone())))
        .transpose()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    conn.prepare_cached(
        "insert into messages (id, tenant_id, channel_id, conversation_id, direction, seq, provider_id,
            kind, body, status, created_at, updated_at, payload, session, media)
         values (?1, ?2, ?3, ?4, 'inbound', ?5, ?6, ?7, ?8, 'received', ?9, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        message_id.as_str(),
        tenant,
        channel.id.as_str(),
        conversation_id,
        seq,
        m.provider_id,
        m.kind.as_str(),
        m.body,
        now,
        m.payload,
        session,
        media
    ])?;
    let attachment_id = attachment.as_ref().map(|(id, _)| id.clone());
    if let Some((id, provider)) = attachment {
        let provider =
            serde_json::to_string(provider).map_err(|e| StoreError::Internal(e.to_string()))?;
        conn.prepare_cached(
            "insert into attachments (id, tenant_id, message_id, conversation_id, channel_id,
                kind, state, provider_ref, created_at, updated_at)
             values (?1, ?2, ?3, ?4, ?5, ?6, 'fetching', ?7, ?8, ?8)",
        )?
        .execute(params![
            id.as_str(),
            tenant,
            message_id.as_str(),
            conversation_id,
            channel.id.as_str(),
            m.kind.as_str(),
            provider,
            now
        ])?;
        let job = crate::attachments::fetch_job(&channel.tenant_id, &message_id, &id, at);
        super::jobs::insert(conn, &job, at)?;
    }
    rows::emit(
        conn,
        &channel.tenant_id,
        &payload::MessageReceived {
            message_id: message_id.to_string(),
            conversation_id: conversation_id.to_string(),
            channel_id: channel.id.to_string(),
            kind: m.kind.as_str().to_owned(),
            attachment_id: attachment_id.map(|id| id.to_string()),
        },
        at,
    )?;
    let due = (state == "bot").then(|| -> StoreResult<ConversationKey> {
        Ok(ConversationKey {
            tenant_id: channel.tenant_id.clone(),
            conversation_id: decode::stored_id("conversation_id", &conversation_id)?,
        })
    });
    Ok(Some((message_id, due.transpose()?)))
}

/// Applies a delivery report to one of our outbound messages on this channel, found
/// by the provider's id or by the message id we attached when sending. Reports for
/// messages of another channel are never matched.
fn apply_status(
    conn: &Connection,
    channel: &Channel,
    s: &StatusReport,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let found: Option<(String, String, String)> = conn
        .prepare_cached(
            "select id, status, tenant_id from messages
             where channel_id = ?1 and direction = 'outbound' and (provider_id = ?2 or id = ?3)
             limit 1",
        )?
        .query_row(
            params![channel.id.as_str(), s.provider_id, s.callback_data],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((id, current, _tenant)) = found else {
        return Ok(false);
    };
    let current = DeliveryStatus::parse(&current).unwrap_or(DeliveryStatus::Pending);
    if !s.status.may_follow(current) {
        return Ok(false);
    }
    conn.prepare_cached(
        "update messages set status = ?2, error = coalesce(?3, error),
            provider_id = coalesce(provider_id, ?4), updated_at = ?5 where id = ?1",
    )?
    .execute(params![
        id,
        s.status.as_str(),
        s.error,
        s.provider_id,
        time_text(at)
    ])?;
    if s.status == DeliveryStatus::Failed {
        rows::emit(
            conn,
            &channel.tenant_id,
            &payload::MessageFailed {
                message_id: id.to_string(),
                error: s.error.clone(),
            },
            at,
        )?;
    }
    Ok(true)
}
