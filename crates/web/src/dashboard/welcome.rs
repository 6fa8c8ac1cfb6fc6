//! The first-run guide for a new tenant: welcome → categories → connect a
//! channel → send a test message → invite the team. Steps done (or skipped)
//! are stored, so the guide resumes where an admin left it; "connect a
//! channel" and "test message" also count as done once a channel exists or a
//! first message has arrived.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use ombud_core::*;

use super::login::FieldErrors;
use super::page::{html_with, Chrome, PageError};
use super::session::{random_token, Current};
use super::settings::{channel_rows, ChannelRow};
use super::Dashboard;
use crate::AppState;

/// The guide's steps, in order: (name, title).
pub const STEPS: [(&str, &str); 5] = [
    ("welcome", "Welcome"),
    ("categories", "Check your complaint categories"),
    ("channel", "Connect your WhatsApp number"),
    ("test_message", "Send a test message"),
    ("team", "Invite your team"),
];

pub struct Step {
    pub name: &'static str,
    pub title: &'static str,
    pub done: bool,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage {
    chrome: Chrome,
    steps: Vec<Step>,
    done: usize,
    current: &'static str,
    categories: Vec<String>,
    channels: Vec<ChannelRow>,
    errors: FieldErrors,
    new_verify_token: String,
}

/// The steps recorded as done, and those the tenant's data shows done
/// without a record yet (a channel exists, a conversation came in).
async fn recorded_and_shown(
    state: &AppState,
    tenant: &TenantId,
) -> Result<(Vec<String>, Vec<&'static str>), PageError> {
    let done = state.store.onboarding_steps(tenant).await?;
    let mut shown = Vec::new();
    if !done.iter().any(|s| s == "channel") && !state.store.channels(tenant).await?.is_empty() {
        shown.push("channel");
    }
    if !done.iter().any(|s| s == "test_message") && state.store.has_conversations(tenant).await? {
        shown.push("test_message");
    }
    Ok((done, shown))
}

/// The steps done, counting what the tenant's data shows (and storing it).
pub async fn steps_done(state: &AppState, tenant: &TenantId) -> Result<Vec<String>, PageError> {
    let (mut done, derived) = recorded_and_shown(state, tenant).await?;
    for step in derived {
        state
            .engine
            .ops()
            .remember_onboarding_step(tenant, step)
            .await?;
        done.push(step.to_owned());
    }
    Ok(done)
}

pub async fn render(
    state: &AppState,
    dashboard: &Dashboard,
    headers: &HeaderMap,
    current: &Current,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let done = steps_done(state, &tenant.id).await?;
    let current_step = STEPS
        .iter()
        .map(|(name, _)| *name)
        .find(|name| !done.iter().any(|d| d == name))
        .unwrap_or("finished");
    let steps: Vec<Step> = STEPS
        .iter()
        .map(|(name, title)| Step {
            name,
            title,
            done: done.iter().any(|d| d == name),
            current: *name == current_step,
        })
        .collect();
    let categories = state
        .store
        .categories(&tenant.id)
        .await?
        .iter()
        .map(|c| c.name_in(&tenant.default_language).to_owned())
        .collect();
    Ok(html_with(
        status,
        &WelcomePage {
            chrome: Chrome::of(current, "welcome"),
            done: steps.iter().filter(|s| s.done).count(),
            steps,
            current: current_step,
            categories,
            channels: channel_rows(state, dashboard, headers, &tenant.id).await?,
            errors,
            new_verify_token: random_token()[..24].to_owned(),
        },
    ))
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
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

/// Marks a step done (or skipped) and goes on to the next.
pub async fn mark(
    State(state): State<AppState>,
    current: Current,
    Path(step): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let Some((name, _)) = STEPS.iter().find(|(name, _)| *name == step) else {
        return Err(PageError::not_found("step"));
    };
    state
        .engine
        .ops()
        .mark_onboarding_step(&current.acting(), &current.tenant.id, name)
        .await?;
    Ok(Redirect::to("/app/welcome").into_response())
}

/// How many steps are left, for the list page's reminder to admins.
pub async fn steps_left(state: &AppState, current: &Current) -> Result<usize, PageError> {
    if current.role < Role::Admin {
        return Ok(0);
    }
    // The same count as the guide's, without writing on a list's view.
    let (done, shown) = recorded_and_shown(state, &current.tenant.id).await?;
    Ok(STEPS
        .iter()
        .filter(|(name, _)| !done.iter().any(|d| d == name) && !shown.contains(name))
        .count())
}
