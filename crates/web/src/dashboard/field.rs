//! The field page, made for a phone: the complaints assigned to the member
//! signed in, those waiting for verification on the ground first, and a
//! verdict on each (validated or rejected, with a note). It is the only
//! page a field worker has; any member may use it for their own complaints.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::verification::Outcome;
use ombud_core::*;
use ombud_engine::ops::verification::Verifier;
use ombud_store::{AssigneeFilter, ComplaintFilter, ComplaintSort};
use serde::Deserialize;

use super::complaints::local;
use super::login::FieldErrors;
use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// The most complaints the page lists.
const LIMIT: u32 = 200;

pub struct Card {
    pub number: String,
    pub status: ComplaintStatus,
    pub description: String,
    pub location: String,
    pub area: String,
    pub since: String,
}

#[derive(askama::Template)]
#[template(path = "field.html")]
struct ListPage {
    chrome: Chrome,
    to_verify: Vec<Card>,
    others: Vec<Card>,
    done: Option<(String, String)>,
}

struct Citizen {
    label: String,
    tel: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "field_complaint.html")]
struct DetailPage {
    chrome: Chrome,
    card: Card,
    /// Who filed it, and the number to call (WhatsApp's is a phone's).
    citizen: Option<Citizen>,
    category: String,
    language: String,
    verifiable: bool,
    may_verify: bool,
    note: String,
    errors: FieldErrors,
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// The number just verified, and how (the confirmation line).
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
}

fn waits_for_verification(status: ComplaintStatus) -> bool {
    matches!(
        status,
        ComplaintStatus::PendingValidation | ComplaintStatus::Escalated
    )
}

async fn card(state: &AppState, current: &Current, c: &Complaint) -> Result<Card, PageError> {
    let tenant = &current.tenant;
    let routing = state.engine.ops().routing(&tenant.id).await?;
    let lang = tenant.default_language.as_str();
    Ok(Card {
        number: c.number.to_string(),
        status: c.status,
        description: c.description.clone(),
        location: c.location.clone().unwrap_or_else(|| "—".into()),
        area: c.area.as_deref().map_or("—".to_owned(), |a| {
            routing.areas.label(a, lang).to_owned()
        }),
        since: local(tenant, c.created_at),
    })
}

/// The member's open complaints.
pub async fn list(
    State(state): State<AppState>,
    current: Current,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    current.require(Role::FieldWorker)?;
    let filter = ComplaintFilter {
        statuses: ComplaintStatus::open(),
        assignee: Some(AssigneeFilter::Member(current.user.id.clone())),
        ..Default::default()
    };
    let rows = state
        .store
        .list_complaints(
            &current.tenant.id,
            &filter,
            ComplaintSort::Oldest,
            None,
            LIMIT,
        )
        .await?;
    let (mut to_verify, mut others) = (Vec::new(), Vec::new());
    for row in rows {
        let c = row.complaint;
        let card = card(&state, &current, &c).await?;
        if waits_for_verification(c.status) {
            to_verify.push(card);
        } else {
            others.push(card);
        }
    }
    let done = match (q.done, q.outcome.as_deref().map(Outcome::parse)) {
        (Some(n), Some(Ok(o))) if ComplaintNumber::parse(&n).is_ok() => {
            Some((n, o.status().as_str().to_owned()))
        }
        _ => None,
    };
    let page = ListPage {
        chrome: Chrome::of(&current, "field"),
        to_verify,
        others,
        done,
    };
    Ok(html_with(StatusCode::OK, &page))
}

/// One of the member's complaints; another's is not found.
async fn mine(state: &AppState, current: &Current, key: &str) -> Result<Complaint, PageError> {
    let c = super::complaints::find(state, &current.tenant.id, key).await?;
    if c.assignee_id.as_ref() != Some(&current.user.id) {
        return Err(PageError::not_found("complaint"));
    }
    Ok(c)
}

pub async fn detail(
    State(state): State<AppState>,
    current: Current,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::FieldWorker)?;
    let c = mine(&state, &current, &key).await?;
    detail_page(&state, &current, &c, String::new(), FieldErrors::default()).await
}

async fn detail_page(
    state: &AppState,
    current: &Current,
    c: &Complaint,
    note: String,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let category = state
        .store
        .categories(&tenant.id)
        .await?
        .iter()
        .find(|cat| Some(&cat.id) == c.category_id.as_ref())
        .map(|cat| cat.name_in(&tenant.default_language).to_owned())
        .unwrap_or_else(|| "none".into());
    // Whom to call before a visit: a WhatsApp citizen's number dials.
    let conversation = match &c.conversation_id {
        Some(id) => state.store.conversation(&tenant.id, id).await?,
        None => None,
    };
    let on_whatsapp = match &c.channel_id {
        Some(id) => state
            .store
            .channel(id)
            .await?
            .is_some_and(|ch| ch.tenant_id == tenant.id && ch.kind() == ChannelKind::Whatsapp),
        None => false,
    };
    let citizen = conversation.map(|h| Citizen {
        label: h.person(),
        tel: on_whatsapp.then(|| format!("+{}", h.contact_address)),
    });
    let page = DetailPage {
        citizen,
        chrome: Chrome::of(current, "field"),
        card: card(state, current, c).await?,
        category,
        language: super::complaints::language_name(&c.language).to_owned(),
        verifiable: waits_for_verification(c.status),
        may_verify: current.role.may_verify(),
        note,
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(html_with(status, &page))
}

#[derive(Deserialize)]
pub struct VerdictForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

/// Validated or rejected, with a note; back to the list with the news, or
/// the page again with the reason next to the field.
pub async fn verdict(
    State(state): State<AppState>,
    current: Current,
    Path(key): Path<String>,
    Form(form): Form<VerdictForm>,
) -> Result<Response, PageError> {
    current.require(Role::FieldWorker)?;
    if !current.role.may_verify() {
        return Err(PageError::forbidden(format!(
            "a {} does not verify complaints",
            current.role.as_str()
        )));
    }
    let c = mine(&state, &current, &key).await?;
    let refused = |field: &'static str, reason: String| {
        let mut errors = FieldErrors::default();
        errors.add(field, reason);
        errors
    };
    let outcome = match Outcome::parse(form.outcome.trim()) {
        Ok(o) => o,
        Err(e) => {
            let errors = refused("outcome", e.reason);
            return detail_page(&state, &current, &c, form.note, errors).await;
        }
    };
    let verifier = Verifier {
        user: &current.user.id,
        role: current.role,
    };
    let done = state
        .engine
        .ops()
        .verify_complaint(
            &current.acting(),
            Some(verifier),
            &current.tenant.id,
            &c.id,
            outcome,
            &form.note,
        )
        .await;
    match done {
        Ok(c) => Ok(Redirect::to(&format!(
            "/app/field?done={}&outcome={}",
            c.number,
            outcome.status().as_str()
        ))
        .into_response()),
        Err(ombud_store::StoreError::Invalid(e)) => {
            let field = if e.field == "note" { "note" } else { "outcome" };
            let errors = refused(field, e.reason);
            detail_page(&state, &current, &c, form.note, errors).await
        }
        Err(e) => Err(e.into()),
    }
}
