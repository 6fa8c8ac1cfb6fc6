//! Settings (admins and owners): the tenant's complaint categories, and its
//! channels with what to paste into Meta's console.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::*;
use ombud_engine::provision;
use ombud_store::{NewCategory, StoreError};
use serde::Deserialize;

use super::login::FieldErrors;
use super::page::{html_with, Chrome, PageError};
use super::session::{random_token, Current};
use super::team::base_url;
use super::Dashboard;
use crate::AppState;

/// The languages whose names the category form asks for.
pub const LANGUAGES: [(&str, &str); 3] = [("en", "English"), ("hi", "Hindi"), ("mr", "Marathi")];
const MAX_NAME: usize = 60;
const MAX_KEYWORD: usize = 40;

pub struct CategoryRow {
    pub id: String,
    pub names: Vec<(&'static str, &'static str, String)>,
    pub keywords: String,
    pub priority: Priority,
}

pub struct ChannelRow {
    pub name: String,
    pub kind: String,
    /// "phone number ID 123" or "bot 123"; empty for the web chat.
    pub account: String,
    pub webhook_url: String,
    /// WhatsApp's verify token, for Meta's console.
    pub verify_token: Option<String>,
    /// The web chat's `<script>` tag for the tenant's site.
    pub snippet: Option<String>,
    /// A Telegram bot's secret token, for setWebhook.
    pub secret_token: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    categories: Vec<CategoryRow>,
    channels: Vec<ChannelRow>,
    priorities: &'static [Priority],
    languages: &'static [(&'static str, &'static str)],
    /// Which form the errors belong to: a category id, `new-category` or `channel`.
    errors_for: String,
    errors: FieldErrors,
    new_verify_token: String,
}

pub async fn channel_rows(
    state: &AppState,
    dashboard: &Dashboard,
    headers: &HeaderMap,
    tenant: &TenantId,
) -> Result<Vec<ChannelRow>, PageError> {
    let base = base_url(dashboard, headers);
    Ok(state
        .store
        .channels(tenant)
        .await?
        .into_iter()
        .map(|c| {
            let webhook_url = format!("{base}{}", c.webhook_path());
            ChannelRow {
                name: c.name.clone(),
                kind: c.kind().as_str().to_owned(),
                account: match &c.config {
                    ChannelConfig::Whatsapp(w) => format!("phone number ID {}", w.phone_number_id),
                    ChannelConfig::Telegram(t) => format!("bot {}", t.bot_id()),
                    ChannelConfig::Webchat(_) => String::new(),
                },
                verify_token: c.whatsapp().map(|w| w.verify_token.expose().to_owned()),
                secret_token: c.telegram().map(|t| t.secret_token.expose().to_owned()),
                snippet: c
                    .webchat()
                    .map(|_| format!("<script src=\"{webhook_url}\" async></script>")),
                webhook_url,
            }
        })
        .collect())
}

pub async fn render(
    state: &AppState,
    dashboard: &Dashboard,
    headers: &HeaderMap,
    current: &Current,
    errors_for: &str,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let categories = state.store.categories(&tenant.id).await?;
    let page = SettingsPage {
        chrome: Chrome::of(current, "settings"),
        categories: categories
            .iter()
            .map(|c| CategoryRow {
                id: c.id.to_string(),
                names: LANGUAGES
                    .iter()
                    .map(|(code, label)| {
                        (
                            *code,
                            *label,
                            c.names.get(*code).cloned().unwrap_or_default(),
                        )
                    })
                    .collect(),
                keywords: c.keywords.join(", "),
                priority: c.default_priority,
            })
            .collect(),
        channels: channel_rows(state, dashboard, headers, &tenant.id).await?,
        priorities: Priority::ALL,
        languages: &LANGUAGES,
        errors_for: errors_for.to_owned(),
        errors,
        new_verify_token: random_token()[..24].to_owned(),
    };
    Ok(html_with(status, &page))
}

pub async fn page(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    render(
        &state,
        &dashboard,
        &headers,
        &current,
        "",
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    name_hi: String,
    #[serde(default)]
    name_mr: String,
    #[serde(default)]
    keywords: String,
    #[serde(default)]
    priority: String,
}

/// A slug from the English name: lower-case letters and digits, dashes between.
fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(40).collect()
}

fn parse_category(form: &CategoryForm) -> Result<NewCategory, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut names = BTreeMap::new();
    for (code, value) in [
        ("en", &form.name_en),
        ("hi", &form.name_hi),
        ("mr", &form.name_mr),
    ] {
        let value = value.trim();
        if value.chars().count() > MAX_NAME {
            errors.add(
                field_name(code),
                format!("use at most {MAX_NAME} characters"),
            );
        } else if !value.is_empty() {
            names.insert(code.to_owned(), value.to_owned());
        }
    }
    if !names.contains_key("en") && errors.get("name_en").is_none() {
        errors.add("name_en", "give at least the English name");
    }
    let keywords: Vec<String> = form
        .keywords
        .split(',')
        .map(|k| k.trim().to_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    if keywords.len() > ombud_core::limits::KEYWORDS {
        errors.add(
            "keywords",
            format!("at most {} keywords", ombud_core::limits::KEYWORDS),
        );
    } else if keywords.iter().any(|k| k.chars().count() > MAX_KEYWORD) {
        errors.add(
            "keywords",
            format!("each keyword at most {MAX_KEYWORD} characters"),
        );
    }
    let priority = Priority::parse(&form.priority)
        .map_err(|e| errors.add("priority", e.reason))
        .ok();
    let slug = slug_of(names.get("en").map(String::as_str).unwrap_or(""));
    if slug.is_empty() && errors.get("name_en").is_none() {
        errors.add("name_en", "needs at least one letter or digit");
    }
    match (priority, errors.is_empty()) {
        (Some(default_priority), true) => Ok(NewCategory {
            slug,
            names,
            keywords,
            default_priority,
        }),
        _ => Err(errors),
    }
}

fn field_name(code: &str) -> &'static str {
    match code {
        "hi" => "name_hi",
        "mr" => "name_mr",
        _ => "name_en",
    }
}

pub async fn add_category(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<CategoryForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let refused = |errors| {
        render(
            &state,
            &dashboard,
            &headers,
            &current,
            "new-category",
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let new = match parse_category(&form) {
        Ok(new) => new,
        Err(errors) => return refused(errors).await,
    };
    match state.store.create_category(&current.tenant.id, new).await {
        Ok(_) => Ok(Redirect::to("/app/settings#categories").into_response()),
        Err(StoreError::Conflict { .. }) => {
            let mut errors = FieldErrors::default();
            errors.add("name_en", "a category with this name exists already");
            refused(errors).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn edit_category(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<CategoryForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let id: CategoryId = id.parse().map_err(|_| PageError::not_found("category"))?;
    let change = match parse_category(&form) {
        Ok(c) => c,
        Err(errors) => {
            return render(
                &state,
                &dashboard,
                &headers,
                &current,
                id.as_str(),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    state
        .store
        .update_category(&current.tenant.id, &id, change)
        .await?;
    Ok(Redirect::to("/app/settings#categories").into_response())
}

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
        "/app/settings#channels"
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
    };
    match provision::add_whatsapp_channel(
        state.store.as_ref(),
        state.engine.outbound().providers(),
        &current.tenant.slug,
        form.name.trim().to_owned(),
        config,
    )
    .await
    {
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
            allowed_origins: form
                .allowed_origins
                .split([',', '\n'])
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
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
    let providers = state.engine.outbound().providers();
    match provision::add_channel(
        state.store.as_ref(),
        providers,
        &current.tenant.slug,
        name,
        config,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/app/settings#channels").into_response()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_the_english_name() {
        assert_eq!(slug_of("Roads & Footpaths!"), "roads-footpaths");
        assert_eq!(slug_of("  Water supply 24x7 "), "water-supply-24x7");
        assert_eq!(slug_of("पानी"), "");
    }
}
