//! Where a request came from, for the audit trail: the client's address
//! (behind a trusted proxy, the one it forwarded), its user agent, and the
//! request's id. Stamped on every request once; read by the extractors that
//! name the caller.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ombud_core::audit::Origin;

use crate::dashboard::DashboardSettings;

/// The request's id, as `metrics::track` gave it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn stamp(
    State(settings): State<DashboardSettings>,
    mut request: Request,
    next: Next,
) -> Response {
    let address = crate::limits::client_ip(&settings, request.headers(), request.extensions())
        .map(|ip| ip.to_string());
    let user_agent = request
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request_id = request.extensions().get::<RequestId>().map(|r| r.0.clone());
    let origin = Origin::new(address, user_agent.as_deref(), request_id);
    request.extensions_mut().insert(origin);
    next.run(request).await
}

/// The stamped origin (empty if the request was not stamped).
pub fn of(extensions: &axum::http::Extensions) -> Origin {
    extensions.get::<Origin>().cloned().unwrap_or_default()
}
