//! Serving a citizen's photo or voice note to those allowed to see it (the
//! dashboard's staff, the API's callers with `complaints:read`): looked up
//! by id within the caller's tenant only, so another tenant's id is simply
//! not found. Never a public URL; never cached by others; the type is the
//! one Ombud sniffed, not what the sender claimed, and the answer can run
//! nothing (`sandbox`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ombud_core::media::{AUDIO_TYPES, IMAGE_TYPES};
use ombud_core::{AttachmentId, TenantId};
use ombud_store::Attachment;

use crate::AppState;

/// Why an attachment cannot be served.
pub enum Unserved {
    /// No such attachment for this tenant, or no bytes (not fetched,
    /// refused, erased).
    NotFound,
    /// The media store failed.
    Broken(String),
}

/// The attachment `id` of `tenant` with its bytes.
pub async fn load(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<(Attachment, Vec<u8>), Unserved> {
    let id: AttachmentId = id.parse().map_err(|_| Unserved::NotFound)?;
    let attachment = state
        .store
        .attachment(tenant, &id)
        .await
        .map_err(|e| Unserved::Broken(e.to_string()))?
        .filter(|a| a.state.kept())
        .ok_or(Unserved::NotFound)?;
    let (Some(media), Some(sha256)) = (state.engine.media(), attachment.sha256.as_deref()) else {
        return Err(Unserved::NotFound);
    };
    let bytes = media
        .get(tenant, sha256)
        .await
        .map_err(Unserved::Broken)?
        .ok_or(Unserved::NotFound)?;
    Ok((attachment, bytes))
}

/// The bytes as an answer: the sniffed type (only photo and audio types
/// are ever served as themselves), private caching, no running anything.
pub fn response(attachment: &Attachment, bytes: Vec<u8>) -> Response {
    let content_type = attachment
        .content_type
        .as_deref()
        .filter(|t| IMAGE_TYPES.contains(t) || AUDIO_TYPES.contains(t))
        .unwrap_or("application/octet-stream");
    let name = ombud_core::media::file_name(&attachment.id, content_type);
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    let set = |value: String| HeaderValue::from_str(&value).ok();
    if let Some(v) = set(content_type.to_owned()) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Some(v) = set(format!("inline; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    // Content-addressed and never changed: a browser may keep it, a
    // shared cache may not.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}
