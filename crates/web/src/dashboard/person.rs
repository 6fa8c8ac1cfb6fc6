//! A person's data from their conversation's page (admins): download
//! everything held about them, or erase them (`ops::people`).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::*;
use ombud_store::InboxFilter;
use serde::Deserialize;

use super::inbox::{find, page};
use super::login::FieldErrors;
use super::page::PageError;
use super::session::Current;
use crate::AppState;

/// Their data as a JSON file.
pub async fn export(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let h = find(&state, &current.tenant.id, &id).await?;
    let contact = &h.conversation.contact_id;
    let export = state
        .engine
        .ops()
        .export_contact(&current.acting(), &current.tenant, contact)
        .await?;
    let body = serde_json::to_string_pretty(&export)
        .map_err(|e| PageError::internal(format!("writing the export: {e}")))?;
    let file = format!("attachment; filename=\"person-{contact}.json\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct EraseForm {
    /// `yes` when the box saying it cannot be undone is ticked.
    confirm: Option<String>,
}

/// Erases the person (once they ticked that it cannot be undone).
pub async fn erase(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<EraseForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let h = find(&state, &current.tenant.id, &id).await?;
    if form.confirm.as_deref() != Some("yes") {
        let mut errors = FieldErrors::default();
        errors.add("confirm", "tick the box: an erasure cannot be undone");
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return page(
            &state,
            &current,
            h,
            InboxFilter::NeedsPerson,
            String::new(),
            errors,
            status,
        )
        .await;
    }
    // Erased already (a second click): nothing changes.
    state
        .engine
        .ops()
        .erase_contact(
            &current.acting(),
            &current.tenant.id,
            &h.conversation.contact_id,
        )
        .await?;
    Ok(Redirect::to(&format!("/app/inbox/{id}#their-data")).into_response())
}
