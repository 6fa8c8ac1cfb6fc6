//! Headers every answer carries, whichever route made it:
//! - `X-Content-Type-Options: nosniff` (a reflected `hub.challenge` or a JSON
//!   error is never run as a script or a page);
//! - `Referrer-Policy: same-origin`;
//! - `Cache-Control: no-store` unless the route chose its own (static assets,
//!   the widget script): pages and answers that show a secret once, or a
//!   citizen's words, stay out of shared and browser caches;
//! - on pages, no framing by other sites (clickjacking) and a Content
//!   Security Policy: the dashboard's allows only this server's scripts and
//!   styles; the API docs' also inline styles (Swagger UI sets them).
//!
//! The demo's stand-in for a tenant's site (`/demo/site/…`) plays another
//! site and gets no policy of ours.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

const DASHBOARD_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
const DOCS_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

pub async fn secure(request: Request, next: Next) -> Response {
    let policy = match request.uri().path() {
        // Swagger UI (at /docs/try/) styles itself inline; the reference
        // (/docs) does not.
        p if p.starts_with("/docs/try") => Some(DOCS_POLICY),
        p if p.starts_with("/demo/") => None,
        _ => Some(DASHBOARD_POLICY),
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    default(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    default(headers, header::REFERRER_POLICY, "same-origin");
    default(headers, header::CACHE_CONTROL, "no-store");
    let is_page = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if let (true, Some(policy)) = (is_page, policy) {
        default(headers, header::CONTENT_SECURITY_POLICY, policy);
        default(headers, header::X_FRAME_OPTIONS, "DENY");
    }
    response
}

fn default(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
