//! Agent runs: what is due, what a run reads, and the one transaction it commits.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::params;

use super::rows::{self, all, one, time_text};
use super::tenants::{agent_version_row, channel_row, tenant_row};
use super::SqliteStore;
use crate::decode;
use crate::*;

#[async_trait]
impl RunStore for SqliteStore {
    async fn due_conversations(&self, now: DateTime<Utc>) -> StoreResult<Vec<ConversationKey>> {
        let due = self
            .read(move |conn| {
                all(
                    conn,
                    "select tenant_id, id from conversations
                     where state = 'bot' and inbound_seq > run_cursor
                     order by last_inbound_at",
                    [],
                    |r| {
                        Ok(ConversationKey {
                            tenant_id: decode::id(r, "tenant_id")?,
                            conversation_id: decode::id(r, "id")?,
                        })
                    },
                )
            })
            .await?;
        let leases = self.leases();
        Ok(due.into_iter().filter(|k| !leases.held(k, now)).collect())
    }

    async fn lease_conversation(
        &self,
        key: &ConversationKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let probe = key.clone();
        let exists = self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("select 1 from conversations where id = ?1 and tenant_id = ?2")?
                    .exists(params![
                        probe.conversation_id.as_str(),
                        probe.tenant_id.as_str()
                    ])?)
            })
            .await?;
        Ok(exists && self.leases().take(key, owner, now, until))
    }

    async fn release_conversation(&self, key: &ConversationKey, owner: &str) -> StoreResult<()> {
        self.leases().release(key, owner);
        Ok(())
    }

    /// The lease is in memory, so this is one read: `load_run` finds out whether
    /// the conversation exists, which `lease_conversation` reads separately.
    async fn begin_run(
        &self,
        key: &ConversationKey,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<RunStart> {
        if !self.leases().take(key, owner, now, until) {
            return Ok(RunStart::Busy);
        }
        crate::load_leased(self, key, owner).await
    }

    async fn load_run(&self, key: &ConversationKey) -> StoreResult<Option<RunContext>> {
        let (key, catalog) = (key.clone(), self.catalog().clone());
        let sealer = self.sealer();
        self.read_warm(move |conn| {
            let t = key.tenant_id.as_str();
            let sql = format!(
                "select {} from conversations where id = ?1 and tenant_id = ?2",
                decode::CONVERSATION_COLS
            );
            let Some(conversation) = one(
                conn,
                &sql,
                params![key.conversation_id.as_str(), t],
                decode::conversation,
            )?
            else {
                return Ok(None);
            };
            let tenant = catalog
                .tenants
                .get_or_load(&key.tenant_id, || tenant_row(conn, &key.tenant_id))?
                .ok_or(StoreError::NotFound("tenant"))?;
            let channel = catalog
                .channels
                .get_or_load(&conversation.channel_id, || {
                    channel_row(conn, &sealer, &conversation.channel_id)
                })?
                .filter(|c| c.tenant_id == key.tenant_id)
                .ok_or(StoreError::NotFound("channel"))?;
            let sql = format!(
                "select {} from contacts where id = ?1 and tenant_id = ?2",
                decode::CONTACT_COLS
            );
            let contact = one(
                conn,
                &sql,
                params![conversation.contact_id.as_str(), t],
                decode::contact,
            )?
            .ok_or(StoreError::NotFound("contact"))?;
            let sql = format!(
                "select {} from messages where conversation_id = ?1 and tenant_id = ?2
                 and direction = 'inbound' and seq > ?3 order by seq",
                decode::MESSAGE_COLS
            );
            let pending = all(
                conn,
                &sql,
                params![conversation.id.as_str(), t, conversation.run_cursor],
                decode::message,
            )?;
            let agent_version = match &channel.deployed_version {
                Some(v) => catalog
                    .versions
                    .get_or_load(v, || agent_version_row(conn, v))?
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
        })
        .await
    }

    async fn commit_run(&self, commit: RunCommit) -> StoreResult<CommitOutcome> {
        self.write(move |conn| {
            let t = commit.tenant_id.as_str();
            let c = commit.conversation_id.as_str();
            let at = time_text(commit.at);
            let moved = conn
                .prepare_cached(
                    // Staff who took the conversation over during the run
                    // keep it: a run hands over, never back; and a run of an
                    // earlier session leaves the state of the one a newer
                    // message opened.
                    "update conversations set run_cursor = ?3, agent_state = ?4, agent_session = ?8,
                        state = case when state = 'human' or session != ?8 then state else ?5 end,
                        updated_at = ?6
                     where id = ?1 and tenant_id = ?2 and run_cursor = ?7",
                )?
                .execute(params![
                    c,
                    t,
                    commit.new_cursor,
                    commit.agent_state.to_string(),
                    commit.state.as_str(),
                    at,
                    commit.expected_cursor,
                    commit.session
                ])?;
            if moved == 0 {
                return Ok(CommitOutcome::CursorMoved);
            }
            let (channel_id, contact_id, to): (String, String, String) = conn
                .prepare_cached(
                    "select v.channel_id, v.contact_id, c.external_id
                     from conversations v join contacts c on c.id = v.contact_id where v.id = ?1",
                )?
                .query_row([c], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            if let Some(lang) = &commit.contact_language {
                conn.prepare_cached("update contacts set language = ?2 where id = ?1")?
                    .execute(params![contact_id, lang.as_str()])?;
            }
            if commit.block_told {
                conn.prepare_cached("update contacts set block_told = 1 where id = ?1")?
                    .execute([&contact_id])?;
            }
            let claim_until = match commit.claim_sends_until {
                Some(until) if !commit.replies.is_empty() => {
                    let earlier = conn
                        .prepare_cached(
                            "select 1 from outbox
                             where conversation_id = ?1 and status in ('pending', 'sending')",
                        )?
                        .exists([c])?;
                    (!earlier).then_some(until)
                }
                _ => None,
            };
            let mut replies = Vec::with_capacity(commit.replies.len());
            let mut claimed = Vec::new();
            for (i, reply) in commit.replies.iter().enumerate() {
                let id = MessageId::new();
                conn.prepare_cached(
                    "insert into messages (id, tenant_id, channel_id, conversation_id, direction, seq,
                        kind, body, in_reply_to, status, created_at, updated_at, choices, sender, session)
                     values (?1, ?2, ?3, ?4, 'outbound', 0, 'text', ?5, ?6, 'pending', ?7, ?7, ?8, 'bot', ?9)",
                )?
                .execute(params![
                    id.as_str(),
                    t,
                    channel_id,
                    c,
                    reply.body,
                    reply.in_reply_to.as_ref().map(|m| m.as_str()),
                    time_text(commit.reply_at(i)),
                    reply.stored_choices()?,
                    commit.session
                ])?;
                let entry = RunCommit::outbox_entry(claim_until);
                conn.prepare_cached(
                    "insert into outbox (tenant_id, channel_id, conversation_id, message_id, status,
                        attempts, lease_until, next_attempt_at, created_at, updated_at)
                     values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8)",
                )?
                .execute(params![
                            t,
                            channel_id,
                            c,
                            id.as_str(),
                            entry.status,
                            entry.attempts,
                            entry.lease_until.map(time_text),
                            at
                        ])?;
                let row = conn.last_insert_rowid();
                if claim_until.is_some() {
                    claimed.push(commit.claimed_send(row, &channel_id, &id, &to, reply)?);
                }
                replies.push(id);
            }
            if !replies.is_empty() {
                conn.prepare_cached("update contacts set messages_out = messages_out + ?2 where id = ?1")?
                    .execute(params![contact_id, replies.len() as i64])?;
            }
            let e = &commit.execution;
            conn.prepare_cached(
                "insert into executions (id, tenant_id, conversation_id, agent_id, agent_version_id, from_seq, to_seq,
                    input_ids, status, output, tool_calls, tokens_in, tokens_out, error, attempts, started_at, finished_at)
                 values (?1, ?2, ?3, (select agent_id from agent_versions where id = ?4), ?4, ?5, ?6,
                    ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            .execute(params![
                e.id.as_str(),
                t,
                c,
                e.agent_version_id.as_ref().map(|v| v.as_str()),
                e.from_seq,
                e.to_seq,
                serde_json::to_string(&e.input_ids).map_err(StoreError::internal)?,
                e.status.as_str(),
                e.output.to_string(),
                e.tool_calls.to_string(),
                e.tokens.map(|t| t.input),
                e.tokens.map(|t| t.output),
                e.error,
                e.attempts,
                time_text(e.started_at),
                time_text(e.finished_at)
            ])?;
            for event in &commit.events {
                rows::insert_event(conn, &commit.tenant_id, event.kind, &event.data, commit.at)?;
            }
            if let Some(answer) = &commit.survey {
                super::surveys::answer(conn, answer, commit.at)?;
            }
            Ok(CommitOutcome::Committed { replies, claimed })
        })
        .await
    }

    async fn conversations(&self, tenant: &TenantId) -> StoreResult<Vec<Conversation>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "select {} from conversations where tenant_id = ?1 order by created_at",
                decode::CONVERSATION_COLS
            );
            all(conn, &sql, [tenant.as_str()], decode::conversation)
        })
        .await
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<Message>> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from messages where tenant_id = ?1 and conversation_id = ?2
                 order by created_at, id",
                decode::MESSAGE_COLS
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), conversation.as_str()],
                decode::message,
            )
        })
        .await
    }

    async fn executions(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<Execution>> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from executions where tenant_id = ?1 and conversation_id = ?2 order by started_at",
                decode::EXECUTION_COLS
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), conversation.as_str()],
                decode::execution,
            )
        })
        .await
    }
}
