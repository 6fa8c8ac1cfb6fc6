//! Rendering: the layout every signed-in page shares, templates to HTML, and
//! the error page.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use ombud_core::Role;
use ombud_store::StoreError;

use super::session::Current;

/// What the layout shows around a page: who, where, and the CSRF token its
/// forms and scripts send back.
pub struct Chrome {
    pub tenant: String,
    pub user: String,
    pub role: Role,
    pub csrf_token: String,
    /// Which navigation entry is current.
    pub section: &'static str,
    /// A member of the tenant (false: signed in, but no longer in it, so no
    /// navigation into it).
    pub member: bool,
}

impl Chrome {
    pub fn of(current: &Current, section: &'static str) -> Self {
        Self {
            tenant: current.tenant.name.clone(),
            user: if current.user.name.is_empty() {
                current.user.email.as_str().to_owned()
            } else {
                current.user.name.clone()
            },
            role: current.role,
            csrf_token: current.csrf_token.clone(),
            section,
            member: true,
        }
    }

    /// For a page any signed-in user sees (their account), in or out of a
    /// tenant.
    pub fn of_user(signed_in: &super::session::SignedInUser, section: &'static str) -> Self {
        let user = &signed_in.user;
        Self {
            tenant: signed_in
                .tenant
                .as_ref()
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            user: if user.name.is_empty() {
                user.email.as_str().to_owned()
            } else {
                user.name.clone()
            },
            role: signed_in.role.unwrap_or(Role::FieldWorker),
            csrf_token: signed_in.csrf_token.clone(),
            section,
            member: signed_in.role.is_some() && signed_in.tenant.is_some(),
        }
    }

    /// Admins and owners manage the team and settings.
    pub fn manages(&self) -> bool {
        self.role >= Role::Admin
    }

    /// A field worker: the field page is all they have.
    pub fn field(&self) -> bool {
        self.role.sees_only_own()
    }

    /// Staff and above work complaints; viewers only read.
    pub fn works(&self) -> bool {
        self.role >= Role::Staff
    }
}

/// A template as a 200 page.
pub fn html<T: Template>(template: &T) -> Response {
    html_with(StatusCode::OK, template)
}

pub fn html_with<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => PageError::internal(format!("rendering a page: {e}")).into_response(),
    }
}

/// An error shown as a page: what went wrong, in words, with its status.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    /// Logged with its detail, shown without it.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "dashboard error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "something went wrong on our side",
        )
    }
}

impl From<crate::ApiError> for PageError {
    fn from(e: crate::ApiError) -> Self {
        Self::new(e.status, e.message)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        crate::ApiError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        let body = page
            .render()
            .unwrap_or_else(|_| format!("{}: {}", self.status, self.message));
        let mut response = (self.status, Html(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::try_from(secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// A field of a form read as pairs (the first of a repeated name; empty when
/// missing), for forms whose field names are not fixed.
pub fn form_value<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}
