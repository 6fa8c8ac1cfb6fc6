//! Agents, versions and deployments on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use sqlx::{Postgres, Transaction};

use super::{decode_all, decode_opt, insert_event, PgStore};
use crate::decode;
use crate::error::conflict_on;
use crate::*;

#[async_trait]
impl AgentStore for PgStore {
    async fn create_agent(
        &self,
        tenant: &TenantId,
        new: NewAgent,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Agent> {
        let agent = new.into_agent(tenant, at);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into agents (id, tenant_id, name, kind, created_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(agent.id.as_str())
        .bind(tenant.as_str())
        .bind(&agent.name)
        .bind(&agent.kind)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(conflict_on(
            "name",
            format!("an agent named {:?} exists already", agent.name),
        ))?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(agent)
    }

    async fn agents(&self, tenant: &TenantId) -> StoreResult<Vec<Agent>> {
        let sql = format!(
            "select {} from agents a where a.tenant_id = $1 order by a.name collate \"C\"",
            decode::AGENT_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::agent)
    }

    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> StoreResult<Option<Agent>> {
        let sql = format!(
            "select {} from agents a where a.tenant_id = $1 and a.id = $2",
            decode::AGENT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::agent)
    }

    async fn add_agent_version(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        new: NewVersion,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<AgentVersion> {
        let mut tx = self.pool.begin().await?;
        // The row lock serializes version numbers.
        let sql = format!(
            "select {} from agents a where a.tenant_id = $1 and a.id = $2 for update",
            decode::AGENT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(agent.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let agent = decode_opt(row, decode::agent)?.ok_or(StoreError::NotFound("agent"))?;
        let version = insert_version(&mut tx, &agent, new, at).await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(version)
    }

    async fn agent_versions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> StoreResult<Vec<AgentVersion>> {
        let sql = format!(
            "select {} from agent_versions v join agents a on a.id = v.agent_id
             where v.tenant_id = $1 and v.agent_id = $2 order by v.number desc",
            decode::AGENT_VERSION_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(agent.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::agent_version)
    }

    async fn agent_version(
        &self,
        tenant: &TenantId,
        id: &AgentVersionId,
    ) -> StoreResult<Option<AgentVersion>> {
        Ok(self
            .cached_agent_version(id)
            .await?
            .filter(|v| &v.tenant_id == tenant)
            .map(|v| v.as_ref().clone()))
    }

    async fn deploy(
        &self,
        tenant: &TenantId,
        new: NewDeployment,
        audit: Audit,
    ) -> StoreResult<Deployment> {
        let version = self
            .agent_version(tenant, &new.version_id)
            .await?
            .ok_or(StoreError::NotFound("agent version"))?;
        let mut tx = self.pool.begin().await?;
        // The channel's row lock orders deployments to one channel.
        let previous: Option<(Option<String>,)> = sqlx::query_as(
            "select deployed_version_id from channels where tenant_id = $1 and id = $2 for update",
        )
        .bind(tenant.as_str())
        .bind(new.channel_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let (previous,) = previous.ok_or(StoreError::NotFound("channel"))?;
        sqlx::query("update channels set deployed_version_id = $2, updated_at = $3 where id = $1")
            .bind(new.channel_id.as_str())
            .bind(version.id.as_str())
            .bind(new.at)
            .execute(&mut *tx)
            .await?;
        let (id,): (i64,) = sqlx::query_as(
            "insert into deployments (tenant_id, channel_id, agent_version_id, previous_version_id, actor, created_at)
             values ($1, $2, $3, $4, $5, $6) returning id",
        )
        .bind(tenant.as_str())
        .bind(new.channel_id.as_str())
        .bind(version.id.as_str())
        .bind(&previous)
        .bind(&new.actor)
        .bind(new.at)
        .fetch_one(&mut *tx)
        .await?;
        let deployment = Deployment {
            id,
            tenant_id: tenant.clone(),
            channel_id: new.channel_id.clone(),
            agent_id: version.agent_id.clone(),
            agent_name: version.agent_name.clone(),
            agent_version_id: version.id.clone(),
            version_number: version.number,
            previous_version_id: previous
                .map(|p| decode::stored_id("previous_version_id", &p))
                .transpose()?,
            actor: new.actor,
            created_at: new.at,
        };
        insert_event(
            &mut tx,
            tenant,
            EventType::AgentDeployed,
            &deployment.event_data(),
            new.at,
        )
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        self.catalog.channels.forget(&new.channel_id);
        Ok(deployment)
    }

    async fn deployments(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        limit: u32,
    ) -> StoreResult<Vec<Deployment>> {
        let sql = format!(
            "select {} from {} where d.tenant_id = $1 and d.channel_id = $2 order by d.id desc limit $3",
            decode::DEPLOYMENT_COLS,
            decode::DEPLOYMENT_FROM
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(channel.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::deployment)
    }

    async fn agent_executions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        after: Option<ExecutionCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Execution>> {
        let sql = format!(
            "select {} from executions where tenant_id = $1 and agent_id = $2
               and ($3::timestamptz is null or (started_at, id collate \"C\") < ($3, $4 collate \"C\"))
             order by started_at desc, id collate \"C\" desc limit $5",
            decode::EXECUTION_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(agent.as_str())
            .bind(after.as_ref().map(|c| c.started_at))
            .bind(after.as_ref().map(|c| c.id.to_string()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::execution)
    }
}

/// Saves the agent's next version and its `agent.version_created` event. The
/// caller holds the agent's row lock.
pub(super) async fn insert_version(
    tx: &mut Transaction<'_, Postgres>,
    agent: &Agent,
    new: NewVersion,
    at: DateTime<Utc>,
) -> StoreResult<AgentVersion> {
    let number: i64 = sqlx::query_scalar(
        "select coalesce(max(number), 0)::bigint + 1 from agent_versions where agent_id = $1",
    )
    .bind(agent.id.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let version = AgentVersion {
        id: AgentVersionId::new(),
        tenant_id: agent.tenant_id.clone(),
        agent_id: agent.id.clone(),
        agent_name: agent.name.clone(),
        kind: agent.kind.clone(),
        number,
        config: Arc::new(new.config),
        changelog: new.changelog,
        author: new.author,
        created_at: at,
    };
    sqlx::query(
        "insert into agent_versions (id, tenant_id, agent_id, number, config, changelog, author, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(version.id.as_str())
    .bind(agent.tenant_id.as_str())
    .bind(agent.id.as_str())
    .bind(number)
    .bind(version.config.as_ref())
    .bind(&version.changelog)
    .bind(&version.author)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    insert_event(
        tx,
        &agent.tenant_id,
        EventType::AgentVersionCreated,
        &version.event_data(),
        at,
    )
    .await?;
    Ok(version)
}
