//! Conversations and their messages, a staff message into a handed-over
//! conversation, the tenant's conversation settings, and categories (read).
//! Contacts are `contacts.rs`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use ombud_core::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::extract::{created, limit, tagged, ApiJson, ApiQuery, Page};
use crate::dashboard::inbox::{kind_of, window};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(close_session))
        .routes(routes!(
            get_conversation_settings,
            set_conversation_settings
        ))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(list_categories))
}

#[derive(Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub channel_id: String,
    pub contact_id: String,
    /// bot, human (handed over to people) or closed.
    pub state: String,
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// Whether staff may write now: on WhatsApp, within 24 hours of the
    /// citizen's last message; on Telegram and the web chat, once they wrote.
    pub reply_window_open: bool,
    /// The current session (1, 2, …): a session ends after the tenant's
    /// quiet spell or when staff close it, and the citizen's next message
    /// starts the next one, which the agent meets afresh.
    pub session: i64,
    /// When staff closed the current session (null: open).
    pub session_closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ConversationView {
    /// `kind`: the conversation's channel's, for its reply window as of `now`.
    fn new(c: &Conversation, kind: ChannelKind, now: DateTime<Utc>) -> Self {
        Self {
            id: c.id.to_string(),
            channel_id: c.channel_id.to_string(),
            contact_id: c.contact_id.to_string(),
            state: c.state.as_str().to_owned(),
            last_inbound_at: c.last_inbound_at,
            reply_window_open: window(kind, c.last_inbound_at, now).open,
            session: c.session,
            session_closed_at: c.session_closed_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub conversation_id: String,
    /// inbound or outbound.
    pub direction: String,
    pub kind: String,
    pub body: String,
    /// pending, sent, delivered, read, failed (outbound); received (inbound).
    pub status: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Inbound: the id of the reply button the citizen tapped (`body` is its
    /// title).
    pub payload: Option<String>,
    /// Outbound: the reply buttons offered, as `[id, title]` pairs.
    pub choices: Option<Vec<[String; 2]>>,
    /// The conversation's session it belongs to.
    pub session: i64,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            conversation_id: m.conversation_id.to_string(),
            direction: m.direction.as_str().to_owned(),
            kind: m.kind.as_str().to_owned(),
            body: m.body.clone(),
            status: m.status.as_str().to_owned(),
            error: m.error.clone(),
            created_at: m.created_at,
            payload: m.payload.clone(),
            choices: m.choices.as_ref().map(|c| {
                c.options
                    .iter()
                    .map(|o| [o.id.clone(), o.title.clone()])
                    .collect()
            }),
            session: m.session,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CategoryView {
    pub id: String,
    pub slug: String,
    /// Names by language code.
    pub names: std::collections::BTreeMap<String, String>,
    pub keywords: Vec<String>,
    pub default_priority: String,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryList {
    pub data: Vec<CategoryView>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationParams {
    /// bot, human or closed.
    pub state: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffMessage {
    /// Sent to the citizen as the organisation (at most 4096 characters).
    #[schema(min_length = 1, max_length = 4096)]
    pub body: String,
}

pub(super) fn bad_cursor() -> ApiError {
    ApiError::invalid("cursor", "is not a cursor from this list")
}

async fn conversation(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ombud_store::HandedOver, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let id: ConversationId = id
        .parse()
        .map_err(|_| ApiError::not_found("conversation"))?;
    state
        .store
        .conversation(&caller.tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation"))
}

/// The tenant's conversations, newest first.
#[utoipa::path(get, path = "/conversations", tag = "conversations", params(ConversationParams),
    responses((status = 200, body = Page<ConversationView>)),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn list_conversations(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ConversationParams>,
) -> Result<Json<Page<ConversationView>>, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let limit = limit(q.limit)?;
    let wanted = q
        .state
        .as_deref()
        .map(|s| {
            ConversationState::parse(s)
                .ok_or_else(|| ApiError::invalid("state", "must be bot, human or closed"))
        })
        .transpose()?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| c.parse::<ConversationId>().map_err(|_| bad_cursor()))
        .transpose()?;
    let rows = state
        .store
        .conversation_page(&caller.tenant.id, wanted, before.as_ref(), limit + 1)
        .await?;
    let page = Page::of(rows, limit, |c| c.id.to_string());
    let mut data = Vec::with_capacity(page.data.len());
    for c in &page.data {
        data.push(ConversationView::new(
            c,
            kind_of(&state, &c.channel_id).await?,
            state.engine.now(),
        ));
    }
    Ok(Json(Page {
        data,
        next_cursor: page.next_cursor,
    }))
}

/// One conversation, with an ETag.
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 200, body = ConversationView, headers(("ETag" = String))), (status = 304, description = "Not modified")),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn get_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let h = conversation(&state, &caller, &id).await?;
    let kind = kind_of(&state, &h.conversation.channel_id).await?;
    Ok(tagged(
        &headers,
        &ConversationView::new(&h.conversation, kind, state.engine.now()),
    ))
}

/// The conversation's messages, oldest first.
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = Page<MessageView>)),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<Page<MessageView>>, ApiError> {
    let h = conversation(&state, &caller, &id).await?;
    let limit = limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            let (micros, id) = c.split_once('.').ok_or_else(bad_cursor)?;
            let at = micros
                .parse::<i64>()
                .ok()
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(bad_cursor)?;
            Ok::<_, ApiError>((at, id.parse::<MessageId>().map_err(|_| bad_cursor())?))
        })
        .transpose()?;
    let rows = state
        .store
        .message_page(&caller.tenant.id, &h.conversation.id, after, limit + 1)
        .await?;
    let page = Page::of(rows, limit, |m| {
        format!("{}.{}", m.created_at.timestamp_micros(), m.id)
    });
    Ok(Json(Page {
        data: page.data.iter().map(MessageView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Sends a staff message into a conversation handed over to people, while
/// WhatsApp's 24-hour window is open.
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "conversations", request_body = StaffMessage,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = MessageView)),
    security(("api_key" = ["conversations:write"]), ("session" = [])))]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StaffMessage>,
) -> Result<Response, ApiError> {
    caller.require(Scope::ConversationsWrite)?;
    let h = conversation(&state, &caller, &id).await?;
    let id = state
        .engine
        .ops()
        .staff_reply(&caller.acting(), &caller.tenant.id, &h, &body.body)
        .await?;
    // Queued in the outbox with this id; its status moves as WhatsApp reports.
    let sent = MessageView {
        id: id.to_string(),
        conversation_id: h.conversation.id.to_string(),
        direction: Direction::Outbound.as_str().to_owned(),
        kind: MessageKind::Text.as_str().to_owned(),
        body: body.body.trim().to_owned(),
        status: DeliveryStatus::Pending.as_str().to_owned(),
        error: None,
        created_at: state.engine.now(),
        payload: None,
        choices: None,
        session: h.conversation.session,
    };
    Ok(created(
        format!("/api/v1/conversations/{}/messages", h.conversation.id),
        sent,
    ))
}

/// Ends the conversation's current session: the citizen's next message
/// starts a new one, which the agent meets afresh (a conversation in the
/// hands of people goes back to the bot). Closing a closed session changes
/// nothing.
#[utoipa::path(post, path = "/conversations/{id}/close", tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 200, body = ConversationView)),
    security(("api_key" = ["conversations:write"]), ("session" = [])))]
async fn close_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    caller.require(Scope::ConversationsWrite)?;
    let h = conversation(&state, &caller, &id).await?;
    state
        .engine
        .ops()
        .close_session(&caller.acting(), &caller.tenant.id, &h)
        .await?;
    let h = conversation(&state, &caller, &id).await?;
    let kind = kind_of(&state, &h.conversation.channel_id).await?;
    Ok(Json(ConversationView::new(
        &h.conversation,
        kind,
        state.engine.now(),
    )))
}

/// The tenant's choices about its conversations.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationSettingsBody {
    /// Hours of quiet (1 to 2160) after which a citizen's next message
    /// starts a new session; null follows the operator's default.
    #[schema(minimum = 1, maximum = 2160)]
    pub session_idle_hours: Option<u32>,
    /// Days after which messages' words are removed by the retention sweep
    /// (0: kept for ever); null follows the operator's default (which
    /// keeps them unless the operator chose otherwise).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 36500)]
    pub message_bodies_days: Option<u32>,
    /// Days after which messages themselves are deleted by the retention
    /// sweep, with their sends and the agent's runs on them; complaints
    /// stay (0: kept for ever); null follows the operator's default (which
    /// keeps them unless the operator chose otherwise).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 36500)]
    pub messages_days: Option<u32>,
    /// The operator's default (read only: ignored when sent).
    #[serde(default)]
    #[schema(read_only)]
    pub default_session_idle_hours: i64,
}

impl ConversationSettingsBody {
    fn of(s: conversation::ConversationSettings, default: SessionIdle) -> Self {
        Self {
            session_idle_hours: s.session_idle_hours,
            message_bodies_days: s.message_bodies_days,
            messages_days: s.messages_days,
            default_session_idle_hours: default.as_hours(),
        }
    }
}

/// The tenant's conversation settings: when a session ends.
#[utoipa::path(get, path = "/settings/conversations", tag = "conversations",
    responses((status = 200, body = ConversationSettingsBody)),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn get_conversation_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ConversationSettingsBody>, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let ops = state.engine.ops();
    let s = ops.conversation_settings(&caller.tenant.id).await?;
    Ok(Json(ConversationSettingsBody::of(
        s,
        ops.default_session_idle(),
    )))
}

/// Sets when a session ends (admins).
#[utoipa::path(put, path = "/settings/conversations", tag = "conversations",
    request_body = ConversationSettingsBody,
    responses((status = 200, body = ConversationSettingsBody)),
    security(("session" = [])))]
async fn set_conversation_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ConversationSettingsBody>,
) -> Result<Json<ConversationSettingsBody>, ApiError> {
    caller.require_admin()?;
    let ops = state.engine.ops();
    let settings = conversation::ConversationSettings {
        session_idle_hours: body.session_idle_hours,
        message_bodies_days: body.message_bodies_days,
        messages_days: body.messages_days,
    };
    let s = ops
        .set_conversation_settings(&caller.acting(), &caller.tenant.id, settings)
        .await?;
    Ok(Json(ConversationSettingsBody::of(
        s,
        ops.default_session_idle(),
    )))
}

/// The tenant's complaint categories.
#[utoipa::path(get, path = "/categories", tag = "categories",
    responses((status = 200, body = CategoryList)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn list_categories(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<CategoryList>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let all = state.store.categories(&caller.tenant.id).await?;
    Ok(Json(CategoryList {
        data: all
            .iter()
            .map(|c| CategoryView {
                id: c.id.to_string(),
                slug: c.slug.clone(),
                names: c.names.clone(),
                keywords: c.keywords.clone(),
                default_priority: c.default_priority.as_str().to_owned(),
            })
            .collect(),
    }))
}
