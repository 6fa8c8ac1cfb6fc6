//! `GET /api/v1/me`: who the caller is, in which tenant, with which scopes.

use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Caller, Via};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub tenant: TenantSummary,
    /// `api_key` or `session`.
    pub auth: String,
    /// The key's id and prefix, or the member's user id.
    pub key_id: Option<String>,
    pub key_prefix: Option<String>,
    pub key_expires_at: Option<DateTime<Utc>>,
    pub rate_limit_per_minute: Option<u32>,
    pub user_id: Option<String>,
    pub role: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TenantSummary {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub timezone: String,
}

/// The caller: its tenant, how it signed in, and what it may do.
#[utoipa::path(get, path = "/me", tag = "me",
    responses((status = 200, body = Me)),
    security(("api_key" = []), ("session" = [])))]
async fn me(caller: Caller) -> Result<Json<Me>, ApiError> {
    let t = &caller.tenant;
    let tenant = TenantSummary {
        id: t.id.to_string(),
        slug: t.slug.to_string(),
        name: t.name.clone(),
        timezone: t.timezone.as_str().to_owned(),
    };
    let scopes = caller
        .scopes()
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    Ok(Json(match &caller.via {
        Via::Key(k) => Me {
            tenant,
            auth: "api_key".into(),
            key_id: Some(k.id.to_string()),
            key_prefix: Some(k.prefix.clone()),
            key_expires_at: k.expires_at,
            rate_limit_per_minute: Some(k.rate_limit_per_minute),
            user_id: None,
            role: None,
            scopes,
        },
        Via::Session { user, role } => Me {
            tenant,
            auth: "session".into(),
            key_id: None,
            key_prefix: None,
            key_expires_at: None,
            rate_limit_per_minute: None,
            user_id: Some(user.id.to_string()),
            role: Some(role.as_str().into()),
            scopes,
        },
    }))
}
