//! The test panel's chats on PostgreSQL.

use async_trait::async_trait;
use ombud_core::*;

use super::{decode_all, decode_opt, PgStore};
use crate::decode;
use crate::*;

#[async_trait]
impl TestChatStore for PgStore {
    async fn create_test_chat(
        &self,
        tenant: &TenantId,
        new: NewTestChat,
        audit: Audit,
    ) -> StoreResult<TestChat> {
        let version = self
            .agent_version(tenant, &new.version)
            .await?
            .ok_or(StoreError::NotFound("agent version"))?;
        let chat = new.into_chat(tenant, version.agent_id);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into test_chats (id, tenant_id, agent_id, agent_version_id, contact_id,
                conversation_id, created_by, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(chat.id.as_str())
        .bind(tenant.as_str())
        .bind(chat.agent_id.as_str())
        .bind(chat.agent_version_id.as_str())
        .bind(chat.contact_id.as_str())
        .bind(chat.conversation_id.as_str())
        .bind(&chat.created_by)
        .bind(chat.created_at)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(chat)
    }

    async fn test_chat(&self, tenant: &TenantId, id: &TestChatId) -> StoreResult<Option<TestChat>> {
        let sql = format!(
            "select {} from test_chats where tenant_id = $1 and id = $2",
            decode::TEST_CHAT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::test_chat)
    }

    async fn test_turns(&self, tenant: &TenantId, id: &TestChatId) -> StoreResult<Vec<TestTurn>> {
        let sql = format!(
            "select {} from test_turns where tenant_id = $1 and test_chat_id = $2 order by seq",
            decode::TEST_TURN_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::test_turn)
    }

    async fn test_chats(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        limit: u32,
    ) -> StoreResult<Vec<TestChat>> {
        let sql = format!(
            "select {} from test_chats where tenant_id = $1 and agent_id = $2
             order by created_at desc, id desc limit $3",
            decode::TEST_CHAT_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(agent.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::test_chat)
    }

    async fn commit_test_turn(
        &self,
        tenant: &TenantId,
        commit: TestTurnCommit,
    ) -> StoreResult<TestChat> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "select {} from test_chats where tenant_id = $1 and id = $2 for update",
            decode::TEST_CHAT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(commit.chat.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let chat = decode_opt(row, decode::test_chat)?.ok_or(StoreError::NotFound("test chat"))?;
        if chat.turns != commit.after_turns {
            return Err(crate::test_chats::turn_moved());
        }
        let t = &commit.turn;
        sqlx::query(
            "insert into test_turns (tenant_id, test_chat_id, seq, said, replies, tool_calls,
                handoff, status, error, latency_ms, tokens_in, tokens_out, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(tenant.as_str())
        .bind(chat.id.as_str())
        .bind(t.seq)
        .bind(&t.said)
        .bind(serde_json::to_value(&t.replies).map_err(StoreError::internal)?)
        .bind(&t.tool_calls)
        .bind(t.handoff)
        .bind(&t.status)
        .bind(&t.error)
        .bind(t.latency_ms)
        .bind(t.tokens.map(|k| k.input))
        .bind(t.tokens.map(|k| k.output))
        .bind(t.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "update test_chats set agent_state = $3, language = $4, handed_off = $5,
                complaints = $6, turns = $7, updated_at = $8
             where tenant_id = $1 and id = $2",
        )
        .bind(tenant.as_str())
        .bind(chat.id.as_str())
        .bind(&commit.agent_state)
        .bind(commit.language.as_ref().map(|l| l.as_str()))
        .bind(commit.handed_off)
        .bind(serde_json::to_value(&commit.complaints).map_err(StoreError::internal)?)
        .bind(t.seq)
        .bind(t.created_at)
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &commit.audit).await?;
        tx.commit().await?;
        Ok(commit.apply(chat))
    }
}
