//! The web chat, under `/channels/webchat/{channel_id}/`:
//! - `widget.js`: the script a tenant's site embeds; it draws a chat bubble;
//! - `POST visitors`: a new visitor and their token (rate-limited per address);
//! - `POST messages` `{text, client_id?}` with `Authorization: Bearer <token>`:
//!   stored durably, then answered 202 (rate-limited per visitor; a repeated
//!   `client_id` is a duplicate, so a retried send is stored once);
//! - `GET events?token=…`: the conversation as Server-Sent Events, the
//!   visitor's messages and the replies once the outbox hands them over, in
//!   order, resumable with `Last-Event-ID`.
//!
//! The messages go through the same queue, agents and outbox as any channel's.
//! Cross-origin calls are allowed from the channel's `allowed_origins` (any
//! site when it has none); the token, not a cookie, says who is writing.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use ombud_channels::webchat;
use ombud_core::{Channel, ChannelKind, ConversationId, DeliveryStatus, Direction, MessageId};
use ombud_store::{InboundBatch, InboundMessage};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use crate::dashboard::session::client_ip;
use crate::dashboard::DashboardSettings;
use crate::throttle::Throttle;
use crate::whatsapp::channel;
use crate::{ApiError, AppState};

mod photos;

/// New visitors per address and ten minutes; messages per visitor and minute.
pub const VISITORS_PER_ADDRESS: usize = 30;
pub const MESSAGES_PER_VISITOR: usize = 20;
/// Longest message a visitor may send, as long as a WhatsApp text.
const TEXT_MAX: usize = 4096;
/// How often a stream looks at the store when the bell did not ring (a reply
/// another replica sent), and how long one stream lasts before the browser
/// reconnects where it left off.
const POLL: Duration = Duration::from_secs(1);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
const STREAM_LIFETIME: Duration = Duration::from_secs(10 * 60);

struct Limits {
    settings: DashboardSettings,
    visitors: Throttle,
    messages: Throttle,
}

impl Limits {
    /// Counts a message (text or photo) from `visitor`, or refuses it with
    /// 429 once they have sent too many this minute.
    fn message_from(&self, visitor: &str) -> Result<(), ApiError> {
        let keys = [format!("webchat:{visitor}")];
        let now = Instant::now();
        self.messages
            .check(&keys, now)
            .map_err(|wait| too_many(wait, "messages"))?;
        self.messages.record(&keys, now);
        Ok(())
    }
}

pub fn router(settings: DashboardSettings) -> Router<AppState> {
    let limits = Arc::new(Limits {
        settings,
        visitors: Throttle::new(VISITORS_PER_ADDRESS, Duration::from_secs(600), 100_000),
        messages: Throttle::new(MESSAGES_PER_VISITOR, Duration::from_secs(60), 100_000),
    });
    Router::new()
        .route("/channels/webchat/{channel_id}/widget.js", get(widget))
        .route(
            "/channels/webchat/{channel_id}/visitors",
            post(new_visitor).options(preflight),
        )
        .route(
            "/channels/webchat/{channel_id}/messages",
            post(send).options(preflight),
        )
        .route(
            "/channels/webchat/{channel_id}/photos",
            post(photos::send_photo).options(preflight),
        )
        .route(
            "/channels/webchat/{channel_id}/events",
            get(events).options(preflight),
        )
        .layer(Extension(limits))
}

async fn webchat_channel(state: &AppState, id: &str) -> Result<Arc<Channel>, ApiError> {
    channel(state, id, ChannelKind::Webchat).await
}

/// The CORS headers for a call from `Origin`, or 403 when the channel names
/// its sites and this is not one. Calls without an Origin (not from a
/// browser page) need none.
fn cors(
    channel: &Channel,
    headers: &HeaderMap,
) -> Result<Vec<(header::HeaderName, HeaderValue)>, ApiError> {
    let allowed = channel
        .webchat()
        .map(|w| w.allowed_origins.as_slice())
        .unwrap_or_default();
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(Vec::new());
    };
    let allow = if allowed.is_empty() {
        HeaderValue::from_static("*")
    } else if allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        HeaderValue::from_str(origin).map_err(|_| forbidden_origin())?
    } else {
        return Err(forbidden_origin());
    };
    Ok(vec![
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, allow),
        (header::VARY, HeaderValue::from_static("Origin")),
    ])
}

fn forbidden_origin() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        "this web chat may not be embedded on this site",
    )
    .field("Origin", "is not one of the channel's allowed origins")
}

fn with_headers(mut response: Response, extra: Vec<(header::HeaderName, HeaderValue)>) -> Response {
    response.headers_mut().extend(extra);
    response
}

async fn preflight(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let channel = webchat_channel(&state, &id).await?;
    let mut extra = cors(&channel, &headers)?;
    extra.push((
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    ));
    extra.push((
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, last-event-id"),
    ));
    extra.push((
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    ));
    Ok(with_headers(StatusCode::NO_CONTENT.into_response(), extra))
}

/// The visitor a request's token names: `Authorization: Bearer`, or `?token=`
/// for the event stream (a browser's EventSource sends no headers).
fn visitor(
    channel: &Channel,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<String, ApiError> {
    let token = crate::auth::bearer_token(headers).or(query);
    let key = channel
        .webchat()
        .map(|w| w.signing_key.expose())
        .unwrap_or_default();
    token
        .and_then(|t| webchat::visitor_of(channel, key, t.trim()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "visitor_token_invalid",
                "a visitor token from POST visitors is needed",
            )
            .field(
                "Authorization",
                "is missing, or not a token of this web chat",
            )
        })
}

/// The visitor's id for a message (a retried send repeats it), or a new
/// one.
fn client_id(given: Option<String>) -> Result<String, ApiError> {
    match given {
        Some(c)
            if (1..=64).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(c)
        }
        Some(_) => Err(ApiError::invalid(
            "client_id",
            "must be 1 to 64 characters A-Z, a-z, 0-9, - and _",
        )),
        None => Ok(MessageId::new().to_string()),
    }
}

fn too_many(wait: Duration, what: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many {what}; try again in {} s", wait.as_secs()),
    );
    e.retry_after = Some(wait.as_secs().max(1));
    e
}

async fn new_visitor(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    Path(id): Path<String>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let channel = webchat_channel(&state, &id).await?;
    let extra = cors(&channel, &parts.headers)?;
    let keys: Vec<String> = client_ip(&limits.settings, &parts)
        .map(|ip| vec![format!("webchat:{}:{ip}", channel.id)])
        .unwrap_or_default();
    let now = Instant::now();
    limits
        .visitors
        .check(&keys, now)
        .map_err(|wait| too_many(wait, "new visitors from this address"))?;
    limits.visitors.record(&keys, now);
    let key = channel
        .webchat()
        .map(|w| w.signing_key.expose())
        .unwrap_or_default();
    let (visitor, token) = webchat::new_visitor(&channel, key);
    let body = Json(json!({"visitor_id": visitor, "token": token}));
    Ok(with_headers(
        (StatusCode::CREATED, body).into_response(),
        extra,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    text: String,
    /// The widget's own id for the message, so a retried send is stored once.
    client_id: Option<String>,
    /// The id of the choice the visitor tapped (`text` is its title).
    payload: Option<String>,
    /// Where the visitor is, shared from their browser ("use my
    /// location"); `text` is what the chat shows for it.
    location: Option<VisitorLocation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitorLocation {
    latitude: f64,
    longitude: f64,
}

async fn send(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let channel = webchat_channel(&state, &id).await?;
    let extra = cors(&channel, &headers)?;
    let visitor = visitor(&channel, &headers, None)?;
    let body: MessageBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string())
            .field("body", "must be {\"text\": \"…\"}")
    })?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > TEXT_MAX || text.contains('\0') {
        return Err(ApiError::invalid(
            "text",
            format!("must be 1 to {TEXT_MAX} characters, without NUL"),
        ));
    }
    let client_id = client_id(body.client_id)?;
    let payload = match body.payload {
        Some(p)
            if (1..=ombud_core::choice::MAX_ID_BYTES).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Some(p)
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "payload",
                "must be 1 to 64 printable ASCII characters: the id of a choice",
            ))
        }
        None => None,
    };
    // A shared location travels as WhatsApp's and Telegram's do: a
    // location message whose payload is the pin.
    let (kind, payload) = match (body.location, payload) {
        (None, Some(p)) => (ombud_core::MessageKind::Interactive, Some(p)),
        (None, None) => (ombud_core::MessageKind::Text, None),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "location",
                "is sent alone, not with a choice's payload",
            ))
        }
        (Some(l), None) => {
            let pin = ombud_core::geo::SharedLocation {
                latitude: l.latitude,
                longitude: l.longitude,
                name: None,
                address: None,
            };
            if pin.point().is_none() {
                return Err(ApiError::invalid(
                    "location",
                    "must have a latitude from -90 to 90 and a longitude from -180 to 180",
                ));
            }
            (ombud_core::MessageKind::Location, Some(pin.to_payload()))
        }
    };
    limits.message_from(&visitor)?;
    let batch = InboundBatch {
        messages: vec![InboundMessage {
            from: visitor.clone(),
            profile_name: None,
            provider_id: format!("{visitor}:{client_id}"),
            kind,
            body: text.to_owned(),
            payload,
            sent_at: None,
            media: None,
        }],
        statuses: Vec::new(),
    };
    let outcome = state.engine.ingest(&channel, batch).await?;
    let body = Json(json!({"received": outcome.stored.len(), "duplicates": outcome.duplicates}));
    Ok(with_headers(
        (StatusCode::ACCEPTED, body).into_response(),
        extra,
    ))
}

#[derive(Deserialize)]
struct EventsQuery {
    token: Option<String>,
}

/// Where a stream resumes: after this message (`<micros>.<message id>`).
fn position(raw: &str) -> Option<(DateTime<Utc>, MessageId)> {
    let (micros, id) = raw.split_once('.')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, id.parse().ok()?))
}

async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let channel = webchat_channel(&state, &id).await?;
    let mut extra = cors(&channel, &headers)?;
    let visitor = visitor(&channel, &headers, q.token.as_deref())?;
    let after = match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        None | Some("") => None,
        Some(raw) => Some(position(raw).ok_or_else(|| {
            ApiError::invalid("Last-Event-ID", "is not an event id of this stream")
        })?),
    };
    let feed = Feed {
        bell: state.webchat_bell.subscribe(),
        closing: state.closing.clone(),
        state,
        channel,
        visitor,
        conversation: None,
        after,
        ready: VecDeque::from([Bytes::from_static(b"retry: 3000\n\n")]),
        started: Instant::now(),
        quiet_since: Instant::now(),
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let chunk = feed.next().await?;
        Some((Ok::<_, Infallible>(chunk), feed))
    });
    extra.extend([
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        ),
    ]);
    Ok(with_headers(
        Body::from_stream(stream).into_response(),
        extra,
    ))
}

/// One visitor's event stream.
struct Feed {
    state: AppState,
    channel: Arc<Channel>,
    visitor: String,
    conversation: Option<ConversationId>,
    after: Option<(DateTime<Utc>, MessageId)>,
    bell: watch::Receiver<u64>,
    closing: tokio_util::sync::CancellationToken,
    ready: VecDeque<Bytes>,
    started: Instant,
    quiet_since: Instant,
}

impl Feed {
    /// The next chunk to write; None ends the stream (the browser reconnects).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.ready.pop_front() {
                return Some(chunk);
            }
            if self.started.elapsed() > STREAM_LIFETIME || self.closing.is_cancelled() {
                return None;
            }
            match self.read().await {
                Ok(()) if !self.ready.is_empty() => {
                    self.quiet_since = Instant::now();
                    continue;
                }
                Ok(()) => {}
                Err(error) => {
                    tracing::warn!(channel = %self.channel.id, %error, "web chat stream could not read the conversation");
                }
            }
            if self.quiet_since.elapsed() >= KEEP_ALIVE {
                self.quiet_since = Instant::now();
                return Some(Bytes::from_static(b": keep-alive\n\n"));
            }
            // Woken by a reply this process handed over, or after POLL.
            tokio::select! {
                _ = self.bell.changed() => {}
                () = tokio::time::sleep(POLL) => {}
                () = self.closing.cancelled() => return None,
            }
        }
    }

    /// Queues what the store has after the stream's position, in order,
    /// stopping at a reply the outbox has not handed over yet.
    async fn read(&mut self) -> Result<(), ombud_store::StoreError> {
        let store = &self.state.store;
        let tenant = &self.channel.tenant_id;
        if self.conversation.is_none() {
            self.conversation = store
                .conversation_of_address(tenant, &self.channel.id, &self.visitor)
                .await?;
        }
        let Some(conversation) = &self.conversation else {
            return Ok(());
        };
        let page = store
            .message_page(tenant, conversation, self.after.clone(), 100)
            .await?;
        for m in page {
            let from = match (m.direction, m.status) {
                (Direction::Outbound, DeliveryStatus::Pending) => break,
                (Direction::Outbound, DeliveryStatus::Failed) => None,
                (Direction::Outbound, _) => Some("organisation"),
                (Direction::Inbound, _) => Some("visitor"),
            };
            let position = format!("{}.{}", m.created_at.timestamp_micros(), m.id);
            if let Some(from) = from {
                let data = json!({"id": m.id, "from": from, "text": m.body, "at": m.created_at, "choices": m.choices});
                self.ready.push_back(Bytes::from(format!(
                    "id: {position}\nevent: message\ndata: {data}\n\n"
                )));
            }
            self.after = Some((m.created_at, m.id));
        }
        Ok(())
    }
}

/// The widget, for `<script src=".../widget.js" async></script>`.
async fn widget(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let channel = webchat_channel(&state, &id).await?;
    let title = serde_json::to_string(&channel.name).unwrap_or_else(|_| "\"Chat\"".into());
    let greetings = channel
        .webchat()
        .and_then(|w| serde_json::to_string(&w.greetings).ok())
        .unwrap_or_else(|| "{}".into());
    let own: serde_json::Map<String, serde_json::Value> = OWN_GREETINGS
        .iter()
        .map(|(l, g)| ((*l).to_owned(), json!(g)))
        .collect();
    let script = WIDGET
        .replace("__CHANNEL__", channel.id.as_str())
        .replace("__TITLE__", &title)
        .replace("__GREETINGS__", &greetings)
        .replace(
            "__OWN_GREETINGS__",
            &serde_json::Value::Object(own).to_string(),
        );
    Ok((
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        script,
    )
        .into_response())
}

const WIDGET: &str = include_str!("widget.js");

/// What the widget says first when the office has set no greeting, by the
/// visitor's browser language (English for one not here).
pub const OWN_GREETINGS: [(&str, &str); 3] = [
    ("en", "Hello! Tell us what is wrong and where, and we will register your complaint and give you its number."),
    ("hi", "नमस्ते! बताइए क्या समस्या है और कहाँ, हम आपकी शिकायत दर्ज करके उसका नंबर देंगे।"),
    ("mr", "नमस्कार! काय अडचण आहे आणि कुठे ते सांगा, आम्ही तुमची तक्रार नोंदवून तिचा क्रमांक देऊ."),
];
