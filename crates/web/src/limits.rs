//! Rate limits for people as for programs: per API key (its own limit), per
//! dashboard session (whether it calls pages or the API), and per address for
//! whoever is neither. Counted in the store's fixed one-minute windows
//! ([`ombud_store::CounterStore`]): on PostgreSQL every replica counts against
//! the same limit. Every answer counted carries `RateLimit-Limit`,
//! `RateLimit-Remaining` and `RateLimit-Reset`; past the limit, 429 with
//! `Retry-After`.
//!
//! Not counted: Meta's and Telegram's webhooks (signed, and bursty by
//! nature; a replica's queue is their limit), the web chat (limits of its
//! own per visitor and address), the probes and `/metrics`, static assets.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ombud_store::StoreResult;

use crate::dashboard::DashboardSettings;
use crate::{ApiError, AppState};

const WINDOW: Duration = Duration::from_secs(60);

/// Requests a minute, per kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// A signed-in member, pages and API together.
    pub per_session_per_minute: u32,
    /// Anyone not signed in and without a key, by address.
    pub per_address_per_minute: u32,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            per_session_per_minute: 600,
            per_address_per_minute: 300,
        }
    }
}

/// Where a caller stands in its window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

impl Window {
    pub fn write(&self, response: &mut Response) {
        let h = response.headers_mut();
        h.insert("ratelimit-limit", HeaderValue::from(self.limit));
        h.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        h.insert("ratelimit-reset", HeaderValue::from(self.reset_secs));
    }

    /// 429 in the API's error shape, with the headers and `Retry-After`.
    pub fn refusal(&self, who: &str) -> Response {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "{who} may make {} requests a minute; try again in {} s",
                self.limit, self.reset_secs
            ),
        )
        .into_response();
        self.write(&mut response);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.reset_secs));
        response
    }
}

/// Counts one request of `key`; `Err` when it is over `limit`.
pub async fn take(
    ops: &ombud_engine::Operations,
    key: &str,
    limit: u32,
) -> StoreResult<Result<Window, Window>> {
    let now = ops.now();
    let hits = ops.count_hits(key, WINDOW, 1, now).await?;
    let left = (hits.window_ends - now).to_std().unwrap_or_default();
    let reset_secs = (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1);
    let used = u32::try_from(hits.count).unwrap_or(u32::MAX);
    let window = Window {
        limit,
        remaining: limit.saturating_sub(used),
        reset_secs,
    };
    Ok(if used > limit {
        Err(window)
    } else {
        Ok(window)
    })
}

/// The client's address: the peer's, or behind a trusted proxy the last
/// address of `X-Forwarded-For`.
pub fn client_ip(
    settings: &DashboardSettings,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<IpAddr> {
    if settings.trust_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The key an address is counted under.
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:unknown".into(),
    }
}

/// The key a session is counted under (its token's hash, never the token).
pub fn session_key(token_hash: &str) -> String {
    format!("session:{token_hash}")
}

/// Whether a path is outside the people's limits (see the module's list).
fn exempt(path: &str) -> bool {
    path.starts_with("/channels/")
        || path.starts_with("/health/")
        || path == "/metrics"
        || path.starts_with("/app/static/")
}

/// The per-address limit for requests that carry neither a key nor a
/// session cookie; the API's and the dashboard's own layers count the rest
/// once they know who it is (a cookie that is no session is counted by
/// address there).
pub async fn anonymous(
    State((state, settings)): State<(AppState, DashboardSettings)>,
    request: Request,
    next: Next,
) -> Response {
    if exempt(request.uri().path())
        || request.headers().contains_key(header::AUTHORIZATION)
        || crate::dashboard::session::request_token_hash(request.headers()).is_some()
    {
        return next.run(request).await;
    }
    let ip = client_ip(&settings, request.headers(), request.extensions());
    let limit = settings.limits.per_address_per_minute;
    match take(state.engine.ops(), &address_key(ip), limit).await {
        Ok(Ok(window)) => {
            let mut response = next.run(request).await;
            window.write(&mut response);
            response
        }
        Ok(Err(window)) => window.refusal("this address"),
        Err(e) => ApiError::from(e).into_response(),
    }
}
