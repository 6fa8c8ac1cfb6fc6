//! Agent runs: what is due, what a run reads, and the one transaction it commits.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;

use super::{decode_all, decode_opt, insert_event, PgStore};
use crate::decode;
use crate::*;

#[async_trait]
impl RunStore for PgStore {
    async fn due_conversations(&self, now: DateTime<Utc>) -> StoreResult<Vec<ConversationKey>> {
        let rows = sqlx::query(
            "select tenant_id, id from conversations
             where state = 'bot' and inbound_seq > run_cursor
               and (lease_until is null or lease_until < $1)
             order by last_inbound_at",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        decode_all(&rows, |r| {
            Ok(ConversationKey {
                tenant_id: decode::id(r, "tenant_id")?,
                conversation_id: decode::id(r, "id")?,
            })
        })
    }

    async fn lease_conversation(
        &self,
        key: &ConversationKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let leased = sqlx::query(
            "update conversations set lease_owner = $3, lease_until = $4
             where id = $1 and tenant_id = $2
               and (lease_owner is null or lease_owner = $3 or lease_until < $5)",
        )
        .bind(key.conversation_id.as_str())
        .bind(key.tenant_id.as_str())
        .bind(owner)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(leased.rows_affected() == 1)
    }

    async fn release_conversation(&self, key: &ConversationKey, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "update conversations set lease_owner = null, lease_until = null
             where id = $1 and tenant_id = $2 and lease_owner = $3",
        )
        .bind(key.conversation_id.as_str())
        .bind(key.tenant_id.as_str())
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_run(&self, key: &ConversationKey) -> StoreResult<Option<RunContext>> {
        let t = key.tenant_id.as_str();
        // Catalog rows are looked up outside the transaction: on a miss they take
        // a connection of their own, and a full pool must not wait on itself.
        let Some(tenant) = self.cached_tenant(&key.tenant_id).await? else {
            return Ok(None);
        };
        // One snapshot, so the conversation, its cursor and its messages agree.
        let mut tx = self.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let sql = format!(
            "select {} from conversations where id = $1 and tenant_id = $2",
            decode::CONVERSATION_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key.conversation_id.as_str())
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(conversation) = decode_opt(row, decode::conversation)? else {
            return Ok(None);
        };
        let sql = format!(
            "select {} from contacts where id = $1 and tenant_id = $2",
            decode::CONTACT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(conversation.contact_id.as_str())
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
        let contact = decode_opt(row, decode::contact)?.ok_or(StoreError::NotFound("contact"))?;
        let sql = format!(
            "select {} from messages where conversation_id = $1 and tenant_id = $2
             and direction = 'inbound' and seq > $3 order by seq",
            decode::MESSAGE_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(conversation.id.as_str())
            .bind(t)
            .bind(conversation.run_cursor)
            .fetch_all(&mut *tx)
            .await?;
        let pending = decode_all(&rows, decode::message)?;
        tx.commit().await?;
        let channel = self
            .channel(&conversation.channel_id)
            .await?
            .filter(|c| c.tenant_id == key.tenant_id)
            .ok_or(StoreError::NotFound("channel"))?;
        let agent_version = match &channel.deployed_version {
            Some(v) => self
                .cached_agent_version(v)
                .await?
                .filter(|v| v.tenant_id == key.tenant_id),
            None => None,
        };
        Ok(Some(RunContext {
            tenant,
            channel,
            contact,
            conversation,
            pending,
            agent_version,
        }))
    }

    async fn commit_run(&self, commit: RunCommit) -> StoreResult<CommitOutcome> {
        let t = commit.tenant_id.as_str();
        let c = commit.conversation_id.as_str();
        let mut tx = self.pool.begin().await?;
        let moved: Option<(String, String)> = sqlx::query_as(
            // Staff who took the conversation over during the run keep it:
            // a run hands over, never back; and a run of an earlier session
            // leaves the state of the one a newer message opened.
            "update conversations set run_cursor = $3, agent_state = $4, agent_session = $8,
                state = case when state = 'human' or session != $8 then state else $5 end,
                updated_at = $6
             where id = $1 and tenant_id = $2 and run_cursor = $7
             returning channel_id, contact_id",
        )
        .bind(c)
        .bind(t)
        .bind(commit.new_cursor)
        .bind(&commit.agent_state)
        .bind(commit.state.as_str())
        .bind(commit.at)
        .bind(commit.expected_cursor)
        .bind(commit.session)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((channel_id, contact_id)) = moved else {
            return Ok(CommitOutcome::CursorMoved);
        };
        if let Some(lang) = &commit.contact_language {
            sqlx::query("update contacts set language = $2 where id = $1")
                .bind(&contact_id)
                .bind(lang.as_str())
                .execute(&mut *tx)
                .await?;
        }
        if commit.block_told {
            sqlx::query("update contacts set block_told = true where id = $1")
                .bind(&contact_id)
                .execute(&mut *tx)
                .await?;
        }
        // The conversation's row lock (taken by the update above) keeps another
        // commit of it from adding sends between this look and the inserts.
        let claim = match commit.claim_sends_until {
            Some(until) if !commit.replies.is_empty() => {
                let earlier: Option<i32> = sqlx::query_scalar(
                    "select 1 from outbox
                     where conversation_id = $1 and status in ('pending', 'sending') limit 1",
                )
                .bind(c)
                .fetch_optional(&mut *tx)
                .await?;
                match earlier {
                    Some(_) => None,
                    None => {
                        let to: String =
                            sqlx::query_scalar("select external_id from contacts where id = $1")
                                .bind(&contact_id)
                                .fetch_one(&mut *tx)
                                .await?;
                        Some((until, to))
                    }
                }
            }
            _ => None,
        };
        let mut replies = Vec::with_capacity(commit.replies.len());
        let mut claimed = Vec::new();
        for (i, reply) in commit.replies.iter().enumerate() {
            let id = MessageId::new();
            sqlx::query(
                "insert into messages (id, tenant_id, channel_id, conversation_id, direction, seq,
                    kind, body, in_reply_to, status, created_at, updated_at, choices, sender, session)
                 values ($1, $2, $3, $4, 'outbound', 0, 'text', $5, $6, 'pending', $7, $7, $8, 'bot', $9)",
            )
            .bind(id.as_str())
            .bind(t)
            .bind(&channel_id)
            .bind(c)
            .bind(&reply.body)
            .bind(reply.in_reply_to.as_ref().map(|m| m.as_str()))
            .bind(commit.reply_at(i))
            .bind(reply.stored_choices()?)
            .bind(commit.session)
            .execute(&mut *tx)
            .await?;
            let entry = RunCommit::outbox_entry(claim.as_ref().map(|(until, _)| *until));
            let row: i64 = sqlx::query_scalar(
                "insert into outbox (tenant_id, channel_id, conversation_id, message_id, status,
                    attempts, lease_until, next_attempt_at, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8) returning id",
            )
            .bind(t)
            .bind(&channel_id)
            .bind(c)
            .bind(id.as_str())
            .bind(entry.status)
            .bind(entry.attempts)
            .bind(entry.lease_until)
            .bind(commit.at)
            .fetch_one(&mut *tx)
            .await?;
            if let Some((_, to)) = &claim {
                claimed.push(commit.claimed_send(row, &channel_id, &id, to, reply)?);
            }
            replies.push(id);
        }
        if !replies.is_empty() {
            sqlx::query("update contacts set messages_out = messages_out + $2 where id = $1")
                .bind(&contact_id)
                .bind(replies.len() as i64)
                .execute(&mut *tx)
                .await?;
        }
        let e = &commit.execution;
        sqlx::query(
            "insert into executions (id, tenant_id, conversation_id, agent_id, agent_version_id, from_seq, to_seq,
                input_ids, status, output, tool_calls, tokens_in, tokens_out, error, attempts, started_at, finished_at)
             values ($1, $2, $3, (select agent_id from agent_versions where id = $4), $4, $5, $6,
                $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(e.id.as_str())
        .bind(t)
        .bind(c)
        .bind(e.agent_version_id.as_ref().map(|v| v.as_str()))
        .bind(e.from_seq)
        .bind(e.to_seq)
        .bind(serde_json::to_value(&e.input_ids).map_err(StoreError::internal)?)
        .bind(e.status.as_str())
        .bind(&e.output)
        .bind(&e.tool_calls)
        .bind(e.tokens.map(|t| t.input))
        .bind(e.tokens.map(|t| t.output))
        .bind(&e.error)
        .bind(i64::from(e.attempts))
        .bind(e.started_at)
        .bind(e.finished_at)
        .execute(&mut *tx)
        .await?;
        for event in &commit.events {
            insert_event(
                &mut tx,
                &commit.tenant_id,
                event.kind,
                &event.data,
                commit.at,
            )
            .await?;
        }
        if let Some(answer) = &commit.survey {
            super::surveys::answer(&mut tx, answer, commit.at).await?;
        }
        tx.commit().await?;
        Ok(CommitOutcome::Committed { replies, claimed })
    }

    async fn conversations(&self, tenant: &TenantId) -> StoreResult<Vec<Conversation>> {
        let sql = format!(
            "select {} from conversations where tenant_id = $1 order by created_at",
            decode::CONVERSATION_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::conversation)
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "select {} from messages where tenant_id = $1 and conversation_id = $2 order by created_at, id",
            decode::MESSAGE_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::message)
    }

    async fn executions(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<Execution>> {
        let sql = format!(
            "select {} from executions where tenant_id = $1 and conversation_id = $2 order by started_at",
            decode::EXECUTION_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::execution)
    }
}
