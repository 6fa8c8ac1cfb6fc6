//! A web chat's settings (admins): the sites that may embed it and what it
//! says first, by language. The same operation as the API's
//! `PUT /channels/{id}/webchat`.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use ombud_core::*;
use ombud_engine::ops::channels::WebchatSettings;
use serde::Deserialize;

use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use crate::webchat::OWN_GREETINGS;
use crate::AppState;

/// One language's greeting field.
pub struct GreetingRow {
    pub code: String,
    pub name: &'static str,
    pub text: String,
    /// Ombud's own, shown while the field is empty.
    pub own: &'static str,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "channel_webchat.html")]
struct WebchatPage {
    chrome: Chrome,
    id: String,
    channel_name: String,
    origins: String,
    origins_error: Option<String>,
    greetings: Vec<GreetingRow>,
    saved: bool,
}

#[derive(Deserialize, Default)]
pub struct Shown {
    #[serde(default)]
    saved: bool,
}

async fn channel(state: &AppState, current: &Current, id: &str) -> Result<Channel, PageError> {
    let id = ChannelId::parse(id).map_err(|_| PageError::not_found("web chat channel"))?;
    Ok(state
        .engine
        .ops()
        .channel_of_kind(
            &current.tenant.id,
            &id,
            ChannelKind::Webchat,
            "web chat channel",
        )
        .await?)
}

/// A field for each language the dashboard knows, and for any other the
/// channel greets in, filled from `held`.
fn rows(held: &BTreeMap<String, String>) -> Vec<GreetingRow> {
    let mut codes: Vec<String> = super::settings::LANGUAGES
        .iter()
        .map(|(code, _)| (*code).to_owned())
        .collect();
    codes.extend(
        held.keys()
            .filter(|k| !codes.contains(k))
            .cloned()
            .collect::<Vec<_>>(),
    );
    codes
        .into_iter()
        .map(|code| GreetingRow {
            name: Language::parse(&code)
                .map(|l| super::complaints::language_name(&l))
                .unwrap_or("another language"),
            own: OWN_GREETINGS
                .iter()
                .find(|(l, _)| *l == code)
                .map_or(OWN_GREETINGS[0].1, |(_, g)| g),
            text: held.get(&code).cloned().unwrap_or_default(),
            error: None,
            code,
        })
        .collect()
}

fn held(channel: &Channel) -> BTreeMap<String, String> {
    channel
        .webchat()
        .map(|w| {
            w.greetings
                .iter()
                .map(|(l, g)| (l.to_string(), g.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn render(
    current: &Current,
    channel: &Channel,
    origins: String,
    origins_error: Option<String>,
    greetings: Vec<GreetingRow>,
    saved: bool,
    status: StatusCode,
) -> Response {
    html_with(
        status,
        &WebchatPage {
            chrome: Chrome::of(current, "settings"),
            id: channel.id.to_string(),
            channel_name: channel.name.clone(),
            origins,
            origins_error,
            greetings,
            saved,
        },
    )
}

pub async fn page(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let channel = channel(&state, &current, &id).await?;
    let origins = channel
        .webchat()
        .map(|w| w.allowed_origins.join("\n"))
        .unwrap_or_default();
    let greetings = rows(&held(&channel));
    Ok(render(
        &current,
        &channel,
        origins,
        None,
        greetings,
        shown.saved,
        StatusCode::OK,
    ))
}

/// Saves the form: `allowed_origins`, and `greeting.<code>` per language
/// (empty: the office sets none in it).
pub async fn save(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let channel = channel(&state, &current, &id).await?;
    let typed: BTreeMap<String, String> = form
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("greeting.")?.to_owned(), v.clone())))
        .collect();
    let origins = form.get("allowed_origins").cloned().unwrap_or_default();
    let mut greetings = BTreeMap::new();
    let mut refused = None;
    for (code, text) in &typed {
        match Language::parse(code) {
            Ok(l) => {
                greetings.insert(l, text.clone());
            }
            Err(v) => refused = Some((format!("greetings.{code}"), v.reason)),
        }
    }
    let set = match refused {
        Some((field, reason)) => Err(ValidationError::new(field, reason).into()),
        None => {
            let settings = WebchatSettings {
                allowed_origins: vec![origins.clone()],
                greetings,
            };
            state
                .engine
                .ops()
                .set_webchat(&current.acting(), &current.tenant.id, &channel.id, settings)
                .await
        }
    };
    match set {
        Ok(_) => Ok(Redirect::to(&format!(
            "/app/settings/channels/{}/webchat?saved=true",
            channel.id
        ))
        .into_response()),
        Err(ombud_store::StoreError::Invalid(v)) => {
            let mut rows = rows(&typed);
            let mut origins_error = None;
            match v.field.strip_prefix("greetings.") {
                Some(code) => {
                    if let Some(r) = rows.iter_mut().find(|r| r.code == code) {
                        r.error = Some(v.reason);
                    }
                }
                None => origins_error = Some(v.reason),
            }
            Ok(render(
                &current,
                &channel,
                origins,
                origins_error,
                rows,
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
        Err(e) => Err(e.into()),
    }
}
