//! A complaint's photos and voice notes: the list (references, never the
//! bytes) and each one's content, served within the caller's tenant only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_store::Attachment;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::complaints::find;
use crate::attachments::{load, response, Unserved};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(complaint_attachments))
        .routes(routes!(attachment_content))
}

/// A photo or voice note a citizen sent.
#[derive(Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: String,
    /// The message that carried it.
    pub message_id: String,
    pub complaint_id: Option<String>,
    /// image or audio.
    pub kind: String,
    /// fetching, transcribing (a voice note kept, its words awaited),
    /// ready, unheard (a voice note kept but not transcribed), refused (too
    /// large or long, not what it claimed, damaged) or failed (could not be
    /// fetched).
    pub state: String,
    /// The type of its content, as Ombud read it (not as the sender said).
    pub content_type: Option<String>,
    pub size: Option<u64>,
    /// Hex SHA-256 of the content served.
    pub sha256: Option<String>,
    /// A voice note's length.
    pub seconds: Option<f64>,
    /// Why it was refused or failed.
    pub error: Option<String>,
    /// A voice note's words (empty: no speech heard; null: not
    /// transcribed), the language the transcriber heard, and its model.
    pub transcript: Option<String>,
    pub transcript_language: Option<String>,
    pub transcript_model: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Where its content is served once ready (same authorisation).
    pub content_url: Option<String>,
}

impl From<&Attachment> for AttachmentView {
    fn from(a: &Attachment) -> Self {
        let ready = a.state.kept();
        Self {
            id: a.id.to_string(),
            message_id: a.message_id.to_string(),
            complaint_id: a.complaint_id.as_ref().map(ToString::to_string),
            kind: a.kind.as_str().to_owned(),
            state: a.state.as_str().to_owned(),
            content_type: a.content_type.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            seconds: a.seconds,
            error: a.error.clone(),
            transcript: a.transcript.clone(),
            transcript_language: a.transcript_language.clone(),
            transcript_model: a.transcript_model.clone(),
            created_at: a.created_at,
            content_url: ready.then(|| format!("/api/v1/attachments/{}/content", a.id)),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentList {
    pub data: Vec<AttachmentView>,
}

/// The complaint's photos and voice notes, oldest first.
#[utoipa::path(get, path = "/complaints/{id}/attachments", tag = "complaints",
    params(("id" = String, Path, description = "cmp_… or the complaint number")),
    responses((status = 200, body = AttachmentList)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn complaint_attachments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AttachmentList>, ApiError> {
    let c = find(&state, &caller, &id).await?;
    let found = state
        .store
        .complaint_attachments(&caller.tenant.id, &c.id)
        .await?;
    Ok(Json(AttachmentList {
        data: found.iter().map(AttachmentView::from).collect(),
    }))
}

/// A photo's or voice note's content, as its type says.
#[utoipa::path(get, path = "/attachments/{id}/content", tag = "complaints",
    params(("id" = String, Path, description = "att_…")),
    responses((status = 200, description = "The content (image/jpeg, image/png, image/webp, audio/ogg, …)", content_type = "application/octet-stream"),
        (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn attachment_content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    match load(&state, &caller.tenant.id, &id).await {
        Ok((attachment, bytes)) => Ok(response(&attachment, bytes)),
        Err(Unserved::NotFound) => Err(ApiError::not_found("attachment")),
        Err(Unserved::Broken(reason)) => {
            tracing::error!(%reason, "could not read an attachment");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "media_unavailable",
                "the media store could not be read; try again",
            ))
        }
    }
}
