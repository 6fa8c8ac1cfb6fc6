//! Staff accounts and API keys from the shell: `ombud user create` and
//! `ombud apikey create`. Each prints its secret (a one-time password, a key)
//! once, as JSON; the store keeps only a hash of it.

use ombud_core::*;
use ombud_store::prelude::*;
use ombud_store::NewUser;
use serde_json::json;

use crate::cli::{non_empty, tenant_by_slug, ApiKeyCreate, UserCreate};

pub async fn create_user(
    store: std::sync::Arc<dyn Store>,
    args: &UserCreate,
) -> anyhow::Result<serde_json::Value> {
    let email = Email::parse(&args.email)?;
    let role = Role::parse(&args.role)?;
    let tenant = tenant_by_slug(store.as_ref(), &args.tenant).await?;
    let (ops, cli) = (
        crate::cli::operations(store.clone()),
        ombud_engine::Acting::cli(),
    );
    if let Some(user) = store.user_by_email(&email).await? {
        let membership = ops.add_member(&cli, &tenant.id, &user, role).await?;
        return Ok(json!({
            "user": user, "tenant": tenant.slug, "role": membership.role,
            "one_time_password": null,
            "note": "the account existed: it is now a member of this tenant too, with its own password",
        }));
    }
    let name = match &args.name {
        Some(n) => non_empty("name", n)?,
        None => email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    let password = ombud_web::auth::one_time_password();
    let user = ops
        .create_user(
            &cli,
            NewUser {
                id: ombud_core::UserId::new(),
                email,
                name,
                password_hash: ombud_web::auth::hash_password(&password)
                    .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))?,
                must_change_password: true,
                platform_admin: false,
                memberships: vec![(tenant.id.clone(), role)],
            },
        )
        .await?;
    Ok(json!({
        "user": user, "tenant": tenant.slug, "role": role,
        "one_time_password": password,
        "note": "shown once: the user logs in with it and must choose a new password",
    }))
}

pub async fn create_api_key(
    store: std::sync::Arc<dyn Store>,
    args: &ApiKeyCreate,
) -> anyhow::Result<serde_json::Value> {
    let tenant = tenant_by_slug(store.as_ref(), &args.tenant).await?;
    let scopes = ombud_core::Scope::parse_list(&args.scopes)?;
    let ops = crate::cli::operations(store);
    let minted = ops
        .create_api_key(
            &ombud_engine::Acting::cli(),
            ombud_web::auth::KeyRequest {
                tenant: tenant.id.clone(),
                name: args.name.clone(),
                scopes,
                rate_limit_per_minute: args.rate_limit,
                expires_in_days: args.expires_days,
                created_by: None,
            },
        )
        .await;
    let (key, api_key) = match minted {
        Ok(k) => k,
        Err(ombud_web::auth::MintError::Invalid(v)) => Err(v)?,
        Err(ombud_web::auth::MintError::Store(e)) => Err(e)?,
    };
    Ok(json!({
        "key": key,
        "api_key": api_key,
        "tenant": tenant.slug,
        "note": "shown once: store it now; Ombud keeps only its hash",
    }))
}
