//! Developers (admins and owners): the tenant's API keys and webhook
//! endpoints. A new key, and an endpoint's secret, are shown once on the page
//! that made them; the secret can be shown again on the endpoint's page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_store::{WebhookAttempt, WebhookDelivery, WebhookStatus};
use serde::Deserialize;

use super::login::FieldErrors;
use super::page::{html, html_with, Chrome, PageError};
use super::session::Current;
use crate::auth::{KeyRequest, MintError};
use crate::AppState;
use ombud_engine::ops::webhooks::{EndpointEdit, EndpointRequest};

/// Deliveries shown on an endpoint's page.
const RECENT: u32 = 50;

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub revoked: bool,
}

pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<String>,
}

#[derive(Template)]
#[template(path = "developers.html")]
struct DevelopersPage {
    chrome: Chrome,
    keys: Vec<KeyRow>,
    endpoints: Vec<EndpointRow>,
    scopes: Vec<&'static str>,
    event_types: Vec<&'static str>,
    /// A key just made: shown this once.
    new_key: Option<String>,
    errors_for: &'static str,
    errors: FieldErrors,
}

pub struct DeliveryRow {
    pub event_id: String,
    pub event_type: String,
    pub status: &'static str,
    pub attempts: u32,
    pub last: String,
    pub created: String,
    pub log: Vec<AttemptRow>,
}

pub struct AttemptRow {
    pub at: String,
    pub status: String,
    pub latency_ms: u64,
    pub response: String,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct EndpointPage {
    chrome: Chrome,
    endpoint: EndpointRow,
    ordered: bool,
    secret: Option<String>,
    previous_until: Option<String>,
    deliveries: Vec<DeliveryRow>,
    notice: Option<String>,
}

/// A time as the tenant reads it.
pub(super) fn when(tenant: &Tenant, t: DateTime<Utc>) -> String {
    tenant
        .timezone
        .local_time(t)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn endpoint_row(tenant: &Tenant, e: &WebhookEndpoint) -> EndpointRow {
    EndpointRow {
        id: e.id.to_string(),
        url: e.url.clone(),
        description: e.description.clone(),
        events: if e.event_types.is_empty() {
            "all events".into()
        } else {
            e.event_types
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        enabled: e.enabled,
        disabled_reason: e.disabled_reason.clone(),
        failing_since: e.failing_since.map(|t| when(tenant, t)),
    }
}

async fn page(
    state: &AppState,
    current: &Current,
    new_key: Option<String>,
    errors_for: &'static str,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let t = &current.tenant;
    let keys = state
        .store
        .api_keys(&t.id)
        .await?
        .iter()
        .map(|k| KeyRow {
            id: k.id.to_string(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            created: when(t, k.created_at),
            last_used: k.last_used_at.map_or("never".into(), |u| when(t, u)),
            expires: k.expires_at.map_or("never".into(), |u| when(t, u)),
            revoked: k.revoked_at.is_some() || !k.is_live(state.engine.now()),
        })
        .collect();
    let endpoints = state
        .store
        .webhook_endpoints(&t.id)
        .await?
        .iter()
        .map(|e| endpoint_row(t, e))
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(html_with(
        status,
        &DevelopersPage {
            chrome: Chrome::of(current, "developers"),
            keys,
            endpoints,
            scopes: Scope::ALL.iter().map(|s| s.as_str()).collect(),
            event_types: EventType::ALL.iter().map(|t| t.as_str()).collect(),
            new_key,
            errors_for,
            errors,
        },
    ))
}

pub async fn show(State(state): State<AppState>, current: Current) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    page(&state, &current, None, "", FieldErrors::default()).await
}

/// The key form: a name, scopes (checkboxes), expiry and rate limit.
pub async fn create_key(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let value = |name: &str| super::page::form_value(&form, name).trim().to_owned();
    let mut errors = FieldErrors::default();
    let scopes: Vec<Scope> = form
        .iter()
        .filter(|(k, _)| k == "scope")
        .filter_map(|(_, v)| Scope::parse(v).ok())
        .collect();
    let expires_in_days = match value("expires_in_days").as_str() {
        "" => None,
        v => match v.parse::<u32>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.add(
                    "expires_in_days",
                    "a whole number of days, or empty for never",
                );
                None
            }
        },
    };
    let rate_limit = match value("rate_limit_per_minute").as_str() {
        "" => api_key::DEFAULT_RATE_LIMIT,
        v => v.parse::<u32>().unwrap_or(0),
    };
    if !errors.is_empty() {
        return page(&state, &current, None, "key", errors).await;
    }
    let minted = state
        .engine
        .ops()
        .create_api_key(
            &current.acting(),
            KeyRequest {
                tenant: current.tenant.id.clone(),
                name: value("name"),
                scopes,
                rate_limit_per_minute: rate_limit,
                expires_in_days,
                created_by: Some(current.user.id.clone()),
            },
        )
        .await;
    match minted {
        Ok((key, _)) => page(&state, &current, Some(key), "", FieldErrors::default()).await,
        Err(MintError::Invalid(v)) => {
            let field = match v.field.as_str() {
                "name" => "name",
                "scopes" => "scopes",
                "expires_in_days" => "expires_in_days",
                _ => "rate_limit_per_minute",
            };
            errors.add(field, v.reason);
            page(&state, &current, None, "key", errors).await
        }
        Err(MintError::Store(e)) => Err(e.into()),
    }
}

pub async fn revoke_key(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let id: ApiKeyId = id.parse().map_err(|_| PageError::not_found("API key"))?;
    match state
        .engine
        .ops()
        .revoke_api_key(&current.acting(), &current.tenant.id, &id)
        .await
    {
        // Revoked already (a second click): nothing to do.
        Ok(()) | Err(ombud_store::StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to("/app/developers").into_response())
}

/// The endpoint form: URL, description, event types (none ticked: all).
pub async fn create_endpoint(
    State(state): State<AppState>,
    current: Current,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let value = |name: &str| super::page::form_value(&form, name).to_owned();
    let types: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "event_type")
        .map(|(_, v)| v.clone())
        .collect();
    let made = state
        .engine
        .ops()
        .create_webhook_endpoint(
            &current.acting(),
            &current.tenant.id,
            EndpointRequest {
                url: value("url"),
                description: Some(value("description")),
                event_types: Some(types),
                enabled: true,
                ordered: value("ordered") != "no",
            },
        )
        .await;
    match made {
        Ok(e) => Ok(
            Redirect::to(&format!("/app/developers/webhooks/{}?secret=show", e.id)).into_response(),
        ),
        Err(ombud_store::StoreError::Invalid(v)) => {
            let mut errors = FieldErrors::default();
            let field = if v.field == "description" {
                "description"
            } else {
                "url"
            };
            errors.add(field, v.reason);
            page(&state, &current, None, "endpoint", errors).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn endpoint_of(
    state: &AppState,
    current: &Current,
    id: &str,
) -> Result<WebhookEndpoint, PageError> {
    let id: WebhookEndpointId = id
        .parse()
        .map_err(|_| PageError::not_found("webhook endpoint"))?;
    state
        .store
        .webhook_endpoint(&current.tenant.id, &id)
        .await?
        .ok_or_else(|| PageError::not_found("webhook endpoint"))
}

fn delivery_row(t: &Tenant, d: &WebhookDelivery, log: &[WebhookAttempt]) -> DeliveryRow {
    DeliveryRow {
        event_id: d.event_id.to_string(),
        event_type: d.event_type.as_str().to_owned(),
        status: d.status.as_str(),
        attempts: d.attempts,
        last: match (&d.last_status, &d.last_error, d.status) {
            (_, _, WebhookStatus::Pending) if d.attempts > 0 => {
                format!("next try {}", when(t, d.next_attempt_at))
            }
            (Some(code), _, _) => format!("HTTP {code}"),
            (None, Some(e), _) => e.clone(),
            _ => String::new(),
        },
        created: when(t, d.created_at),
        log: log
            .iter()
            .map(|a| AttemptRow {
                at: when(t, a.attempted_at),
                status: a.status_code.map_or_else(
                    || a.error.clone().unwrap_or_default(),
                    |c| format!("HTTP {c}"),
                ),
                latency_ms: a.latency_ms,
                response: a.response.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

pub async fn show_endpoint(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<ShowQuery>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let mut e = endpoint_of(&state, &current, &id).await?;
    let t = &current.tenant;
    let show_secret = q.secret.as_deref() == Some("show");
    if show_secret {
        e = state
            .engine
            .ops()
            .show_webhook_secret(&current.acting(), &t.id, &e.id)
            .await?;
    }
    let recent = state
        .store
        .webhook_deliveries(&t.id, &e.id, None, None, RECENT)
        .await?;
    let mut deliveries = Vec::with_capacity(recent.len());
    for (i, d) in recent.iter().enumerate() {
        // The attempt log of the latest few; the rest show their last answer.
        let log = if i < 10 {
            state.store.webhook_attempts(&t.id, d.id).await?
        } else {
            Vec::new()
        };
        deliveries.push(delivery_row(t, d, &log));
    }
    let now = state.engine.now();
    Ok(html(&EndpointPage {
        chrome: Chrome::of(&current, "developers"),
        endpoint: endpoint_row(t, &e),
        ordered: e.ordered,
        secret: show_secret.then(|| e.secret.expose().to_owned()),
        previous_until: e
            .previous_secret
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(_, until)| when(t, *until)),
        deliveries,
        notice: q.notice.filter(|n| n.chars().count() <= 200),
    }))
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    since_hours: Option<String>,
}

/// enable, disable, rotate, test, replay-failed, delete.
pub async fn endpoint_action(
    State(state): State<AppState>,
    current: Current,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let e = endpoint_of(&state, &current, &id).await?;
    let t = &current.tenant.id;
    let (ops, acting) = (state.engine.ops(), current.acting());
    let back = |notice: &str| {
        let notice: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
        Ok(Redirect::to(&format!(
            "/app/developers/webhooks/{}?notice={notice}",
            e.id
        ))
        .into_response())
    };
    match action.as_str() {
        "enable" | "disable" => {
            let on = action == "enable";
            let edit = EndpointEdit {
                enabled: Some(on),
                ..Default::default()
            };
            ops.change_webhook_endpoint(&acting, &e, edit).await?;
            back(if on {
                "Enabled."
            } else {
                "Disabled: no events are sent to it."
            })
        }
        "rotate" => {
            ops.rotate_webhook_secret(&acting, t, &e.id).await?;
            Ok(
                Redirect::to(&format!("/app/developers/webhooks/{}?secret=show", e.id))
                    .into_response(),
            )
        }
        "test" => {
            ops.send_test_webhook(&acting, t, &e.id)
                .await
                .map_err(|err| match err {
                    ombud_store::StoreError::Invalid(v) => PageError::bad_request(v.reason),
                    other => other.into(),
                })?;
            back("A webhook.test event is on its way.")
        }
        "replay-failed" => {
            let hours: i64 = form
                .since_hours
                .as_deref()
                .and_then(|h| h.trim().parse().ok())
                .filter(|h| (1..=24 * 30).contains(h))
                .ok_or_else(|| PageError::bad_request("give the hours to look back, 1 to 720"))?;
            let since = state.engine.now() - chrono::Duration::hours(hours);
            let n = ops.replay_failed_webhooks(&acting, t, &e.id, since).await?;
            back(&format!("{n} failed deliveries are sent again."))
        }
        "delete" => {
            match ops.delete_webhook_endpoint(&acting, t, &e.id).await {
                Ok(()) | Err(ombud_store::StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
            Ok(Redirect::to("/app/developers").into_response())
        }
        _ => Err(PageError::not_found("action")),
    }
}

pub async fn replay_delivery(
    State(state): State<AppState>,
    current: Current,
    Path((id, event)): Path<(String, String)>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let e = endpoint_of(&state, &current, &id).await?;
    let event: EventId = event
        .parse()
        .map_err(|_| PageError::not_found("delivery"))?;
    state
        .engine
        .ops()
        .replay_webhook(&current.acting(), &current.tenant.id, &e.id, &event)
        .await?;
    let notice: String =
        form_urlencoded::byte_serialize(format!("{event} is sent again.").as_bytes()).collect();
    Ok(Redirect::to(&format!(
        "/app/developers/webhooks/{}?notice={notice}",
        e.id
    ))
    .into_response())
}

/// What admins are told on the complaint list: endpoints Ombud disabled.
pub async fn alerts(state: &AppState, current: &Current) -> Result<Vec<String>, PageError> {
    if current.role < Role::Admin {
        return Ok(Vec::new());
    }
    Ok(state
        .store
        .webhook_endpoints(&current.tenant.id)
        .await?
        .into_iter()
        .filter(|e| !e.enabled)
        .filter_map(|e| e.disabled_reason.map(|r| format!("{}: {r}", e.url)))
        .collect())
}
