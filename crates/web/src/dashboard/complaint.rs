//! One complaint's page: its facts, conversation and history, and what staff
//! do there: the one edit form (saved together), an internal note, and a
//! message to the citizen.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::*;
use ombud_store::ComplaintChange;
use serde::Deserialize;

use super::complaints::{
    actor_names, category_options, find, language_name, local, member_options, notify_alert,
    parse_change, transcript, Line,
};
use super::login::FieldErrors;
use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use crate::AppState;

#[derive(Template)]
#[template(path = "complaint.html")]
struct DetailPage {
    chrome: Chrome,
    c: Complaint,
    created: String,
    category: String,
    assignee: String,
    allowed: &'static [ComplaintStatus],
    priorities: &'static [Priority],
    categories: Vec<(String, String)>,
    members: Vec<(String, String)>,
    transcript: Vec<Line>,
    /// What the live stream updates its conversation for.
    live_topics: String,
    timeline: Vec<super::timeline::Moment>,
    notify_alert: Option<String>,
    /// The latest satisfaction survey's answer, in words.
    rating: Option<String>,
    /// The photos and voice notes the citizen sent with it.
    photos: Vec<super::complaints::MediaLine>,
    /// Its service-level deadlines, in words: (what, when and how it went).
    deadlines: Vec<(&'static str, String)>,
    /// The area catalogue as (slug, name); empty: areas are free text.
    areas: Vec<(String, String)>,
    /// The complaint's area and team as staff read them.
    area: String,
    team: String,
    /// The language it is handled in, by name.
    language: &'static str,
    /// The channel it came from, by name and kind; empty: none.
    channel: String,
    /// Who filed it, by name and number (None: nobody on a channel).
    citizen: Option<String>,
    /// Writing to the citizen (None: the complaint came from no
    /// conversation).
    reply: Option<ReplyBox>,
    /// What the last save changed, in words (the confirmation).
    saved: Vec<String>,
    /// A save that changed nothing.
    saved_nothing: bool,
    /// A message to the citizen was queued.
    sent_reply: bool,
    /// The save moved the status, which the citizen is told of.
    saved_told: bool,
    errors: FieldErrors,
}

/// The box for writing to a complaint's citizen.
struct ReplyBox {
    window: ombud_core::conversation::Window,
    /// People have the conversation (else writing takes it from the bot).
    with_people: bool,
    conversation: String,
    /// What was written, kept when it could not be sent.
    draft: String,
}

impl DetailPage {
    fn is_category(&self, id: &str) -> bool {
        self.c
            .category_id
            .as_ref()
            .is_some_and(|c| c.as_str() == id)
    }

    fn is_assignee(&self, id: &str) -> bool {
        self.c
            .assignee_id
            .as_ref()
            .is_some_and(|u| u.as_str() == id)
    }
}

#[derive(Deserialize)]
pub struct DetailQuery {
    /// After a save: the fields it changed, comma-separated ("" for none).
    saved: Option<String>,
}

/// A citizen's photo or voice note, for staff of its tenant only.
pub async fn attachment(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    match crate::attachments::load(&state, &current.tenant.id, &id).await {
        Ok((attachment, bytes)) => Ok(crate::attachments::response(&attachment, bytes)),
        Err(crate::attachments::Unserved::NotFound) => {
            Err(PageError::not_found("photo or voice note"))
        }
        Err(crate::attachments::Unserved::Broken(reason)) => {
            tracing::error!(%reason, "could not read an attachment");
            Err(PageError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The stored photo could not be read just now; try again.",
            ))
        }
    }
}

pub async fn detail(
    State(state): State<AppState>,
    current: Current,
    Path(key): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let c = find(&state, &current.tenant.id, &key).await?;
    let errors = FieldErrors::default();
    let saved = q.saved.as_deref();
    detail_page(&state, &current, c, (errors, saved), StatusCode::OK).await
}

async fn detail_page(
    state: &AppState,
    current: &Current,
    c: Complaint,
    (errors, saved): (FieldErrors, Option<&str>),
    status: StatusCode,
) -> Result<Response, PageError> {
    detail_with_draft(state, current, c, (errors, saved, None), status).await
}

/// [`detail_page`] with a draft kept in the box for writing to the citizen.
async fn detail_with_draft(
    state: &AppState,
    current: &Current,
    c: Complaint,
    (errors, saved, draft): (FieldErrors, Option<&str>, Option<&str>),
    status: StatusCode,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let store = &state.store;
    let categories = store.categories(&tenant.id).await?;
    let members = store.members(&tenant.id).await?;
    let events = store.complaint_events(&tenant.id, &c.id).await?;
    let messages = match &c.conversation_id {
        Some(conversation) => store.messages(&tenant.id, conversation).await?,
        None => Vec::new(),
    };
    let names = actor_names(state, &tenant.id).await?;
    let category_name = |id: Option<&str>| {
        categories
            .iter()
            .find(|cat| Some(cat.id.as_str()) == id)
            .map(|cat| cat.name_in(&tenant.default_language).to_owned())
            .unwrap_or_else(|| "none".into())
    };
    let member_name = |id: Option<&str>| {
        id.and_then(|id| names.get(&format!("user:{id}")).cloned())
            .unwrap_or_else(|| "nobody".into())
    };
    let routing = state.engine.ops().routing(&tenant.id).await?;
    let lang = tenant.default_language.as_str();
    let area_name = |a: &str| routing.areas.label(a, lang).to_owned();
    let team_name = |t: &str| routing.team(t).map_or_else(|| t.to_owned(), |t| t.name);
    let timeline = super::timeline::moments(
        tenant,
        &events,
        &names,
        &category_name,
        &member_name,
        &area_name,
        &team_name,
    );
    let area = c.area.as_deref().map_or("—".to_owned(), |a| {
        routing.areas.label(a, lang).to_owned()
    });
    let team = c
        .team
        .as_deref()
        .map(|t| routing.team(t).map_or_else(|| t.to_owned(), |t| t.name))
        .unwrap_or_default();
    let channel = match &c.channel_id {
        Some(id) => store
            .channel(id)
            .await?
            .filter(|ch| ch.tenant_id == tenant.id),
        None => None,
    };
    let channel_name = channel.as_ref().map_or_else(String::new, |ch| {
        let kind = ombud_core::conversation::kind_name(ch.kind());
        match ch.name.eq_ignore_ascii_case(kind) {
            true => kind.to_owned(),
            false => format!("{} ({kind})", ch.name),
        }
    });
    // Where the citizen can be written to: the conversation's window, and
    // whether people have it already.
    let conversation = match &c.conversation_id {
        Some(id) => store.conversation(&tenant.id, id).await?,
        None => None,
    };
    let citizen = conversation.as_ref().map(|h| h.person());
    let reply = match (&conversation, &channel) {
        (Some(h), Some(ch)) => Some(ReplyBox {
            window: ombud_core::conversation::staff_window(
                ch,
                h.conversation.last_inbound_at,
                state.engine.now(),
            ),
            with_people: h.conversation.state == ConversationState::Human,
            conversation: h.conversation.id.to_string(),
            draft: draft.unwrap_or_default().to_owned(),
        }),
        _ => None,
    };
    let saved_words: Vec<String> = saved
        .unwrap_or_default()
        .split(',')
        .filter_map(|field| {
            let value = match field {
                "status" => c.status.as_str().replace('_', " "),
                "priority" => c.priority.as_str().to_owned(),
                "category" => category_name(c.category_id.as_ref().map(|c| c.as_str())),
                "assignee" => member_name(c.assignee_id.as_ref().map(|u| u.as_str())),
                "area" => area.clone(),
                _ => return None,
            };
            Some(format!("{field}: {value}"))
        })
        .collect();
    let page = DetailPage {
        chrome: Chrome::of(current, "complaints"),
        language: language_name(&c.language),
        channel: channel_name,
        citizen,
        reply,
        sent_reply: saved == Some("reply"),
        saved_nothing: saved.is_some_and(|s| s != "reply") && saved_words.is_empty(),
        saved_told: c.conversation_id.is_some()
            && saved_words.iter().any(|l| l.starts_with("status")),
        saved: saved_words,
        created: local(tenant, c.created_at),
        category: category_name(c.category_id.as_ref().map(|c| c.as_str())),
        assignee: member_name(c.assignee_id.as_ref().map(|u| u.as_str())),
        allowed: c.status.allowed_next(),
        priorities: Priority::ALL,
        categories: category_options(&categories, tenant),
        members: member_options(&members),
        transcript: transcript(tenant, messages, &names),
        live_topics: match &c.conversation_id {
            Some(v) => format!("complaint:{} conversation:{v}", c.id),
            None => format!("complaint:{}", c.id),
        },
        timeline,
        notify_alert: notify_alert(state, current).await?,
        rating: store
            .complaint_surveys(&tenant.id, &c.id)
            .await?
            .into_iter()
            .find(|s| s.rating.is_some())
            .map(|s| super::timeline::rating_words(&s)),
        deadlines: super::timeline::deadlines(tenant, &c),
        photos: store
            .complaint_attachments(&tenant.id, &c.id)
            .await?
            .iter()
            .filter_map(super::complaints::MediaLine::ready)
            .collect(),
        areas: routing
            .areas
            .areas
            .iter()
            .map(|a| (a.slug.clone(), a.name_in(lang).to_owned()))
            .collect(),
        area,
        team,
        errors,
        c,
    };
    Ok(html_with(status, &page))
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    value: String,
}

/// The one edit form: status, assignee, priority, category and area, saved
/// together (all of them or none); a field the form leaves out stays as it
/// is. Then back to the page, which says what changed; or the page again
/// with the reason next to the field.
pub async fn edit(
    State(state): State<AppState>,
    current: Current,
    Path(key): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let c = find(&state, &current.tenant.id, &key).await?;
    let mut errors = FieldErrors::default();
    let mut changes = Vec::new();
    for (action, value) in [
        ("category", &form.category),
        ("area", &form.area),
        ("priority", &form.priority),
        ("assign", &form.assignee),
        ("status", &form.status),
    ] {
        let Some(value) = value else { continue };
        match parse_change(action, value) {
            Ok(change)
                if ombud_core::change::apply(&c, &change, c.updated_at)
                    .is_err_and(|r| ombud_core::change::unchanged(&r)) => {}
            Ok(change) => changes.push(change),
            Err((field, reason)) => errors.add(field, reason),
        }
    }
    if errors.is_empty() && !changes.is_empty() {
        let fields: Vec<&str> = changes.iter().map(ComplaintChange::field).collect();
        let fields = fields.join(",");
        let edited = state
            .engine
            .edit_complaint(&current.acting(), &current.tenant.id, &c.id, changes)
            .await;
        match edited {
            Ok(c) => return Ok(saved(&c, &fields)),
            Err(ombud_store::StoreError::Invalid(e)) => errors.add(form_field(&e.field), e.reason),
            Err(e) => return Err(e.into()),
        }
    } else if errors.is_empty() {
        return Ok(saved(&c, ""));
    }
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    detail_page(&state, &current, c, (errors, None), status).await
}

/// Back to the complaint's page after a save of `fields`.
fn saved(c: &Complaint, fields: &str) -> Response {
    Redirect::to(&format!("/app/complaints/{}?saved={fields}", c.number)).into_response()
}

#[derive(Deserialize)]
pub struct EditForm {
    status: Option<String>,
    assignee: Option<String>,
    priority: Option<String>,
    category: Option<String>,
    area: Option<String>,
}

/// An internal note on a complaint, then back to its page (or the page
/// again with the reason under the note box).
pub async fn note(
    State(state): State<AppState>,
    current: Current,
    Path(key): Path<String>,
    Form(form): Form<ChangeForm>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let c = find(&state, &current.tenant.id, &key).await?;
    let mut errors = FieldErrors::default();
    match parse_change("note", &form.value) {
        Ok(change) => {
            let noted = state
                .engine
                .edit_complaint(&current.acting(), &current.tenant.id, &c.id, vec![change])
                .await;
            match noted {
                Ok(_) => {
                    let to = format!("/app/complaints/{}", c.number);
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(ombud_store::StoreError::Invalid(e)) => errors.add("note", e.reason),
                Err(e) => return Err(e.into()),
            }
        }
        Err((field, reason)) => errors.add(field, reason),
    }
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    detail_page(&state, &current, c, (errors, None), status).await
}

/// Writes to the complaint's citizen from its page (taking the conversation
/// over from the bot), then back to the page; or the page again with the
/// reason under the box and the draft kept.
pub async fn reply(
    State(state): State<AppState>,
    current: Current,
    Path(key): Path<String>,
    Form(form): Form<ReplyForm>,
) -> Result<Response, PageError> {
    current.require(Role::Staff)?;
    let c = find(&state, &current.tenant.id, &key).await?;
    let sent = state
        .engine
        .ops()
        .write_to_citizen(&current.acting(), &current.tenant.id, &c.id, &form.body)
        .await;
    match sent {
        Ok(_) => {
            let to = format!("/app/complaints/{}?saved=reply", c.number);
            Ok(Redirect::to(&to).into_response())
        }
        Err(ombud_store::StoreError::Invalid(e)) => {
            let mut errors = FieldErrors::default();
            errors.add("reply", e.reason);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let page = (errors, None, Some(form.body.as_str()));
            detail_with_draft(&state, &current, c, page, status).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ReplyForm {
    #[serde(default)]
    body: String,
}

/// The edit form's name for a field an error names (`form`: the form as a
/// whole, for one it does not show).
fn form_field(field: &str) -> &'static str {
    ["status", "assignee", "priority", "category", "area"]
        .into_iter()
        .find(|f| *f == field)
        .unwrap_or("form")
}
