//! `GET /api/v1/audit-events`: the tenant's audit trail, newest first
//! (scope `audit:read`; admins have it). Each entry carries its place in the
//! hash chain, so a copy kept elsewhere can be checked with `ombud audit
//! verify --file`.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use ombud_core::audit::AuditEntry;
use ombud_core::Scope;
use ombud_store::AuditFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::{limit, ApiQuery, Page};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The actor's user or API key id.
    pub actor: Option<String>,
    /// An action (`api_key.created`), or all of a subject's (`api_key.`).
    pub action: Option<String>,
    /// The target's id or label (a complaint number).
    pub target: Option<String>,
    /// From this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// One entry of the trail (the `audit.recorded` webhook event's `data` is
/// the same).
#[derive(Serialize, ToSchema)]
pub struct AuditEvent {
    /// Its place in the tenant's chain: 1, 2, 3…
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub at: DateTime<Utc>,
    /// `kind` (user, api_key, cli, system), `id`, and how they were known:
    /// `name`, `email`, `prefix`.
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    pub action: String,
    /// `kind`, `id`, `label`.
    #[schema(value_type = Object)]
    pub target: serde_json::Value,
    /// `[{field, before, after}]`; secrets never appear.
    #[schema(value_type = Vec<Object>)]
    pub changes: serde_json::Value,
    /// `address`, `user_agent`, `request_id`.
    #[schema(value_type = Object)]
    pub origin: serde_json::Value,
    pub bulk_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&AuditEntry> for AuditEvent {
    fn from(e: &AuditEntry) -> Self {
        let n = &e.entry;
        let json = |v: serde_json::Result<serde_json::Value>| v.unwrap_or_default();
        Self {
            seq: e.seq,
            id: n.id.to_string(),
            tenant_id: n.tenant_id.to_string(),
            at: n.at,
            actor: json(serde_json::to_value(&n.actor)),
            action: n.action.clone(),
            target: json(serde_json::to_value(&n.target)),
            changes: json(serde_json::to_value(&n.changes)),
            origin: json(serde_json::to_value(&n.origin)),
            bulk_id: n.bulk_id.clone(),
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

fn short(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if s.chars().count() > 200 => {
            Err(ApiError::invalid(field, "must be at most 200 characters"))
        }
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// The tenant's audit trail, newest first.
#[utoipa::path(get, path = "/audit-events", tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = Page<AuditEvent>)),
    security(("api_key" = ["audit:read"]), ("session" = [])))]
async fn list_audit_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEvent>>, ApiError> {
    caller.require(Scope::AuditRead)?;
    let limit = limit(q.limit)?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::invalid("cursor", "is not a cursor from this list"))
        })
        .transpose()?;
    let filter = AuditFilter {
        actor: short("actor", q.actor)?,
        action: short("action", q.action)?,
        target: short("target", q.target)?,
        since: q.since,
        until: q.until,
    };
    let rows = state
        .store
        .audit_events(&caller.tenant.id, &filter, before, limit + 1)
        .await?;
    let page = Page::of(rows, limit, |e| e.seq.to_string());
    Ok(Json(Page {
        data: page.data.iter().map(AuditEvent::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
