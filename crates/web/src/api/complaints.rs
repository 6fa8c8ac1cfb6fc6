//! `/api/v1/complaints`: the list with the dashboard's filters, one complaint
//! by id or number, creation on behalf of a contact, changes under the same
//! rules as the dashboard (status moves, priority, category, assignee, area),
//! internal notes, the history, and bulk changes by filter. What they read
//! and write is in `complaint_types`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use ombud_core::*;
use ombud_engine::ops::conversations::FiledComplaint;
use ombud_engine::{ChangeReport, Selection};
use ombud_store::{ComplaintChange, ComplaintCursor, ComplaintSort, StoreError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::complaint_types::*;
use super::extract::{check_if_match, created, limit, tagged, ApiJson, ApiQuery, Page};
use crate::{ApiError, AppState};

const MAX_NOTE: usize = 4000;
const MAX_DESCRIPTION: usize = 4000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_complaints, create_complaint))
        .routes(routes!(get_complaint, update_complaint))
        .routes(routes!(add_note))
        .routes(routes!(complaint_events))
        .routes(routes!(bulk_update))
}

/// By id (`cmp_…`) or number.
pub(super) async fn find(
    state: &AppState,
    caller: &Caller,
    key: &str,
) -> Result<Complaint, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let tenant = &caller.tenant.id;
    let found = if let Ok(number) = ComplaintNumber::parse(key) {
        state.store.complaint_by_number(tenant, &number).await?
    } else if let Ok(id) = key.parse::<ComplaintId>() {
        state.store.complaint(tenant, &id).await?
    } else {
        None
    };
    found.ok_or_else(|| ApiError::not_found("complaint"))
}

/// The tenant's complaints, filtered, newest first unless `sort=oldest`.
#[utoipa::path(get, path = "/complaints", tag = "complaints", params(ListParams),
    responses((status = 200, body = Page<ComplaintView>)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn list_complaints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<Page<ComplaintView>>, ApiError> {
    caller.require(Scope::ComplaintsRead)?;
    let limit = limit(q.limit)?;
    let sort = match q.sort.as_deref() {
        None | Some("newest") => ComplaintSort::Newest,
        Some("oldest") => ComplaintSort::Oldest,
        Some(_) => return Err(ApiError::invalid("sort", "must be newest or oldest")),
    };
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            ComplaintCursor::decode(c)
                .map_err(|_| ApiError::invalid("cursor", "is not a cursor from this list"))
        })
        .transpose()?;
    let filter = FilterBody {
        status: q.status.map(|s| {
            s.split(',')
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
                .collect()
        }),
        category_id: q.category_id,
        priority: q.priority,
        assignee: q.assignee,
        area: q.area,
        team: q.team,
        sla: q.sla,
        created_from: q.created_from,
        created_before: q.created_before,
        q: q.q,
    }
    .filter()?;
    let rows = state
        .store
        .list_complaints(&caller.tenant.id, &filter, sort, after.as_ref(), limit + 1)
        .await?;
    let page = Page::of(rows, limit, |r| ComplaintCursor::of(&r.complaint).encode());
    Ok(Json(Page {
        data: page
            .data
            .iter()
            .map(|r| ComplaintView::from(&r.complaint))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Files a complaint, on behalf of a contact if one is named.
#[utoipa::path(post, path = "/complaints", tag = "complaints", request_body = NewComplaintBody,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = ComplaintView)),
    security(("api_key" = ["complaints:write"]), ("session" = [])))]
async fn create_complaint(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewComplaintBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::ComplaintsWrite)?;
    let tenant = &caller.tenant;
    let description = body.description.trim().to_owned();
    if description.is_empty() {
        return Err(ApiError::invalid("description", "describe the complaint"));
    }
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::invalid("description", "at most 4000 characters"));
    }
    let location = body
        .location
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty());
    if location.as_ref().is_some_and(|l| l.chars().count() > 500) {
        return Err(ApiError::invalid("location", "at most 500 characters"));
    }
    let category = match body.category_id {
        None => None,
        Some(raw) => {
            let categories = state.store.categories(&tenant.id).await?;
            let found = raw
                .parse::<CategoryId>()
                .ok()
                .and_then(|id| categories.iter().find(|c| c.id == id).cloned());
            Some(found.ok_or_else(|| {
                ApiError::invalid("category_id", "is not a category of this organisation")
            })?)
        }
    };
    let contact = match body.contact_id {
        None => None,
        Some(raw) => {
            let id = raw.parse::<ContactId>().ok();
            let found = match id {
                Some(id) => state.store.contact(&tenant.id, &id).await?,
                None => None,
            };
            Some(found.ok_or_else(|| {
                ApiError::invalid("contact_id", "is not a contact of this organisation")
            })?)
        }
    };
    let language = match body.language {
        Some(l) => Language::parse(&l).map_err(|v| ApiError::invalid("language", v.reason))?,
        None => contact
            .as_ref()
            .and_then(|c| c.language.clone())
            .unwrap_or_else(|| tenant.default_language.clone()),
    };
    let priority = match body.priority {
        Some(p) => Priority::parse(&p).map_err(|v| ApiError::invalid("priority", v.reason))?,
        None => Category::priority_for(category.as_ref()),
    };
    let conversation = match &contact {
        Some(c) => {
            state
                .store
                .conversation_of_contact(&tenant.id, &c.id)
                .await?
        }
        None => None,
    };
    let complaint = state
        .engine
        .ops()
        .record_complaint(
            &caller.acting(),
            tenant,
            FiledComplaint {
                channel_id: contact.as_ref().map(|c| c.channel_id.clone()),
                contact_id: contact.as_ref().map(|c| c.id.clone()),
                conversation_id: conversation,
                category_id: category.map(|c| c.id),
                description,
                location,
                language,
                priority,
            },
        )
        .await?;
    Ok(created(
        format!("/api/v1/complaints/{}", complaint.id),
        ComplaintView::from(&complaint),
    ))
}

/// One complaint, by id or number, with an ETag.
#[utoipa::path(get, path = "/complaints/{id}", tag = "complaints",
    params(("id" = String, Path, description = "cmp_… or the complaint number")),
    responses((status = 200, body = ComplaintView, headers(("ETag" = String))), (status = 304, description = "Not modified")),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn get_complaint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let c = find(&state, &caller, &id).await?;
    Ok(tagged(&headers, &ComplaintView::from(&c)))
}

/// Runs changes on one complaint, together: all of them or none; one that
/// does not fit is refused with 422 naming its field (as this API names it).
async fn change_one(
    state: &AppState,
    caller: &Caller,
    c: &Complaint,
    changes: Vec<ComplaintChange>,
) -> Result<(), ApiError> {
    let edited = state
        .engine
        .edit_complaint(&caller.acting(), &caller.tenant.id, &c.id, changes)
        .await;
    match edited {
        Ok(_) => Ok(()),
        Err(StoreError::Invalid(mut e)) => {
            e.field = match e.field.as_str() {
                "category" => "category_id".into(),
                "assignee" => "assignee_id".into(),
                _ => e.field,
            };
            Err(StoreError::Invalid(e).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Changes a complaint under the dashboard's rules (only legal status moves):
/// the fields named change together, in one transaction, or none of them
/// (422 names the field refused). With `If-Match`, only if it is unchanged
/// since read.
#[utoipa::path(patch, path = "/complaints/{id}", tag = "complaints", request_body = ComplaintUpdate,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = ComplaintView, headers(("ETag" = String))), (status = 412, body = crate::error::ErrorBody)),
    security(("api_key" = ["complaints:write"]), ("session" = [])))]
async fn update_complaint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ComplaintUpdate>,
) -> Result<Response, ApiError> {
    caller.require(Scope::ComplaintsWrite)?;
    let c = find(&state, &caller, &id).await?;
    check_if_match(&headers, &ComplaintView::from(&c))?;
    change_one(&state, &caller, &c, changes(body)?).await?;
    let c = find(&state, &caller, c.id.as_str()).await?;
    Ok(tagged(&HeaderMap::new(), &ComplaintView::from(&c)))
}

/// Adds an internal note (never sent to the citizen).
#[utoipa::path(post, path = "/complaints/{id}/notes", tag = "complaints", request_body = NoteBody,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = EventView)),
    security(("api_key" = ["complaints:write"]), ("session" = [])))]
async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::ComplaintsWrite)?;
    let c = find(&state, &caller, &id).await?;
    let note = body.note.trim();
    if note.is_empty() {
        return Err(ApiError::invalid("note", "write something first"));
    }
    if note.chars().count() > MAX_NOTE {
        return Err(ApiError::invalid("note", "at most 4000 characters"));
    }
    change_one(
        &state,
        &caller,
        &c,
        vec![ComplaintChange::Note(ammonia::clean(note))],
    )
    .await?;
    let events = state
        .store
        .complaint_events(&caller.tenant.id, &c.id)
        .await?;
    let last = events
        .iter()
        .rev()
        .find(|e| e.action == "note")
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "note not recorded",
            )
        })?;
    Ok(created(
        format!("/api/v1/complaints/{}/events", c.id),
        event_view(last),
    ))
}

fn event_view(e: &ComplaintEvent) -> EventView {
    EventView {
        actor: e.actor.clone(),
        action: e.action.clone(),
        from_value: e.from_value.clone(),
        to_value: e.to_value.clone(),
        created_at: e.created_at,
    }
}

/// The complaint's history, oldest first.
#[utoipa::path(get, path = "/complaints/{id}/events", tag = "complaints",
    params(("id" = String, Path)),
    responses((status = 200, body = EventList)),
    security(("api_key" = ["complaints:read"]), ("session" = [])))]
async fn complaint_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EventList>, ApiError> {
    let c = find(&state, &caller, &id).await?;
    let events = state
        .store
        .complaint_events(&caller.tenant.id, &c.id)
        .await?;
    Ok(Json(EventList {
        data: events.iter().map(event_view).collect(),
    }))
}

/// One change for every complaint matching a filter, in batches; a status
/// change tells each citizen once. Complaints the change does not fit are
/// skipped with the reason.
#[utoipa::path(post, path = "/complaints/bulk-update", tag = "complaints", request_body = BulkBody,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = BulkReport)),
    security(("api_key" = ["complaints:write"]), ("session" = [])))]
async fn bulk_update(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<BulkReport>, ApiError> {
    caller.require(Scope::ComplaintsWrite)?;
    let filter = body.filter.filter()?;
    let mut changes = changes(body.change)?;
    if changes.len() != 1 {
        return Err(ApiError::invalid(
            "change",
            "name exactly one field to change",
        ));
    }
    let change = changes.remove(0);
    let report: ChangeReport = state
        .engine
        .change_complaints(
            &caller.acting(),
            &caller.tenant.id,
            Selection::Matching(filter),
            change,
        )
        .await?;
    Ok(Json(BulkReport {
        changed: report.changed.len() as u64,
        skipped: report
            .skipped
            .iter()
            .map(|s| SkippedView {
                id: s.id.to_string(),
                number: s.number.as_ref().map(|n| n.as_str().to_owned()),
                reason: s.reason.clone(),
            })
            .collect(),
    }))
}
