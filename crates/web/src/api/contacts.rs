//! Contacts: the list and one contact, a temporary block, and a person's
//! data (their export and their erasure, scope `contacts:erase`).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use chrono::{DateTime, Utc};
use ombud_core::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::directory::{bad_cursor, PageParams};
use super::extract::{limit, tagged, ApiJson, ApiQuery, Page};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts))
        .routes(routes!(get_contact))
        .routes(routes!(block_contact, unblock_contact))
        .routes(routes!(export_contact))
        .routes(routes!(erase_contact))
}

#[derive(Serialize, ToSchema)]
pub struct ContactView {
    pub id: String,
    pub channel_id: String,
    /// The address on the channel (a WhatsApp number).
    pub address: String,
    pub name: Option<String>,
    pub language: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub messages_in: i64,
    pub messages_out: i64,
    /// Staff paused the channel for them until then (null: not blocked; a
    /// time in the past: the block has ended).
    pub blocked_until: Option<DateTime<Utc>>,
    pub block_reason: Option<String>,
}

impl From<&Contact> for ContactView {
    fn from(c: &Contact) -> Self {
        Self {
            id: c.id.to_string(),
            channel_id: c.channel_id.to_string(),
            address: c.external_id.clone(),
            name: c.profile_name.clone(),
            language: c.language.as_ref().map(|l| l.as_str().to_owned()),
            first_seen_at: c.first_seen_at,
            last_seen_at: c.last_seen_at,
            messages_in: c.messages_in,
            messages_out: c.messages_out,
            blocked_until: c.block.as_ref().map(|b| b.until),
            block_reason: c.block.as_ref().map(|b| b.reason.clone()),
        }
    }
}

/// A contact's id from the path; one that cannot be one is a contact
/// that is not there (404, as another tenant's).
fn contact_id(id: &str) -> Result<ContactId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found("contact"))
}

/// A temporary block.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockBody {
    /// 1 to 90.
    #[schema(minimum = 1, maximum = 90)]
    pub days: u32,
    /// Why (kept with the block and in the audit trail).
    #[schema(min_length = 1, max_length = 300)]
    pub reason: String,
}

/// The tenant's contacts, newest first.
#[utoipa::path(get, path = "/contacts", tag = "contacts", params(PageParams),
    responses((status = 200, body = Page<ContactView>)),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn list_contacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> Result<Json<Page<ContactView>>, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let limit = limit(q.limit)?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| c.parse::<ContactId>().map_err(|_| bad_cursor()))
        .transpose()?;
    let rows = state
        .store
        .contact_page(&caller.tenant.id, before.as_ref(), limit + 1)
        .await?;
    let page = Page::of(rows, limit, |c| c.id.to_string());
    Ok(Json(Page {
        data: page.data.iter().map(ContactView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One contact, with an ETag.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts",
    params(("id" = String, Path)),
    responses((status = 200, body = ContactView, headers(("ETag" = String))), (status = 304, description = "Not modified")),
    security(("api_key" = ["conversations:read"]), ("session" = [])))]
async fn get_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require(Scope::ConversationsRead)?;
    let id = contact_id(&id)?;
    let c = state
        .store
        .contact(&caller.tenant.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(tagged(&headers, &ContactView::from(&c)))
}

/// Pauses the channel for a contact for some days (an abusive sender):
/// their messages are stored, the bot tells them once that the channel is
/// paused for them and says nothing else; the block ends by itself. A block
/// in force is replaced.
#[utoipa::path(post, path = "/contacts/{id}/block", tag = "contacts",
    params(("id" = String, Path)), request_body = BlockBody,
    responses((status = 200, body = ContactView)),
    security(("api_key" = ["conversations:write"]), ("session" = [])))]
async fn block_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BlockBody>,
) -> Result<Json<ContactView>, ApiError> {
    caller.require(Scope::ConversationsWrite)?;
    let id = contact_id(&id)?;
    let c = state
        .engine
        .ops()
        .block_contact(
            &caller.acting(),
            &caller.tenant.id,
            &id,
            body.days,
            &body.reason,
        )
        .await?;
    Ok(Json(ContactView::from(&c)))
}

/// Ends a contact's block now.
#[utoipa::path(delete, path = "/contacts/{id}/block", tag = "contacts",
    params(("id" = String, Path)),
    responses((status = 200, body = ContactView)),
    security(("api_key" = ["conversations:write"]), ("session" = [])))]
async fn unblock_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    caller.require(Scope::ConversationsWrite)?;
    let id = contact_id(&id)?;
    let c = state
        .engine
        .ops()
        .unblock_contact(&caller.acting(), &caller.tenant.id, &id)
        .await?;
    Ok(Json(ContactView::from(&c)))
}

/// Everything held about the contact, as one document (`ombud.person/1`):
/// their profile, every message, every complaint with the timeline they
/// may see (not internal notes), in their language's labels. Recorded in
/// the audit trail.
#[utoipa::path(post, path = "/contacts/{id}/export", tag = "contacts",
    params(("id" = String, Path)),
    responses((status = 200, body = ombud_core::person::PersonExport)),
    security(("api_key" = ["contacts:erase"]), ("session" = [])))]
async fn export_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ombud_core::person::PersonExport>, ApiError> {
    caller.require(Scope::ContactsErase)?;
    let id = contact_id(&id)?;
    let export = state
        .engine
        .ops()
        .export_contact(&caller.acting(), &caller.tenant, &id)
        .await?;
    Ok(Json(export))
}

/// What an erasure did.
#[derive(Serialize, ToSchema)]
pub struct ErasureView {
    pub contact_id: String,
    /// False when the contact had been erased before (nothing changed).
    pub erased: bool,
    /// Messages whose words were removed.
    pub messages: u64,
    /// Complaints whose description and location were removed.
    pub complaints: u64,
}

/// Erases a person: their name and number (replaced by a keyed
/// pseudonym), their messages' words, their complaints' descriptions and
/// locations, their agent runs' inputs and outputs. Their complaints stay,
/// with numbers, categories, statuses, dates and areas, so reports do not
/// change. Sends `contact.erased`; the trail names them by pseudonym only.
/// Erasing again changes nothing.
#[utoipa::path(post, path = "/contacts/{id}/erase", tag = "contacts",
    params(("id" = String, Path)),
    responses((status = 200, body = ErasureView)),
    security(("api_key" = ["contacts:erase"]), ("session" = [])))]
async fn erase_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ErasureView>, ApiError> {
    caller.require(Scope::ContactsErase)?;
    let id = contact_id(&id)?;
    let outcome = state
        .engine
        .ops()
        .erase_contact(&caller.acting(), &caller.tenant.id, &id)
        .await?;
    let (erased, counts) = match outcome {
        ombud_store::EraseOutcome::Erased(c) => (true, c),
        ombud_store::EraseOutcome::Already => (
            false,
            ombud_store::Erased {
                messages: 0,
                complaints: 0,
            },
        ),
        ombud_store::EraseOutcome::NotFound => return Err(ApiError::not_found("contact")),
    };
    Ok(Json(ErasureView {
        contact_id: id.to_string(),
        erased,
        messages: counts.messages,
        complaints: counts.complaints,
    }))
}
