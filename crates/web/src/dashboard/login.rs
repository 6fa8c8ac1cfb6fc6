//! Logging in and out, and choosing a new password.

use ombud_engine::ops::sessions::LoginRefusal;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::Email;
use serde::Deserialize;

use super::page::{html, html_with, PageError};
use super::session::{self, SignedInUser};
use super::Dashboard;
use crate::auth::{hash_password, verify_password};
use crate::AppState;

/// Shortest password a user may choose.
pub const MIN_PASSWORD: usize = 12;
const MAX_PASSWORD: usize = 256;
/// What a failed login says, whether the account exists or not.
const WRONG: &str = "That email and password do not match an account.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    email: &'a str,
    next: &'a str,
    error: Option<&'a str>,
    email_error: Option<&'a str>,
    /// Just back from choosing a new password by a mailed link.
    reset: bool,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    reset: Option<String>,
}

/// Only a path inside the dashboard, so a link cannot send the user elsewhere.
fn safe_next(next: &str) -> &str {
    if next.starts_with("/app/") && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/app/complaints"
    }
}

pub async fn page(signed_in: Option<SignedInUser>, Query(q): Query<NextQuery>) -> Response {
    if signed_in.is_some() {
        return Redirect::to(safe_next(&q.next)).into_response();
    }
    html(&LoginPage {
        email: "",
        next: safe_next(&q.next),
        error: None,
        email_error: None,
        reset: q.reset.is_some(),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Argon2 takes tens of milliseconds of CPU: off the async workers.
pub async fn hash_off_thread(password: &str) -> Result<String, PageError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(PageError::internal)?
        .map_err(PageError::internal)
}

pub async fn verify_off_thread(password: &str, hash: &str) -> Result<bool, PageError> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(PageError::internal)
}

/// A hash to check unknown accounts' passwords against, so that a wrong email
/// takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not anyone's password").unwrap_or_default())
}

/// Refuses a login posted from another site's page (login CSRF): browsers
/// send `Origin` with every form POST.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    parts: Parts,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let headers = &parts.headers;
    if !same_origin(headers) {
        return Err(PageError::forbidden(
            "logins are accepted only from this site's login page",
        ));
    }
    let next = safe_next(&form.next);
    let again = |status, error: Option<&str>, email_error: Option<&str>| {
        html_with(
            status,
            &LoginPage {
                email: &form.email,
                next,
                error,
                email_error,
                reset: false,
            },
        )
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return Ok(again(StatusCode::BAD_REQUEST, None, Some(&e.reason))),
    };
    let ip = session::client_ip(&dashboard.settings, &parts);
    let logins = &dashboard.settings.logins;
    let ops = state.engine.ops();
    let origin = crate::origin::of(&parts.extensions);
    if let Err(wait) = logins.check(ops, email.as_str(), ip, ops.now()).await? {
        refused(&state, &origin, &email, LoginRefusal::LockedOut).await?;
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let when = if secs < 120 {
            format!("{} second(s)", secs.max(1))
        } else {
            format!("{} minute(s)", secs.div_ceil(60))
        };
        let mut refused = PageError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed logins. Try again in {when}."),
        );
        refused.retry_after = Some(secs.max(1));
        return Err(refused);
    }
    let user = state.store.user_by_email(&email).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_owned());
    let ok = verify_off_thread(&form.password, &hash).await?;
    let user = match user {
        Some(u) if ok => u,
        _ => {
            logins.failed(ops, email.as_str(), ip, ops.now()).await?;
            refused(&state, &origin, &email, LoginRefusal::WrongPassword).await?;
            return Ok(again(StatusCode::UNAUTHORIZED, Some(WRONG), None));
        }
    };
    logins.succeeded(ops, email.as_str(), ip).await?;
    let memberships = state.store.memberships(&user.id).await?;
    let Some(first) = memberships.first() else {
        return Err(PageError::forbidden(
            "your account is not a member of any organisation yet; ask an administrator to add you",
        ));
    };
    // A new session for every login: a token planted before it is worth nothing.
    if let Some(old) = session::request_token_hash(headers) {
        state.engine.ops().drop_session(&old).await?;
    }
    let acting = session::acting(&user, &origin);
    let token = session::start(
        state.engine.ops(),
        Some(&acting),
        &dashboard.settings,
        &user,
        &first.tenant_id,
    )
    .await?;
    let to = if user.must_change_password {
        "/app/password"
    } else {
        next
    };
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::session_cookie(&dashboard.settings, headers, &token),
    );
    Ok(response)
}

pub async fn logout(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    signed_in: Option<SignedInUser>,
) -> Result<Response, PageError> {
    if let Some(s) = signed_in {
        match &s.tenant {
            Some(t) => {
                state
                    .engine
                    .ops()
                    .sign_out(&s.acting(), &s.user, &t.id, &s.token_hash)
                    .await?
            }
            None => state.engine.ops().drop_session(&s.token_hash).await?,
        }
    }
    let mut response = Redirect::to("/app/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::cleared_cookie(&dashboard.settings, &headers),
    );
    Ok(response)
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    csrf_token: &'a str,
    forced: bool,
    min: usize,
    errors: FieldErrors,
}

/// Errors to show next to a form's fields.
#[derive(Default)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, reason: impl Into<String>) {
        self.0.push((field, reason.into()));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, r)| r.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every error, in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(f, r)| (*f, r.as_str()))
    }
}

pub async fn password_page(signed_in: SignedInUser) -> Response {
    html(&PasswordPage {
        csrf_token: &signed_in.csrf_token,
        forced: signed_in.user.must_change_password,
        min: MIN_PASSWORD,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// Checks a new password; the reasons are shown next to the fields.
pub fn check_new_password(new: &str, confirm: &str, errors: &mut FieldErrors) {
    let chars = new.chars().count();
    if chars < MIN_PASSWORD {
        errors.add("new", format!("use at least {MIN_PASSWORD} characters"));
    } else if chars > MAX_PASSWORD {
        errors.add("new", format!("use at most {MAX_PASSWORD} characters"));
    }
    if new != confirm {
        errors.add("confirm", "does not match the new password");
    }
}

/// Replaces the password, ends every session of the user (other devices too)
/// and starts a fresh one here.
pub async fn change_password(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    signed_in: SignedInUser,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let user = &signed_in.user;
    let current_ok = verify_off_thread(&form.current, &user.password_hash).await?;
    let mut errors = FieldErrors::default();
    if !current_ok {
        errors.add("current", "this is not your current password");
    }
    check_new_password(&form.new, &form.confirm, &mut errors);
    if form.new == form.current && errors.get("new").is_none() {
        errors.add("new", "choose a password different from the current one");
    }
    if !errors.is_empty() {
        return Ok(html_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                csrf_token: &signed_in.csrf_token,
                forced: user.must_change_password,
                min: MIN_PASSWORD,
                errors,
            },
        ));
    }
    let hash = hash_off_thread(&form.new).await?;
    let tenant = signed_in.tenant.as_ref().map(|t| t.id.clone());
    state
        .engine
        .ops()
        .change_password(&signed_in.acting(), user, tenant.as_ref(), &hash)
        .await?;
    let Some(tenant) = tenant else {
        return Ok(Redirect::to("/app/login").into_response());
    };
    let token =
        session::start(state.engine.ops(), None, &dashboard.settings, user, &tenant).await?;
    let mut response = Redirect::to("/app/complaints").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::session_cookie(&dashboard.settings, &headers, &token),
    );
    Ok(response)
}

/// Records a refused login of a known account in its organisations.
async fn refused(
    state: &AppState,
    origin: &ombud_core::audit::Origin,
    email: &Email,
    why: LoginRefusal,
) -> Result<(), PageError> {
    let Some(user) = state.store.user_by_email(email).await? else {
        return Ok(());
    };
    let tenants: Vec<_> = state
        .store
        .memberships(&user.id)
        .await?
        .into_iter()
        .map(|m| m.tenant_id)
        .collect();
    state
        .engine
        .ops()
        .login_refused(origin, &user, &tenants, why)
        .await?;
    Ok(())
}
