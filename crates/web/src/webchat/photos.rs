//! `POST /channels/webchat/{id}/photos`: a visitor's photo, the raw image
//! as the body (`Content-Type: image/jpeg`, `image/png` or `image/webp`),
//! with `?client_id=` (a retried upload is stored once) and `?caption=`.
//! The widget scales a photo down in the browser before sending it, so it
//! fits the server's body limit; what arrives is judged by its bytes, not
//! its declared type, and cleaned as WhatsApp's photos are.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::{cors, visitor, webchat_channel, with_headers, Limits, TEXT_MAX};
use crate::{ApiError, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PhotoQuery {
    client_id: Option<String>,
    caption: Option<String>,
}

pub(super) async fn send_photo(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    Path(id): Path<String>,
    Query(q): Query<PhotoQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let channel = webchat_channel(&state, &id).await?;
    let extra = cors(&channel, &headers)?;
    let visitor = visitor(&channel, &headers, None)?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !declared.starts_with("image/") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the photo itself as the body, with its image type",
        )
        .field(
            "Content-Type",
            "must be image/jpeg, image/png or image/webp",
        ));
    }
    if body.is_empty() {
        return Err(ApiError::invalid("body", "is empty: send the photo"));
    }
    let caption = q.caption.unwrap_or_default().trim().to_owned();
    if caption.chars().count() > TEXT_MAX || caption.contains('\0') {
        return Err(ApiError::invalid(
            "caption",
            format!("must be at most {TEXT_MAX} characters, without NUL"),
        ));
    }
    let client_id = super::client_id(q.client_id)?;
    limits.message_from(&visitor)?;
    let provider_id = format!("{visitor}:{client_id}");
    let outcome = state
        .engine
        .ingest_upload(&channel, (visitor, provider_id, caption), &body)
        .await?;
    let body = Json(json!({"received": outcome.stored.len(), "duplicates": outcome.duplicates}));
    Ok(with_headers(
        (StatusCode::ACCEPTED, body).into_response(),
        extra,
    ))
}
