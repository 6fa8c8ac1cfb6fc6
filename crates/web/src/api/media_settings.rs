//! `/api/v1/settings/media`: how much media the office takes, and where
//! its voice notes are transcribed. The transcriber's key is write-only.

use axum::extract::State;
use axum::Json;
use ombud_core::media::transcription::TranscriptionSettings;
use ombud_core::media::MediaLimits;
use ombud_core::Scope;
use ombud_engine::ops::settings::TranscriberInput;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::ApiJson;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_media_settings, set_media_settings))
}

/// Photos and voice notes: limits, and the transcriber.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaSettingsBody {
    /// Largest photo, in bytes (at most 5 MB, WhatsApp's own limit).
    #[schema(example = 5242880)]
    pub image_bytes: u64,
    /// Largest voice note, in bytes (at most 16 MB).
    #[schema(example = 1048576)]
    pub audio_bytes: u64,
    /// Longest voice note, in seconds (at most 900).
    #[schema(example = 120)]
    pub audio_seconds: u32,
    pub transcriber: TranscriberBody,
}

/// Any OpenAI-compatible `/v1/audio/transcriptions` server; null
/// `base_url`: voice notes are kept for staff, not transcribed.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriberBody {
    #[schema(example = "http://speaches.internal:8000")]
    pub base_url: Option<String>,
    #[serde(default)]
    #[schema(example = "Systran/faster-whisper-small")]
    pub model: String,
    /// Write-only: omitted keeps the stored key, "" removes it.
    #[serde(default, skip_serializing)]
    #[schema(write_only)]
    pub api_key: Option<String>,
    /// Whether a key is stored.
    #[serde(default)]
    #[schema(read_only)]
    pub api_key_set: bool,
}

impl MediaSettingsBody {
    fn of(limits: MediaLimits, t: TranscriptionSettings) -> Self {
        Self {
            image_bytes: limits.image_bytes,
            audio_bytes: limits.audio_bytes,
            audio_seconds: limits.audio_seconds,
            transcriber: TranscriberBody {
                base_url: t.base_url,
                model: t.model,
                api_key: None,
                api_key_set: t.api_key_sealed.is_some(),
            },
        }
    }
}

/// The office's media limits and transcriber.
#[utoipa::path(get, path = "/settings/media", tag = "conversations",
    responses((status = 200, body = MediaSettingsBody)),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn get_media_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MediaSettingsBody>, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let ops = state.engine.ops();
    let limits = ops.media_limits(&caller.tenant.id).await?;
    let transcriber = ops.transcription(&caller.tenant.id).await?;
    Ok(Json(MediaSettingsBody::of(limits, transcriber)))
}

/// Sets the office's media limits and transcriber, together (admins).
#[utoipa::path(put, path = "/settings/media", tag = "conversations",
    request_body = MediaSettingsBody,
    responses((status = 200, body = MediaSettingsBody)),
    security(("session" = [])))]
async fn set_media_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<MediaSettingsBody>,
) -> Result<Json<MediaSettingsBody>, ApiError> {
    caller.require_admin()?;
    let limits = MediaLimits {
        image_bytes: body.image_bytes,
        audio_bytes: body.audio_bytes,
        audio_seconds: body.audio_seconds,
    };
    let transcriber = TranscriberInput {
        base_url: body.transcriber.base_url,
        model: body.transcriber.model,
        api_key: body.transcriber.api_key,
    };
    let (limits, t) = state
        .engine
        .ops()
        .set_media_settings(&caller.acting(), &caller.tenant.id, limits, transcriber)
        .await?;
    Ok(Json(MediaSettingsBody::of(limits, t)))
}
