//! Settings (admins and owners): the tenant's complaint categories, and its
//! channels with what to paste into Meta's console (their forms: `channel_forms`).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::*;
use ombud_store::StoreError;
use serde::Deserialize;

use super::login::FieldErrors;
use super::page::{html_with, Chrome, PageError};
use super::session::{random_token, Current};
use super::team::base_url;
use super::Dashboard;
use crate::AppState;

/// The languages whose names the category form asks for.
pub const LANGUAGES: [(&str, &str); 3] = [("en", "English"), ("hi", "Hindi"), ("mr", "Marathi")];

#[derive(Clone)]
pub struct CategoryRow {
    pub id: String,
    pub names: Vec<(&'static str, &'static str, String)>,
    pub keywords: String,
    pub priority: Priority,
}

pub struct ChannelRow {
    pub id: String,
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

impl CategoryRow {
    /// Its English name (the first the form asks for).
    pub fn name(&self) -> &str {
        self.names.first().map_or("", |(_, _, n)| n.as_str())
    }

    /// Its other names, for the table: "नाली / गटार".
    pub fn other_names(&self) -> String {
        let others: Vec<&str> = self
            .names
            .iter()
            .skip(1)
            .map(|(_, _, n)| n.as_str())
            .filter(|n| !n.is_empty())
            .collect();
        if others.is_empty() {
            "—".into()
        } else {
            others.join(" / ")
        }
    }
}

/// Which part of the settings a page shows: `general` (notices and the
/// summary), `categories` (with the category being edited, if any) or
/// `channels`; and what was just saved.
#[derive(Default)]
pub struct Shown {
    pub section: &'static str,
    pub editing: Option<String>,
    pub saved: Option<String>,
}

impl Shown {
    /// The section a form belongs to, by what its errors are for.
    fn of_form(errors_for: &str) -> Self {
        let section = match errors_for {
            "survey" | "reminder" | "summary" | "sessions" | "media" | "" => "general",
            "channel" | "telegram" | "webchat" => "channels",
            _ => "categories",
        };
        let editing = (section == "categories" && errors_for != "new-category")
            .then(|| errors_for.to_owned());
        Self {
            section,
            editing,
            saved: None,
        }
    }

    fn title(&self) -> &'static str {
        match self.section {
            "categories" => "Categories",
            "channels" => "Channels",
            _ => "Notices and summary",
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    section: &'static str,
    section_title: &'static str,
    /// The category in the edit drawer.
    editing: Option<CategoryRow>,
    saved: Option<String>,
    categories: Vec<CategoryRow>,
    channels: Vec<ChannelRow>,
    priorities: &'static [Priority],
    languages: &'static [(&'static str, &'static str)],
    /// Which form the errors belong to: a category id, `new-category` or `channel`.
    errors_for: String,
    errors: FieldErrors,
    new_verify_token: String,
    survey: ombud_core::survey::SurveySettings,
    reminder: ombud_core::reminder::ReminderSettings,
    /// The daily summary's time, `HH:MM`.
    summary_at: String,
    /// The tenant's quiet spell that ends a session ("": the operator's).
    session_idle_hours: String,
    /// Days its messages' words are kept ("": the operator's choice).
    message_bodies_days: String,
    /// Days its messages are kept ("": the operator's choice).
    messages_days: String,
    /// The operator's, in hours.
    default_session_idle_hours: i64,
    /// Photos and voice notes: limits and the transcriber.
    media: super::media_form::MediaValues,
}

impl SettingsPage {
    fn is_editing(&self, id: &str) -> bool {
        self.editing.as_ref().is_some_and(|c| c.id == id)
    }

    fn survey_once(&self) -> bool {
        self.survey.repeat == ombud_core::survey::SurveyRepeat::OncePerComplaint
    }
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
                id: c.id.to_string(),
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

/// The page of the section a form belongs to, with the form's errors.
pub async fn render(
    state: &AppState,
    dashboard: &Dashboard,
    headers: &HeaderMap,
    current: &Current,
    errors_for: &str,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let shown = Shown::of_form(errors_for);
    let page = settings_page(
        state, dashboard, headers, current, shown, errors_for, errors,
    )
    .await?;
    Ok(html_with(status, &page))
}

async fn settings_page(
    state: &AppState,
    dashboard: &Dashboard,
    headers: &HeaderMap,
    current: &Current,
    shown: Shown,
    errors_for: &str,
    errors: FieldErrors,
) -> Result<SettingsPage, PageError> {
    let tenant = &current.tenant;
    let categories: Vec<CategoryRow> = state
        .store
        .categories(&tenant.id)
        .await?
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
        .collect();
    let editing = shown
        .editing
        .as_ref()
        .and_then(|id| categories.iter().find(|c| &c.id == id).cloned());
    let conversations = state.engine.ops().conversation_settings(&tenant.id).await?;
    Ok(SettingsPage {
        chrome: Chrome::of(current, "settings"),
        section: shown.section,
        section_title: shown.title(),
        editing,
        saved: shown.saved,
        categories,
        channels: channel_rows(state, dashboard, headers, &tenant.id).await?,
        priorities: Priority::ALL,
        languages: &LANGUAGES,
        errors_for: errors_for.to_owned(),
        errors,
        new_verify_token: random_token()[..24].to_owned(),
        survey: state.engine.ops().survey_settings(&tenant.id).await?,
        reminder: state.engine.ops().reminder_settings(&tenant.id).await?,
        session_idle_hours: conversations
            .session_idle_hours
            .map_or_else(String::new, |h| h.to_string()),
        message_bodies_days: conversations
            .message_bodies_days
            .map_or_else(String::new, |d| d.to_string()),
        messages_days: conversations
            .messages_days
            .map_or_else(String::new, |d| d.to_string()),
        default_session_idle_hours: state.engine.ops().default_session_idle().as_hours(),
        media: super::media_form::MediaValues::of(state, &tenant.id).await?,
        summary_at: state
            .engine
            .ops()
            .summary_settings(&tenant.id)
            .await?
            .time()
            .format("%H:%M")
            .to_string(),
    })
}

/// The page again with a form's errors, under its section (`errors_for`).
pub(super) async fn refused(
    state: &AppState,
    dashboard: &Dashboard,
    headers: &HeaderMap,
    current: &Current,
    errors_for: &str,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render(
        state, dashboard, headers, current, errors_for, errors, status,
    )
    .await
}

/// `?saved=` after a save, `?edit=` for the category in the drawer.
#[derive(Deserialize, Default)]
pub struct SettingsQuery {
    saved: Option<String>,
    edit: Option<String>,
}

/// What a save's confirmation says.
fn saved_words(saved: Option<&str>) -> Option<String> {
    Some(
        match saved? {
            "survey" => "Satisfaction survey saved.",
            "reminder" => "Reminders saved.",
            "sessions" => "Sessions saved.",
            "media" => "Photos and voice notes saved.",
            "summary" => "Daily summary time saved.",
            "category" => "Category saved. The bot files new messages by it from now on.",
            "channel" => "Channel connected. Paste what it shows below where it says.",
            _ => return None,
        }
        .to_owned(),
    )
}

async fn section_page(
    state: AppState,
    dashboard: Arc<Dashboard>,
    headers: HeaderMap,
    current: Current,
    section: &'static str,
    q: SettingsQuery,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let shown = Shown {
        section,
        editing: q.edit.filter(|_| section == "categories"),
        saved: saved_words(q.saved.as_deref()),
    };
    let page = settings_page(
        &state,
        &dashboard,
        &headers,
        &current,
        shown,
        "",
        FieldErrors::default(),
    )
    .await?;
    Ok(html_with(StatusCode::OK, &page))
}

/// A settings section's page, by its path: `/app/settings` (notices and
/// the daily summary), `/app/settings/categories` (a table, one category
/// in the edit drawer) or `/app/settings/channels` (what to paste where,
/// and the forms that add one).
pub async fn page(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    uri: axum::http::Uri,
    Query(q): Query<SettingsQuery>,
) -> Result<Response, PageError> {
    let section = match uri.path() {
        "/app/settings/categories" => "categories",
        "/app/settings/channels" => "channels",
        _ => "general",
    };
    section_page(state, dashboard, headers, current, section, q).await
}

#[derive(Deserialize)]
pub struct SurveyForm {
    /// `on` when the box is ticked; absent when not.
    enabled: Option<String>,
    #[serde(default)]
    delay_hours: String,
    #[serde(default)]
    repeat: String,
}

/// The satisfaction survey's settings: on or off, how long after a
/// resolution, and how often.
pub async fn set_survey(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<SurveyForm>,
) -> Result<Response, PageError> {
    use ombud_core::survey::{SurveyRepeat, SurveySettings};
    current.require(Role::Admin)?;
    let mut errors = FieldErrors::default();
    let delay_hours = form.delay_hours.trim().parse::<u32>().unwrap_or_else(|_| {
        errors.add("delay_hours", "must be a whole number of hours, 1 to 720");
        0
    });
    let repeat = SurveyRepeat::parse(&form.repeat).unwrap_or_else(|_| {
        errors.add("repeat", "choose how often to ask");
        SurveyRepeat::EachResolution
    });
    if errors.is_empty() {
        let settings = SurveySettings {
            enabled: form.enabled.is_some(),
            delay_hours,
            repeat,
        };
        let set = state
            .engine
            .ops()
            .set_survey_settings(&current.acting(), &current.tenant.id, settings)
            .await;
        match set {
            Ok(_) => return Ok(Redirect::to("/app/settings?saved=survey#survey").into_response()),
            // The settings' one rule is the delay's range.
            Err(StoreError::Invalid(v)) => errors.add("delay_hours", v.reason),
            Err(e) => return Err(e.into()),
        }
    }
    refused(&state, &dashboard, &headers, &current, "survey", errors).await
}

#[derive(Deserialize)]
pub struct ReminderForm {
    /// `on` when the box is ticked; absent when not.
    enabled: Option<String>,
    #[serde(default)]
    after_hours: String,
}

/// The reminders to citizens whose complaint is on hold: on or off, and
/// after how many hours.
pub async fn set_reminder(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<ReminderForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let mut errors = FieldErrors::default();
    match form.after_hours.trim().parse::<u32>() {
        Err(_) => errors.add("after_hours", "must be a whole number of hours, 1 to 720"),
        Ok(after_hours) => {
            let settings = ombud_core::reminder::ReminderSettings {
                enabled: form.enabled.is_some(),
                after_hours,
            };
            let set = state
                .engine
                .ops()
                .set_reminder_settings(&current.acting(), &current.tenant.id, settings)
                .await;
            match set {
                Ok(_) => {
                    return Ok(Redirect::to("/app/settings?saved=reminder#reminder").into_response())
                }
                // The settings' one rule is the wait's range.
                Err(StoreError::Invalid(v)) => errors.add("after_hours", v.reason),
                Err(e) => return Err(e.into()),
            }
        }
    }
    refused(&state, &dashboard, &headers, &current, "reminder", errors).await
}

#[derive(Deserialize)]
pub struct SessionsForm {
    #[serde(default)]
    session_idle_hours: String,
    #[serde(default)]
    message_bodies_days: String,
    #[serde(default)]
    messages_days: String,
}

/// When a conversation's session ends: after the tenant's quiet spell, or
/// the operator's when the field is left empty.
pub async fn set_sessions(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<SessionsForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let mut errors = FieldErrors::default();
    let number = |text: &str| match text.trim() {
        "" => Ok(None),
        n => n.parse::<u32>().map(Some),
    };
    let mut days = |field: &'static str, text: &str| {
        number(text).unwrap_or_else(|_| {
            errors.add(
                field,
                "must be a whole number of days, 0 to 36500, or empty for the default",
            );
            None
        })
    };
    let message_bodies_days = days("message_bodies_days", &form.message_bodies_days);
    let messages_days = days("messages_days", &form.messages_days);
    match number(&form.session_idle_hours) {
        Err(_) => errors.add(
            "session_idle_hours",
            "must be a whole number of hours, 1 to 2160, or empty for the default",
        ),
        Ok(_) if !errors.is_empty() => {}
        Ok(session_idle_hours) => {
            let settings = ombud_core::conversation::ConversationSettings {
                session_idle_hours,
                message_bodies_days,
                messages_days,
            };
            let set = state
                .engine
                .ops()
                .set_conversation_settings(&current.acting(), &current.tenant.id, settings)
                .await;
            match set {
                Ok(_) => {
                    return Ok(Redirect::to("/app/settings?saved=sessions#sessions").into_response())
                }
                Err(StoreError::Invalid(v)) => match v.field.as_str() {
                    "message_bodies_days" => errors.add("message_bodies_days", v.reason),
                    "messages_days" => errors.add("messages_days", v.reason),
                    _ => errors.add("session_idle_hours", v.reason),
                },
                Err(e) => return Err(e.into()),
            }
        }
    }
    refused(&state, &dashboard, &headers, &current, "sessions", errors).await
}

#[derive(Deserialize)]
pub struct SummaryForm {
    #[serde(default)]
    at: String,
}

/// The daily summary's time, tenant-local, on a quarter hour.
pub async fn set_summary(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<SummaryForm>,
) -> Result<Response, PageError> {
    use chrono::Timelike;
    current.require(Role::Admin)?;
    let mut errors = FieldErrors::default();
    match chrono::NaiveTime::parse_from_str(form.at.trim(), "%H:%M") {
        Err(_) => errors.add("summary_at", "must be a time such as 09:00"),
        Ok(t) => {
            let settings = ombud_core::summary::SummarySettings {
                hour: t.hour(),
                minute: t.minute(),
            };
            let set = state
                .engine
                .ops()
                .set_summary_settings(&current.acting(), &current.tenant.id, settings)
                .await;
            match set {
                Ok(_) => {
                    return Ok(Redirect::to("/app/settings?saved=summary#summary").into_response())
                }
                Err(StoreError::Invalid(v)) => errors.add("summary_at", v.reason),
                Err(e) => return Err(e.into()),
            }
        }
    }
    refused(&state, &dashboard, &headers, &current, "summary", errors).await
}
