//! `/api/v1/channels`: a tenant's channels, read with `conversations:read`,
//! connected by its admins signed in (no key scope reaches channel
//! credentials, as none reaches API keys). A channel's provider URL must be
//! the provider's public API or a host the operator allows; the answer never
//! holds a credential, except a Telegram bot's secret token once.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_engine::provision::ProvisionError;
use ombud_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::{created, ApiJson};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel))
        .routes(routes!(set_webchat))
}

/// A channel, without its credentials.
#[derive(Serialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    /// whatsapp, telegram or webchat.
    pub kind: String,
    pub name: String,
    /// A WhatsApp channel's number id at Meta.
    pub phone_number_id: Option<String>,
    /// A Telegram channel's bot id.
    pub bot_id: Option<String>,
    /// Where Meta or Telegram delivers this channel's webhooks, or a web
    /// chat's widget script (a path on this server).
    pub webhook_path: String,
    pub deployed_version_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// A web chat's sites that may embed it (empty: any).
    pub allowed_origins: Option<Vec<String>>,
    /// A web chat's greetings by language code (empty: Ombud's own).
    pub greetings: Option<BTreeMap<String, String>>,
}

impl From<&Channel> for ChannelView {
    fn from(c: &Channel) -> Self {
        Self {
            id: c.id.to_string(),
            kind: c.kind().as_str().to_owned(),
            name: c.name.clone(),
            phone_number_id: c.whatsapp().map(|w| w.phone_number_id.clone()),
            bot_id: c.telegram().map(|t| t.bot_id().to_owned()),
            webhook_path: c.webhook_path(),
            deployed_version_id: c.deployed_version.as_ref().map(|v| v.to_string()),
            created_at: c.created_at,
            allowed_origins: c.webchat().map(|w| w.allowed_origins.clone()),
            greetings: c.webchat().map(|w| {
                w.greetings
                    .iter()
                    .map(|(l, g)| (l.to_string(), g.clone()))
                    .collect()
            }),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ChannelList {
    pub data: Vec<ChannelView>,
}

/// A channel to connect. Which fields it takes depends on `kind`; one that
/// does not apply to the kind is refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannelBody {
    /// whatsapp, telegram or webchat.
    pub kind: String,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// WhatsApp: the number's id in Meta's console (digits).
    pub phone_number_id: Option<String>,
    /// WhatsApp: the app secret Meta signs webhooks with.
    pub app_secret: Option<String>,
    /// WhatsApp: the token Meta's webhook verification must echo.
    pub verify_token: Option<String>,
    /// WhatsApp: the access token for sending.
    pub access_token: Option<String>,
    /// WhatsApp: default https://graph.facebook.com; another host only if
    /// the operator allows it (`outbound.provider_hosts`).
    pub graph_url: Option<String>,
    /// WhatsApp: the Graph API version, default v23.0.
    pub api_version: Option<String>,
    /// Telegram: the bot's token from @BotFather.
    pub bot_token: Option<String>,
    /// Telegram: the secret Telegram sends back with every update; made for
    /// you when absent, and shown in the answer this once.
    pub secret_token: Option<String>,
    /// Telegram: default https://api.telegram.org; another host only if the
    /// operator allows it.
    pub api_url: Option<String>,
    /// Web chat: the sites that may embed it (empty: any).
    #[schema(max_items = 50)]
    pub allowed_origins: Option<Vec<String>>,
}

/// The new channel; a Telegram bot's `secret_token` (for `setWebhook`) is
/// in the answer this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedChannel {
    pub channel: ChannelView,
    pub secret_token: Option<String>,
}

/// The tenant's channels, without credentials.
#[utoipa::path(get, path = "/channels", tag = "channels",
    responses((status = 200, body = ChannelList)),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn list_channels(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ChannelList>, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let all = state.store.channels(&caller.tenant.id).await?;
    Ok(Json(ChannelList {
        data: all.iter().map(ChannelView::from).collect(),
    }))
}

/// One channel, without credentials.
#[utoipa::path(get, path = "/channels/{id}", tag = "channels",
    params(("id" = String, Path)),
    responses((status = 200, body = ChannelView)),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn get_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let id = ChannelId::parse(&id).map_err(|_| ApiError::not_found("channel"))?;
    let channel = state
        .store
        .channel(&id)
        .await?
        .filter(|c| c.tenant_id == caller.tenant.id)
        .ok_or_else(|| ApiError::not_found("channel"))?;
    Ok(Json(ChannelView::from(channel.as_ref())))
}

/// A web chat's sites and greetings (the whole of both).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebchatBody {
    /// The sites that may embed it, as origins (`https://example.org`);
    /// empty: any.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub allowed_origins: Vec<String>,
    /// What the widget says first, by language code (`en`, `hi`, `mr`), up
    /// to 500 characters each. The visitor's browser language picks one,
    /// else `en`; none: Ombud's own greeting in the visitor's language.
    #[serde(default)]
    pub greetings: BTreeMap<String, String>,
}

/// Sets a web chat's sites and greetings (audited `channel.webchat_set`).
#[utoipa::path(put, path = "/channels/{id}/webchat", tag = "channels",
    params(("id" = String, Path)), request_body = WebchatBody,
    responses((status = 200, body = ChannelView)),
    security(("session" = [])))]
async fn set_webchat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WebchatBody>,
) -> Result<Json<ChannelView>, ApiError> {
    caller.require_admin()?;
    let id = ChannelId::parse(&id).map_err(|_| ApiError::not_found("web chat channel"))?;
    limits::at_most("greetings", body.greetings.len(), limits::GREETINGS)
        .map_err(|v| ApiError::invalid(&v.field, v.reason))?;
    let mut greetings = BTreeMap::new();
    for (code, text) in body.greetings {
        let language = Language::parse(&code)
            .map_err(|v| ApiError::invalid(&format!("greetings.{code}"), v.reason))?;
        greetings.insert(language, text);
    }
    let settings = ombud_engine::ops::channels::WebchatSettings {
        allowed_origins: body.allowed_origins,
        greetings,
    };
    let changed = state
        .engine
        .ops()
        .set_webchat(&caller.acting(), &caller.tenant.id, &id, settings)
        .await?;
    Ok(Json(ChannelView::from(&changed)))
}

/// Connects a channel, answered by the tenant's latest intake version.
#[utoipa::path(post, path = "/channels", tag = "channels", request_body = NewChannelBody,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = CreatedChannel)),
    security(("session" = [])))]
async fn create_channel(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewChannelBody>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
    }
    let config = channel_config(body)?;
    let secret_token = config_secret_token(&config);
    let added = state
        .engine
        .ops()
        .add_channel(&caller.acting(), &caller.tenant.slug, name, config)
        .await;
    let channel = match added {
        Ok((_, channel)) => channel,
        Err(ProvisionError::Invalid(v)) => return Err(ApiError::invalid(&v.field, v.reason)),
        Err(ProvisionError::Store(e)) => return Err(e.into()),
        Err(e @ ProvisionError::NoTenant(_)) => return Err(StoreError::internal(e).into()),
    };
    Ok(created(
        format!("/api/v1/channels/{}", channel.id),
        CreatedChannel {
            channel: ChannelView::from(&channel),
            secret_token,
        },
    ))
}

fn config_secret_token(config: &ChannelConfig) -> Option<String> {
    match config {
        ChannelConfig::Telegram(t) => Some(t.secret_token.expose().to_owned()),
        _ => None,
    }
}

/// The body as a channel configuration of its kind: a field the kind needs
/// and lacks, or one it does not take, is named.
fn channel_config(body: NewChannelBody) -> Result<ChannelConfig, ApiError> {
    let kind = ChannelKind::parse(&body.kind)
        .ok_or_else(|| ApiError::invalid("kind", "must be whatsapp, telegram or webchat"))?;
    let given = |field: &'static str, value: &Option<String>| -> Option<&'static str> {
        value.as_ref().map(|_| field)
    };
    let whatsapp_only = [
        given("phone_number_id", &body.phone_number_id),
        given("app_secret", &body.app_secret),
        given("verify_token", &body.verify_token),
        given("access_token", &body.access_token),
        given("graph_url", &body.graph_url),
        given("api_version", &body.api_version),
    ];
    let telegram_only = [
        given("bot_token", &body.bot_token),
        given("secret_token", &body.secret_token),
        given("api_url", &body.api_url),
    ];
    let webchat_only = [body.allowed_origins.as_ref().map(|_| "allowed_origins")];
    let foreign: Vec<Option<&'static str>> = match kind {
        ChannelKind::Whatsapp => [&telegram_only[..], &webchat_only[..]].concat(),
        ChannelKind::Telegram => [&whatsapp_only[..], &webchat_only[..]].concat(),
        ChannelKind::Webchat => [&whatsapp_only[..], &telegram_only[..]].concat(),
    };
    if let Some(field) = foreign.into_iter().flatten().next() {
        return Err(ApiError::invalid(
            field,
            format!("does not apply to a {} channel", kind.as_str()),
        ));
    }
    let needed = |field: &str, value: Option<String>| {
        value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::invalid(field, "is needed"))
    };
    Ok(match kind {
        ChannelKind::Whatsapp => ChannelConfig::Whatsapp(WhatsAppConfig {
            phone_number_id: needed("phone_number_id", body.phone_number_id)?,
            app_secret: Secret::new(needed("app_secret", body.app_secret)?),
            verify_token: Secret::new(needed("verify_token", body.verify_token)?),
            access_token: Secret::new(needed("access_token", body.access_token)?),
            graph_url: body
                .graph_url
                .unwrap_or_else(|| WhatsAppConfig::DEFAULT_GRAPH_URL.into()),
            api_version: body
                .api_version
                .unwrap_or_else(|| WhatsAppConfig::DEFAULT_API_VERSION.into()),
            waba_id: None,
            templates: Default::default(),
        }),
        ChannelKind::Telegram => ChannelConfig::Telegram(TelegramConfig {
            bot_token: Secret::new(needed("bot_token", body.bot_token)?),
            secret_token: Secret::new(body.secret_token.unwrap_or_else(id::new_id_body)),
            api_url: body
                .api_url
                .unwrap_or_else(|| TelegramConfig::DEFAULT_API_URL.into()),
        }),
        ChannelKind::Webchat => ChannelConfig::Webchat(WebchatConfig {
            signing_key: Secret::new(format!("{}{}", id::new_id_body(), id::new_id_body())),
            allowed_origins: body
                .allowed_origins
                .unwrap_or_default()
                .iter()
                .flat_map(|o| WebchatConfig::origins_from(o))
                .collect(),
            greetings: Default::default(),
        }),
    })
}
