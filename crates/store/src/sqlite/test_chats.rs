//! The test panel's chats on SQLite.

use async_trait::async_trait;
use ombud_core::*;
use rusqlite::{params, Connection};

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::*;

#[async_trait]
impl TestChatStore for SqliteStore {
    async fn create_test_chat(
        &self,
        tenant: &TenantId,
        new: NewTestChat,
        audit: Audit,
    ) -> StoreResult<TestChat> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let version = super::tenants::agent_version_row(conn, &new.version)?
                .filter(|v| v.tenant_id == tenant)
                .ok_or(StoreError::NotFound("agent version"))?;
            let chat = new.clone().into_chat(&tenant, version.agent_id);
            let at = time_text(chat.created_at);
            conn.execute(
                "insert into test_chats (id, tenant_id, agent_id, agent_version_id, contact_id,
                    conversation_id, created_by, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                params![
                    chat.id.as_str(),
                    tenant.as_str(),
                    chat.agent_id.as_str(),
                    chat.agent_version_id.as_str(),
                    chat.contact_id.as_str(),
                    chat.conversation_id.as_str(),
                    chat.created_by,
                    at
                ],
            )?;
            super::audit::append(conn, &audit)?;
            Ok(chat)
        })
        .await
    }

    async fn test_chat(&self, tenant: &TenantId, id: &TestChatId) -> StoreResult<Option<TestChat>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| chat_row(conn, &tenant, &id)).await
    }

    async fn test_turns(&self, tenant: &TenantId, id: &TestChatId) -> StoreResult<Vec<TestTurn>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from test_turns where tenant_id = ?1 and test_chat_id = ?2 order by seq",
                decode::TEST_TURN_COLS
            );
            all(
                conn,
                &sql,
                [tenant.as_str(), id.as_str()],
                decode::test_turn,
            )
        })
        .await
    }

    async fn test_chats(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        limit: u32,
    ) -> StoreResult<Vec<TestChat>> {
        let (tenant, agent) = (tenant.clone(), agent.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from test_chats where tenant_id = ?1 and agent_id = ?2
                 order by created_at desc, id desc limit ?3",
                decode::TEST_CHAT_COLS
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), agent.as_str(), limit],
                decode::test_chat,
            )
        })
        .await
    }

    async fn commit_test_turn(
        &self,
        tenant: &TenantId,
        commit: TestTurnCommit,
    ) -> StoreResult<TestChat> {
        let tenant = tenant.clone();
        self.write(move |conn| {
            let chat =
                chat_row(conn, &tenant, &commit.chat)?.ok_or(StoreError::NotFound("test chat"))?;
            if chat.turns != commit.after_turns {
                return Err(crate::test_chats::turn_moved());
            }
            let t = &commit.turn;
            let replies = serde_json::to_string(&t.replies).map_err(StoreError::internal)?;
            let complaints =
                serde_json::to_string(&commit.complaints).map_err(StoreError::internal)?;
            conn.execute(
                "insert into test_turns (tenant_id, test_chat_id, seq, said, replies, tool_calls,
                    handoff, status, error, latency_ms, tokens_in, tokens_out, created_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    tenant.as_str(),
                    chat.id.as_str(),
                    t.seq,
                    t.said,
                    replies,
                    t.tool_calls.to_string(),
                    t.handoff,
                    t.status,
                    t.error,
                    t.latency_ms,
                    t.tokens.map(|k| k.input),
                    t.tokens.map(|k| k.output),
                    time_text(t.created_at)
                ],
            )?;
            conn.execute(
                "update test_chats set agent_state = ?3, language = ?4, handed_off = ?5,
                    complaints = ?6, turns = ?7, updated_at = ?8
                 where tenant_id = ?1 and id = ?2",
                params![
                    tenant.as_str(),
                    chat.id.as_str(),
                    commit.agent_state.to_string(),
                    commit.language.as_ref().map(|l| l.as_str().to_owned()),
                    commit.handed_off,
                    complaints,
                    t.seq,
                    time_text(t.created_at)
                ],
            )?;
            super::audit::append(conn, &commit.audit)?;
            Ok(commit.clone().apply(chat))
        })
        .await
    }
}

fn chat_row(
    conn: &Connection,
    tenant: &TenantId,
    id: &TestChatId,
) -> StoreResult<Option<TestChat>> {
    let sql = format!(
        "select {} from test_chats where tenant_id = ?1 and id = ?2",
        decode::TEST_CHAT_COLS
    );
    one(
        conn,
        &sql,
        [tenant.as_str(), id.as_str()],
        decode::test_chat,
    )
}
