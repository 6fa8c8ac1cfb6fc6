//! `/api/v1/api-keys`: a tenant's keys, made and revoked by its admins
//! (signed in; a key cannot make keys). A new key is shown once.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use ombud_core::{ApiKey, ApiKeyId, Scope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::{created, ApiJson};
use crate::auth::{KeyRequest, MintError};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// A key as lists show it: never the key itself.
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// `ombud_` and 8 characters: the start of the key.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub rate_limit_per_minute: u32,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for KeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.to_string(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            rate_limit_per_minute: k.rate_limit_per_minute,
            created_by: k.created_by.as_ref().map(|u| u.to_string()),
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    pub data: Vec<KeyView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Any of complaints:read, complaints:write, conversations:read,
    /// conversations:write, webhooks:manage, agents:read, agents:write.
    #[schema(max_items = 20)]
    pub scopes: Vec<String>,
    /// Days until it stops working; absent: never.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Default 600.
    #[serde(default)]
    pub rate_limit_per_minute: Option<u32>,
}

/// The new key: `key` is shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: String,
    pub api_key: KeyView,
}

/// The tenant's keys, newest first (revoked ones too).
#[utoipa::path(get, path = "/api-keys", tag = "api-keys",
    responses((status = 200, body = KeyList)),
    security(("session" = [])))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<KeyList>, ApiError> {
    caller.require_admin()?;
    let keys = state.store.api_keys(&caller.tenant.id).await?;
    Ok(Json(KeyList {
        data: keys.iter().map(KeyView::from).collect(),
    }))
}

/// Makes a key. The answer holds the key; only its hash is kept.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = NewKey,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CreatedKey)),
    security(("session" = [])))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<Response, ApiError> {
    let user = caller.require_admin()?;
    ombud_core::limits::at_most("scopes", body.scopes.len(), ombud_core::limits::SCOPES)
        .map_err(|v| ApiError::invalid(&v.field, v.reason))?;
    let scopes = body
        .scopes
        .iter()
        .map(|s| Scope::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|v| ApiError::invalid(&v.field, v.reason))?;
    let minted = state
        .engine
        .ops()
        .create_api_key(
            &caller.acting(),
            KeyRequest {
                tenant: caller.tenant.id.clone(),
                name: body.name,
                scopes,
                rate_limit_per_minute: body
                    .rate_limit_per_minute
                    .unwrap_or(ombud_core::api_key::DEFAULT_RATE_LIMIT),
                expires_in_days: body.expires_in_days,
                created_by: Some(user.id.clone()),
            },
        )
        .await;
    let (key, api_key) = match minted {
        Ok(k) => k,
        Err(MintError::Invalid(v)) => return Err(ApiError::invalid(&v.field, v.reason)),
        Err(MintError::Store(e)) => return Err(e.into()),
    };
    Ok(created(
        format!("/api/v1/api-keys/{}", api_key.id),
        CreatedKey {
            key,
            api_key: KeyView::from(&api_key),
        },
    ))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked")),
    security(("session" = [])))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let id: ApiKeyId = id.parse().map_err(|_| ApiError::not_found("API key"))?;
    state
        .engine
        .ops()
        .revoke_api_key(&caller.acting(), &caller.tenant.id, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
