//! Agents, versions and deployments on SQLite.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::*;
use rusqlite::{params, Connection};

use super::rows::{self, all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::error::conflict_on;
use crate::*;

#[async_trait]
impl AgentStore for SqliteStore {
    async fn create_agent(
        &self,
        tenant: &TenantId,
        new: NewAgent,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Agent> {
        let agent = new.into_agent(tenant, at);
        let a = agent.clone();
        self.write(move |conn| {
            conn.execute(
                "insert into agents (id, tenant_id, name, kind, created_at) values (?1, ?2, ?3, ?4, ?5)",
                params![a.id.as_str(), a.tenant_id.as_str(), a.name, a.kind, time_text(at)],
            )
            .map_err(conflict_on("name", format!("an agent named {:?} exists already", a.name)))?;
            super::audit::append(conn, &audit)
        })
        .await?;
        Ok(agent)
    }

    async fn agents(&self, tenant: &TenantId) -> StoreResult<Vec<Agent>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "select {} from agents a where a.tenant_id = ?1 order by a.name",
                decode::AGENT_COLS
            );
            all(conn, &sql, [tenant.as_str()], decode::agent)
        })
        .await
    }

    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> StoreResult<Option<Agent>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| agent_row(conn, &tenant, &id)).await
    }

    async fn add_agent_version(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        new: NewVersion,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<AgentVersion> {
        let (tenant, agent) = (tenant.clone(), agent.clone());
        self.write(move |conn| {
            let found = agent_row(conn, &tenant, &agent)?.ok_or(StoreError::NotFound("agent"))?;
            let version = insert_version(conn, &found, &new, at)?;
            super::audit::append(conn, &audit)?;
            Ok(version)
        })
        .await
    }

    async fn agent_versions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> StoreResult<Vec<AgentVersion>> {
        let (tenant, agent) = (tenant.clone(), agent.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from agent_versions v join agents a on a.id = v.agent_id
                 where v.tenant_id = ?1 and v.agent_id = ?2 order by v.number desc",
                decode::AGENT_VERSION_COLS
            );
            all(
                conn,
                &sql,
                [tenant.as_str(), agent.as_str()],
                decode::agent_version,
            )
        })
        .await
    }

    async fn agent_version(
        &self,
        tenant: &TenantId,
        id: &AgentVersionId,
    ) -> StoreResult<Option<AgentVersion>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            Ok(super::tenants::agent_version_row(conn, &id)?.filter(|v| v.tenant_id == tenant))
        })
        .await
    }

    async fn deploy(
        &self,
        tenant: &TenantId,
        new: NewDeployment,
        audit: Audit,
    ) -> StoreResult<Deployment> {
        let t = tenant.clone();
        let channel = new.channel_id.clone();
        let deployment = self
            .write(move |conn| {
                let previous: Option<Option<String>> = one(
                    conn,
                    "select deployed_version_id from channels where tenant_id = ?1 and id = ?2",
                    [t.as_str(), new.channel_id.as_str()],
                    |r| r.opt_text("deployed_version_id"),
                )?;
                let previous = previous.ok_or(StoreError::NotFound("channel"))?;
                let version = super::tenants::agent_version_row(conn, &new.version_id)?
                    .filter(|v| v.tenant_id == t)
                    .ok_or(StoreError::NotFound("agent version"))?;
                let at = time_text(new.at);
                conn.execute(
                    "update channels set deployed_version_id = ?2, updated_at = ?3 where id = ?1",
                    params![new.channel_id.as_str(), version.id.as_str(), at],
                )?;
                conn.execute(
                    "insert into deployments (tenant_id, channel_id, agent_version_id, previous_version_id, actor, created_at)
                     values (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![t.as_str(), new.channel_id.as_str(), version.id.as_str(), previous, new.actor, at],
                )?;
                let id = conn.last_insert_rowid();
                let deployment = Deployment {
                    id,
                    tenant_id: t.clone(),
                    channel_id: new.channel_id.clone(),
                    agent_id: version.agent_id.clone(),
                    agent_name: version.agent_name.clone(),
                    agent_version_id: version.id.clone(),
                    version_number: version.number,
                    previous_version_id: previous
                        .map(|p| decode::stored_id("previous_version_id", &p))
                        .transpose()?,
                    actor: new.actor.clone(),
                    created_at: new.at,
                };
                rows::insert_event(conn, &t, EventType::AgentDeployed, &deployment.event_data(), new.at)?;
                super::audit::append(conn, &audit)?;
                Ok(deployment)
            })
            .await?;
        self.catalog().channels.forget(&channel);
        Ok(deployment)
    }

    async fn deployments(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        limit: u32,
    ) -> StoreResult<Vec<Deployment>> {
        let (tenant, channel) = (tenant.clone(), channel.clone());
        self.read(move |conn| {
            let sql = format!(
                "select {} from {} where d.tenant_id = ?1 and d.channel_id = ?2 order by d.id desc limit ?3",
                decode::DEPLOYMENT_COLS,
                decode::DEPLOYMENT_FROM
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), channel.as_str(), limit],
                decode::deployment,
            )
        })
        .await
    }

    async fn agent_executions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        after: Option<ExecutionCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Execution>> {
        let (tenant, agent) = (tenant.clone(), agent.clone());
        let (at, id) = match after {
            Some(c) => (time_text(c.started_at), c.id.to_string()),
            None => ("~".to_owned(), String::new()),
        };
        self.read(move |conn| {
            let sql = format!(
                "select {} from executions where tenant_id = ?1 and agent_id = ?2
                   and (started_at < ?3 or (started_at = ?3 and id < ?4))
                 order by started_at desc, id desc limit ?5",
                decode::EXECUTION_COLS
            );
            all(
                conn,
                &sql,
                params![tenant.as_str(), agent.as_str(), at, id, limit],
                decode::execution,
            )
        })
        .await
    }
}

fn agent_row(conn: &Connection, tenant: &TenantId, id: &AgentId) -> StoreResult<Option<Agent>> {
    let sql = format!(
        "select {} from agents a where a.tenant_id = ?1 and a.id = ?2",
        decode::AGENT_COLS
    );
    one(conn, &sql, [tenant.as_str(), id.as_str()], decode::agent)
}

/// Saves the agent's next version and its `agent.version_created` event.
pub(super) fn insert_version(
    conn: &Connection,
    agent: &Agent,
    new: &NewVersion,
    at: DateTime<Utc>,
) -> StoreResult<AgentVersion> {
    let number: i64 = conn.query_row(
        "select coalesce(max(number), 0) + 1 from agent_versions where agent_id = ?1",
        [agent.id.as_str()],
        |r| r.get(0),
    )?;
    let version = AgentVersion {
        id: AgentVersionId::new(),
        tenant_id: agent.tenant_id.clone(),
        agent_id: agent.id.clone(),
        agent_name: agent.name.clone(),
        kind: agent.kind.clone(),
        number,
        config: Arc::new(new.config.clone()),
        changelog: new.changelog.clone(),
        author: new.author.clone(),
        created_at: at,
    };
    conn.execute(
        "insert into agent_versions (id, tenant_id, agent_id, number, config, changelog, author, created_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![version.id.as_str(), agent.tenant_id.as_str(), agent.id.as_str(), number,
                version.config.to_string(), new.changelog, new.author, time_text(at)],
    )?;
    rows::insert_event(
        conn,
        &agent.tenant_id,
        EventType::AgentVersionCreated,
        &version.event_data(),
        at,
    )?;
    Ok(version)
}
