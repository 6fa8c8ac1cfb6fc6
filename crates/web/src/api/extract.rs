//! Request bodies and queries that fail with the API's error shape (naming the
//! field), pages with cursors, and ETags.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ApiError;

/// Most items a page may hold.
pub const MAX_LIMIT: u32 = 200;
pub const DEFAULT_LIMIT: u32 = 50;

/// A JSON body. Not JSON → 415; unreadable → 400; the wrong shape → 422
/// naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.split(';').next().unwrap_or("").trim();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(e.status(), "unreadable_body", e.body_text()))?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(malformed(&inner));
            }
            let field = if path == "." { "body".to_owned() } else { path };
            return Err(ApiError::invalid(&field, clean(&inner.to_string())));
        }
    };
    de.end().map_err(|e| malformed(&e))?;
    // PostgreSQL cannot store U+0000 in text, and no field needs it.
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        let tree: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
        if let Some(field) = nul_path(&tree, String::new()) {
            let field = if field.is_empty() {
                "body".into()
            } else {
                field
            };
            return Err(ApiError::invalid(&field, "must not contain NUL characters"));
        }
    }
    Ok(value)
}

/// Where in `v` a string holds U+0000, as `a.b[2]`-style path.
fn nul_path(v: &serde_json::Value, at: String) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s.contains('\0') => Some(at),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let here = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                return Some(here);
            }
            nul_path(x, here)
        }),
        _ => None,
    }
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
}

/// serde's messages end with " at line 1 column 12", which means nothing to
/// an API caller once the field is named.
fn clean(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// A query string. The wrong shape → 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        if let Some((k, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::invalid(
                &k.replace('\0', ""),
                "must not contain NUL characters",
            ));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." {
                    "query".to_owned()
                } else {
                    path
                };
                ApiError::invalid(&field, e.into_inner().to_string())
            })
    }
}

/// `limit`, 1 to 200, 50 if not given.
pub fn limit(given: Option<u32>) -> Result<u32, ApiError> {
    match given {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", "must be from 1 to 200")),
    }
}

/// A page of a list: its items and, when there may be more, the cursor of the next.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `items` fetched with one more than `limit`: the extra one says a next
    /// page exists, and `cursor_of` the last kept item makes its cursor.
    pub fn of(mut items: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Self {
            data: items,
            next_cursor,
        }
    }
}

/// A single resource with its ETag; `If-None-Match` with the same tag gets 304.
pub fn tagged<T: Serialize>(headers: &HeaderMap, value: &T) -> Response {
    let body = match serde_json::to_vec(value) {
        Ok(b) => b,
        Err(e) => {
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
                .into_response()
        }
    };
    let tag = etag_of(&body);
    let tag_value = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    if matches_tag(headers.get(header::IF_NONE_MATCH), &tag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag_value)]).into_response();
    }
    (
        [
            (header::ETAG, tag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response()
}

/// A strong tag over the representation.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match`/`If-Match` value names `tag` (or is `*`).
pub fn matches_tag(given: Option<&HeaderValue>, tag: &str) -> bool {
    given.and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == tag
        })
    })
}

/// 412 unless `If-Match` (if sent) names the current representation's tag.
pub fn check_if_match<T: Serialize>(headers: &HeaderMap, current: &T) -> Result<(), ApiError> {
    let Some(given) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let body = serde_json::to_vec(current)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    if matches_tag(Some(given), &etag_of(&body)) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        "the resource changed since you read it (If-Match does not match its ETag); read it again",
    ))
}

/// 201 with the body (and `Location`).
pub fn created<T: Serialize>(location: String, value: T) -> Response {
    let mut response = (StatusCode::CREATED, Json(value)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        url: String,
        enabled: Option<bool>,
    }

    #[test]
    fn json_errors_name_the_field_or_say_it_is_not_json() {
        let e = parse_json::<Body>(br#"{"url": "x", "enabled": "yes"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.fields[0].field, "enabled");
        let e = parse_json::<Body>(br#"{"enabled": true}"#).unwrap_err();
        assert!(e.fields[0].reason.contains("url"), "{:?}", e.fields);
        let e = parse_json::<Body>(br#"{"url": "#).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "malformed_json")
        );
        let e = parse_json::<Body>(br#"{"url": "x"} trailing"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn nul_characters_are_refused_with_the_field_named() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            filter: Inner,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            q: Vec<String>,
        }
        let e = parse_json::<Outer>(br#"{"filter": {"q": ["ok", "a\u0000b"]}}"#).unwrap_err();
        assert_eq!(e.fields[0].field, "filter.q[1]");
        assert!(parse_json::<Outer>(br#"{"filter": {"q": ["a\\u0000 is text"]}}"#).is_ok());
    }

    #[test]
    fn pages_know_whether_more_follow() {
        let p = Page::of(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!((p.data, p.next_cursor), (vec![1, 2], Some("2".into())));
        let p = Page::of(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(p.next_cursor, None);
    }

    #[test]
    fn tags_match_exactly_weakly_or_by_star() {
        let tag = etag_of(b"{}");
        assert!(matches_tag(
            Some(&HeaderValue::from_str(&tag).unwrap()),
            &tag
        ));
        let weak = format!("\"other\", W/{tag}");
        assert!(matches_tag(
            Some(&HeaderValue::from_str(&weak).unwrap()),
            &tag
        ));
        assert!(matches_tag(Some(&HeaderValue::from_static("*")), &tag));
        assert!(!matches_tag(Some(&HeaderValue::from_static("\"x\"")), &tag));
        assert!(!matches_tag(None, &tag));
    }
}
