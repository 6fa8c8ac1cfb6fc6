//! Settings → Categories: the forms that add and edit a complaint
//! category (names in each language, keywords, default priority), checked
//! here and saved through the category operations.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::*;
use ombud_store::{NewCategory, StoreError};
use serde::Deserialize;

use super::login::FieldErrors;
use super::page::PageError;
use super::session::Current;
use super::settings::refused;
use super::Dashboard;
use crate::AppState;

const MAX_NAME: usize = 60;
const MAX_KEYWORD: usize = 40;

#[derive(Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    name_hi: String,
    #[serde(default)]
    name_mr: String,
    #[serde(default)]
    keywords: String,
    #[serde(default)]
    priority: String,
}

/// A slug from the English name: lower-case letters and digits, dashes between.
pub(super) fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(40).collect()
}

fn parse_category(form: &CategoryForm) -> Result<NewCategory, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut names = BTreeMap::new();
    for (code, value) in [
        ("en", &form.name_en),
        ("hi", &form.name_hi),
        ("mr", &form.name_mr),
    ] {
        let value = value.trim();
        if value.chars().count() > MAX_NAME {
            errors.add(
                field_name(code),
                format!("use at most {MAX_NAME} characters"),
            );
        } else if !value.is_empty() {
            names.insert(code.to_owned(), value.to_owned());
        }
    }
    if !names.contains_key("en") && errors.get("name_en").is_none() {
        errors.add("name_en", "give at least the English name");
    }
    let keywords: Vec<String> = form
        .keywords
        .split(',')
        .map(|k| k.trim().to_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    if keywords.len() > ombud_core::limits::KEYWORDS {
        errors.add(
            "keywords",
            format!("at most {} keywords", ombud_core::limits::KEYWORDS),
        );
    } else if keywords.iter().any(|k| k.chars().count() > MAX_KEYWORD) {
        errors.add(
            "keywords",
            format!("each keyword at most {MAX_KEYWORD} characters"),
        );
    }
    let priority = Priority::parse(&form.priority)
        .map_err(|e| errors.add("priority", e.reason))
        .ok();
    let slug = slug_of(names.get("en").map(String::as_str).unwrap_or(""));
    if slug.is_empty() && errors.get("name_en").is_none() {
        errors.add("name_en", "needs at least one letter or digit");
    }
    match (priority, errors.is_empty()) {
        (Some(default_priority), true) => Ok(NewCategory {
            id: ombud_core::CategoryId::new(),
            slug,
            names,
            keywords,
            default_priority,
        }),
        _ => Err(errors),
    }
}

fn field_name(code: &str) -> &'static str {
    match code {
        "hi" => "name_hi",
        "mr" => "name_mr",
        _ => "name_en",
    }
}

pub async fn add_category(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<CategoryForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let refused = |errors| {
        refused(
            &state,
            &dashboard,
            &headers,
            &current,
            "new-category",
            errors,
        )
    };
    let new = match parse_category(&form) {
        Ok(new) => new,
        Err(errors) => return refused(errors).await,
    };
    let made = state
        .engine
        .ops()
        .create_category(&current.acting(), &current.tenant.id, new)
        .await;
    match made {
        Ok(_) => Ok(Redirect::to("/app/settings/categories?saved=category").into_response()),
        Err(StoreError::Conflict { .. }) => {
            let mut errors = FieldErrors::default();
            errors.add("name_en", "a category with this name exists already");
            refused(errors).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn edit_category(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<CategoryForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let id: CategoryId = id.parse().map_err(|_| PageError::not_found("category"))?;
    let change = match parse_category(&form) {
        Ok(c) => c,
        Err(errors) => {
            return refused(&state, &dashboard, &headers, &current, id.as_str(), errors).await
        }
    };
    state
        .engine
        .ops()
        .change_category(&current.acting(), &current.tenant.id, &id, change)
        .await?;
    Ok(Redirect::to("/app/settings/categories?saved=category").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_the_english_name() {
        assert_eq!(slug_of("Roads & Footpaths!"), "roads-footpaths");
        assert_eq!(slug_of("  Water supply 24x7 "), "water-supply-24x7");
        assert_eq!(slug_of("पानी"), "");
    }
}
