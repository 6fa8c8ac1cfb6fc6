//! An organisation's settings: complaint categories, and the first-run
//! guide's steps.

use ombud_core::audit::{FieldChange, Target};
use ombud_core::*;
use ombud_store::{NewCategory, StoreError, StoreResult};

use super::{Acting, Operations};

fn target(id: &CategoryId, slug: &str) -> Target {
    Target::new("category", id, Some(slug.to_owned()))
}

impl Operations {
    pub async fn create_category(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        new: NewCategory,
    ) -> StoreResult<Category> {
        let now = self.now();
        let entry = acting
            .entry(tenant, now, "category.added", target(&new.id, &new.slug))
            .with_changes([
                FieldChange::set("names", &new.names),
                FieldChange::set("keywords", &new.keywords),
                FieldChange::set("default_priority", new.default_priority.as_str()),
            ]);
        self.store
            .create_category(tenant, new, now, vec![entry])
            .await
    }

    /// Replaces a category's names, keywords and default priority (its slug
    /// stays).
    pub async fn change_category(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &CategoryId,
        change: NewCategory,
    ) -> StoreResult<Category> {
        let now = self.now();
        let all = self.store.categories(tenant).await?;
        let before = all
            .iter()
            .find(|c| &c.id == id)
            .ok_or(StoreError::NotFound("category"))?;
        let entry = acting
            .entry(tenant, now, "category.changed", target(id, &before.slug))
            .with_changes(
                [
                    FieldChange::changed("names", &before.names, &change.names),
                    FieldChange::changed("keywords", &before.keywords, &change.keywords),
                    FieldChange::changed(
                        "default_priority",
                        before.default_priority.as_str(),
                        change.default_priority.as_str(),
                    ),
                ]
                .into_iter()
                .flatten(),
            );
        self.store
            .update_category(tenant, id, change, now, vec![entry])
            .await
    }

    /// An admin marked a step of the first-run guide done (or skipped it).
    pub async fn mark_onboarding_step(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        step: &str,
    ) -> StoreResult<()> {
        let now = self.now();
        let entry = acting.entry(
            tenant,
            now,
            "onboarding.step_done",
            Target::new("onboarding_step", step, None),
        );
        self.store
            .mark_onboarding_step(tenant, step, now, vec![entry])
            .await
    }

    /// Steps the tenant's data shows done (a channel added, a first
    /// message): remembered, but nobody's action, so not recorded.
    pub async fn remember_onboarding_step(&self, tenant: &TenantId, step: &str) -> StoreResult<()> {
        let now = self.now();
        self.store
            .mark_onboarding_step(tenant, step, now, Vec::new())
            .await
    }
}

impl Operations {
    /// Connects a channel to the tenant (see [`crate::provision::add_channel`]),
    /// its provider URL checked against the hosts the operator allows.
    pub async fn add_channel(
        &self,
        acting: &Acting,
        tenant: &TenantSlug,
        name: String,
        config: ChannelConfig,
    ) -> Result<(Tenant, Channel), crate::provision::ProvisionError> {
        crate::provision::add_channel(
            self.store.as_ref(),
            self.clock.as_ref(),
            acting,
            self.outbound.providers(),
            tenant,
            name,
            config,
        )
        .await
    }
}
