//! One error shape for every 4xx and 5xx:
//! `{"error": {"code": "…", "message": "…", "fields": [{"field": "…", "reason": "…"}]}}`.
//! Server errors are logged with their detail and answered without it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ombud_store::StoreError;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn field(mut self, field: &str, reason: impl Into<String>) -> Self {
        self.fields.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Conflict { field, reason } => {
                Self::new(StatusCode::CONFLICT, "conflict", reason.clone()).field(&field, reason)
            }
            StoreError::Invalid(v) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", v.to_string())
                    .field(&v.field, v.reason)
            }
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; try again",
                )
            }
            StoreError::Internal(detail) => {
                tracing::error!(%detail, "database error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    fields: &'a [FieldError],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                fields: &self.fields,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
