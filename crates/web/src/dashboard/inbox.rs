//! The hand-off inbox: conversations the bot handed over to people, replies
//! from the browser (through the outbox, like the bot's), and handing back.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_store::{HandedOver, InboxFilter};
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

pub use ombud_core::conversation::{staff_window, window, Window};

/// A row of the inbox list.
pub struct InboxRow {
    pub id: String,
    pub who: String,
    /// "WhatsApp", "Telegram", "Web chat".
    pub channel: String,
    /// The citizen's latest words, shortened.
    pub preview: String,
    pub last: String,
    pub unread: bool,
    /// In the hands of people (not the bot).
    pub with_people: bool,
    pub assignee: Option<String>,
    /// The conversation open beside the list.
    pub selected: bool,
}

/// The inbox's filter from its query (`?filter=`), "needs a person" unless
/// asked.
#[derive(Deserialize, Default)]
pub struct InboxQuery {
    filter: Option<String>,
}

impl InboxQuery {
    fn filter(&self) -> Result<InboxFilter, PageError> {
        match self.filter.as_deref() {
            None | Some("") => Ok(InboxFilter::NeedsPerson),
            Some(f) => InboxFilter::parse(f).ok_or_else(|| {
                PageError::bad_request("filter: must be needs-person, mine, unassigned or all")
            }),
        }
    }
}

/// The filters as links: (value, label, chosen).
fn filter_links(chosen: InboxFilter) -> Vec<(&'static str, &'static str, bool)> {
    InboxFilter::ALL
        .into_iter()
        .map(|f| (f.as_str(), f.label(), f == chosen))
        .collect()
}

/// Most characters of a message a row shows.
const PREVIEW_CHARS: usize = 90;

fn preview(body: Option<&str>) -> String {
    let body = body
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if body.chars().count() > PREVIEW_CHARS {
        let cut: String = body.chars().take(PREVIEW_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        body
    }
}

/// The list's rows; `names`: see `complaints::actor_names`.
async fn rows(
    state: &AppState,
    current: &Current,
    names: &HashMap<String, String>,
    filter: InboxFilter,
    selected: Option<&ConversationId>,
) -> Result<Vec<InboxRow>, PageError> {
    let tenant = &current.tenant;
    let items = state
        .store
        .inbox(&tenant.id, &current.user.id, filter)
        .await?;
    Ok(items
        .into_iter()
        .map(|item| {
            let c = &item.handed.conversation;
            InboxRow {
                id: c.id.to_string(),
                who: item.handed.person(),
                channel: item.channel_kind.label().to_owned(),
                preview: preview(item.preview.as_deref()),
                last: c
                    .last_inbound_at
                    .map(|t| local(tenant, t))
                    .unwrap_or_default(),
                unread: item.unread() && Some(&c.id) != selected,
                with_people: c.state == ConversationState::Human,
                assignee: item
                    .handed
                    .assignee_id
                    .as_ref()
                    .and_then(|u| names.get(&format!("user:{u}")).cloned()),
                selected: Some(&c.id) == selected,
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    rows: Vec<InboxRow>,
    filter: &'static str,
    filters: Vec<(&'static str, &'static str, bool)>,
    empty: &'static str,
}

fn empty_text(filter: InboxFilter) -> &'static str {
    match filter {
        InboxFilter::NeedsPerson => "No conversation is waiting for a person.",
        InboxFilter::Mine => "No conversation is assigned to you. Writing into one makes it yours.",
        InboxFilter::Unassigned => "Every conversation in people's hands has someone on it.",
        InboxFilter::All => "Nobody has written yet.",
    }
}

pub async fn list(
    State(state): State<AppState>,
    current: Current,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let filter = q.filter()?;
    Ok(html(&InboxPage {
        chrome: Chrome::of(&current, "inbox"),
        rows: rows(
            &state,
            &current,
            &super::complaints::actor_names(&state, &current.tenant.id).await?,
            filter,
            None,
        )
        .await?,
        filter: filter.as_str(),
        filters: filter_links(filter),
        empty: empty_text(filter),
    }))
}

/// A line of the thread: a message, or a staff note on one of the
/// citizen's complaints (seen by staff only).
pub struct ThreadLine {
    pub line: Line,
    /// The complaint a note is on (None: a message).
    pub note_on: Option<String>,
}

/// One of the citizen's complaints, beside the thread.
pub struct CitizenComplaint {
    pub number: String,
    pub status: ComplaintStatus,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    chrome: Chrome,
    id: String,
    who: String,
    address: String,
    channel: String,
    language: String,
    assignee: Option<String>,
    handed_over: bool,
    window: Window,
    thread: Vec<ThreadLine>,
    complaints: Vec<CitizenComplaint>,
    rows: Vec<InboxRow>,
    filter: &'static str,
    filters: Vec<(&'static str, &'static str, bool)>,
    empty: &'static str,
    draft: String,
    errors: FieldErrors,
    /// The sender's block in force, in words (None: not blocked).
    blocked: Option<String>,
    /// Staff closed the current session (the next message starts one).
    session_closed: bool,
    /// The person was erased: their address is a pseudonym.
    erased: bool,
}

pub(super) async fn find(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<HandedOver, PageError> {
    let id: ConversationId = id
        .parse()
        .map_err(|_| PageError::not_found("conversation"))?;
    state
        .store
        .conversation(tenant, &id)
        .await?
        .ok_or_else(|| PageError::not_found("conversation"))
}

/// Most of the citizen's complaints the page lists beside the thread.
const CITIZEN_COMPLAINTS: u32 = 10;

/// The messages, with the notes on the citizen's complaints between them
/// in time order; and the complaints.
async fn thread(
    state: &AppState,
    tenant: &Tenant,
    names: &HashMap<String, String>,
    h: &HandedOver,
) -> Result<(Vec<ThreadLine>, Vec<CitizenComplaint>), PageError> {
    let messages = state.store.messages(&tenant.id, &h.conversation.id).await?;
    let times: Vec<DateTime<Utc>> = messages.iter().map(|m| m.created_at).collect();
    let mut lines: Vec<(DateTime<Utc>, ThreadLine)> = times
        .into_iter()
        .zip(transcript(tenant, messages, names))
        .map(|(at, line)| {
            (
                at,
                ThreadLine {
                    line,
                    note_on: None,
                },
            )
        })
        .collect();
    let complaints = state
        .store
        .complaints_of_contact(
            &tenant.id,
            &h.conversation.contact_id,
            false,
            CITIZEN_COMPLAINTS,
        )
        .await?;
    for c in &complaints {
        for e in state.store.complaint_events(&tenant.id, &c.id).await? {
            if e.action != "note" {
                continue;
            }
            let line = Line {
                inbound: false,
                body: e.to_value.unwrap_or_default(),
                at: local(tenant, e.created_at),
                who: super::timeline::who(&e.actor, names),
                by_staff: true,
                new_session: None,
                media: None,
            };
            lines.push((
                e.created_at,
                ThreadLine {
                    line,
                    note_on: Some(c.number.to_string()),
                },
            ));
        }
    }
    lines.sort_by_key(|(at, _)| *at);
    let complaints = complaints
        .into_iter()
        .map(|c| CitizenComplaint {
            number: c.number.to_string(),
            status: c.status,
            summary: preview(Some(&c.description)),
        })
        .collect();
    Ok((lines.into_iter().map(|(_, l)| l).collect(), complaints))
}

pub(super) async fn page(
    state: &AppState,
    current: &Current,
    h: HandedOver,
    filter: InboxFilter,
    draft: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let now = state.engine.now();
    let contact = state
        .store
        .contact(&tenant.id, &h.conversation.contact_id)
        .await?;
    let blocked = contact.as_ref().and_then(|c| {
        c.blocked(now)
            .map(|b| format!("Paused until {}: {}", local(tenant, b.until), b.reason))
    });
    let channel = state.store.channel(&h.conversation.channel_id).await?;
    let kind = channel.as_ref().map_or(ChannelKind::Whatsapp, |c| c.kind());
    let last_inbound = h.conversation.last_inbound_at;
    let names = super::complaints::actor_names(state, &tenant.id).await?;
    let (thread, complaints) = thread(state, tenant, &names, &h).await?;
    // What the page shows is read now (a staff member's own replies aside).
    state
        .engine
        .ops()
        .mark_read(&tenant.id, &current.user.id, &h)
        .await?;
    state.live.tell(
        &tenant.id,
        super::live::Update::Read(current.user.id.clone()),
    );
    let rows = rows(state, current, &names, filter, Some(&h.conversation.id)).await?;
    Ok(html_with(
        status,
        &ConversationPage {
            chrome: Chrome::of(current, "inbox"),
            id: h.conversation.id.to_string(),
            who: h.person(),
            // A number to call on WhatsApp; a chat id or a visitor id is not one.
            address: if kind == ChannelKind::Whatsapp {
                h.contact_address.clone()
            } else {
                String::new()
            },
            channel: kind.label().to_owned(),
            language: h
                .contact_language
                .map(|l| super::complaints::language_name(&l).to_owned())
                .unwrap_or_else(|| "not known yet".into()),
            assignee: h
                .assignee_id
                .as_ref()
                .and_then(|u| names.get(&format!("user:{u}")).cloned()),
            handed_over: h.conversation.state == ConversationState::Human,
            window: match &channel {
                Some(c) => staff_window(c, last_inbound, now),
                None => window(kind, last_inbound, now),
            },
            thread,
            complaints,
            rows,
            filter: filter.as_str(),
            filters: filter_links(filter),
            empty: empty_text(filter),
            draft,
            errors,
            blocked,
            session_closed: h.conversation.session_closed_at.is_some(),
            erased: ombud_core::person::is_erased(&h.contact_address),
        },
    ))
}

pub async fn show(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let filter = q.filter()?;
    let h = find(&state, &current.tenant.id, &id).await?;
    page(
        &state,
        &current,
        h,
        filter,
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

/// Sends a staff reply (taking the conversation over from the bot if the
/// bot had it), unless the 24-hour window is closed (then it says why, next
/// to the reply box, and keeps the draft).
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
        .write_into(&current.acting(), &current.tenant.id, &h, &form.body, None)
        .await;
    match sent {
        Ok(_) => {}
        Err(ombud_store::StoreError::Invalid(e)) => {
            // Every reason shows next to the reply box.
            let mut errors = FieldErrors::default();
            errors.add("body", e.reason);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return page(
                &state,
                &current,
                h,
                InboxFilter::NeedsPerson,
                form.body,
                errors,
                status,
            )
            .await;
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

/// Ends the conversation's session: the citizen's next message starts a
/// new one, which the bot meets afresh.
pub async fn close_session(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let h = find(&state, &current.tenant.id, &id).await?;
    // Closed already (a second click): nothing changes.
    state
        .engine
        .ops()
        .close_session(&current.acting(), &current.tenant.id, &h)
        .await?;
    Ok(Redirect::to(&format!("/app/inbox/{}", h.conversation.id)).into_response())
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
