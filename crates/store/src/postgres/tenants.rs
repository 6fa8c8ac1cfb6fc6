//! Tenants, their categories, agent versions and channels.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use ombud_core::*;

use super::{decode_all, decode_opt, PgStore};
use crate::decode;
use crate::error::conflict_on;
use crate::*;

#[async_trait]
impl TenantStore for PgStore {
    async fn create_tenant(
        &self,
        new: NewTenant,
        setup: TenantSetup,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<(Tenant, Option<AgentVersion>)> {
        let t = new.into_tenant(stored(at));
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into tenants (id, slug, name, complaint_prefix, default_language, timezone, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(t.id.as_str())
        .bind(t.slug.as_str())
        .bind(&t.name)
        .bind(t.complaint_prefix.as_str())
        .bind(t.default_language.as_str())
        .bind(t.timezone.as_str())
        .bind(t.created_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict_on("slug", format!("a tenant with slug {:?} already exists", t.slug.as_str())))?;
        for new in setup.categories {
            insert_category(&mut tx, &new.into_category(&t.id, t.created_at)).await?;
        }
        let version = match setup.agent {
            Some(new) => Some(add_agent_version(&mut tx, &t.id, new, t.created_at).await?),
            None => None,
        };
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok((t, version))
    }

    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        Ok(self.cached_tenant(id).await?.map(|t| Tenant::clone(&t)))
    }

    async fn tenant_by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>> {
        let sql = format!(
            "select {} from tenants where slug = $1",
            decode::TENANT_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::tenant)
    }

    async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("select {} from tenants order by slug", decode::TENANT_COLS);
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, decode::tenant)
    }

    async fn create_category(
        &self,
        tenant: &TenantId,
        new: NewCategory,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Category> {
        let c = new.into_category(tenant, stored(at));
        let mut tx = self.pool.begin().await?;
        insert_category(&mut tx, &c).await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        self.catalog.categories.forget(tenant);
        Ok(c)
    }

    async fn update_category(
        &self,
        tenant: &TenantId,
        id: &CategoryId,
        change: NewCategory,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Category> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "update categories set names = $3, keywords = $4, default_priority = $5, updated_at = $6
             where tenant_id = $1 and id = $2 returning {}",
            decode::CATEGORY_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .bind(serde_json::to_value(&change.names).map_err(StoreError::internal)?)
            .bind(serde_json::to_value(&change.keywords).map_err(StoreError::internal)?)
            .bind(change.default_priority.as_str())
            .bind(stored(at))
            .fetch_optional(&mut *tx)
            .await?;
        let updated = decode_opt(row, decode::category)?.ok_or(StoreError::NotFound("category"))?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        self.catalog.categories.forget(tenant);
        Ok(updated)
    }

    async fn onboarding_steps(&self, tenant: &TenantId) -> StoreResult<Vec<String>> {
        let steps = sqlx::query_scalar(
            "select step from onboarding_steps where tenant_id = $1 order by done_at, step",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(steps)
    }

    async fn mark_onboarding_step(
        &self,
        tenant: &TenantId,
        step: &str,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into onboarding_steps (tenant_id, step, done_at) values ($1, $2, $3)
             on conflict (tenant_id, step) do nothing",
        )
        .bind(tenant.as_str())
        .bind(step)
        .bind(stored(at))
        .execute(&mut *tx)
        .await?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn has_conversations(&self, tenant: &TenantId) -> StoreResult<bool> {
        let found: bool =
            sqlx::query_scalar("select exists (select 1 from conversations where tenant_id = $1)")
                .bind(tenant.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(found)
    }

    async fn categories(&self, tenant: &TenantId) -> StoreResult<Arc<Vec<Category>>> {
        let fetch = || async {
            let sql = format!(
                "select {} from categories where tenant_id = $1 order by created_at, slug",
                decode::CATEGORY_COLS
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .fetch_all(&self.pool)
                .await?;
            decode_all(&rows, decode::category).map(Some)
        };
        let found = self.catalog.categories.get_or_fetch(tenant, fetch).await?;
        Ok(found.unwrap_or_default())
    }

    async fn create_agent_version(
        &self,
        tenant: &TenantId,
        new: NewAgentVersion,
        at: DateTime<Utc>,
    ) -> StoreResult<AgentVersion> {
        let mut tx = self.pool.begin().await?;
        let version = add_agent_version(&mut tx, tenant, new, stored(at)).await?;
        tx.commit().await?;
        Ok(version)
    }

    async fn latest_agent_version(
        &self,
        tenant: &TenantId,
        agent_name: &str,
    ) -> StoreResult<Option<AgentVersion>> {
        let sql = format!(
            "select {} from agent_versions v join agents a on a.id = v.agent_id
             where v.tenant_id = $1 and a.name = $2 order by v.number desc limit 1",
            decode::AGENT_VERSION_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(agent_name)
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, decode::agent_version)
    }
}

#[async_trait]
impl ChannelStore for PgStore {
    async fn create_channel(
        &self,
        tenant: &TenantId,
        new: NewChannel,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Channel> {
        let actor = new.deployed_by.clone();
        let c = new.into_channel(tenant, stored(at));
        if let Some(v) = &c.deployed_version {
            let owned: bool = sqlx::query_scalar(
                "select count(*) > 0 from agent_versions where id = $1 and tenant_id = $2",
            )
            .bind(v.as_str())
            .bind(tenant.as_str())
            .fetch_one(&self.pool)
            .await?;
            if !owned {
                return Err(StoreError::NotFound("agent version"));
            }
        }
        let w = ChannelColumns::of(&c, &self.sealer);
        let (field, reason) = w.conflict();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into channels (id, tenant_id, kind, name, phone_number_id, app_secret, verify_token,
                access_token, graph_url, api_version, settings, deployed_version_id, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(c.id.as_str())
        .bind(c.tenant_id.as_str())
        .bind(w.kind)
        .bind(&c.name)
        .bind(w.phone_number_id)
        .bind(&w.app_secret)
        .bind(&w.verify_token)
        .bind(&w.access_token)
        .bind(w.graph_url)
        .bind(w.api_version)
        .bind(&w.settings)
        .bind(c.deployed_version.as_ref().map(|v| v.as_str()))
        .bind(c.created_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict_on(field, reason))?;
        if let Some(v) = &c.deployed_version {
            sqlx::query(
                "insert into deployments (tenant_id, channel_id, agent_version_id, previous_version_id, actor, created_at)
                 values ($1, $2, $3, null, $4, $5)",
            )
            .bind(c.tenant_id.as_str())
            .bind(c.id.as_str())
            .bind(v.as_str())
            .bind(&actor)
            .bind(c.created_at)
            .execute(&mut *tx)
            .await?;
        }
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn set_channel_settings(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        at: chrono::DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Channel> {
        let settings = ChannelColumns::settings(&channel.config);
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "update channels set settings = $3, updated_at = $4
             where tenant_id = $1 and id = $2 and kind = $5 returning {}",
            decode::CHANNEL_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(channel.id.as_str())
            .bind(&settings)
            .bind(stored(at))
            .bind(channel.kind().as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let changed = decode_opt(row, |r| decode::channel(r, &self.sealer))?
            .ok_or(StoreError::NotFound("channel"))?;
        super::audit::append(&mut tx, &audit).await?;
        tx.commit().await?;
        self.catalog.channels.forget(&channel.id);
        Ok(changed)
    }

    async fn channel(&self, id: &ChannelId) -> StoreResult<Option<Arc<Channel>>> {
        let fetch = || async {
            let sql = format!(
                "select {} from channels where id = $1",
                decode::CHANNEL_COLS
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
            decode_opt(row, |r| decode::channel(r, &self.sealer))
        };
        self.catalog.channels.get_or_fetch(id, fetch).await
    }

    async fn channels(&self, tenant: &TenantId) -> StoreResult<Vec<Channel>> {
        let sql = format!(
            "select {} from channels where tenant_id = $1 order by created_at",
            decode::CHANNEL_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode_all(&rows, |r| decode::channel(r, &self.sealer))
    }
}

impl PgStore {
    pub(super) async fn cached_tenant(&self, id: &TenantId) -> StoreResult<Option<Arc<Tenant>>> {
        let fetch = || async {
            let sql = format!("select {} from tenants where id = $1", decode::TENANT_COLS);
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
            decode_opt(row, decode::tenant)
        };
        self.catalog.tenants.get_or_fetch(id, fetch).await
    }

    pub(super) async fn cached_agent_version(
        &self,
        id: &AgentVersionId,
    ) -> StoreResult<Option<Arc<AgentVersion>>> {
        let fetch = || async {
            let sql = format!(
                "select {} from agent_versions v join agents a on a.id = v.agent_id where v.id = $1",
                decode::AGENT_VERSION_COLS
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
            decode_opt(row, decode::agent_version)
        };
        self.catalog.versions.get_or_fetch(id, fetch).await
    }
}

async fn insert_category(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    c: &Category,
) -> StoreResult<()> {
    sqlx::query(
        "insert into categories (id, tenant_id, slug, names, keywords, default_priority, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(c.id.as_str())
    .bind(c.tenant_id.as_str())
    .bind(&c.slug)
    .bind(serde_json::to_value(&c.names).map_err(StoreError::internal)?)
    .bind(serde_json::to_value(&c.keywords).map_err(StoreError::internal)?)
    .bind(c.default_priority.as_str())
    .bind(c.created_at)
    .execute(&mut **tx)
    .await
    .map_err(conflict_on("slug", format!("category {:?} already exists", c.slug)))?;
    Ok(())
}

/// The next version of the named agent, made with the agent on first use.
async fn add_agent_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tenant: &TenantId,
    new: NewAgentVersion,
    now: DateTime<Utc>,
) -> StoreResult<AgentVersion> {
    // Creates the agent on first use; the row lock serializes version numbers.
    sqlx::query(
        "insert into agents (id, tenant_id, name, kind, created_at) values ($1, $2, $3, $4, $5)
             on conflict (tenant_id, name) do nothing",
    )
    .bind(AgentId::new().as_str())
    .bind(tenant.as_str())
    .bind(&new.agent_name)
    .bind(&new.kind)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let sql = format!(
        "select {} from agents a where a.tenant_id = $1 and a.name = $2 for update",
        decode::AGENT_COLS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(&new.agent_name)
        .fetch_one(&mut **tx)
        .await?;
    let agent = decode_opt(Some(row), decode::agent)?.ok_or(StoreError::NotFound("agent"))?;
    if agent.kind != new.kind {
        return Err(StoreError::Conflict {
            field: "kind".into(),
            reason: format!("agent {:?} is of kind {}", agent.name, agent.kind),
        });
    }
    let version = NewVersion {
        config: new.config,
        changelog: new.changelog,
        author: new.author,
    };
    super::agents::insert_version(tx, &agent, version, now).await
}
