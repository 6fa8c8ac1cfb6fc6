//! Ingesting a channel delivery: contacts, conversations, messages, statuses.
//! Deliveries for one conversation serialize on its row lock, taken before the
//! duplicate check, so concurrent deliveries of the same wamid (Meta retrying while
//! the first is in flight, or two replicas) store it once and both succeed.
//! Messages are taken in order of sender, so two batches lock conversations in the
//! same order; and like `commit_run`, ingest locks a conversation before its
//! contact, so the two cannot deadlock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::event::payload;
use ombud_core::*;
use sqlx::PgConnection;

use super::PgStore;
use crate::decode;
use crate::*;

#[async_trait]
impl InboundStore for PgStore {
    async fn ingest(
        &self,
        channel: &Channel,
        batch: InboundBatch,
        at: DateTime<Utc>,
        idle: SessionIdle,
    ) -> StoreResult<IngestOutcome> {
        let mut tx = self.pool.begin().await?;
        let mut outcome = IngestOutcome::default();
        let mut messages: Vec<&InboundMessage> = batch.messages.iter().collect();
        messages.sort_by(|a, b| a.from.cmp(&b.from)); // stable: a sender's order stays
        for m in messages {
            outcome.add(
                store_message(&mut tx, channel, m, at, idle)
                    .await
                    .map_err(race_is_retryable)?,
            );
        }
        for s in &batch.statuses {
            if apply_status(&mut tx, channel, s, at).await? {
                outcome.statuses_applied += 1;
            }
        }
        tx.commit().await.map_err(|e| race_is_retryable(e.into()))?;
        Ok(outcome)
    }
}

/// A unique-key clash here means another replica stored the same thing first.
fn race_is_retryable(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict { field, .. } => {
            StoreError::Unavailable(format!("concurrent insert on {field}; retry"))
        }
        other => other,
    }
}

async fn store_message(
    tx: &mut PgConnection,
    channel: &Channel,
    m: &InboundMessage,
    at: DateTime<Utc>,
    idle: SessionIdle,
) -> StoreResult<Option<(MessageId, Option<ConversationKey>)>> {
    let tenant = channel.tenant_id.as_str();
    // Lock order, here and in commit_run: conversation row, then contact row.
    // So the contact is created without locking an existing one, and updated only
    // once the conversation is locked.
    sqlx::query(
        "insert into contacts (id, tenant_id, channel_id, external_id, profile_name, first_seen_at, last_seen_at)
         values ($1, $2, $3, $4, $5, $6, $6)
         on conflict (channel_id, external_id) do nothing",
    )
    .bind(ContactId::new().as_str())
    .bind(tenant)
    .bind(channel.id.as_str())
    .bind(&m.from)
    .bind(&m.profile_name)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    let contact_id: String =
        sqlx::query_scalar("select id from contacts where channel_id = $1 and external_id = $2")
            .bind(channel.id.as_str())
            .bind(&m.from)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "insert into conversations (id, tenant_id, channel_id, contact_id, state, created_at, updated_at)
         values ($1, $2, $3, $4, 'bot', $5, $5)
         on conflict (contact_id) where state != 'closed' do nothing",
    )
    .bind(ConversationId::new().as_str())
    .bind(tenant)
    .bind(channel.id.as_str())
    .bind(&contact_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    type Open = (String, String, i64, Option<DateTime<Utc>>, bool);
    let (conversation_id, state, session, active_at, closed): Open = sqlx::query_as(
        "select id, state, session, active_at, session_closed_at is not null
         from conversations where contact_id = $1 and state != 'closed' for update",
    )
    .bind(&contact_id)
    .fetch_one(&mut *tx)
    .await?;
    let seen: bool = sqlx::query_scalar(
        "select exists (select 1 from messages where channel_id = $1 and provider_id = $2)",
    )
    .bind(channel.id.as_str())
    .bind(&m.provider_id)
    .fetch_one(&mut *tx)
    .await?;
    if seen {
        return Ok(None);
    }
    sqlx::query(
        "update contacts set messages_in = messages_in + 1, last_seen_at = greatest(last_seen_at, $2),
            profile_name = coalesce($3, profile_name) where id = $1",
    )
    .bind(&contact_id)
    .bind(at)
    .bind(&m.profile_name)
    .execute(&mut *tx)
    .await?;
    // A new session is open, and the bot's to answer.
    let (state, session) = match idle.starts_new(active_at, closed, at) {
        true => ("bot".to_owned(), session + 1),
        false => (state, session),
    };
    let seq: i64 = sqlx::query_scalar(
        "update conversations set inbound_seq = inbound_seq + 1, last_inbound_at = $2,
            active_at = $2, updated_at = $2,
            state = case when session = $3 then state else 'bot' end,
            session_closed_at = case when session = $3 then session_closed_at end,
            session = $3
         where id = $1 returning inbound_seq",
    )
    .bind(&conversation_id)
    .bind(at)
    .bind(session)
    .fetch_one(&mut *tx)
    .await?;
    let message_id = MessageId::new();
    let attachment = m.media.as_ref().map(|r| (AttachmentId::new(), r));
    let media = attachment
        .as_ref()
        .map(|(id, _)| serde_json::to_string(&media::MediaInfo::fetching(id.clone())))
        .transpose()
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    sqlx::query(
        "insert into messages (id, tenant_id, channel_id, conversation_id, direction, seq, provider_id,
            kind, body, status, created_at, updated_at, payload, session, media)
         values ($1, $2, $3, $4, 'inbound', $5, $6, $7, $8, 'received', $9, $9, $10, $11, $12)",
    )
    .bind(message_id.as_str())
    .bind(tenant)
    .bind(channel.id.as_str())
    .bind(&conversation_id)
    .bind(seq)
    .bind(&m.provider_id)
    .bind(m.kind.as_str())
    .bind(&m.body)
    .bind(at)
    .bind(&m.payload)
    .bind(session)
    .bind(media)
    .execute(&mut *tx)
    .await?;
    let attachment_id = attachment.as_ref().map(|(id, _)| id.clone());
    if let Some((id, provider)) = attachment {
        let provider =
            serde_json::to_string(provider).map_err(|e| StoreError::Internal(e.to_string()))?;
        sqlx::query(
            "insert into attachments (id, tenant_id, message_id, conversation_id, channel_id,
                kind, state, provider_ref, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, 'fetching', $7, $8, $8)",
        )
        .bind(id.as_str())
        .bind(tenant)
        .bind(message_id.as_str())
        .bind(&conversation_id)
        .bind(channel.id.as_str())
        .bind(m.kind.as_str())
        .bind(provider)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let job = crate::attachments::fetch_job(&channel.tenant_id, &message_id, &id, at);
        super::jobs::insert(tx, &job, at).await?;
    }
    super::emit(
        tx,
        &channel.tenant_id,
        &payload::MessageReceived {
            message_id: message_id.to_string(),
            conversation_id: conversation_id.to_string(),
            channel_id: channel.id.to_string(),
            kind: m.kind.as_str().to_owned(),
            attachment_id: attachment_id.map(|id| id.to_string()),
        },
        at,
    )
    .await?;
    let due = if state == "bot" {
        Some(ConversationKey {
            tenant_id: channel.tenant_id.clone(),
            conversation_id: decode::stored_id("conversation_id", &conversation_id)?,
        })
    } else {
        None
    };
    Ok(Some((message_id, due)))
}

async fn apply_status(
    tx: &mut PgConnection,
    channel: &Channel,
    s: &StatusReport,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    let found: Option<(String, String)> = sqlx::query_as(
        "select id, status from messages
         where channel_id = $1 and direction = 'outbound' and (provider_id = $2 or id = $3)
         limit 1 for update",
    )
    .bind(channel.id.as_str())
    .bind(&s.provider_id)
    .bind(&s.callback_data)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, current)) = found else {
        return Ok(false);
    };
    let current = DeliveryStatus::parse(&current).unwrap_or(DeliveryStatus::Pending);
    if !s.status.may_follow(current) {
        return Ok(false);
    }
    sqlx::query(
        "update messages set status = $2, error = coalesce($3, error),
            provider_id = coalesce(provider_id, $4), updated_at = $5 where id = $1",
    )
    .bind(&id)
    .bind(s.status.as_str())
    .bind(&s.error)
    .bind(&s.provider_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    if s.status == DeliveryStatus::Failed {
        super::emit(
            tx,
            &channel.tenant_id,
            &payload::MessageFailed {
                message_id: id.to_string(),
                error: s.error.clone(),
            },
            at,
        )
        .await?;
    }
    Ok(true)
}
