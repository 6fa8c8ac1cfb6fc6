//! Ombud's HTTP surface. Each feature module exposes `router()`; `router` merges
//! them over one shared state.

pub mod api;
mod attachments;
pub mod auth;
pub mod dashboard;
mod demo;
mod error;
mod headers;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod origin;
pub mod server;
mod telegram;
pub mod throttle;
mod webchat;
mod whatsapp;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use ombud_engine::Engine;
use ombud_store::Store;

pub use error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    /// Rung when a web chat reply is handed over (see `webchat`).
    pub webchat_bell: ombud_channels::webchat::WebchatBell,
    /// Cancelled when the server starts shutting down, so long-lived
    /// responses (the web chat's event streams) end and the drain is quick.
    pub closing: tokio_util::sync::CancellationToken,
    /// Live updates for the dashboard's open pages.
    pub live: Arc<dashboard::live::LiveHub>,
}

pub struct RouterOptions {
    /// Largest request body accepted; larger ones get 413 before they are read.
    pub max_body_bytes: usize,
    /// Serve the demo's stand-in for Meta's Graph API (`ombud demo` only).
    pub demo_graph_sink: bool,
    /// Who may read `/metrics` and detailed readiness on this listener (the
    /// operators' own listener, [`admin_router`], serves them to anyone who
    /// reaches it).
    pub operator_token: health::OperatorToken,
    pub dashboard: dashboard::DashboardSettings,
}

pub fn router(state: AppState, options: RouterOptions) -> Router {
    let max = options.max_body_bytes;
    let mut app = Router::new()
        .merge(whatsapp::router())
        .merge(telegram::router())
        .merge(webchat::router(options.dashboard.clone()))
        .merge(health::public_router(options.operator_token.clone()))
        .merge(metrics::guarded_router(options.operator_token))
        .merge(api::router(state.clone(), options.dashboard.clone()))
        .merge(dashboard::router(
            state.clone(),
            dashboard::DashboardSettings {
                max_body_bytes: max,
                ..options.dashboard.clone()
            },
        ));
    if options.demo_graph_sink {
        app = app.merge(demo::router());
    }
    metrics::install();
    app.fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(max))
        .layer(axum::middleware::from_fn_with_state(
            max,
            error::refuse_declared_oversize,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), options.dashboard.clone()),
            limits::anonymous,
        ))
        .layer(axum::middleware::from_fn_with_state(
            options.dashboard.clone(),
            origin::stamp,
        ))
        .layer(axum::middleware::from_fn(headers::secure))
        .layer(compression())
        .layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
}

/// gzip or brotli, as the client accepts, for answers of 1 KiB and more;
/// never for event streams (each event must go out at once) or images.
/// Pages carry their CSRF token masked afresh each time (`masked_csrf`),
/// so compressing them leaks nothing through their size (BREACH).
fn compression(
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
    tower_http::compression::CompressionLayer::new().compress_when(
        SizeAbove::new(1024)
            .and(NotForContentType::SSE)
            .and(NotForContentType::IMAGES)
            .and(NotForContentType::GRPC),
    )
}

/// What the operators' own listener serves (`OMBUD_METRICS_LISTEN`): `/metrics`
/// and the health probes, nothing a tenant or citizen uses.
pub fn admin_router(state: AppState) -> Router {
    metrics::install();
    Router::new()
        .merge(metrics::router())
        .merge(health::router())
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::from_fn(headers::secure))
        .with_state(state)
}
