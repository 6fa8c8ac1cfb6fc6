//! An organisation's settings: complaint categories, the first-run guide's
//! steps, and settings kept by key (the survey's, the daily summary's).

use ombud_core::audit::{FieldChange, Target};
use ombud_core::media::transcription::{self, TranscriptionSettings};
use ombud_core::*;
use ombud_store::{NewCategory, StoreError, StoreResult};

use super::{Acting, Operations};

/// A tenant's transcriber as an admin gives it (see
/// [`Operations::set_media_settings`]).
#[derive(Debug, Clone, Default)]
pub struct TranscriberInput {
    pub base_url: Option<String>,
    pub model: String,
    /// None keeps the stored key; "" removes it.
    pub api_key: Option<String>,
}

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

/// A tenant's setting kept under `key`, or its default until one is set.
pub async fn read_setting<T: serde::de::DeserializeOwned + Default>(
    store: &dyn ombud_store::Store,
    tenant: &TenantId,
    key: &str,
) -> StoreResult<T> {
    match store.tenant_setting(tenant, key).await? {
        None => Ok(T::default()),
        Some(v) => serde_json::from_value(v)
            .map_err(|e| StoreError::Internal(format!("stored {key} settings: {e}"))),
    }
}

impl Operations {
    /// How much media the tenant takes (the defaults until an admin
    /// chooses).
    pub async fn media_limits(
        &self,
        tenant: &TenantId,
    ) -> StoreResult<ombud_core::media::MediaLimits> {
        read_setting(self.store.as_ref(), tenant, ombud_core::media::SETTINGS_KEY).await
    }

    /// Where the tenant's voice notes are transcribed (off until set).
    pub async fn transcription(&self, tenant: &TenantId) -> StoreResult<TranscriptionSettings> {
        read_setting(self.store.as_ref(), tenant, transcription::SETTINGS_KEY).await
    }

    /// Replaces the tenant's media limits and transcriber (admins), both
    /// checked before either is saved. With no base URL, transcription is
    /// off. The URL must pass the outbound guard; the key is sealed for the
    /// tenant before it is stored and never shown again (None keeps the
    /// one stored, "" removes it).
    pub async fn set_media_settings(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        limits: ombud_core::media::MediaLimits,
        transcriber: TranscriberInput,
    ) -> StoreResult<(ombud_core::media::MediaLimits, TranscriptionSettings)> {
        limits.validate()?;
        let before = self.transcription(tenant).await?;
        let api_key_sealed = match transcriber.api_key.map(|k| k.trim().to_owned()) {
            None => before.api_key_sealed.clone(),
            Some(k) if k.is_empty() => None,
            Some(k) => {
                let Some(seal) = &self.seal_key else {
                    return Err(StoreError::Invalid(ValidationError::new(
                        "api_key",
                        "this server has no key to seal secrets with",
                    )));
                };
                Some(seal.seal(&k, tenant.as_str()))
            }
        };
        let settings = TranscriptionSettings {
            base_url: transcriber
                .base_url
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty()),
            model: transcriber.model.trim().to_owned(),
            api_key_sealed,
        };
        settings.validate()?;
        if let Some(url) = &settings.base_url {
            self.outbound
                .check_url(url)
                .await
                .map_err(|e| ValidationError::new("base_url", e.to_string()))?;
        }
        let key = ombud_core::media::SETTINGS_KEY;
        self.set_setting(acting, tenant, key, "settings.media_changed", &limits)
            .await?;
        let key = transcription::SETTINGS_KEY;
        let action = "settings.transcription_changed";
        // The trail says whether a key is set, never the sealed key.
        let shown = |s: &TranscriptionSettings| {
            serde_json::json!({
                "base_url": s.base_url,
                "model": s.model,
                "api_key": s.api_key_sealed.as_ref().map(|_| "(set)"),
            })
        };
        self.set_setting_shown(acting, tenant, (key, action), &settings, shown)
            .await?;
        Ok((limits, settings))
    }

    /// Replaces the setting under `key` (checked by the caller), with its
    /// audit entry `{key}` before and after under `action`.
    pub(crate) async fn set_setting<T: serde::Serialize + serde::de::DeserializeOwned + Default>(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        key: &str,
        action: &str,
        value: &T,
    ) -> StoreResult<()> {
        let json = |v: &T| serde_json::to_value(v).unwrap_or_default();
        self.set_setting_shown(acting, tenant, (key, action), value, json)
            .await
    }

    /// [`Self::set_setting`], the audit trail recording each value as
    /// `shown` has it (without its secrets).
    pub(crate) async fn set_setting_shown<T>(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        (key, action): (&str, &str),
        value: &T,
        shown: impl Fn(&T) -> serde_json::Value,
    ) -> StoreResult<()>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Default,
    {
        let before: T = read_setting(self.store.as_ref(), tenant, key).await?;
        let json = |v: &T| serde_json::to_value(v).unwrap_or_default();
        let now = self.now();
        let entry = acting
            .entry(tenant, now, action, Target::new("settings", key, None))
            .with_changes(FieldChange::changed(key, shown(&before), shown(value)));
        self.store
            .set_tenant_setting(tenant, key, json(value), now, vec![entry])
            .await
    }
}
