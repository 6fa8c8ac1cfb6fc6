//! `/api/v1/webhooks`: endpoints, their secrets, deliveries and attempts,
//! replays and test events. All need the `webhooks:manage` scope. What they
//! read and write is in `webhook_types`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ombud_core::{EventId, Scope, WebhookEndpoint, WebhookEndpointId};
use ombud_engine::ops::webhooks::{EndpointEdit, EndpointRequest};
use ombud_store::{WebhookDelivery, WebhookStatus};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::{check_if_match, created, limit, tagged, ApiJson, ApiQuery, Page};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(get_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(replay_delivery))
        .routes(routes!(replay_failed))
}

use super::webhook_types::*;

fn endpoint_id(raw: &str) -> Result<WebhookEndpointId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found("webhook endpoint"))
}

fn event_id(raw: &str) -> Result<EventId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("delivery"))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<WebhookEndpoint, ApiError> {
    caller.require(Scope::WebhooksManage)?;
    state
        .store
        .webhook_endpoint(&caller.tenant.id, &endpoint_id(id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

/// The tenant's webhook endpoints, oldest first.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    responses((status = 200, body = Page<Endpoint>)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn list_endpoints(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<Endpoint>>, ApiError> {
    caller.require(Scope::WebhooksManage)?;
    let all = state.store.webhook_endpoints(&caller.tenant.id).await?;
    Ok(Json(Page {
        data: all.iter().map(Endpoint::from).collect(),
        next_cursor: None,
    }))
}

/// Adds an endpoint. Its secret is in the answer.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = NewEndpoint,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a POST safely")),
    responses((status = 201, body = CreatedEndpoint)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn create_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewEndpoint>,
) -> Result<Response, ApiError> {
    caller.require(Scope::WebhooksManage)?;
    let endpoint = state
        .engine
        .ops()
        .create_webhook_endpoint(
            &caller.acting(),
            &caller.tenant.id,
            EndpointRequest {
                url: body.url,
                description: body.description,
                event_types: body.event_types,
                enabled: body.enabled.unwrap_or(true),
                ordered: body.ordered.unwrap_or(true),
            },
        )
        .await?;
    Ok(created(
        format!("/api/v1/webhooks/{}", endpoint.id),
        CreatedEndpoint {
            endpoint: Endpoint::from(&endpoint),
            secret: endpoint.secret.expose().to_owned(),
        },
    ))
}

/// One endpoint, with an ETag.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 200, body = Endpoint, headers(("ETag" = String))), (status = 304, description = "Not modified")),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn get_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let e = load(&state, &caller, &id).await?;
    Ok(tagged(&headers, &Endpoint::from(&e)))
}

/// Changes an endpoint. With `If-Match`, only if it is unchanged since read.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", request_body = EndpointUpdate,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Endpoint, headers(("ETag" = String))), (status = 412, body = crate::error::ErrorBody)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn update_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EndpointUpdate>,
) -> Result<Response, ApiError> {
    let current = load(&state, &caller, &id).await?;
    check_if_match(&headers, &Endpoint::from(&current))?;
    let edit = EndpointEdit {
        url: body.url,
        description: body.description,
        event_types: body.event_types,
        enabled: body.enabled,
        ordered: body.ordered,
    };
    let e = state
        .engine
        .ops()
        .change_webhook_endpoint(&caller.acting(), &current, edit)
        .await?;
    Ok(tagged(&HeaderMap::new(), &Endpoint::from(&e)))
}

/// Deletes an endpoint with its deliveries and attempts.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn delete_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let e = load(&state, &caller, &id).await?;
    state
        .engine
        .ops()
        .delete_webhook_endpoint(&caller.acting(), &caller.tenant.id, &e.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signing secret (and the previous one during a rotation).
#[utoipa::path(get, path = "/webhooks/{id}/secret", tag = "webhooks",
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointSecret)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn get_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EndpointSecret>, ApiError> {
    let e = load(&state, &caller, &id).await?;
    let e = state
        .engine
        .ops()
        .show_webhook_secret(&caller.acting(), &caller.tenant.id, &e.id)
        .await?;
    Ok(Json(EndpointSecret::of(&e, state.engine.now())))
}

/// A new secret; the old one keeps signing for 24 hours.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = EndpointSecret)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EndpointSecret>, ApiError> {
    let e = load(&state, &caller, &id).await?;
    let e = state
        .engine
        .ops()
        .rotate_webhook_secret(&caller.acting(), &caller.tenant.id, &e.id)
        .await?;
    Ok(Json(EndpointSecret::of(&e, state.engine.now())))
}

/// Sends a `webhook.test` event to this endpoint only.
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = TestSent)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn send_test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let e = load(&state, &caller, &id).await?;
    let event = state
        .engine
        .ops()
        .send_test_webhook(&caller.acting(), &caller.tenant.id, &e.id)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TestSent {
            event_id: event.to_string(),
        }),
    )
        .into_response())
}

/// The endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), DeliveryQuery),
    responses((status = 200, body = Page<Delivery>)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    let e = load(&state, &caller, &id).await?;
    let limit = limit(q.limit)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            WebhookStatus::parse(s).ok_or_else(|| {
                ApiError::invalid("status", "must be pending, sending, delivered or failed")
            })
        })
        .transpose()?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::invalid("cursor", "is not a cursor from this list"))
        })
        .transpose()?;
    let rows = state
        .store
        .webhook_deliveries(&caller.tenant.id, &e.id, status, before, limit + 1)
        .await?;
    let page = Page::of(rows, limit, |d| d.id.to_string());
    Ok(Json(Page {
        data: page.data.iter().map(Delivery::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn delivery_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
    event: &str,
) -> Result<(WebhookEndpoint, WebhookDelivery), ApiError> {
    let e = load(state, caller, id).await?;
    let d = state
        .store
        .webhook_delivery(&caller.tenant.id, &e.id, &event_id(event)?)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "delivery not found: this endpoint has none of this event, or it was delivered or failed longer ago than the server keeps deliveries (retention.webhook_delivered_days, retention.webhook_failed_days) and was removed",
            )
        })?;
    Ok((e, d))
}

/// One delivery with every attempt.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries/{event_id}", tag = "webhooks",
    params(("id" = String, Path), ("event_id" = String, Path)),
    responses((status = 200, body = DeliveryWithAttempts)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn get_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, event)): Path<(String, String)>,
) -> Result<Json<DeliveryWithAttempts>, ApiError> {
    let (_, d) = delivery_of(&state, &caller, &id, &event).await?;
    let attempts = state
        .store
        .webhook_attempts(&caller.tenant.id, d.id)
        .await?;
    Ok(Json(DeliveryWithAttempts {
        delivery: Delivery::from(&d),
        attempt_log: attempts.iter().map(Attempt::from).collect(),
    }))
}

/// Sends one delivery again, now, with the same `webhook-id`.
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{event_id}/replay", tag = "webhooks",
    params(("id" = String, Path), ("event_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = Delivery)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn replay_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, event)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (e, d) = delivery_of(&state, &caller, &id, &event).await?;
    state
        .engine
        .ops()
        .replay_webhook(&caller.acting(), &caller.tenant.id, &e.id, &d.event_id)
        .await?;
    let (_, d) = delivery_of(&state, &caller, &id, &event).await?;
    Ok((StatusCode::ACCEPTED, Json(Delivery::from(&d))).into_response())
}

/// Sends again every failed delivery created since a time.
#[utoipa::path(post, path = "/webhooks/{id}/replay", tag = "webhooks", request_body = ReplaySince,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = Replayed)),
    security(("api_key" = ["webhooks:manage"]), ("session" = [])))]
async fn replay_failed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReplaySince>,
) -> Result<Response, ApiError> {
    let e = load(&state, &caller, &id).await?;
    let replayed = state
        .engine
        .ops()
        .replay_failed_webhooks(&caller.acting(), &caller.tenant.id, &e.id, body.since)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed })).into_response())
}
