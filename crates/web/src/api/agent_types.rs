//! What the agent, version, deployment and execution routes read and write.

use chrono::{DateTime, Utc};
use ombud_store::{Agent, AgentVersion, Deployment, Execution};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct AgentView {
    #[schema(example = "agt_01JD8Y3M6V4ZB2T9W0XK5Q7R1C")]
    pub id: String,
    pub name: String,
    /// intake, llm or process.
    pub kind: String,
    /// The newest version's number; null before the first is saved.
    pub latest_version: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<&Agent> for AgentView {
    fn from(a: &Agent) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.clone(),
            kind: a.kind.clone(),
            latest_version: a.latest_version,
            created_at: a.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgentBody {
    /// Unique within the tenant.
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    #[schema(pattern = "^(intake|llm|process)$")]
    pub kind: String,
}

/// An immutable configuration snapshot of an agent.
#[derive(Serialize, ToSchema)]
pub struct VersionView {
    #[schema(example = "agv_01JD8Y3M6V4ZB2T9W0XK5Q7R1C")]
    pub id: String,
    pub agent_id: String,
    pub agent: String,
    pub kind: String,
    pub number: i64,
    /// The whole configuration, defaults filled in. An LLM API key appears
    /// only sealed (`api_key_sealed`), which opens on this server alone.
    #[schema(value_type = Object)]
    pub config: Value,
    pub changelog: String,
    /// `user:…`, `api:…` or `system`.
    pub author: String,
    pub created_at: DateTime<Utc>,
}

impl From<&AgentVersion> for VersionView {
    fn from(v: &AgentVersion) -> Self {
        Self {
            id: v.id.to_string(),
            agent_id: v.agent_id.to_string(),
            agent: v.agent_name.clone(),
            kind: v.kind.clone(),
            number: v.number,
            config: v.config.as_ref().clone(),
            changelog: v.changelog.clone(),
            author: v.author.clone(),
            created_at: v.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersionBody {
    /// The kind's configuration (see docs/agents.md). For an LLM agent, a
    /// plain `api_key` is sealed before it is saved.
    #[schema(value_type = Object)]
    pub config: Value,
    #[schema(max_length = 2000)]
    pub changelog: Option<String>,
}

/// A version made active on a channel.
#[derive(Serialize, ToSchema)]
pub struct DeploymentView {
    pub id: i64,
    pub channel_id: String,
    pub agent_id: String,
    pub agent: String,
    pub version_id: String,
    pub version_number: i64,
    /// What the channel ran before; null for its first deployment.
    pub previous_version_id: Option<String>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl From<&Deployment> for DeploymentView {
    fn from(d: &Deployment) -> Self {
        Self {
            id: d.id,
            channel_id: d.channel_id.to_string(),
            agent_id: d.agent_id.to_string(),
            agent: d.agent_name.clone(),
            version_id: d.agent_version_id.to_string(),
            version_number: d.version_number,
            previous_version_id: d.previous_version_id.as_ref().map(|v| v.to_string()),
            actor: d.actor.clone(),
            created_at: d.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployBody {
    /// The version to run from the next message on; an earlier one rolls back.
    #[schema(example = "agv_01JD8Y3M6V4ZB2T9W0XK5Q7R1C", max_length = 40)]
    pub version_id: String,
}

/// One agent run over a batch of a conversation's inbound messages.
#[derive(Serialize, ToSchema)]
pub struct ExecutionView {
    pub id: String,
    pub conversation_id: String,
    pub agent_id: Option<String>,
    pub agent_version_id: Option<String>,
    /// The inbound messages it answered.
    pub input_message_ids: Vec<String>,
    /// ok, failed or timeout.
    pub status: String,
    /// The replies it gave and whether it handed over.
    #[schema(value_type = Object)]
    pub output: Value,
    /// Its tool calls in order: name, arguments, result, ok.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: Value,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub error: Option<String>,
    pub attempts: i64,
    pub duration_ms: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Its output and tool calls were removed by retention
    /// (`retention.executions_days`); the figures stay.
    pub trimmed: bool,
}

impl From<&Execution> for ExecutionView {
    fn from(e: &Execution) -> Self {
        Self {
            id: e.id.to_string(),
            conversation_id: e.conversation_id.to_string(),
            agent_id: e.agent_id.as_ref().map(|a| a.to_string()),
            agent_version_id: e.agent_version_id.as_ref().map(|v| v.to_string()),
            input_message_ids: e.input_ids.iter().map(|m| m.to_string()).collect(),
            status: e.status.clone(),
            output: e.output.clone(),
            tool_calls: e.tool_calls.clone(),
            tokens_in: e.tokens.map(|t| t.input),
            tokens_out: e.tokens.map(|t| t.output),
            error: e.error.clone(),
            attempts: e.attempts,
            duration_ms: (e.finished_at - e.started_at).num_milliseconds(),
            trimmed: e.trimmed,
            started_at: e.started_at,
            finished_at: e.finished_at,
        }
    }
}
