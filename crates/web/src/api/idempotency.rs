//! `Idempotency-Key` on POST: the same key with the same request (method,
//! path, body) gets the first answer again, marked `Idempotent-Replayed:
//! true`; the same key with another request gets 422; while the first is
//! still running, 409. Keys are per caller, kept 24 hours. Answers of 5xx are
//! not kept, so the request may be tried again.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ombud_store::{Idempotent, StoredAnswer};
use sha2::{Digest, Sha256};

use super::auth::Caller;
use super::Api;
use crate::{ApiError, AppState};

const HEADER: &str = "idempotency-key";
/// Answers larger than this are not kept (none of the API's are).
const MAX_ANSWER: usize = 1024 * 1024;
/// A first request this old and still unanswered died with its process.
const STALE: chrono::Duration = chrono::Duration::seconds(60);
const KEEP: chrono::Duration = chrono::Duration::hours(24);
/// Headers an answer is repeated with.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

pub async fn replay(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(given) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match given.to_str() {
        Ok(k)
            if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..0x7f).contains(&b)) =>
        {
            k.to_owned()
        }
        _ => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .field("Idempotency-Key", "1 to 255 visible ASCII characters")
            .into_response()
        }
    };
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return next.run(request).await;
    };
    let max = request
        .extensions()
        .get::<Arc<Api>>()
        .map(|a| a.max_body_bytes)
        .unwrap_or(MAX_ANSWER);
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, max).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the request body is over {max} bytes"),
            )
            .into_response()
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());
    let (tenant, actor) = (caller.tenant.id.clone(), caller.actor());
    let now = state.engine.now();
    let window = ombud_engine::ops::requests::IdempotencyWindow {
        now,
        stale_before: now - STALE,
        expired_before: now - KEEP,
    };
    let begun = state
        .engine
        .ops()
        .begin_idempotent(&tenant, &actor, &key, &hash, window)
        .await;
    match begun {
        Err(e) => return ApiError::from(e).into_response(),
        Ok(Idempotent::Mismatch) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request; use a new key",
            )
            .field("Idempotency-Key", "used before with a different request")
            .into_response()
        }
        Ok(Idempotent::InProgress) => {
            return ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still running; try again shortly",
            )
            .into_response()
        }
        Ok(Idempotent::Replay(answer)) => return replayed(answer),
        Ok(Idempotent::Started) => {}
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    if status.is_server_error() {
        if let Err(e) = state
            .engine
            .ops()
            .abandon_idempotent(&tenant, &actor, &key)
            .await
        {
            tracing::warn!(error = %e, "could not free an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ANSWER).await else {
        let _ = state
            .engine
            .ops()
            .abandon_idempotent(&tenant, &actor, &key)
            .await;
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "answer too large",
        )
        .into_response();
    };
    let answer = StoredAnswer {
        status: status.as_u16(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|h| {
                let v = parts.headers.get(h)?.to_str().ok()?;
                Some((h.as_str().to_owned(), v.to_owned()))
            })
            .collect(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(e) = state
        .engine
        .ops()
        .finish_idempotent(&tenant, &actor, &key, answer)
        .await
    {
        // The request happened; a retry would find the key running until
        // it goes stale, then run again. Say so in the log.
        tracing::error!(error = %e, "could not keep the answer of an idempotent request");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replayed(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(n, v);
        }
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
