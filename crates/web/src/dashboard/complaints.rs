//! The complaint list.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use ombud_core::{Complaint, Role};

use super::page::{html, Chrome, PageError};
use super::session::Current;
use crate::AppState;

#[derive(Template)]
#[template(path = "complaints.html")]
struct ListPage {
    chrome: Chrome,
    complaints: Vec<Complaint>,
}

pub async fn list(State(state): State<AppState>, current: Current) -> Result<Response, PageError> {
    current.require(Role::Viewer)?;
    let complaints = state.store.complaints(&current.tenant.id, 50).await?;
    Ok(html(&ListPage {
        chrome: Chrome::of(&current, "complaints"),
        complaints,
    }))
}
