//! The complaint list, its bulk bar's refusals, and what a complaint's page
//! (`complaint.rs`) and the inbox share: finding a complaint, its transcript,
//! people's names, and reading a change from a form.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use ombud_core::*;
use ombud_store::{ComplaintChange, ComplaintCursor, Member};

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
    /// It is the first of a later session (its number, 2 and on), which
    /// the page marks.
    pub new_session: Option<i64>,
    /// The photo or voice note it carried.
    pub media: Option<MediaLine>,
}

/// A photo or voice note as a page shows it: itself once fetched, else
/// where its fetch stands.
pub struct MediaLine {
    pub id: String,
    /// A photo (else a voice note or other audio).
    pub photo: bool,
    /// Its bytes are kept: it can be shown or played.
    pub ready: bool,
    /// Where it stands, in words (empty when there is nothing to say).
    pub note: String,
    /// A voice note's words, as the transcriber heard them.
    pub transcript: Option<String>,
}

impl MediaLine {
    fn of(kind: MessageKind, m: &ombud_core::media::MediaInfo) -> Self {
        use ombud_core::media::MediaState;
        let photo = kind == MessageKind::Image;
        let what = if photo { "photo" } else { "voice note" };
        let note = match m.state {
            MediaState::Ready => match m.transcript.as_deref() {
                Some("") => "(no words heard in it)".to_owned(),
                _ => String::new(),
            },
            MediaState::Fetching => format!("({what} on its way)"),
            MediaState::Transcribing => "(being transcribed)".to_owned(),
            MediaState::Unheard => format!(
                "(not transcribed: {}; listen to it)",
                m.error.as_deref().unwrap_or("no reason given")
            ),
            MediaState::Refused | MediaState::Failed => format!(
                "({what} not taken: {})",
                m.error.as_deref().unwrap_or("no reason given")
            ),
        };
        Self {
            id: m.id.to_string(),
            photo,
            ready: m.state.kept(),
            note,
            transcript: m.transcript.clone().filter(|t| !t.is_empty()),
        }
    }

    /// A complaint's attachment, if it can be shown.
    pub fn ready(a: &ombud_store::Attachment) -> Option<Self> {
        a.state.kept().then(|| Self {
            id: a.id.to_string(),
            photo: a.kind == MessageKind::Image,
            ready: true,
            note: String::new(),
            transcript: a.transcript.clone().filter(|t| !t.is_empty()),
        })
    }
}

/// A conversation's messages as the page shows them, each outbound one
/// with who wrote it (`names`: see [`actor_names`]).
pub fn transcript(
    tenant: &Tenant,
    messages: Vec<Message>,
    names: &HashMap<String, String>,
) -> Vec<Line> {
    use ombud_core::message::{BOT, SYSTEM};
    let mut session = 1;
    messages
        .into_iter()
        .map(|m| {
            let sender = m
                .sender
                .as_deref()
                .filter(|_| m.direction == Direction::Outbound);
            let new_session = (m.session > session).then_some(m.session);
            session = session.max(m.session);
            let media = m.media.as_ref().map(|i| MediaLine::of(m.kind, i));
            Line {
                inbound: m.direction == Direction::Inbound,
                // Only an erasure or retention leaves a message without
                // words (a photo may have none).
                body: if m.body.is_empty() && media.is_none() {
                    "(words removed)".to_owned()
                } else {
                    m.body
                },
                media,
                at: local(tenant, m.created_at),
                who: sender.map_or_else(String::new, |s| super::timeline::who(s, names)),
                by_staff: sender.is_some_and(|s| s != BOT && s != SYSTEM),
                new_session,
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
pub(super) async fn notify_alert(
    state: &AppState,
    current: &Current,
) -> Result<Option<String>, PageError> {
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
