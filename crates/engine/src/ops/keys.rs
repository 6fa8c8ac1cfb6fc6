//! API keys: made (shown once) and revoked.

use ombud_core::api_key::{api_key_hash, new_api_key};
use ombud_core::audit::{FieldChange, Target};
use ombud_core::*;
use ombud_store::{StoreError, StoreResult};

use super::{Acting, Operations};

/// What a new key is asked to be.
pub struct KeyRequest {
    pub tenant: TenantId,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub rate_limit_per_minute: u32,
    pub expires_in_days: Option<u32>,
    pub created_by: Option<UserId>,
}

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("{}: {}", .0.field, .0.reason)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn target(key: &ApiKey) -> Target {
    Target::new("api_key", &key.id, Some(key.name.clone()))
}

impl Operations {
    /// Checks the request and stores a new key; returns the key (to show
    /// once) and what is stored of it. Audited as `api_key.created`.
    pub async fn create_api_key(
        &self,
        acting: &Acting,
        r: KeyRequest,
    ) -> Result<(String, ApiKey), MintError> {
        let name = r.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(
                ValidationError::new("name", "give the key a name of 1 to 100 characters").into(),
            );
        }
        if r.scopes.is_empty() {
            return Err(ValidationError::new("scopes", "name at least one scope").into());
        }
        limits::at_most("scopes", r.scopes.len(), limits::SCOPES)?;
        if r.rate_limit_per_minute == 0 || r.rate_limit_per_minute > 1_000_000 {
            return Err(ValidationError::new(
                "rate_limit_per_minute",
                "must be between 1 and 1000000 requests per minute",
            )
            .into());
        }
        if matches!(r.expires_in_days, Some(d) if d == 0 || d > 3650) {
            return Err(ValidationError::new(
                "expires_in_days",
                "must be from 1 to 3650 (or left out: never)",
            )
            .into());
        }
        let (key, prefix) = new_api_key();
        let now = self.now();
        let mut scopes = r.scopes;
        scopes.sort();
        scopes.dedup();
        let api_key = ApiKey {
            id: ApiKeyId::new(),
            tenant_id: r.tenant,
            name: name.to_owned(),
            prefix,
            scopes,
            rate_limit_per_minute: r.rate_limit_per_minute,
            created_by: r.created_by,
            created_at: now,
            expires_at: r
                .expires_in_days
                .map(|d| now + chrono::Duration::days(i64::from(d))),
            last_used_at: None,
            revoked_at: None,
        };
        let entry = acting
            .entry(&api_key.tenant_id, now, "api_key.created", target(&api_key))
            .with_changes([
                FieldChange::set("prefix", &api_key.prefix),
                FieldChange::set(
                    "scopes",
                    api_key
                        .scopes
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>(),
                ),
                FieldChange::set("rate_limit_per_minute", api_key.rate_limit_per_minute),
                FieldChange::set("expires_at", api_key.expires_at),
            ]);
        self.store
            .create_api_key(api_key.clone(), &api_key_hash(&key), vec![entry])
            .await?;
        Ok((key, api_key))
    }

    /// Revokes a live key at once. NotFound if the tenant has no such live key.
    pub async fn revoke_api_key(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &ApiKeyId,
    ) -> StoreResult<()> {
        let keys = self.store.api_keys(tenant).await?;
        let Some(key) = keys.iter().find(|k| &k.id == id && k.revoked_at.is_none()) else {
            return Err(StoreError::NotFound("API key"));
        };
        let now = self.now();
        let entry = acting
            .entry(tenant, now, "api_key.revoked", target(key))
            .with_changes([FieldChange::set("revoked_at", now)]);
        if self
            .store
            .revoke_api_key(tenant, id, now, vec![entry])
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::NotFound("API key"))
        }
    }
}
