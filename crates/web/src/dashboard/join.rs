//! Accepting an invitation: a new account (name and password), or an existing
//! account joining one more organisation once its owner is logged in.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::*;
use ombud_store::{Acceptance, NewUser, StoreError};
use serde::Deserialize;

use super::login::{check_new_password, hash_off_thread, FieldErrors, MIN_PASSWORD};
use super::page::{html_with, PageError};
use super::session::{self, token_hash, SignedInUser};
use super::Dashboard;
use crate::AppState;

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage<'a> {
    token: &'a str,
    tenant: &'a str,
    email: &'a str,
    role: Role,
    /// The email has an account already.
    existing: bool,
    /// Signed in as that account (with the session's CSRF token).
    signed_in_csrf: Option<&'a str>,
    /// Signed in as someone else.
    other_account: Option<&'a str>,
    /// Any session's CSRF token: a form posted with a session cookie needs it.
    csrf: Option<&'a str>,
    name: &'a str,
    min: usize,
    errors: FieldErrors,
}

/// The link's token must not leak to other sites through the Referer header.
pub(super) fn private(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn open_invitation(state: &AppState, token: &str) -> Result<(Invitation, Tenant), PageError> {
    let gone = || {
        PageError::not_found(
            "invitation (the link was used, revoked or mistyped; ask for a new one)",
        )
    };
    let invitation = state
        .store
        .invitation(&token_hash(token))
        .await?
        .filter(|i| i.accepted_at.is_none())
        .ok_or_else(gone)?;
    if invitation.expires_at <= state.engine.now() {
        return Err(PageError::new(
            StatusCode::GONE,
            "this invitation has expired; ask for a new one",
        ));
    }
    let tenant = state
        .store
        .tenant(&invitation.tenant_id)
        .await?
        .ok_or_else(gone)?;
    Ok((invitation, tenant))
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    token: &str,
    invitation: &Invitation,
    tenant: &Tenant,
    signed_in: Option<&SignedInUser>,
    name: &str,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let existing = state
        .store
        .user_by_email(&invitation.email)
        .await?
        .is_some();
    let (mine, other) = match signed_in {
        Some(s) if s.user.email == invitation.email => (Some(s.csrf_token.as_str()), None),
        Some(s) => (None, Some(s.user.email.as_str())),
        None => (None, None),
    };
    Ok(private(html_with(
        status,
        &JoinPage {
            token,
            tenant: &tenant.name,
            email: invitation.email.as_str(),
            role: invitation.role,
            existing,
            signed_in_csrf: mine,
            other_account: other,
            csrf: signed_in.map(|s| s.csrf_token.as_str()),
            name,
            min: MIN_PASSWORD,
            errors,
        },
    )))
}

pub async fn page(
    State(state): State<AppState>,
    signed_in: Option<SignedInUser>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let (invitation, tenant) = open_invitation(&state, &token).await?;
    render(
        &state,
        &token,
        &invitation,
        &tenant,
        signed_in.as_ref(),
        "",
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

pub async fn accept(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    Extension(origin): Extension<ombud_core::audit::Origin>,
    headers: HeaderMap,
    signed_in: Option<SignedInUser>,
    Path(token): Path<String>,
    Form(form): Form<JoinForm>,
) -> Result<Response, PageError> {
    let (invitation, tenant) = open_invitation(&state, &token).await?;
    let existing = state.store.user_by_email(&invitation.email).await?;
    let acceptance = match (&existing, &signed_in) {
        (Some(user), Some(s)) if s.user.id == user.id => Acceptance::Existing(user.id.clone()),
        (Some(_), _) => {
            return Err(PageError::forbidden(format!(
                "log in as {} first, then open the link again",
                invitation.email.as_str()
            )))
        }
        (None, _) => {
            let mut errors = FieldErrors::default();
            let name = form.name.trim();
            if name.is_empty() {
                errors.add("name", "tell your team who you are");
            } else if name.chars().count() > 100 {
                errors.add("name", "use at most 100 characters");
            }
            check_new_password(&form.new, &form.confirm, &mut errors);
            if !errors.is_empty() {
                return render(
                    &state,
                    &token,
                    &invitation,
                    &tenant,
                    signed_in.as_ref(),
                    &form.name,
                    errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            let hash = hash_off_thread(&form.new).await?;
            Acceptance::NewUser(NewUser {
                id: ombud_core::UserId::new(),
                email: invitation.email.clone(),
                name: name.to_owned(),
                password_hash: hash,
                must_change_password: false,
                platform_admin: false,
                memberships: Vec::new(),
            })
        }
    };
    let origin = signed_in
        .as_ref()
        .map(|s| s.origin.clone())
        .unwrap_or_else(|| origin.clone());
    let user = match state
        .engine
        .ops()
        .accept_invitation(&origin, &invitation, &token_hash(&token), acceptance)
        .await
    {
        Ok(user) => user,
        Err(StoreError::Conflict { .. }) => {
            return Err(PageError::new(
                StatusCode::CONFLICT,
                format!("you are a member of {} already", tenant.name),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    match signed_in {
        Some(s) if s.user.id == user.id => {
            state
                .engine
                .ops()
                .switch_tenant(&s.token_hash, &tenant.id)
                .await?;
            Ok(private(Redirect::to("/app/complaints").into_response()))
        }
        _ => {
            // A fresh account: logged in at once, in the tenant that invited it.
            if let Some(old) = session::request_token_hash(&headers) {
                state.engine.ops().drop_session(&old).await?;
            }
            let token = session::start(
                state.engine.ops(),
                None,
                &dashboard.settings,
                &user,
                &tenant.id,
            )
            .await?;
            let mut response = Redirect::to("/app/complaints").into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session::session_cookie(&dashboard.settings, &headers, &token),
            );
            Ok(private(response))
        }
    }
}
