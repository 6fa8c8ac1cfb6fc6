//! Settings → Photos and voice notes: how much media the office takes
//! and where its voice notes are transcribed (`Operations::set_media_settings`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::media::MediaLimits;
use ombud_core::Role;
use ombud_engine::ops::settings::TranscriberInput;
use ombud_store::StoreError;
use serde::Deserialize;

use super::login::FieldErrors;
use super::page::PageError;
use super::session::Current;
use super::settings::refused;
use super::Dashboard;
use crate::AppState;

/// The form's values as the page shows them.
pub struct MediaValues {
    /// Photos, in KB.
    pub image_kb: u64,
    /// Voice notes, in KB and seconds.
    pub audio_kb: u64,
    pub audio_seconds: u32,
    pub base_url: String,
    pub model: String,
    pub key_set: bool,
}

impl MediaValues {
    pub async fn of(state: &AppState, tenant: &ombud_core::TenantId) -> Result<Self, StoreError> {
        let ops = state.engine.ops();
        let limits = ops.media_limits(tenant).await?;
        let t = ops.transcription(tenant).await?;
        Ok(Self {
            image_kb: limits.image_bytes / 1024,
            audio_kb: limits.audio_bytes / 1024,
            audio_seconds: limits.audio_seconds,
            base_url: t.base_url.unwrap_or_default(),
            model: t.model,
            key_set: t.api_key_sealed.is_some(),
        })
    }
}

#[derive(Deserialize)]
pub struct MediaForm {
    #[serde(default)]
    image_kb: String,
    #[serde(default)]
    audio_kb: String,
    #[serde(default)]
    audio_seconds: String,
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    model: String,
    /// Empty keeps the stored key.
    #[serde(default)]
    api_key: String,
    /// "on": forget the stored key.
    #[serde(default)]
    forget_key: Option<String>,
}

pub async fn set_media(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<MediaForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let mut errors = FieldErrors::default();
    let mut number = |field: &'static str, text: &str| -> u64 {
        text.trim().parse::<u64>().unwrap_or_else(|_| {
            errors.add(field, "must be a whole number");
            0
        })
    };
    let image_kb = number("image_kb", &form.image_kb);
    let audio_kb = number("audio_kb", &form.audio_kb);
    let audio_seconds = number("audio_seconds", &form.audio_seconds);
    if errors.is_empty() {
        let limits = MediaLimits {
            image_bytes: image_kb.saturating_mul(1024),
            audio_bytes: audio_kb.saturating_mul(1024),
            audio_seconds: u32::try_from(audio_seconds).unwrap_or(u32::MAX),
        };
        let api_key = match (form.forget_key.is_some(), form.api_key.trim()) {
            (true, _) => Some(String::new()),
            (false, "") => None,
            (false, key) => Some(key.to_owned()),
        };
        let transcriber = TranscriberInput {
            base_url: Some(form.base_url),
            model: form.model,
            api_key,
        };
        let set = state
            .engine
            .ops()
            .set_media_settings(&current.acting(), &current.tenant.id, limits, transcriber)
            .await;
        match set {
            Ok(_) => return Ok(Redirect::to("/app/settings?saved=media#media").into_response()),
            Err(StoreError::Invalid(v)) => {
                let field = match v.field.as_str() {
                    "image_bytes" => "image_kb",
                    "audio_bytes" => "audio_kb",
                    "audio_seconds" => "audio_seconds",
                    "model" => "model",
                    "api_key" => "api_key",
                    _ => "base_url",
                };
                errors.add(field, v.reason);
            }
            Err(e) => return Err(e.into()),
        }
    }
    refused(&state, &dashboard, &headers, &current, "media", errors).await
}
