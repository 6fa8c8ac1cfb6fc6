//! Agents, their versions and deployments: the trait and its types.
//!
//! An agent is a name and a kind; its versions are immutable configuration
//! snapshots numbered 1, 2, …; a channel runs the one version deployed on it.
//! Deploying writes the channel's active version, a row in the channel's
//! deployment history and an `agent.deployed` event in one transaction. A run
//! reads the channel's version when it starts, so a run in flight finishes on
//! the version it started with.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::event::payload::{self, Payload as _};
use ombud_core::*;
use serde::Serialize;

use std::sync::Arc;

use serde_json::Value;

use crate::{Audit, Execution, StoreResult};

/// An immutable configuration snapshot of an agent; a channel runs one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentVersion {
    pub id: AgentVersionId,
    pub tenant_id: TenantId,
    pub agent_id: AgentId,
    pub agent_name: String,
    pub kind: String,
    pub number: i64,
    /// Shared, so a run hands it to its runtime without copying it.
    pub config: Arc<Value>,
    pub changelog: String,
    /// Who saved it: `user:…`, `api:…` or `system`.
    pub author: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAgentVersion {
    pub agent_name: String,
    pub kind: String,
    pub config: Value,
    pub changelog: String,
    pub author: String,
}

/// Longest agent name.
pub const AGENT_NAME_MAX: usize = 80;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    pub id: AgentId,
    pub tenant_id: TenantId,
    pub name: String,
    pub kind: String,
    /// The newest version's number; None before the first is saved.
    pub latest_version: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    /// Chosen by the caller, so that what it records names the agent.
    pub id: AgentId,
    pub name: String,
    pub kind: String,
}

impl NewAgent {
    /// The agent as it is first stored: a new id, no versions yet.
    pub fn into_agent(self, tenant: &TenantId, at: DateTime<Utc>) -> Agent {
        Agent {
            id: self.id,
            tenant_id: tenant.clone(),
            name: self.name,
            kind: self.kind,
            latest_version: None,
            created_at: at,
        }
    }
}

/// A version to save: the configuration already checked by its kind.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub config: serde_json::Value,
    pub changelog: String,
    /// Who saved it: `user:…`, `api:…` or `system`.
    pub author: String,
}

/// One entry of a channel's deployment history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    pub id: i64,
    pub tenant_id: TenantId,
    pub channel_id: ChannelId,
    pub agent_id: AgentId,
    pub agent_name: String,
    pub agent_version_id: AgentVersionId,
    pub version_number: i64,
    /// What the channel ran before; None for its first deployment.
    pub previous_version_id: Option<AgentVersionId>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub channel_id: ChannelId,
    pub version_id: AgentVersionId,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// Where a page of executions starts: after this (started_at, id), newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionCursor {
    pub started_at: DateTime<Utc>,
    pub id: ExecutionId,
}

#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Conflict on `name` if the tenant has an agent of that name.
    async fn create_agent(
        &self,
        tenant: &TenantId,
        new: NewAgent,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Agent>;
    /// The tenant's agents by name.
    async fn agents(&self, tenant: &TenantId) -> StoreResult<Vec<Agent>>;
    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> StoreResult<Option<Agent>>;
    /// Saves the agent's next version and writes `agent.version_created`.
    /// NotFound if the tenant has no such agent.
    async fn add_agent_version(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        new: NewVersion,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<AgentVersion>;
    /// The agent's versions, newest first.
    async fn agent_versions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> StoreResult<Vec<AgentVersion>>;
    async fn agent_version(
        &self,
        tenant: &TenantId,
        id: &AgentVersionId,
    ) -> StoreResult<Option<AgentVersion>>;
    /// Makes the version the channel's active one, records the deployment and
    /// writes `agent.deployed`, all or nothing. NotFound (`channel` or
    /// `agent version`) when either is not the tenant's.
    async fn deploy(
        &self,
        tenant: &TenantId,
        new: NewDeployment,
        audit: Audit,
    ) -> StoreResult<Deployment>;
    /// The channel's deployments, newest first, at most `limit`.
    async fn deployments(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        limit: u32,
    ) -> StoreResult<Vec<Deployment>>;
    /// The agent's runs over all its versions, newest first.
    async fn agent_executions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        after: Option<ExecutionCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Execution>>;
}

impl AgentVersion {
    /// What `agent.version_created` says.
    pub fn event(&self) -> payload::AgentVersionCreated {
        payload::AgentVersionCreated {
            agent_id: self.agent_id.to_string(),
            agent: self.agent_name.clone(),
            version_id: self.id.to_string(),
            number: self.number,
            author: self.author.clone(),
        }
    }

    pub fn event_data(&self) -> serde_json::Value {
        self.event().data()
    }
}

impl Deployment {
    /// What `agent.deployed` says.
    pub fn event(&self) -> payload::AgentDeployed {
        payload::AgentDeployed {
            channel_id: self.channel_id.to_string(),
            agent_id: self.agent_id.to_string(),
            agent: self.agent_name.clone(),
            version_id: self.agent_version_id.to_string(),
            number: self.version_number,
            previous_version_id: self.previous_version_id.as_ref().map(|v| v.to_string()),
            actor: self.actor.clone(),
        }
    }

    pub fn event_data(&self) -> serde_json::Value {
        self.event().data()
    }
}
