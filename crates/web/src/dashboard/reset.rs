//! "Forgot your password?": a form that mails a link, and the link's page
//! where a new password is chosen. The form answers the same whether the
//! address has an account or not; with mail off it says so and who can help.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::account::PASSWORD_RESET_MINUTES;
use ombud_core::Email;
use ombud_engine::ops::resets::ResetRequest;
use serde::Deserialize;

use super::join::private;
use super::login::{check_new_password, hash_off_thread, same_origin, FieldErrors, MIN_PASSWORD};
use super::page::{html_with, PageError};
use super::session::SignedInUser;
use super::Dashboard;
use crate::AppState;

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    mail_on: bool,
    sent: bool,
    email: &'a str,
    email_error: Option<&'a str>,
    minutes: i64,
    csrf: Option<&'a str>,
}

fn forgot(
    state: &AppState,
    status: StatusCode,
    signed_in: Option<&SignedInUser>,
    sent: bool,
    email: &str,
    email_error: Option<&str>,
) -> Response {
    html_with(
        status,
        &ForgotPage {
            mail_on: state.engine.ops().mail_on(),
            sent,
            email,
            email_error,
            minutes: PASSWORD_RESET_MINUTES,
            csrf: signed_in.map(|s| s.csrf_token.as_str()),
        },
    )
}

pub async fn forgot_page(
    State(state): State<AppState>,
    signed_in: Option<SignedInUser>,
) -> Response {
    forgot(&state, StatusCode::OK, signed_in.as_ref(), false, "", None)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

pub async fn request(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    signed_in: Option<SignedInUser>,
    parts: Parts,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    if !same_origin(&parts.headers) {
        return Err(PageError::forbidden(
            "reset links are asked for only from this site's page",
        ));
    }
    let signed_in = signed_in.as_ref();
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => {
            return Ok(forgot(
                &state,
                StatusCode::BAD_REQUEST,
                signed_in,
                false,
                &form.email,
                Some(&e.reason),
            ))
        }
    };
    let base_url = super::team::base_url(&dashboard, &parts.headers);
    let origin = crate::origin::of(&parts.extensions);
    let outcome = state
        .engine
        .ops()
        .request_password_reset(&origin, &email, &base_url)
        .await?;
    if outcome != ResetRequest::Mailed {
        // Told the same; the log says why nothing went.
        tracing::info!(outcome = ?outcome, "no reset link mailed");
    }
    Ok(forgot(
        &state,
        StatusCode::OK,
        signed_in,
        true,
        email.as_str(),
        None,
    ))
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    token: &'a str,
    email: &'a str,
    min: usize,
    errors: FieldErrors,
    csrf: Option<&'a str>,
}

/// The reset and its account, while the link may be used.
async fn open_reset(
    state: &AppState,
    token: &str,
) -> Result<(ombud_core::PasswordReset, ombud_core::User), PageError> {
    let gone = || {
        PageError::new(
            StatusCode::GONE,
            "this link was used, has expired or is mistyped; ask for a new one on the login page",
        )
    };
    let reset = state
        .engine
        .ops()
        .usable_password_reset(token)
        .await?
        .ok_or_else(gone)?;
    let user = state.store.user(&reset.user_id).await?.ok_or_else(gone)?;
    Ok((reset, user))
}

pub async fn reset_page(
    State(state): State<AppState>,
    signed_in: Option<SignedInUser>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let (_, user) = open_reset(&state, &token).await?;
    Ok(private(html_with(
        StatusCode::OK,
        &ResetPage {
            token: &token,
            email: user.email.as_str(),
            min: MIN_PASSWORD,
            errors: FieldErrors::default(),
            csrf: signed_in.as_ref().map(|s| s.csrf_token.as_str()),
        },
    )))
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

pub async fn reset(
    State(state): State<AppState>,
    signed_in: Option<SignedInUser>,
    parts: Parts,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, PageError> {
    let (reset, user) = open_reset(&state, &token).await?;
    let mut errors = FieldErrors::default();
    check_new_password(&form.new, &form.confirm, &mut errors);
    if !errors.is_empty() {
        return Ok(private(html_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ResetPage {
                token: &token,
                email: user.email.as_str(),
                min: MIN_PASSWORD,
                errors,
                csrf: signed_in.as_ref().map(|s| s.csrf_token.as_str()),
            },
        )));
    }
    let hash = hash_off_thread(&form.new).await?;
    let origin = crate::origin::of(&parts.extensions);
    let done = state
        .engine
        .ops()
        .complete_password_reset(&origin, &reset, &user, &hash)
        .await?;
    if !done {
        return Err(PageError::new(
            StatusCode::GONE,
            "this link was used or has expired meanwhile; ask for a new one on the login page",
        ));
    }
    Ok(private(Redirect::to("/app/login?reset=1").into_response()))
}
