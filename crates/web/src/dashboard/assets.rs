//! The dashboard's stylesheets and script, compiled into the binary (no CDN);
//! the palette's stylesheet is made from `palette.rs` at first use.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
];

/// The pills' colours, made once from the palette.
static PALETTE: std::sync::LazyLock<String> = std::sync::LazyLock::new(super::palette::css);

pub async fn serve(Path(file): Path<String>) -> Response {
    let palette = ("palette.css", "text/css; charset=utf-8", PALETTE.as_str());
    match FILES
        .iter()
        .copied()
        .chain([palette])
        .find(|(name, _, _)| *name == file)
    {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// Browsers ask for `/favicon.ico` on pages that name no icon (the API docs).
pub async fn favicon() -> Response {
    serve(Path("favicon.svg".to_owned())).await
}
