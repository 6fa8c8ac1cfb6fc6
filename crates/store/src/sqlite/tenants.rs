//! Tenants, their categories, agent versions and channels.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use ombud_core::*;
use rusqlite::{params, Connection};

use super::rows::{all, one, time_text};
use super::SqliteStore;
use crate::decode;
use crate::error::conflict_on;
use crate::*;

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(
        &self,
        new: NewTenant,
        setup: TenantSetup,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<(Tenant, Option<AgentVersion>)> {
        let tenant = new.into_tenant(stored(at));
        let t = tenant.clone();
        let version = self
            .write(move |conn| {
                conn.execute(
                    "insert into tenants (id, slug, name, complaint_prefix, default_language, timezone, created_at, updated_at)
                     values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                    params![t.id.as_str(), t.slug.as_str(), t.name, t.complaint_prefix.as_str(),
                            t.default_language.as_str(), t.timezone.as_str(), time_text(t.created_at)],
                )
                .map_err(conflict_on("slug", format!("a tenant with slug {:?} already exists", t.slug.as_str())))?;
                for new in &setup.categories {
                    insert_category(conn, &new.clone().into_category(&t.id, t.created_at))?;
                }
                let version = match &setup.agent {
                    Some(new) => Some(add_agent_version(conn, &t.id, new, t.created_at)?),
                    None => None,
                };
                super::audit::append(conn, &audit)?;
                Ok(version)
            })
            .await?;
        Ok((tenant, version))
    }

    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        let (id, catalog) = (id.clone(), self.catalog().clone());
        let found = self
            .read(move |conn| catalog.tenants.get_or_load(&id, || tenant_row(conn, &id)))
            .await?;
        Ok(found.map(|t| Tenant::clone(&t)))
    }

    async fn tenant_by_slug(&self, slug: &TenantSlug) -> StoreResult<Option<Tenant>> {
        let slug = slug.clone();
        self.read(move |conn| {
            let sql = format!(
                "select {} from tenants where slug = ?1",
                decode::TENANT_COLS
            );
            one(conn, &sql, [slug.as_str()], decode::tenant)
        })
        .await
    }

    async fn tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.read(|conn| {
            let sql = format!("select {} from tenants order by slug", decode::TENANT_COLS);
            all(conn, &sql, [], decode::tenant)
        })
        .await
    }

    async fn create_category(
        &self,
        tenant: &TenantId,
        new: NewCategory,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Category> {
        let category = new.into_category(tenant, stored(at));
        let c = category.clone();
        self.write(move |conn| {
            insert_category(conn, &c)?;
            super::audit::append(conn, &audit)
        })
        .await?;
        self.catalog().categories.forget(tenant);
        Ok(category)
    }

    async fn update_category(
        &self,
        tenant: &TenantId,
        id: &CategoryId,
        change: NewCategory,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Category> {
        let (t, id2) = (tenant.clone(), id.clone());
        let updated = self
            .write(move |conn| {
                let n = conn.execute(
                    "update categories set names = ?3, keywords = ?4, default_priority = ?5, updated_at = ?6
                     where tenant_id = ?1 and id = ?2",
                    params![t.as_str(), id2.as_str(),
                            serde_json::to_string(&change.names).map_err(StoreError::internal)?,
                            serde_json::to_string(&change.keywords).map_err(StoreError::internal)?,
                            change.default_priority.as_str(), time_text(stored(at))],
                )?;
                if n == 0 {
                    return Err(StoreError::NotFound("category"));
                }
                super::audit::append(conn, &audit)?;
                let sql = format!("select {} from categories where id = ?1", decode::CATEGORY_COLS);
                one(conn, &sql, [id2.as_str()], decode::category)?
                    .ok_or(StoreError::NotFound("category"))
            })
            .await?;
        self.catalog().categories.forget(tenant);
        Ok(updated)
    }

    async fn onboarding_steps(&self, tenant: &TenantId) -> StoreResult<Vec<String>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "select step from onboarding_steps where tenant_id = ?1 order by done_at, step",
            )?;
            let rows = stmt.query_map([tenant.as_str()], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn mark_onboarding_step(
        &self,
        tenant: &TenantId,
        step: &str,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<()> {
        let (tenant, step) = (tenant.clone(), step.to_owned());
        self.write(move |conn| {
            conn.execute(
                "insert into onboarding_steps (tenant_id, step, done_at) values (?1, ?2, ?3)
                 on conflict (tenant_id, step) do nothing",
                params![tenant.as_str(), step, time_text(stored(at))],
            )?;
            super::audit::append(conn, &audit)
        })
        .await
    }

    async fn has_conversations(&self, tenant: &TenantId) -> StoreResult<bool> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("select 1 from conversations where tenant_id = ?1 limit 1")?
                .exists([tenant.as_str()])?)
        })
        .await
    }

    async fn categories(&self, tenant: &TenantId) -> StoreResult<Arc<Vec<Category>>> {
        if let Some(kept) = self.catalog().categories.get(tenant) {
            return Ok(kept);
        }
        let (tenant, catalog) = (tenant.clone(), self.catalog().clone());
        let generation = catalog.categories.generation();
        let rows = self
            .read({
                let tenant = tenant.clone();
                move |conn| {
                    let sql = format!(
                        "select {} from categories where tenant_id = ?1 order by created_at, slug",
                        decode::CATEGORY_COLS
                    );
                    all(conn, &sql, [tenant.as_str()], decode::category)
                }
            })
            .await?;
        Ok(catalog.categories.put_if(tenant, rows, generation))
    }

    async fn create_agent_version(
        &self,
        tenant: &TenantId,
        new: NewAgentVersion,
        at: DateTime<Utc>,
    ) -> StoreResult<AgentVersion> {
        let tenant = tenant.clone();
        self.write(move |conn| add_agent_version(conn, &tenant, &new, stored(at)))
            .await
    }

    async fn latest_agent_version(
        &self,
        tenant: &TenantId,
        agent_name: &str,
    ) -> StoreResult<Option<AgentVersion>> {
        let tenant = tenant.clone();
        let name = agent_name.to_owned();
        self.read(move |conn| {
            let sql = format!(
                "select {} from agent_versions v join agents a on a.id = v.agent_id
                 where v.tenant_id = ?1 and a.name = ?2 order by v.number desc limit 1",
                decode::AGENT_VERSION_COLS
            );
            one(
                conn,
                &sql,
                params![tenant.as_str(), name],
                decode::agent_version,
            )
        })
        .await
    }
}

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn create_channel(
        &self,
        tenant: &TenantId,
        new: NewChannel,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Channel> {
        let actor = new.deployed_by.clone();
        let channel = new.into_channel(tenant, stored(at));
        let c = channel.clone();
        let sealer = self.sealer();
        self.write(move |conn| {
            if let Some(v) = &c.deployed_version {
                let owned: bool = conn.query_row(
                    "select count(*) > 0 from agent_versions where id = ?1 and tenant_id = ?2",
                    params![v.as_str(), c.tenant_id.as_str()],
                    |r| r.get(0),
                )?;
                if !owned {
                    return Err(StoreError::NotFound("agent version"));
                }
            }
            let w = ChannelColumns::of(&c, &sealer);
            let (field, reason) = w.conflict();
            conn.execute(
                "insert into channels (id, tenant_id, kind, name, phone_number_id, app_secret, verify_token,
                    access_token, graph_url, api_version, settings, deployed_version_id, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
                params![c.id.as_str(), c.tenant_id.as_str(), w.kind, c.name,
                        w.phone_number_id, w.app_secret, w.verify_token,
                        w.access_token, w.graph_url, w.api_version, w.settings.to_string(),
                        c.deployed_version.as_ref().map(|v| v.as_str()), time_text(c.created_at)],
            )
            .map_err(conflict_on(field, reason))?;
            if let Some(v) = &c.deployed_version {
                conn.execute(
                    "insert into deployments (tenant_id, channel_id, agent_version_id, previous_version_id, actor, created_at)
                     values (?1, ?2, ?3, null, ?4, ?5)",
                    params![c.tenant_id.as_str(), c.id.as_str(), v.as_str(), actor, time_text(c.created_at)],
                )?;
            }
            super::audit::append(conn, &audit)
        })
        .await?;
        Ok(channel)
    }

    async fn set_channel_settings(
        &self,
        tenant: &TenantId,
        channel: &Channel,
        at: DateTime<Utc>,
        audit: Audit,
    ) -> StoreResult<Channel> {
        let (tenant, id, sealer) = (tenant.clone(), channel.id.clone(), self.sealer());
        let settings = ChannelColumns::settings(&channel.config);
        let kind = channel.kind().as_str();
        let changed = self
            .write(move |conn| {
                let n = conn
                    .prepare_cached(
                        "update channels set settings = ?3, updated_at = ?4
                         where tenant_id = ?1 and id = ?2 and kind = ?5",
                    )?
                    .execute(params![
                        tenant.as_str(),
                        id.as_str(),
                        settings.to_string(),
                        time_text(stored(at)),
                        kind
                    ])?;
                if n == 0 {
                    return Err(StoreError::NotFound("channel"));
                }
                super::audit::append(conn, &audit)?;
                channel_row(conn, &sealer, &id)?.ok_or(StoreError::NotFound("channel"))
            })
            .await?;
        self.catalog().channels.forget(&channel.id);
        Ok(changed)
    }

    async fn channel(&self, id: &ChannelId) -> StoreResult<Option<Arc<Channel>>> {
        if let Some(kept) = self.catalog().channels.get(id) {
            return Ok(Some(kept));
        }
        let (id, catalog, sealer) = (id.clone(), self.catalog().clone(), self.sealer());
        self.read(move |conn| {
            catalog
                .channels
                .get_or_load(&id, || channel_row(conn, &sealer, &id))
        })
        .await
    }

    async fn channels(&self, tenant: &TenantId) -> StoreResult<Vec<Channel>> {
        let (tenant, sealer) = (tenant.clone(), self.sealer());
        self.read(move |conn| {
            let sql = format!(
                "select {} from channels where tenant_id = ?1 order by created_at",
                decode::CHANNEL_COLS
            );
            all(conn, &sql, [tenant.as_str()], |r| {
                decode::channel(r, &sealer)
            })
        })
        .await
    }
}

/// The rows behind the catalog's entries; `load_run` reads them on a miss too.
pub(super) fn tenant_row(conn: &Connection, id: &TenantId) -> StoreResult<Option<Tenant>> {
    let sql = format!("select {} from tenants where id = ?1", decode::TENANT_COLS);
    one(conn, &sql, [id.as_str()], decode::tenant)
}

pub(super) fn channel_row(
    conn: &Connection,
    sealer: &Sealer,
    id: &ChannelId,
) -> StoreResult<Option<Channel>> {
    let sql = format!(
        "select {} from channels where id = ?1",
        decode::CHANNEL_COLS
    );
    one(conn, &sql, [id.as_str()], |r| decode::channel(r, sealer))
}

pub(super) fn agent_version_row(
    conn: &Connection,
    id: &AgentVersionId,
) -> StoreResult<Option<AgentVersion>> {
    let sql = format!(
        "select {} from agent_versions v join agents a on a.id = v.agent_id where v.id = ?1",
        decode::AGENT_VERSION_COLS
    );
    one(conn, &sql, [id.as_str()], decode::agent_version)
}

fn insert_category(conn: &Connection, c: &Category) -> StoreResult<()> {
    conn.execute(
        "insert into categories (id, tenant_id, slug, names, keywords, default_priority, created_at, updated_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![c.id.as_str(), c.tenant_id.as_str(), c.slug,
                serde_json::to_string(&c.names).map_err(StoreError::internal)?,
                serde_json::to_string(&c.keywords).map_err(StoreError::internal)?,
                c.default_priority.as_str(), time_text(c.created_at)],
    )
    .map_err(conflict_on("slug", format!("category {:?} already exists", c.slug)))?;
    Ok(())
}

/// The next version of the named agent, made with the agent on first use.
fn add_agent_version(
    conn: &Connection,
    tenant: &TenantId,
    new: &NewAgentVersion,
    now: DateTime<Utc>,
) -> StoreResult<AgentVersion> {
    let agent: Option<Agent> = one(
        conn,
        &format!(
            "select {} from agents a where a.tenant_id = ?1 and a.name = ?2",
            decode::AGENT_COLS
        ),
        params![tenant.as_str(), new.agent_name],
        decode::agent,
    )?;
    let agent = match agent {
        Some(a) if a.kind == new.kind => a,
        Some(a) => {
            return Err(StoreError::Conflict {
                field: "kind".into(),
                reason: format!("agent {:?} is of kind {}", a.name, a.kind),
            })
        }
        None => {
            let a = NewAgent {
                id: AgentId::new(),
                name: new.agent_name.clone(),
                kind: new.kind.clone(),
            }
            .into_agent(tenant, now);
            conn.execute(
                        "insert into agents (id, tenant_id, name, kind, created_at) values (?1, ?2, ?3, ?4, ?5)",
                        params![a.id.as_str(), tenant.as_str(), a.name, a.kind, time_text(now)],
                    )?;
            a
        }
    };
    let version = NewVersion {
        config: new.config.clone(),
        changelog: new.changelog.clone(),
        author: new.author.clone(),
    };
    super::agents::insert_version(conn, &agent, &version, now)
}
