//! `/metrics` in Prometheus text format (0.0.4), the HTTP metrics, and the
//! request id every request carries in its logs and its answer.
//!
//! The recorder is the process's one global `metrics` recorder: the engine
//! counts through the same facade (see `ombud_engine::metrics`). A scrape
//! renders what is in memory; nothing here reads the database.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use ombud_engine::metrics as engine;
use tracing::Instrument;

use crate::AppState;

pub const HTTP_REQUESTS: &str = "ombud_http_requests_total";
pub const HTTP_DURATION: &str = "ombud_http_request_duration_seconds";
pub const BUILD_INFO: &str = "ombud_build_info";

/// How often histogram samples are folded in when nobody scrapes, so they do
/// not pile up in memory.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's Prometheus recorder the first time; later calls
/// (tests start many servers in one process) get the same handle.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), engine::LATENCY_BUCKETS)
            .map(PrometheusBuilder::build_recorder);
        let handle = match recorder {
            Ok(recorder) => {
                let handle = recorder.handle();
                if metrics::set_global_recorder(recorder).is_err() {
                    tracing::warn!(
                        "a metrics recorder was installed already; /metrics shows only its own"
                    );
                }
                handle
            }
            // The buckets are constants; this does not happen.
            Err(e) => {
                tracing::error!(error = %e, "could not build the metrics recorder");
                PrometheusBuilder::new().build_recorder().handle()
            }
        };
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("ombud-metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            });
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    engine::describe();
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status class."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer HTTP requests, by route template, method and status class."
    );
    describe_gauge!(
        crate::server::CONNECTIONS_OPEN,
        "HTTP connections open now, on every listener of this process."
    );
    describe_counter!(
        crate::server::CONNECTIONS_REFUSED,
        "HTTP connections closed as soon as accepted, by reason (max_connections, max_per_address)."
    );
    for reason in ["max_connections", "max_per_address"] {
        counter!(crate::server::CONNECTIONS_REFUSED, "reason" => reason).absolute(0);
    }
    describe_gauge!(BUILD_INFO, "Always 1; the version is a label.");
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Present from the start, so rules and panels see a zero, not nothing.
    counter!(engine::WEBHOOK_ENDPOINTS_DISABLED).absolute(0);
    counter!(engine::WORKER_CRASHES).absolute(0);
    for outcome in ["delivered", "retry", "failed"] {
        counter!(engine::WEBHOOK_DELIVERIES, "outcome" => outcome).absolute(0);
    }
}

/// `GET /metrics`, for the operators' listener.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

/// `GET /metrics` on the main listener: only with the operators' token;
/// without it the route is not found, as if it did not exist.
pub fn guarded_router(token: crate::health::OperatorToken) -> Router<AppState> {
    Router::new().route(
        "/metrics",
        get(move |headers: axum::http::HeaderMap| {
            let allowed = token.allows(&headers);
            async move {
                if allowed {
                    render().await
                } else {
                    crate::ApiError::not_found("route").into_response()
                }
            }
        }),
    )
}

async fn render() -> Response {
    let body = install().render();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: the caller's `X-Request-Id` when it is a sane token
/// (1–128 visible ASCII characters), else a new one.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("req_{}", ombud_core::id::new_id_body()))
}

/// Counts and times each request by its route template (never its URL), gives
/// it a request id (answered in `X-Request-Id`) and runs it in a span that
/// carries the id, the route, and the tenant once authentication knows it.
pub async fn track(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(request.method());
    let id = request_id(&request);
    request
        .extensions_mut()
        .insert(crate::origin::RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method,
        route = %route,
        tenant = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("status", status.as_u16());
    let class = status_class(status);
    if status.is_server_error() {
        engine::error("http", "server_error");
    }
    let labels = [
        ("route", route),
        ("method", method.to_owned()),
        ("status_class", class.to_owned()),
    ];
    counter!(HTTP_REQUESTS, &labels).increment(1);
    histogram!(HTTP_DURATION, &labels).record(started.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// Records the tenant on the request's span (authentication calls this).
pub fn record_tenant(slug: &str) {
    tracing::Span::current().record("tenant", slug);
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(value: &str) -> Request {
        Request::builder()
            .header("x-request-id", value)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn a_sane_request_id_is_kept_and_anything_else_replaced() {
        assert_eq!(request_id(&with_header("abc-123.X_y")), "abc-123.X_y");
        for bad in ["", "has space", &"x".repeat(129), "tab\there"] {
            let id = request_id(&with_header(bad));
            assert!(id.starts_with("req_"), "{bad:?} gave {id}");
        }
        let none = Request::builder().body(axum::body::Body::empty()).unwrap();
        assert_ne!(request_id(&none), request_id(&none), "each new id is new");
    }

    #[test]
    fn status_classes_and_methods_are_bounded() {
        assert_eq!(status_class(StatusCode::OK), "2xx");
        assert_eq!(status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_class(StatusCode::BAD_GATEWAY), "5xx");
        assert_eq!(
            method_label(&Method::from_bytes(b"PURGE").unwrap()),
            "other"
        );
    }
}
