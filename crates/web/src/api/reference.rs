//! `/docs`: the API reference, rendered on the server from the OpenAPI
//! document the API serves: every operation with its parameters, its body's
//! fields and its answers, readable on a phone and without scripts.
//! Swagger UI (vendored) stays at `/docs/try/` for trying requests out.

use std::sync::Arc;

use askama::Template;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

#[derive(Template)]
#[template(path = "api_reference.html")]
pub struct Reference {
    pub version: String,
    /// HTML: the text escaped, with its `code` spans.
    pub description: String,
    /// The answers every operation may give, said once.
    pub common: Vec<(&'static str, &'static str)>,
    /// Where the paths start (`/api/v1`).
    pub base: String,
    pub tags: Vec<Tag>,
}

pub struct Tag {
    pub name: String,
    pub operations: Vec<Operation>,
}

pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    /// HTML: the text escaped, with its `code` spans.
    pub description: String,
    pub scopes: String,
    pub parameters: Vec<Field>,
    /// The request body's schema name and its fields (empty: no body).
    pub body: String,
    pub body_fields: Vec<Field>,
    pub answers: Vec<(String, String)>,
}

pub struct Field {
    pub name: String,
    /// `path`, `query`, or empty for a body's field.
    pub place: String,
    pub required: bool,
    pub kind: String,
    pub description: String,
}

/// Most fields of a body the page lists (the rest are in the document).
const BODY_FIELDS: usize = 40;

/// The schema's name from a `$ref`, or its type in words.
fn kind(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        return options.iter().map(kind).collect::<Vec<_>>().join(" or ");
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        return format!("one of {}", values.join(", "));
    }
    let base = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "object".to_owned(),
    };
    let base = if base.starts_with("array") {
        base.replacen("array", &format!("array of {}", kind(&schema["items"])), 1)
    } else {
        base
    };
    match schema["format"].as_str() {
        Some(f) => format!("{base} ({f})"),
        None => base,
    }
}

/// Markdown's code spans as HTML, everything else escaped.
fn with_code(s: &str) -> String {
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    s.split('`')
        .enumerate()
        .map(|(i, part)| match i % 2 {
            1 => format!("<code>{}</code>", escape(part)),
            _ => escape(part),
        })
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().trim().to_owned()
}

/// A schema's properties as fields, following one `$ref`.
fn fields(spec: &Value, schema: &Value) -> Vec<Field> {
    let schema = match schema["$ref"].as_str() {
        Some(r) => spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null),
        None => schema,
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .take(BODY_FIELDS)
                .map(|(name, p)| Field {
                    name: name.clone(),
                    place: String::new(),
                    required: required.contains(&name.as_str()),
                    kind: kind(p),
                    description: text(&p["description"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The reference, from the served document.
pub fn build(spec: &Value) -> Reference {
    let mut tags: Vec<Tag> = Vec::new();
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let op = &item[method];
            if !op.is_object() {
                continue;
            }
            let tag = op["tags"][0].as_str().unwrap_or("other").to_owned();
            let parameters = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| Field {
                            name: text(&p["name"]),
                            place: text(&p["in"]),
                            required: p["required"].as_bool().unwrap_or(false),
                            kind: kind(&p["schema"]),
                            description: text(&p["description"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let scopes = op["security"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(Value::as_object)
                        .flat_map(|o| o.values())
                        .filter_map(Value::as_array)
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let answers = op["responses"]
                .as_object()
                .map(|r| {
                    r.iter()
                        .filter(|(code, _)| {
                            !super::CommonAnswers::ALL.iter().any(|(c, _)| c == code)
                        })
                        .map(|(code, a)| {
                            let shape = &a["content"]["application/json"]["schema"];
                            let what = match (text(&a["description"]), shape.is_null()) {
                                (d, true) => d,
                                (d, false) if d.is_empty() => kind(shape),
                                (d, false) => format!("{d} ({})", kind(shape)),
                            };
                            (code.clone(), what)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let operation = Operation {
                id: op["operationId"]
                    .as_str()
                    .map_or_else(|| format!("{method}-{path}"), str::to_owned),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                description: with_code(&text(&op["description"])),
                scopes,
                parameters,
                body: if body_schema.is_null() {
                    String::new()
                } else {
                    kind(body_schema)
                },
                body_fields: fields(spec, body_schema),
                answers,
            };
            match tags.iter_mut().find(|t| t.name == tag) {
                Some(t) => t.operations.push(operation),
                None => tags.push(Tag {
                    name: tag,
                    operations: vec![operation],
                }),
            }
        }
    }
    Reference {
        version: text(&spec["info"]["version"]),
        description: with_code(&text(&spec["info"]["description"])),
        common: super::CommonAnswers::ALL.to_vec(),
        base: text(&spec["servers"][0]["url"]),
        tags,
    }
}

/// The page, rendered once.
pub fn page(spec: &Value) -> Arc<String> {
    Arc::new(
        build(spec)
            .render()
            .unwrap_or_else(|e| format!("the API reference could not be rendered: {e}")),
    )
}

pub fn respond(html: &str) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Html(html.to_owned()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_document_is_on_the_page_with_its_fields() {
        let spec = serde_json::to_value(super::super::openapi()).unwrap();
        let reference = build(&spec);
        let count: usize = reference.tags.iter().map(|t| t.operations.len()).sum();
        let in_document: usize = spec["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert!(
            count >= in_document - 2 && count > 20,
            "{count} of {in_document}"
        );
        let html = reference.render().unwrap();
        assert!(
            html.contains("/api/v1</span>/complaints/{id}"),
            "paths are absolute"
        );
        assert!(html.contains(">PATCH<"));
        assert!(html.contains("Bearer"));
    }

    #[test]
    fn code_spans_are_code_and_the_rest_is_escaped() {
        assert_eq!(
            with_code("use `<b>` & `x`"),
            "use <code>&lt;b&gt;</code> &amp; <code>x</code>"
        );
    }

    #[test]
    fn types_read_as_words() {
        let v = serde_json::json!({"type": ["string", "null"], "format": "date-time"});
        assert_eq!(kind(&v), "string or null (date-time)");
        let a = serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/Complaint"}});
        assert_eq!(kind(&a), "array of Complaint");
        let e = serde_json::json!({"type": "string", "enum": ["new", "closed"]});
        assert_eq!(kind(&e), "one of new, closed");
    }
}
