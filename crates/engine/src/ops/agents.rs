//! Agents: made, their versions saved (each checked for its kind), deployed
//! to channels and rolled back. The API and the dashboard call these.

use ombud_agents::{AgentKind, ConfigError};
use ombud_core::audit::{FieldChange, Target};
use ombud_core::*;
use ombud_store::{
    Agent, AgentVersion, Deployment, NewAgent, NewDeployment, NewVersion, StoreError, StoreResult,
    AGENT_NAME_MAX,
};
use serde_json::Value;

use super::{Acting, Operations};

/// Longest changelog of a version.
pub const CHANGELOG_MAX: usize = 2000;

fn agent_target(a: &Agent) -> Target {
    Target::new("agent", &a.id, Some(a.name.clone()))
}

fn invalid<T>(field: &str, reason: impl Into<String>) -> StoreResult<T> {
    Err(StoreError::Invalid(ValidationError::new(field, reason)))
}

impl Operations {
    pub async fn create_agent(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        name: &str,
        kind: &str,
    ) -> StoreResult<Agent> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > AGENT_NAME_MAX {
            return invalid("name", format!("must be 1 to {AGENT_NAME_MAX} characters"));
        }
        let kind = AgentKind::parse(kind)
            .map_err(|e| StoreError::Invalid(ValidationError::new("kind", e.reason)))?;
        let now = self.now();
        let new = NewAgent {
            id: AgentId::new(),
            name: name.to_owned(),
            kind: kind.as_str().to_owned(),
        };
        let entry = acting
            .entry(
                tenant,
                now,
                "agent.created",
                Target::new("agent", &new.id, Some(new.name.clone())),
            )
            .with_changes([FieldChange::set("kind", kind.as_str())]);
        self.store.create_agent(tenant, new, now, vec![entry]).await
    }

    /// Checks a version's configuration for its kind and returns what to
    /// save: defaults filled in, an LLM's plain `api_key` sealed, its URL
    /// checked against the outbound guard. Errors name `config.<field>`.
    pub async fn checked_agent_config(
        &self,
        tenant: &TenantId,
        kind: &str,
        mut config: Value,
    ) -> StoreResult<Value> {
        let kind = AgentKind::parse(kind)
            .map_err(|e| StoreError::Invalid(ValidationError::new("kind", e.reason)))?;
        if kind == AgentKind::Llm {
            if let Some(plain) = config.as_object_mut().and_then(|c| c.remove("api_key")) {
                let Value::String(plain) = plain else {
                    return invalid("config.api_key", "must be a string");
                };
                let Some(seal) = &self.seal_key else {
                    return invalid(
                        "config.api_key",
                        "this server has no key to seal secrets with",
                    );
                };
                config["api_key_sealed"] = Value::String(seal.seal(&plain, tenant.as_str()));
            }
        }
        let full = ombud_agents::config::validate(kind, &config).map_err(|e: ConfigError| {
            let field = match e.field.as_str() {
                "config" => "config".to_owned(),
                f => format!("config.{f}"),
            };
            StoreError::Invalid(ValidationError::new(&field, e.reason))
        })?;
        if kind == AgentKind::Process {
            let command = full["command"].as_str().unwrap_or_default();
            let why = match &self.process {
                Some(settings) => settings.commands.refuses(command),
                None => Some("this server runs no process agents".to_owned()),
            };
            if let Some(why) = why {
                return invalid("config.command", why);
            }
        }
        if kind == AgentKind::Llm {
            if let Some(url) = full["base_url"].as_str() {
                self.outbound
                    .check_url(url)
                    .await
                    .map_err(|e| ValidationError::new("config.base_url", e.to_string()))?;
            }
        }
        Ok(full)
    }

    /// Saves the agent's next version (checked as [`Self::checked_agent_config`]).
    pub async fn save_agent_version(
        &self,
        acting: &Acting,
        agent: &Agent,
        config: Value,
        changelog: &str,
    ) -> StoreResult<AgentVersion> {
        let changelog = changelog.trim();
        if changelog.chars().count() > CHANGELOG_MAX {
            return invalid(
                "changelog",
                format!("is longer than {CHANGELOG_MAX} characters"),
            );
        }
        let config = self
            .checked_agent_config(&agent.tenant_id, &agent.kind, config)
            .await?;
        let now = self.now();
        let entry = acting
            .entry(
                &agent.tenant_id,
                now,
                "agent.version_saved",
                agent_target(agent),
            )
            .with_changes([FieldChange::set("changelog", changelog)]);
        let new = NewVersion {
            config,
            changelog: changelog.to_owned(),
            author: acting.actor.history_name(),
        };
        let version = self
            .store
            .add_agent_version(&agent.tenant_id, &agent.id, new, now, vec![entry])
            .await?;
        self.wake_webhooks();
        Ok(version)
    }

    /// Runs `version` on the channel from the next message on. Deploying a
    /// version older than the one deployed of the same agent is a rollback,
    /// and recorded as one. NotFound names what the tenant does not have.
    pub async fn deploy(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        channel: &ChannelId,
        version: &AgentVersionId,
    ) -> StoreResult<Deployment> {
        let found = self
            .store
            .channels(tenant)
            .await?
            .into_iter()
            .find(|c| &c.id == channel)
            .ok_or(StoreError::NotFound("channel"))?;
        let v = self
            .store
            .agent_version(tenant, version)
            .await?
            .ok_or(StoreError::NotFound("agent version"))?;
        let before = match &found.deployed_version {
            Some(id) => self.store.agent_version(tenant, id).await?,
            None => None,
        };
        let rollback = before
            .as_ref()
            .is_some_and(|b| b.agent_id == v.agent_id && b.number > v.number);
        let label = |x: &AgentVersion| format!("{} v{}", x.agent_name, x.number);
        let now = self.now();
        let entry = acting
            .entry(
                tenant,
                now,
                if rollback {
                    "agent.rolled_back"
                } else {
                    "agent.deployed"
                },
                Target::new("channel", channel, Some(found.name.clone())),
            )
            .with_changes([FieldChange::new(
                "deployed",
                before.as_ref().map(|b| Value::String(label(b))),
                Some(Value::String(label(&v))),
            )]);
        let new = NewDeployment {
            channel_id: channel.clone(),
            version_id: version.clone(),
            actor: acting.actor.history_name(),
            at: now,
        };
        let d = self.store.deploy(tenant, new, vec![entry]).await?;
        self.wake_webhooks();
        Ok(d)
    }

    /// Starts a test-panel chat with `version`, deployed or not, that no
    /// channel sees.
    pub async fn start_test_chat(
        &self,
        acting: &Acting,
        version: &AgentVersion,
    ) -> StoreResult<ombud_store::TestChat> {
        let now = self.now();
        let new = ombud_store::NewTestChat {
            id: TestChatId::new(),
            version: version.id.clone(),
            created_by: acting.actor.history_name(),
            at: now,
        };
        let entry = acting.entry(
            &version.tenant_id,
            now,
            "test_chat.started",
            Target::new(
                "test_chat",
                &new.id,
                Some(format!("{} v{}", version.agent_name, version.number)),
            ),
        );
        self.store
            .create_test_chat(&version.tenant_id, new, vec![entry])
            .await
    }
}
