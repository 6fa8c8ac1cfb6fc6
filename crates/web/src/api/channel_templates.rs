//! `/api/v1/channels/{id}/templates`: a WhatsApp channel's message templates
//! — which approved template carries each notice outside the 24-hour window
//! (set by the tenant's admins), and what Meta holds for the business
//! account, as last synced (on demand here, and daily).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use ombud_core::template::{
    ButtonText, MappingText, NoticeKind, TemplateMapping, TemplateMappings, WaTemplate,
};
use ombud_core::*;
use ombud_engine::ops::templates::SyncError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::ApiJson;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_templates, set_templates))
        .routes(routes!(sync_templates))
}

/// How one notice goes out as a template.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingBody {
    /// The template's name at Meta (lowercase letters, digits, underscores).
    pub name: String,
    /// The languages it is approved in, as Meta codes them (`en_US`, `hi`);
    /// the first is used when the citizen's is not among them.
    #[schema(max_items = 20)]
    pub languages: Vec<String>,
    /// The body's `{{1}}`, `{{2}}`… in order: complaint_number, status_label,
    /// category, date, or message_text (a staff_message's words, which it
    /// must carry).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub body: Vec<String>,
    /// A text header's `{{1}}`.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub header: Vec<String>,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub buttons: Vec<ButtonBody>,
}

/// A button that takes a value: a quick reply's payload, or the value at
/// the end of a URL button.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonBody {
    /// quick_reply or url.
    #[serde(rename = "type")]
    pub kind: String,
    pub index: u8,
    /// quick_reply: what comes back when the citizen taps it.
    pub payload: Option<String>,
    /// url: complaint_number, status_label, category or date.
    pub value: Option<String>,
}

/// The mapping and Meta's business account id.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplatesBody {
    /// The WhatsApp Business Account the number belongs to (digits).
    pub waba_id: Option<String>,
    /// By notice: status_changed, validated, rejected, survey, reminder,
    /// staff_message (what a member writes once the window has closed).
    #[serde(default)]
    pub notices: std::collections::BTreeMap<String, MappingBody>,
}

/// A template as Meta holds it.
#[derive(Serialize, ToSchema)]
pub struct SyncedTemplate {
    pub name: String,
    pub language: String,
    /// APPROVED, PENDING, REJECTED, PAUSED, DISABLED…
    pub status: String,
    /// UTILITY, MARKETING or AUTHENTICATION.
    pub category: String,
    pub body: Option<String>,
}

/// A channel's templates.
#[derive(Serialize, ToSchema)]
pub struct TemplatesView {
    pub waba_id: Option<String>,
    pub notices: std::collections::BTreeMap<String, MappingBody>,
    /// Meta's, as last synced.
    pub templates: Vec<SyncedTemplate>,
}

/// What a sync found.
#[derive(Serialize, ToSchema)]
pub struct SyncView {
    pub synced: usize,
    #[serde(flatten)]
    pub view: TemplatesView,
}

fn view(channel: &Channel, synced: Vec<WaTemplate>) -> TemplatesView {
    let wa = channel.whatsapp();
    TemplatesView {
        waba_id: wa.and_then(|w| w.waba_id.clone()),
        notices: wa
            .map(|w| {
                w.templates
                    .iter()
                    .map(|(k, m)| (k.as_str().to_owned(), mapping_body(m)))
                    .collect()
            })
            .unwrap_or_default(),
        templates: synced
            .into_iter()
            .map(|t| SyncedTemplate {
                name: t.name,
                language: t.language,
                status: t.status,
                category: t.category,
                body: t.body,
            })
            .collect(),
    }
}

fn mapping_body(m: &TemplateMapping) -> MappingBody {
    let text = MappingText::from(m);
    MappingBody {
        name: text.name,
        languages: text.languages,
        body: text.body,
        header: text.header,
        buttons: text
            .buttons
            .into_iter()
            .map(|b| ButtonBody {
                kind: b.kind,
                index: b.index,
                payload: b.payload,
                value: b.value,
            })
            .collect(),
    }
}

/// The body as the core's mappings; a bad field is named.
fn mappings(
    notices: std::collections::BTreeMap<String, MappingBody>,
) -> Result<TemplateMappings, ApiError> {
    let mut out = TemplateMappings::new();
    for (kind, m) in notices {
        let field = format!("notices.{kind}");
        let kind = NoticeKind::parse(&kind).ok_or_else(|| {
            ApiError::invalid(&field, format!("is not a notice: {}", NoticeKind::names()))
        })?;
        let text = MappingText {
            name: m.name,
            languages: m.languages,
            body: m.body,
            header: m.header,
            buttons: m
                .buttons
                .into_iter()
                .map(|b| ButtonText {
                    kind: b.kind,
                    index: b.index,
                    payload: b.payload,
                    value: b.value,
                })
                .collect(),
        };
        let mapping = text
            .parse(kind, &field)
            .map_err(|v| ApiError::invalid(&v.field, v.reason))?;
        out.insert(kind, mapping);
    }
    Ok(out)
}

/// The tenant's WhatsApp channel named in the path.
async fn whatsapp_channel(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Channel, ApiError> {
    Ok(state
        .engine
        .ops()
        .whatsapp_channel(&caller.tenant.id, &channel_id(id)?)
        .await?)
}

fn channel_id(id: &str) -> Result<ChannelId, ApiError> {
    ChannelId::parse(id).map_err(|_| ApiError::not_found("WhatsApp channel"))
}

/// A WhatsApp channel's notice templates and Meta's templates as last synced.
#[utoipa::path(get, path = "/channels/{id}/templates", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = TemplatesView)),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn get_templates(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TemplatesView>, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let channel = whatsapp_channel(&state, &caller, &id).await?;
    let synced = state
        .store
        .wa_templates(&caller.tenant.id, &channel.id)
        .await?;
    Ok(Json(view(&channel, synced)))
}

/// Sets which approved template carries each notice outside the 24-hour
/// window, and the business account id the templates are read from (the
/// whole mapping: a notice left out has none).
#[utoipa::path(put, path = "/channels/{id}/templates", tag = "channels",
    params(("id" = String, Path)), request_body = TemplatesBody,
    responses((status = 200, body = TemplatesView)),
    security(("session" = [])))]
async fn set_templates(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TemplatesBody>,
) -> Result<Json<TemplatesView>, ApiError> {
    caller.require_admin()?;
    let id = channel_id(&id)?;
    let mappings = mappings(body.notices)?;
    let changed = state
        .engine
        .ops()
        .set_channel_templates(
            &caller.acting(),
            &caller.tenant.id,
            &id,
            body.waba_id,
            mappings,
        )
        .await?;
    let synced = state.store.wa_templates(&caller.tenant.id, &id).await?;
    Ok(Json(view(&changed, synced)))
}

/// Reads the business account's templates from the Graph API now (also done
/// daily). 502 if Meta could not be asked or refused.
#[utoipa::path(post, path = "/channels/{id}/templates/sync", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = SyncView)),
    security(("session" = [])))]
async fn sync_templates(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SyncView>, ApiError> {
    caller.require_admin()?;
    let channel = whatsapp_channel(&state, &caller, &id).await?;
    let synced = state
        .engine
        .ops()
        .sync_templates(Some(&caller.acting()), &caller.tenant.id, &channel.id)
        .await
        .map_err(|e| match e {
            SyncError::Store(e) => ApiError::from(e),
            SyncError::Graph(why) => ApiError::new(StatusCode::BAD_GATEWAY, "graph_error", why),
        })?;
    let templates = state
        .store
        .wa_templates(&caller.tenant.id, &channel.id)
        .await?;
    Ok(Json(SyncView {
        synced,
        view: view(&channel, templates),
    }))
}
