//! The hand-off inbox: conversations the bot handed over to people, replies
//! from the browser (through the outbox, like the bot's), and handing back.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::*;
use ombud_store::HandedOver;
use serde::Deserialize;

use super::complaints::{local, transcript, Line};
use super::login::FieldErrors;
use super::page::{html, html_with, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// The kind of a conversation's channel; WhatsApp's rules when it is gone.
pub(crate) async fn kind_of(
    state: &AppState,
    channel: &ChannelId,
) -> Result<ChannelKind, ombud_store::StoreError> {
    Ok(state
        .store
        .channel(channel)
        .await?
        .map_or(ChannelKind::Whatsapp, |c| c.kind()))
}

pub use ombud_core::conversation::{window, Window};

pub struct InboxRow {
    pub id: String,
    pub who: String,
    pub last: String,
    pub window: Window,
}

fn who(h: &HandedOver) -> String {
    ombud_core::conversation::person_label(h.contact_name.as_deref(), &h.contact_address)
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    rows: Vec<InboxRow>,
}

pub async fn list(State(state): State<AppState>, current: Current) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let now = state.engine.now();
    let tenant = &current.tenant;
    let mut rows = Vec::new();
    for h in state.store.handed_over(&tenant.id).await? {
        let kind = kind_of(&state, &h.conversation.channel_id).await?;
        rows.push(InboxRow {
            id: h.conversation.id.to_string(),
            who: who(&h),
            last: h
                .conversation
                .last_inbound_at
                .map(|t| local(tenant, t))
                .unwrap_or_default(),
            window: window(kind, h.conversation.last_inbound_at, now),
        });
    }
    Ok(html(&InboxPage {
        chrome: Chrome::of(&current, "inbox"),
        rows,
    }))
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    chrome: Chrome,
    id: String,
    who: String,
    handed_over: bool,
    window: Window,
    lines: Vec<Line>,
    draft: String,
    errors: FieldErrors,
    /// The sender's block in force, in words (None: not blocked).
    blocked: Option<String>,
}

async fn find(state: &AppState, tenant: &TenantId, id: &str) -> Result<HandedOver, PageError> {
    let id: ConversationId = id
        .parse()
        .map_err(|_| PageError::not_found("conversation"))?;
    state
        .store
        .conversation(tenant, &id)
        .await?
        .ok_or_else(|| PageError::not_found("conversation"))
}

async fn page(
    state: &AppState,
    current: &Current,
    h: HandedOver,
    draft: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let messages = state.store.messages(&tenant.id, &h.conversation.id).await?;
    let now = state.engine.now();
    let blocked = state
        .store
        .contact(&tenant.id, &h.conversation.contact_id)
        .await?
        .and_then(|c| {
            c.blocked(now)
                .map(|b| format!("Paused until {}: {}", local(tenant, b.until), b.reason))
        });
    Ok(html_with(
        status,
        &ConversationPage {
            chrome: Chrome::of(current, "inbox"),
            id: h.conversation.id.to_string(),
            who: who(&h),
            handed_over: h.conversation.state == ConversationState::Human,
            window: window(
                kind_of(state, &h.conversation.channel_id).await?,
                h.conversation.last_inbound_at,
                state.engine.now(),
            ),
            lines: transcript(
                tenant,
                messages,
                &super::complaints::actor_names(state, &tenant.id).await?,
            ),
            draft,
            errors,
            blocked,
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let h = find(&state, &current.tenant.id, &id).await?;
    page(
        &state,
        &current,
        h,
        String::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    body: String,
}

/// Sends a staff reply, unless the 24-hour window is closed (then it says why,
/// next to the reply box, and keeps the draft).
pub async fn reply(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let h = find(&state, &current.tenant.id, &id).await?;
    let sent = state
        .engine
        .ops()
        .staff_reply(&current.acting(), &current.tenant.id, &h, &form.body)
        .await;
    match sent {
        Ok(_) => {}
        Err(ombud_store::StoreError::Invalid(e)) => {
            // Every reason shows next to the reply box.
            let mut errors = FieldErrors::default();
            errors.add("body", e.reason);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return page(&state, &current, h, form.body, errors, status).await;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to(&format!("/app/inbox/{}", h.conversation.id)).into_response())
}

/// The bot answers again from the citizen's next message.
pub async fn hand_back(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let h = find(&state, &current.tenant.id, &id).await?;
    match state
        .engine
        .ops()
        .hand_back(&current.acting(), &current.tenant.id, &h)
        .await
    {
        // Handed back already (a second click): nothing to do.
        Ok(()) | Err(ombud_store::StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Redirect::to("/app/inbox").into_response())
}

#[derive(Deserialize)]
pub struct BlockForm {
    #[serde(default)]
    days: String,
    #[serde(default)]
    reason: String,
}

/// Pauses the channel for the conversation's sender (`ops::blocks`).
pub async fn block(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<BlockForm>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let h = find(&state, &current.tenant.id, &id).await?;
    let mut errors = FieldErrors::default();
    match form.days.trim().parse::<u32>() {
        Err(_) => errors.add("days", "must be a whole number of days, 1 to 90"),
        Ok(days) => {
            let blocked = state
                .engine
                .ops()
                .block_contact(
                    &current.acting(),
                    &current.tenant.id,
                    &h.conversation.contact_id,
                    days,
                    &form.reason,
                )
                .await;
            match blocked {
                Ok(_) => return Ok(Redirect::to(&format!("/app/inbox/{id}#pause")).into_response()),
                Err(ombud_store::StoreError::Invalid(e)) => {
                    errors.add(if e.field == "days" { "days" } else { "reason" }, e.reason)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    page(&state, &current, h, String::new(), errors, status).await
}

/// Ends the sender's pause now.
pub async fn unblock(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let h = find(&state, &current.tenant.id, &id).await?;
    state
        .engine
        .ops()
        .unblock_contact(
            &current.acting(),
            &current.tenant.id,
            &h.conversation.contact_id,
        )
        .await?;
    Ok(Redirect::to(&format!("/app/inbox/{id}#pause")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn the_window_is_24_hours_from_the_citizens_last_message() {
        let t0 = Utc::now();
        let open = window(ChannelKind::Whatsapp, Some(t0), t0 + Duration::hours(23));
        assert!(open.open && open.text.contains("1h 00m"), "{}", open.text);
        assert_eq!(open.closes_in_secs, Some(3600), "the page counts it down");
        let closed = window(ChannelKind::Whatsapp, Some(t0), t0 + Duration::hours(27));
        assert!(
            !closed.open && closed.text.contains("closed 3h ago"),
            "{}",
            closed.text
        );
        assert!(!window(ChannelKind::Whatsapp, None, t0).open);
        let telegram = window(ChannelKind::Telegram, Some(t0), t0 + Duration::hours(27));
        assert!(telegram.open, "{}", telegram.text);
        assert_eq!(telegram.closes_in_secs, None, "no window, no countdown");
        assert!(!window(ChannelKind::Webchat, None, t0).open);
    }
}
