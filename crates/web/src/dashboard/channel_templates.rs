//! A WhatsApp channel's templates (admins): Meta's templates as last synced,
//! a "sync now", and which approved template carries each notice outside
//! the 24-hour window, with the business account id they are read from. The
//! same operations as the API's `/channels/{id}/templates`; the mapping's
//! text is read by `ombud_core::template::MappingText`, as the API's is.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::template::{ButtonText, MappingText, NoticeKind, TemplateMappings, WaTemplate};
use ombud_core::*;
use ombud_engine::ops::templates::SyncError;
use serde::Deserialize;

use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use crate::AppState;

/// One notice's part of the form, as typed.
pub struct NoticeRow {
    pub kind: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub name: String,
    pub languages: String,
    pub body: String,
    pub header: String,
    pub buttons: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "channel_templates.html")]
struct TemplatesPage {
    chrome: Chrome,
    id: String,
    channel_name: String,
    waba_id: String,
    waba_error: Option<String>,
    notices: Vec<NoticeRow>,
    synced: Vec<WaTemplate>,
    /// Names of the approved templates, for the name fields' suggestions.
    approved: Vec<String>,
    /// `mapping` or `sync` after a save; with the count synced.
    saved: &'static str,
    found: usize,
    sync_error: Option<String>,
}

fn about(kind: NoticeKind) -> (&'static str, &'static str) {
    match kind {
        NoticeKind::StatusChanged => (
            "Status changed",
            "A complaint moved on (acknowledged, in progress, resolved…). Usually complaint_number, status_label.",
        ),
        NoticeKind::Validated => (
            "Verified on the ground",
            "A field worker verified the complaint.",
        ),
        NoticeKind::Rejected => ("Rejected", "The complaint was rejected."),
        NoticeKind::Survey => (
            "Satisfaction survey",
            "The question after a resolution, with quick replies rate:5 … rate:1.",
        ),
        NoticeKind::Reminder => (
            "Reminder",
            "A question still waiting for the citizen's answer.",
        ),
        NoticeKind::StaffMessage => (
            "A member's message",
            "What a member writes from the inbox or a complaint's page once the window has closed. The body must carry message_text (the words, on one line); usually complaint_number too.",
        ),
    }
}

#[derive(Deserialize, Default)]
pub struct Shown {
    #[serde(default)]
    saved: String,
    #[serde(default)]
    found: usize,
}

/// What the page shows besides the form's rows.
struct View {
    waba_id: String,
    rows: Vec<NoticeRow>,
    waba_error: Option<String>,
    saved: &'static str,
    found: usize,
    sync_error: Option<String>,
}

async fn render(
    state: &AppState,
    current: &Current,
    channel: &Channel,
    view: View,
    status: StatusCode,
) -> Result<Response, PageError> {
    let synced = state
        .store
        .wa_templates(&current.tenant.id, &channel.id)
        .await?;
    let mut approved: Vec<String> = synced
        .iter()
        .filter(|t| t.status == "APPROVED")
        .map(|t| t.name.clone())
        .collect();
    approved.dedup();
    let page = TemplatesPage {
        chrome: Chrome::of(current, "settings"),
        id: channel.id.to_string(),
        channel_name: channel.name.clone(),
        waba_id: view.waba_id,
        waba_error: view.waba_error,
        notices: view.rows,
        synced,
        approved,
        saved: view.saved,
        found: view.found,
        sync_error: view.sync_error,
    };
    Ok(html_with(status, &page))
}

/// The page again with what was refused.
async fn refuse(
    state: &AppState,
    current: &Current,
    channel: &Channel,
    view: View,
) -> Result<Response, PageError> {
    render(
        state,
        current,
        channel,
        view,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// Back to the page after a change, saying what was done (`query`).
fn back(channel: &Channel, query: &str) -> Response {
    Redirect::to(&format!(
        "/app/settings/channels/{}/templates?{query}",
        channel.id
    ))
    .into_response()
}

/// The form's rows as the channel holds its mapping.
fn rows_of(channel: &Channel) -> Vec<NoticeRow> {
    let held = channel.whatsapp().map(|w| &w.templates);
    NoticeKind::ALL
        .into_iter()
        .map(|kind| {
            let (label, help) = about(kind);
            let text = held
                .and_then(|m| m.get(&kind))
                .map(MappingText::from)
                .unwrap_or_default();
            NoticeRow {
                kind: kind.as_str(),
                label,
                help,
                name: text.name,
                languages: text.languages.join(", "),
                body: text.body.join(", "),
                header: text.header.join(", "),
                buttons: text
                    .buttons
                    .iter()
                    .map(ButtonText::line)
                    .collect::<Vec<_>>()
                    .join("\n"),
                error: None,
            }
        })
        .collect()
}

async fn channel(state: &AppState, current: &Current, id: &str) -> Result<Channel, PageError> {
    let id = ChannelId::parse(id).map_err(|_| PageError::not_found("WhatsApp channel"))?;
    Ok(state
        .engine
        .ops()
        .whatsapp_channel(&current.tenant.id, &id)
        .await?)
}

fn waba_of(channel: &Channel) -> String {
    channel
        .whatsapp()
        .and_then(|w| w.waba_id.clone())
        .unwrap_or_default()
}

pub async fn page(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let channel = channel(&state, &current, &id).await?;
    let view = View {
        waba_id: waba_of(&channel),
        rows: rows_of(&channel),
        waba_error: None,
        saved: match shown.saved.as_str() {
            "mapping" => "mapping",
            "sync" => "sync",
            _ => "",
        },
        found: shown.found,
        sync_error: None,
    };
    render(&state, &current, &channel, view, StatusCode::OK).await
}

/// Splits a comma-separated field into its trimmed, non-empty parts.
fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form's mapping: a notice with no template name has none; a part
/// that does not read is named on its row.
fn mappings(form: &BTreeMap<String, String>, rows: &mut [NoticeRow]) -> Option<TemplateMappings> {
    let mut out = TemplateMappings::new();
    let mut ok = true;
    for (kind, row) in NoticeKind::ALL.into_iter().zip(rows.iter_mut()) {
        let field = |part: &str| {
            form.get(&format!("{}_{part}", kind.as_str()))
                .cloned()
                .unwrap_or_default()
        };
        row.name = field("name").trim().to_owned();
        row.languages = field("languages");
        row.body = field("body");
        row.header = field("header");
        row.buttons = field("buttons");
        if row.name.is_empty() {
            continue;
        }
        let buttons: Result<Vec<ButtonText>, String> = row
            .buttons
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(ButtonText::parse_line)
            .collect();
        let text = buttons.map(|buttons| MappingText {
            name: row.name.clone(),
            languages: list(&row.languages),
            body: list(&row.body),
            header: list(&row.header),
            buttons,
        });
        let read = text.and_then(|t| {
            t.parse(kind, kind.as_str()).map_err(|e| {
                let part = e.field.strip_prefix(kind.as_str()).unwrap_or(&e.field);
                format!("{}: {}", part.trim_start_matches('.'), e.reason)
            })
        });
        match read {
            Ok(m) => {
                out.insert(kind, m);
            }
            Err(why) => {
                row.error = Some(why);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

pub async fn save(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let channel = channel(&state, &current, &id).await?;
    let waba_id = form
        .get("waba_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let mut rows = rows_of(&channel);
    let view = |rows, waba_error| View {
        waba_id: waba_id.clone(),
        rows,
        waba_error,
        saved: "",
        found: 0,
        sync_error: None,
    };
    let Some(mappings) = mappings(&form, &mut rows) else {
        let view = view(rows, None);
        return refuse(&state, &current, &channel, view).await;
    };
    let set = state
        .engine
        .ops()
        .set_channel_templates(
            &current.acting(),
            &current.tenant.id,
            &channel.id,
            (!waba_id.is_empty()).then(|| waba_id.clone()),
            mappings,
        )
        .await;
    match set {
        Ok(_) => Ok(back(&channel, "saved=mapping#mapping")),
        Err(ombud_store::StoreError::Invalid(v)) => {
            let view = view(rows, Some(v.to_string()));
            refuse(&state, &current, &channel, view).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn sync(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let channel = channel(&state, &current, &id).await?;
    let refused = |why: String| View {
        waba_id: waba_of(&channel),
        rows: rows_of(&channel),
        waba_error: None,
        saved: "",
        found: 0,
        sync_error: Some(why),
    };
    if waba_of(&channel).is_empty() {
        let view = refused("Set the WhatsApp Business Account ID below and save it first: templates are read from that account.".into());
        return refuse(&state, &current, &channel, view).await;
    }
    let synced = state
        .engine
        .ops()
        .sync_templates(Some(&current.acting()), &current.tenant.id, &channel.id)
        .await;
    match synced {
        Ok(n) => Ok(back(&channel, &format!("saved=sync&found={n}#sync"))),
        Err(SyncError::Graph(why)) => {
            let view = refused(format!("Meta could not be asked: {why}"));
            render(&state, &current, &channel, view, StatusCode::BAD_GATEWAY).await
        }
        Err(SyncError::Store(e)) => Err(e.into()),
    }
}
