//! The account page: who you are, your organisations, and switching between them.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::{Language, Role, TenantId, TenantSlug};
use serde::Deserialize;

use super::page::{html, PageError};
use super::session::SignedInUser;
use crate::AppState;

pub struct Organisation {
    pub slug: String,
    pub name: String,
    pub role: Role,
    pub current: bool,
    pub daily_summary: bool,
    /// `en`, `hi` or `mr`.
    pub summary_language: String,
}

/// The languages a summary mail is written in.
pub const SUMMARY_LANGUAGES: [(&str, &str); 3] =
    [("en", "English"), ("hi", "हिन्दी"), ("mr", "मराठी")];

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    chrome: super::page::Chrome,
    csrf_token: &'a str,
    name: &'a str,
    email: &'a str,
    organisations: Vec<Organisation>,
    /// Mail goes out (`smtp.*`): the daily summary can be asked for.
    mail_on: bool,
    languages: &'static [(&'static str, &'static str)],
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: SignedInUser,
) -> Result<Response, PageError> {
    let current = signed_in.tenant.as_ref().map(|t| t.id.clone());
    let mut organisations = Vec::new();
    for m in state.store.memberships(&signed_in.user.id).await? {
        if let Some(t) = state.store.tenant(&m.tenant_id).await? {
            organisations.push(Organisation {
                slug: t.slug.to_string(),
                name: t.name.clone(),
                role: m.role,
                current: current.as_ref() == Some(&t.id),
                daily_summary: m.daily_summary,
                summary_language: m
                    .summary_language
                    .as_ref()
                    .map_or("en", |l| l.as_str())
                    .to_owned(),
            });
        }
    }
    Ok(html(&AccountPage {
        chrome: super::page::Chrome::of_user(&signed_in, "account"),
        csrf_token: &signed_in.csrf_token,
        name: &signed_in.user.name,
        email: signed_in.user.email.as_str(),
        organisations,
        mail_on: state.engine.ops().mail_on(),
        languages: &SUMMARY_LANGUAGES,
    }))
}

#[derive(Deserialize)]
pub struct SummaryForm {
    #[serde(default)]
    tenant: String,
    /// Present when the box is ticked.
    #[serde(default)]
    daily_summary: Option<String>,
    /// The mail's language (absent: English).
    #[serde(default)]
    language: Option<String>,
}

/// The organisation a form names by its slug (404 if there is none; whether
/// the user is a member is the caller's check).
async fn named(state: &AppState, slug: &str) -> Result<ombud_core::Tenant, PageError> {
    let not_found = || PageError::not_found("organisation");
    let slug = TenantSlug::parse(slug).map_err(|_| not_found())?;
    state
        .store
        .tenant_by_slug(&slug)
        .await?
        .ok_or_else(not_found)
}

/// Turns the daily summary of one of the user's organisations on or off.
pub async fn set_summary(
    State(state): State<AppState>,
    signed_in: SignedInUser,
    Form(form): Form<SummaryForm>,
) -> Result<Response, PageError> {
    let tenant = named(&state, &form.tenant).await?;
    let language = match form.language.as_deref() {
        None | Some("" | "en") => None,
        Some(l) if SUMMARY_LANGUAGES.iter().any(|(code, _)| *code == l) => Language::parse(l).ok(),
        Some(_) => {
            return Err(PageError::bad_request(
                "the summary's language is English, Hindi or Marathi",
            ))
        }
    };
    state
        .engine
        .ops()
        .set_daily_summary(
            &signed_in.acting(),
            &tenant.id,
            &signed_in.user,
            form.daily_summary.is_some(),
            language,
        )
        .await?;
    Ok(Redirect::to("/app/account").into_response())
}

#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    tenant: String,
}

/// Moves the session to another organisation the user is a member of.
pub async fn switch_tenant(
    State(state): State<AppState>,
    signed_in: SignedInUser,
    Form(form): Form<SwitchForm>,
) -> Result<Response, PageError> {
    let not_member = || PageError::not_found("organisation");
    let tenant = named(&state, &form.tenant).await?;
    let member = state
        .store
        .memberships(&signed_in.user.id)
        .await?
        .into_iter()
        .any(|m| m.tenant_id == tenant.id);
    if !member {
        return Err(not_member());
    }
    switch(&state, &signed_in.token_hash, &tenant.id).await?;
    Ok(Redirect::to("/app/complaints").into_response())
}

async fn switch(state: &AppState, token_hash: &str, tenant: &TenantId) -> Result<(), PageError> {
    if state.engine.ops().switch_tenant(token_hash, tenant).await? {
        Ok(())
    } else {
        Err(PageError::not_found("session"))
    }
}
