//! Connecting a channel from the Settings page (or the first-run guide): a
//! WhatsApp number, a Telegram bot, a web chat. Each form is checked by
//! `provision`, as the CLI and the API are; a refusal shows the page again
//! with the reason under the field.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::*;
use ombud_engine::provision;
use ombud_store::StoreError;
use serde::Deserialize;

use super::login::FieldErrors;
use super::page::PageError;
use super::session::{random_token, Current};
use super::settings::render;
use super::Dashboard;
use crate::AppState;

#[derive(Deserialize)]
pub struct ChannelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone_number_id: String,
    #[serde(default)]
    app_secret: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    verify_token: String,
    #[serde(default)]
    graph_url: String,
    /// Where to go afterwards: the settings page, or the setup guide.
    #[serde(default)]
    next: String,
}

pub async fn add_channel(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<ChannelForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let mut errors = FieldErrors::default();
    for (field, value) in [
        ("name", &form.name),
        ("phone_number_id", &form.phone_number_id),
        ("app_secret", &form.app_secret),
        ("access_token", &form.access_token),
        ("verify_token", &form.verify_token),
    ] {
        if value.trim().is_empty() {
            errors.add(field, "is needed; Meta's console shows it");
        }
    }
    if !form
        .phone_number_id
        .trim()
        .chars()
        .all(|c| c.is_ascii_digit())
    {
        errors.add(
            "phone_number_id",
            "is the number's id in Meta's console: digits only",
        );
    }
    let graph_url = match form.graph_url.trim() {
        "" => WhatsAppConfig::DEFAULT_GRAPH_URL.to_owned(),
        url => url.to_owned(),
    };
    let back = if form.next == "welcome" {
        "/app/welcome"
    } else {
        "/app/settings/channels?saved=channel"
    };
    let refused = |errors: FieldErrors| async {
        if form.next == "welcome" {
            super::welcome::render(
                &state,
                &dashboard,
                &headers,
                &current,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        } else {
            render(
                &state,
                &dashboard,
                &headers,
                &current,
                "channel",
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    if !errors.is_empty() {
        return refused(errors).await;
    }
    let config = WhatsAppConfig {
        phone_number_id: form.phone_number_id.trim().to_owned(),
        app_secret: Secret::new(form.app_secret.trim()),
        verify_token: Secret::new(form.verify_token.trim()),
        access_token: Secret::new(form.access_token.trim()),
        graph_url,
        api_version: WhatsAppConfig::DEFAULT_API_VERSION.into(),
        waba_id: None,
        templates: Default::default(),
    };
    let added = state
        .engine
        .ops()
        .add_channel(
            &current.acting(),
            &current.tenant.slug,
            form.name.trim().to_owned(),
            ombud_core::ChannelConfig::Whatsapp(config),
        )
        .await;
    match added {
        Ok(_) => Ok(Redirect::to(back).into_response()),
        Err(provision::ProvisionError::Store(StoreError::Conflict { field, reason }))
        | Err(provision::ProvisionError::Invalid(ValidationError { field, reason })) => {
            let field = [
                "name",
                "phone_number_id",
                "app_secret",
                "access_token",
                "verify_token",
                "graph_url",
            ]
            .into_iter()
            .find(|f| *f == field)
            .unwrap_or("phone_number_id");
            let mut errors = FieldErrors::default();
            errors.add(field, reason);
            refused(errors).await
        }
        Err(e) => Err(PageError::internal(e)),
    }
}

#[derive(Deserialize)]
pub struct OtherChannelForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    bot_token: String,
    #[serde(default)]
    secret_token: String,
    #[serde(default)]
    api_url: String,
    /// A web chat's sites, one per line or comma-separated.
    #[serde(default)]
    allowed_origins: String,
}

/// Connects a Telegram bot (`kind` telegram) or adds a web chat (webchat).
pub async fn add_other_channel(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Path(kind): Path<String>,
    Form(form): Form<OtherChannelForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let config = match kind.as_str() {
        "telegram" => ChannelConfig::Telegram(TelegramConfig {
            bot_token: Secret::new(form.bot_token.trim()),
            secret_token: Secret::new(form.secret_token.trim()),
            api_url: match form.api_url.trim() {
                "" => TelegramConfig::DEFAULT_API_URL.to_owned(),
                url => url.trim_end_matches('/').to_owned(),
            },
        }),
        "webchat" => ChannelConfig::Webchat(WebchatConfig {
            signing_key: Secret::new(random_token()),
            allowed_origins: WebchatConfig::origins_from(&form.allowed_origins),
            greetings: Default::default(),
        }),
        _ => return Err(PageError::not_found("channel kind")),
    };
    let name = match form.name.trim() {
        "" => {
            return refuse_channel(
                &state,
                &dashboard,
                &headers,
                &current,
                &kind,
                "name",
                "is needed".into(),
            )
            .await
        }
        name => name.to_owned(),
    };
    let added = state
        .engine
        .ops()
        .add_channel(&current.acting(), &current.tenant.slug, name, config)
        .await;
    match added {
        Ok(_) => Ok(Redirect::to("/app/settings/channels?saved=channel").into_response()),
        Err(provision::ProvisionError::Store(StoreError::Conflict { field, reason }))
        | Err(provision::ProvisionError::Invalid(ValidationError { field, reason })) => {
            refuse_channel(
                &state, &dashboard, &headers, &current, &kind, &field, reason,
            )
            .await
        }
        Err(e) => Err(PageError::internal(e)),
    }
}

/// The settings page again, with the reason under the field of the kind's form.
async fn refuse_channel(
    state: &AppState,
    dashboard: &Dashboard,
    headers: &HeaderMap,
    current: &Current,
    kind: &str,
    field: &str,
    reason: String,
) -> Result<Response, PageError> {
    let field = ["bot_token", "secret_token", "api_url", "allowed_origins"]
        .into_iter()
        .find(|f| *f == field)
        .unwrap_or("name");
    let mut errors = FieldErrors::default();
    errors.add(field, reason);
    render(
        state,
        dashboard,
        headers,
        current,
        kind,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}
