//! The complaint list and a complaint's page: transcript, timeline, and the
//! changes staff make to it (status, priority, category, assignee, area, notes).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_store::{ComplaintChange, ComplaintCursor, Member};
use serde::Deserialize;

use super::filters::ListQuery;
use super::login::FieldErrors;
use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// Rows per page of the list.
pub const PAGE: u32 = 50;
/// Longest internal note, in characters.
const MAX_NOTE: usize = 4000;

/// A complaint as a list row shows it.
pub struct RowView {
    pub id: String,
    pub number: String,
    pub status: ComplaintStatus,
    pub priority: Priority,
    pub description: String,
    pub contact: String,
    pub category: String,
    pub assignee: String,
    pub area: String,
    /// `breached`, `due_soon`, or empty (on track or no service level).
    pub sla: &'static str,
    pub created: String,
}

#[derive(Template)]
#[template(path = "complaints.html")]
struct ListPage {
    chrome: Chrome,
    refused: Refused,
    query: ListQuery,
    errors: FieldErrors,
    rows: Vec<RowView>,
    /// The list's query string without the page position (for the bulk form).
    this_query: String,
    next_page: Option<String>,
    first_page: Option<String>,
    statuses: &'static [ComplaintStatus],
    priorities: &'static [Priority],
    categories: Vec<(String, String)>,
    members: Vec<(String, String)>,
    /// The area catalogue (slug, name); empty: the area filter is free text.
    areas: Vec<(String, String)>,
    /// Teams and areas' field staff (slug, name) to filter by.
    teams: Vec<(String, String)>,
    /// Steps of the setup guide an admin has yet to do.
    setup_left: usize,
    /// Webhook endpoints Ombud disabled, with why (admins only).
    webhook_alerts: Vec<String>,
    notify_alert: Option<String>,
}

pub fn local(tenant: &Tenant, at: DateTime<Utc>) -> String {
    tenant
        .timezone
        .local_time(at)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

pub fn member_options(members: &[Member]) -> Vec<(String, String)> {
    members
        .iter()
        .map(|m| (m.user.id.to_string(), display_name(&m.user)))
        .collect()
}

/// Categories for a form's choice: (id, name in the tenant's language).
pub fn category_options(categories: &[Category], tenant: &Tenant) -> Vec<(String, String)> {
    categories
        .iter()
        .map(|c| {
            (
                c.id.to_string(),
                c.name_in(&tenant.default_language).to_owned(),
            )
        })
        .collect()
}

pub fn display_name(user: &User) -> String {
    if user.name.is_empty() {
        user.email.as_str().to_owned()
    } else {
        user.name.clone()
    }
}

impl ListPage {
    /// The complaint was ticked when a bulk change was refused.
    fn is_selected(&self, id: &str) -> bool {
        self.refused.selected.iter().any(|s| s == id)
    }
}

pub async fn list(
    State(state): State<AppState>,
    current: Current,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    // Where a field worker lands after logging in: their own page.
    if current.role.sees_only_own() {
        return Ok(Redirect::to("/app/field").into_response());
    }
    current.require(Role::Viewer)?;
    list_page(&state, &current, raw.as_deref(), Refused::default()).await
}

/// A bulk change refused before it was asked for: why (in the bulk bar),
/// and the complaints that were selected, still ticked.
#[derive(Default)]
pub struct Refused {
    pub reason: Option<String>,
    pub selected: Vec<String>,
}

/// The list for the filters in `raw`, with a refused bulk change's reason
/// in the bulk bar (then answered 422).
pub async fn list_page(
    state: &AppState,
    current: &Current,
    raw: Option<&str>,
    refused: Refused,
) -> Result<Response, PageError> {
    let (query, errors) = ListQuery::parse(raw);
    let tenant = &current.tenant;
    let categories = state.store.categories(&tenant.id).await?;
    let members = state.store.members(&tenant.id).await?;
    let routing = state.engine.ops().routing(&tenant.id).await?;
    let lang = tenant.default_language.as_str();
    let mut rows = Vec::new();
    let mut next_page = None;
    if errors.is_empty() {
        let mine = routing.areas.of_field_staff(&current.user.id);
        let filter = query.filter(tenant, &current.user.id, &mine);
        // One more than a page says whether there is a next one.
        let mut found = state
            .store
            .list_complaints(
                &tenant.id,
                &filter,
                query.sort,
                query.after.as_ref(),
                PAGE + 1,
            )
            .await?;
        if found.len() > PAGE as usize {
            found.truncate(PAGE as usize);
            let last = found.last().map(|r| ComplaintCursor::of(&r.complaint));
            next_page = Some(format!("/app/complaints?{}", query.to_query(last.as_ref())));
        }
        let category_names: HashMap<&CategoryId, &str> = categories
            .iter()
            .map(|c| (&c.id, c.name_in(&tenant.default_language)))
            .collect();
        rows = found
            .into_iter()
            .map(|r| {
                let c = r.complaint;
                RowView {
                    id: c.id.to_string(),
                    number: c.number.to_string(),
                    status: c.status,
                    priority: c.priority,
                    contact: r.contact_address.as_deref().map_or_else(String::new, |a| {
                        ombud_core::conversation::person_label(r.contact_name.as_deref(), a)
                    }),
                    category: c
                        .category_id
                        .as_ref()
                        .and_then(|id| category_names.get(id).copied())
                        .unwrap_or("")
                        .to_owned(),
                    assignee: r.assignee_name.unwrap_or_default(),
                    area: c
                        .area
                        .as_deref()
                        .map(|a| routing.areas.label(a, lang).to_owned())
                        .unwrap_or_default(),
                    sla: match c.sla.as_ref().map(|clock| clock.state()) {
                        Some(ombud_core::sla::SlaState::Breached) => "breached",
                        Some(ombud_core::sla::SlaState::DueSoon) => "due_soon",
                        _ => "",
                    },
                    created: local(tenant, c.created_at),
                    description: c.description,
                }
            })
            .collect();
    }
    let setup_left = super::welcome::steps_left(state, current).await?;
    let webhook_alerts = super::developers::alerts(state, current).await?;
    let notify_alert = notify_alert(state, current).await?;
    let first_page = query
        .after
        .is_some()
        .then(|| format!("/app/complaints?{}", query.to_query(None)));
    let status = if !errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else if refused.reason.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(html_with(
        status,
        &ListPage {
            chrome: Chrome::of(current, "complaints"),
            refused,
            this_query: query.to_query(None),
            query,
            errors,
            rows,
            next_page,
            first_page,
            statuses: ComplaintStatus::ALL,
            priorities: Priority::ALL,
            categories: category_options(&categories, tenant),
            members: member_options(&members),
            areas: routing
                .areas
                .areas
                .iter()
                .map(|a| (a.slug.clone(), a.name_in(lang).to_owned()))
                .collect(),
            teams: routing
                .teams
                .teams
                .iter()
                .map(|t| (t.slug.clone(), t.name.clone()))
                .chain(
                    routing
                        .areas
                        .areas
                        .iter()
                        .filter(|a| !a.field_staff.is_empty())
                        .map(|a| {
                            (
                                format!("area:{}", a.slug),
                                format!("Field staff: {}", a.name_in(lang)),
                            )
                        }),
                )
                .collect(),
            setup_left,
            webhook_alerts,
            notify_alert,
        },
    ))
}

/// A complaint of the current tenant by number (as people say it) or id;
/// another tenant's is "not found", exactly like one that does not exist.
pub async fn find(state: &AppState, tenant: &TenantId, key: &str) -> Result<Complaint, PageError> {
    let found = if let Ok(number) = ComplaintNumber::parse(key) {
        state.store.complaint_by_number(tenant, &number).await?
    } else if let Ok(id) = key.parse::<ComplaintId>() {
        state.store.complaint(tenant, &id).await?
    } else {
        None
    };
    found.ok_or_else(|| PageError::not_found("complaint"))
}

pub struct Line {
    pub inbound: bool,
    pub body: String,
    pub at: String,
    /// Who wrote an outbound message, in words (empty: not known).
    pub who: String,
    /// A person wrote it (not the bot, not Ombud).
    pub by_staff: bool,
}

/// A conversation's messages as the page shows them, each outbound one
/// with who wrote it (`names`: see [`actor_names`]).
pub fn transcript(
    tenant: &Tenant,
    messages: Vec<Message>,
    names: &HashMap<String, String>,
) -> Vec<Line> {
    use ombud_core::message::{BOT, SYSTEM};
    messages
        .into_iter()
        .map(|m| {
            let sender = m
                .sender
                .as_deref()
                .filter(|_| m.direction == Direction::Outbound);
            Line {
                inbound: m.direction == Direction::Inbound,
                body: m.body,
                at: local(tenant, m.created_at),
                who: sender.map_or_else(String::new, |s| super::timeline::who(s, names)),
                by_staff: sender.is_some_and(|s| s != BOT && s != SYSTEM),
            }
        })
        .collect()
}

/// The people an actor or a sender may name, by name: members
/// (`user:<id>`) and API keys (`api:<key id>`), revoked keys included.
pub async fn actor_names(
    state: &AppState,
    tenant: &TenantId,
) -> Result<HashMap<String, String>, PageError> {
    let members = state.store.members(tenant).await?;
    let keys = state.store.api_keys(tenant).await?;
    Ok(members
        .iter()
        .map(|m| (format!("user:{}", m.user.id), display_name(&m.user)))
        .chain(
            keys.iter()
                .map(|k| (format!("api:{}", k.id), format!("the API key “{}”", k.name))),
        )
        .collect())
}

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
    timeline: Vec<super::timeline::Moment>,
    notify_alert: Option<String>,
    /// The latest satisfaction survey's answer, in words.
    rating: Option<String>,
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
    let citizen = conversation.as_ref().map(|h| {
        ombud_core::conversation::person_label(h.contact_name.as_deref(), &h.contact_address)
    });
    let reply = match (&conversation, &channel) {
        (Some(h), Some(ch)) => Some(ReplyBox {
            window: ombud_core::conversation::window(
                ch.kind(),
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
        timeline,
        notify_alert: notify_alert(state, current).await?,
        rating: store
            .complaint_surveys(&tenant.id, &c.id)
            .await?
            .into_iter()
            .find(|s| s.rating.is_some())
            .map(|s| super::timeline::rating_words(&s)),
        deadlines: super::timeline::deadlines(tenant, &c),
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

/// Reads a change from a form: `action` names what changes, `value` the new
/// value (empty to clear). Errors name the field.
pub fn parse_change(action: &str, value: &str) -> Result<ComplaintChange, (&'static str, String)> {
    let value = value.trim();
    let opt = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    Ok(match action {
        "status" => ComplaintChange::Status(
            ComplaintStatus::parse(value).map_err(|e| ("status", e.reason))?,
        ),
        "priority" => {
            ComplaintChange::Priority(Priority::parse(value).map_err(|e| ("priority", e.reason))?)
        }
        "category" => ComplaintChange::Category(
            opt(value)
                .map(|v| v.parse())
                .transpose()
                .map_err(|_| ("category", "no such category".to_owned()))?,
        ),
        "assign" => {
            ComplaintChange::Assign(opt(value).map(|v| v.parse()).transpose().map_err(|_| {
                (
                    "assignee",
                    "is not a member of this organisation".to_owned(),
                )
            })?)
        }
        "area" => {
            if value.chars().count() > 100 {
                return Err(("area", "use at most 100 characters".into()));
            }
            ComplaintChange::Area(opt(value))
        }
        "note" => {
            if value.is_empty() {
                return Err(("note", "write something first".into()));
            }
            if value.chars().count() > MAX_NOTE {
                return Err(("note", format!("use at most {MAX_NOTE} characters")));
            }
            ComplaintChange::Note(ammonia::clean(value))
        }
        _ => return Err(("action", "is not a change this page offers".into())),
    })
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

/// A language's name, for pages ("Hindi", not "hi").
pub fn language_name(language: &Language) -> &'static str {
    super::settings::LANGUAGES
        .iter()
        .find(|(code, _)| *code == language.as_str())
        .map_or("another language", |(_, name)| name)
}

/// The banner over the complaints when notices to citizens could not be sent
/// lately (no approved WhatsApp template outside the 24-hour window): how
/// many, the latest reason, and the fix.
async fn notify_alert(state: &AppState, current: &Current) -> Result<Option<String>, PageError> {
    let failures = state
        .engine
        .ops()
        .notify_failures(&current.tenant.id)
        .await?;
    let Some((reason, number)) = failures.latest else {
        return Ok(None);
    };
    let days = ombud_engine::ops::templates::BANNER_DAYS;
    let n = failures.count;
    let notices = if n == 1 { "notice" } else { "notices" };
    Ok(Some(format!(
        "{n} {notices} to citizens could not be sent in the last {days} days; the latest, for {number}: {reason}"
    )))
}
