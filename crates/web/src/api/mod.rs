//! The JSON API under `/api/v1`, described by the OpenAPI 3.1 document that
//! the same code generates (utoipa): served at `/openapi.json`, shown at
//! `/docs`, and committed as `docs/openapi.json`.
//!
//! Every route passes [`auth::authenticate`] (key or session, the key's rate
//! limit) and then [`idempotency::replay`] (POSTs with an `Idempotency-Key`).
//! Handlers take [`auth::Caller`] and ask it for the scope they need; every
//! store call is scoped by the caller's tenant, so another tenant's ids are
//! simply not found (404).

mod agent_types;
pub(crate) mod agents;
mod attachments;
mod audit;
pub mod auth;
mod channel_templates;
mod channels;
mod complaint_types;
mod complaints;
mod contacts;
mod directory;
mod executions;
pub mod extract;
mod idempotency;
mod keys;
mod me;
mod media_settings;
mod reference;
mod routing;
mod routing_types;
mod sla;
mod surveys;
pub(crate) mod test_chats;
mod verification;
mod webhook_types;
pub(crate) mod webhooks;

use std::sync::Arc;

use axum::{Extension, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr, Response as ApiResponse};
use utoipa::{Modify, OpenApi as _};
use utoipa_axum::router::OpenApiRouter;

use crate::dashboard::DashboardSettings;
use crate::AppState;

/// What the API's handlers share besides the store.
pub struct Api {
    pub touches: auth::KeyTouches,
    pub sessions: DashboardSettings,
    pub max_body_bytes: usize,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Ombud API",
        description = "Complaints, conversations, webhooks and keys of one tenant. Authenticate with `Authorization: Bearer <API key>`; errors are always `{\"error\": {\"code\", \"message\", \"fields\"}}`. Lists page by `cursor` (from `next_cursor`) and `limit` (at most 200). POSTs honour `Idempotency-Key`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/api/v1")),
    modifiers(&Security),
    components(schemas(crate::error::ErrorBody)),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ombud_…")
                    .description(Some(
                        "An API key made in the dashboard or with `ombud apikey create`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "ombud_session",
                "The dashboard's session; state-changing requests also need X-CSRF-Token",
            ))),
        );
    }
}

/// The answers every operation may give, so that none is undocumented.
struct CommonAnswers;

impl CommonAnswers {
    pub(crate) const ALL: [(&'static str, &'static str); 7] = [
        ("400", "The request could not be read"),
        ("401", "No valid API key or session"),
        (
            "403",
            "The key lacks a scope (named in the error), or the member a role",
        ),
        ("413", "The body is too large"),
        ("422", "A field is invalid (named in the error)"),
        ("429", "Over the key's rate limit; see Retry-After"),
        ("503", "The database is unavailable"),
    ];
}

impl Modify for CommonAnswers {
    fn modify(&self, api: &mut OpenApi) {
        let common = Self::ALL;
        let error = || -> RefOr<ApiResponse> {
            RefOr::T(
                utoipa::openapi::ResponseBuilder::new()
                    .description("")
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("Error")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in api.paths.paths.values_mut() {
            let with_body = [&mut item.post, &mut item.patch, &mut item.put];
            for (op, has_body) in with_body
                .into_iter()
                .map(|o| (o, true))
                .chain([(&mut item.get, false), (&mut item.delete, false)])
            {
                let Some(op) = op.as_mut() else { continue };
                let path_params = op
                    .parameters
                    .as_ref()
                    .is_some_and(|ps| {
                        ps.iter().any(|p| {
                            matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Path)
                        })
                    });
                let mut codes: Vec<(&str, &str)> = common.to_vec();
                if has_body {
                    codes.push(("415", "The body is not application/json"));
                    codes.push((
                        "409",
                        "A request with this Idempotency-Key is still running",
                    ));
                }
                if path_params {
                    codes.push(("404", "Not found in your tenant"));
                }
                for (code, description) in codes {
                    if !op.responses.responses.contains_key(code) {
                        let mut answer = error();
                        if let RefOr::T(r) = &mut answer {
                            r.description = description.to_owned();
                        }
                        op.responses.responses.insert(code.to_owned(), answer);
                    }
                }
            }
        }
    }
}

/// `/api/v1`, `/openapi.json` and `/docs`.
pub fn router(state: AppState, sessions: DashboardSettings) -> Router<AppState> {
    let (api_routes, spec) = routes();
    let api = Arc::new(Api {
        touches: auth::KeyTouches::default(),
        max_body_bytes: sessions.max_body_bytes,
        sessions,
    });
    // Outermost first: the shared state, who is calling, then idempotency.
    let api_routes = api_routes
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::replay,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            auth::authenticate,
        ))
        .layer(Extension(api));
    // The reference at /docs is rendered here from the document; Swagger
    // UI's assets are compiled in (`vendored`), so /docs/try/ works offline.
    // It also serves the document at /openapi.json.
    let reference = reference::page(&serde_json::to_value(&spec).unwrap_or_default());
    let page = move || {
        let reference = reference.clone();
        async move { reference::respond(&reference) }
    };
    Router::new()
        .nest("/api/v1", api_routes)
        .route("/docs", axum::routing::get(page.clone()))
        .route("/docs/", axum::routing::get(page))
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs/try").url("/openapi.json", spec))
}

fn routes() -> (Router<AppState>, OpenApi) {
    let (router, mut spec) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(me::router())
        .merge(keys::router())
        .merge(complaints::router())
        .merge(attachments::router())
        .merge(directory::router())
        .merge(media_settings::router())
        .merge(contacts::router())
        .merge(channels::router())
        .merge(channel_templates::router())
        .merge(surveys::router())
        .merge(sla::router())
        .merge(routing::router())
        .merge(verification::router())
        .merge(executions::router())
        .merge(agents::router())
        .merge(test_chats::router())
        .merge(webhooks::router())
        .merge(audit::router())
        .split_for_parts();
    // After the paths are in: the answers every operation shares.
    CommonAnswers.modify(&mut spec);
    (router, spec)
}

/// The OpenAPI document, as served (for `docs/openapi.json` and its test).
pub fn openapi() -> OpenApi {
    routes().1
}

/// The document as committed in `docs/openapi.json`: pretty, with a newline.
pub fn openapi_json() -> String {
    openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_document_is_the_one_the_code_makes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        let made = format!("{}\n", super::openapi_json());
        assert!(
            committed == made,
            "docs/openapi.json differs from the API the code serves; regenerate it with\n  cargo run -q -p ombud -- openapi > docs/openapi.json\nand review the diff"
        );
    }

    #[test]
    fn every_operation_documents_the_shared_error_answers() {
        let spec = serde_json::to_value(super::openapi()).unwrap_or_default();
        let paths = spec["paths"].as_object().cloned().unwrap_or_default();
        assert!(!paths.is_empty());
        for (path, item) in paths {
            for (method, op) in item.as_object().cloned().unwrap_or_default() {
                for code in ["400", "401", "403", "422", "429"] {
                    assert!(
                        op["responses"][code].is_object(),
                        "{method} {path} does not document {code}"
                    );
                }
                if path.contains('{') {
                    assert!(op["responses"]["404"].is_object(), "{method} {path}: 404");
                }
            }
        }
    }
}
