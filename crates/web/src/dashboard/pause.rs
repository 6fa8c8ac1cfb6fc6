//! Pausing a conversation's sender from its page (`ops::blocks`): for
//! someone who abuses the channel, for 1 to 90 days with a reason, and
//! ending the pause early.

use axum::extract::{Path, State};
use axum::http::StatusCode;
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
    page(
        &state,
        &current,
        h,
        InboxFilter::NeedsPerson,
        String::new(),
        errors,
        status,
    )
    .await
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
