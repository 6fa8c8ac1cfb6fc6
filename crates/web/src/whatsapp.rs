//! `/channels/whatsapp/{channel_id}/webhook`: Meta's verification handshake (GET)
//! and event deliveries (POST). A delivery is answered 200 only once what it holds
//! is committed; any other answer makes Meta deliver it again, which is safe
//! because messages are deduplicated on their wamid.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use ombud_channels::whatsapp::{self, ParseError, SignatureError, SIGNATURE_HEADER};
use ombud_core::{Channel, ChannelId, ChannelKind, WhatsAppConfig};
use serde_json::json;

use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/channels/whatsapp/{channel_id}/webhook",
        get(verify).post(receive),
    )
}

/// The channel of `kind` with this id, as a provider's callback names it.
pub(crate) async fn channel(
    state: &AppState,
    id: &str,
    kind: ChannelKind,
) -> Result<Arc<Channel>, ApiError> {
    let id = ChannelId::parse(id).map_err(|_| ApiError::not_found("channel"))?;
    match state.store.channel(&id).await? {
        Some(c) if c.kind() == kind => Ok(c),
        _ => Err(ApiError::not_found("channel")),
    }
}

/// A webhook's body, or 413 past the size limit, 400 when unreadable.
pub(crate) fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "unreadable_body", r.body_text())
        }
    })
}

/// A WhatsApp channel's configuration; `channel` found it by kind.
fn config(channel: &Channel) -> Result<&WhatsAppConfig, ApiError> {
    channel
        .whatsapp()
        .ok_or_else(|| ApiError::not_found("channel"))
}

async fn verify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let channel = channel(&state, &id, ChannelKind::Whatsapp).await?;
    whatsapp::verify_subscription(
        q.get("hub.mode").map(String::as_str),
        q.get("hub.verify_token").map(String::as_str),
        q.get("hub.challenge").map(String::as_str),
        config(&channel)?.verify_token.expose(),
    )
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "verification_failed",
            "hub.mode must be subscribe and hub.verify_token must match the channel's verify token",
        )
    })
}

async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = read_body(body)?;
    let channel = channel(&state, &id, ChannelKind::Whatsapp).await?;
    let cfg = config(&channel)?;
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    whatsapp::verify_signature(cfg.app_secret.expose(), &body, signature).map_err(|e| {
        let reason = e.to_string();
        let code = match e {
            SignatureError::Missing => "signature_missing",
            SignatureError::Malformed | SignatureError::Mismatch => "signature_invalid",
        };
        ApiError::new(StatusCode::UNAUTHORIZED, code, reason.clone())
            .field("X-Hub-Signature-256", reason)
    })?;
    let content = whatsapp::parse_webhook(&body, &cfg.phone_number_id, cfg.waba_id.as_deref())
        .map_err(|e| {
            let code = match e {
                ParseError::Json(_) => "invalid_json",
                ParseError::Shape(_) => "invalid_payload",
            };
            ApiError::new(StatusCode::BAD_REQUEST, code, e.to_string()).field("body", e.to_string())
        })?;
    if content.foreign > 0 {
        tracing::warn!(channel = %channel.id, changes = content.foreign, "webhook changes for another phone number id or business account were ignored");
    }
    let outcome = state.engine.ingest(&channel, content.batch).await?;
    // Template news (approved, paused, re-categorised) comes to the same URL.
    let templates = content.templates.len();
    if templates > 0 {
        state
            .engine
            .ops()
            .template_news(&channel, content.templates)
            .await?;
    }
    Ok(Json(json!({
        "received": outcome.stored.len(),
        "duplicates": outcome.duplicates,
        "statuses": outcome.statuses_applied,
        "templates": templates,
    })))
}
