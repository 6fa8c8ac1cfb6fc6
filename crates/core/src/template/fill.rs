//! Filling a template for one send: the values a notice carries, the
//! choice of the approved template in the citizen's language (or why there
//! is none), Meta's limits on parameters and body, and the Graph API's
//! `template` object.

use serde::{Deserialize, Serialize};

use super::{ButtonParam, NoticeKind, ParamValue, TemplateMapping, WaTemplate};
use crate::Language;

/// How many distinct positional placeholders (`{{1}}`…) a text has: the
/// highest number used.
pub fn placeholders(text: &str) -> usize {
    let mut highest = 0;
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("}}") else { break };
        if let Ok(n) = rest[..end].trim().parse::<usize>() {
            highest = highest.max(n);
        }
        rest = &rest[end + 2..];
    }
    highest
}

/// `{{1}}`, `{{2}}`… of `text` replaced by `values`.
pub fn fill(text: &str, values: &[String]) -> String {
    let mut out = text.to_owned();
    for (i, v) in values.iter().enumerate().rev() {
        out = out.replace(&format!("{{{{{}}}}}", i + 1), v);
    }
    out
}

/// The values a notice fills a template with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeValues {
    pub numbers: String,
    pub status_label: String,
    pub category: String,
    pub date: String,
    /// A member's message, for a `staff_message` (empty otherwise).
    pub message: String,
}

impl NoticeValues {
    fn get(&self, p: ParamValue) -> String {
        match p {
            ParamValue::ComplaintNumber => self.numbers.clone(),
            ParamValue::StatusLabel => self.status_label.clone(),
            ParamValue::Category => self.category.clone(),
            ParamValue::Date => self.date.clone(),
            ParamValue::MessageText => one_line(&self.message),
        }
    }
}

/// `text` as a template parameter takes it: Meta refuses one with a new
/// line, a tab or more than four spaces in a row, so every run of white
/// space becomes one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The most characters a template's body may have once filled (Meta's).
pub const MAX_BODY: usize = 1024;

/// A template send, parameters filled: what goes to the Graph API, and the
/// text the citizen sees (for the transcript).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMessage {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub header: Vec<String>,
    #[serde(default)]
    pub body: Vec<String>,
    #[serde(default)]
    pub buttons: Vec<FilledButton>,
    /// The body as the citizen reads it.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilledButton {
    pub index: u8,
    /// `quick_reply` or `url`.
    pub sub_type: String,
    pub value: String,
}

impl TemplateMessage {
    /// The Cloud API's `template` object.
    pub fn to_graph(&self) -> serde_json::Value {
        let texts = |values: &[String]| -> Vec<serde_json::Value> {
            values
                .iter()
                .map(|v| serde_json::json!({"type": "text", "text": v}))
                .collect()
        };
        let mut components = Vec::new();
        if !self.header.is_empty() {
            components
                .push(serde_json::json!({"type": "header", "parameters": texts(&self.header)}));
        }
        if !self.body.is_empty() {
            components.push(serde_json::json!({"type": "body", "parameters": texts(&self.body)}));
        }
        for b in &self.buttons {
            let parameter = if b.sub_type == "quick_reply" {
                serde_json::json!({"type": "payload", "payload": b.value})
            } else {
                serde_json::json!({"type": "text", "text": b.value})
            };
            components.push(serde_json::json!({
                "type": "button", "sub_type": b.sub_type, "index": b.index.to_string(),
                "parameters": [parameter],
            }));
        }
        serde_json::json!({
            "name": self.name,
            "language": {"code": self.language},
            "components": components,
        })
    }
}

/// How a notice goes out on a channel at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Free-form text: a channel without a window, or inside it.
    Text,
    Template(TemplateMessage),
    /// Not sent; the reason is recorded on the complaint's timeline and shown
    /// to staff with the fix.
    CannotNotify(String),
}

/// What a channel knows of its templates when a notice is planned: the
/// mapping for the notice's kind, and Meta's templates of that name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelTemplates {
    pub mapping: Option<TemplateMapping>,
    pub synced: Vec<WaTemplate>,
}

/// The template that carries a notice of `kind` to a citizen writing in
/// `language` once the window is closed, filled; or why none can
/// (`could not notify: …`, for the complaint's timeline).
pub fn choose(
    kind: NoticeKind,
    templates: &ChannelTemplates,
    language: &Language,
    values: &NoticeValues,
) -> Result<TemplateMessage, String> {
    let no = |why: String| {
        format!(
            "could not notify: no approved template for {} in {}: {why}",
            kind.as_str(),
            language.as_str()
        )
    };
    let Some(mapping) = &templates.mapping else {
        return Err(no("no template is mapped to this notice".into()));
    };
    let found = |code: &str| {
        templates
            .synced
            .iter()
            .find(|t| t.name == mapping.name && t.language == code)
    };
    // The citizen's language (`hi`, or `en` as `en_US`), then the mapping's
    // languages in the order given.
    let wanted = language.as_str();
    let (mut order, rest): (Vec<&String>, Vec<&String>) = mapping
        .languages
        .iter()
        .partition(|l| *l == wanted || l.split('_').next() == Some(wanted));
    order.extend(rest);
    let mut refusals = Vec::new();
    for code in order {
        let Some(t) = found(code) else {
            refusals.push(format!(
                "{} ({code}) is not on the business account",
                mapping.name
            ));
            continue;
        };
        if !t.approved() {
            refusals.push(format!("{} ({code}) is {}", mapping.name, t.status));
            continue;
        }
        match fill_template(mapping, t, values) {
            Ok(message) => return Ok(message),
            Err(why) => refusals.push(why),
        }
    }
    Err(no(refusals.join("; ")))
}

fn fill_template(
    mapping: &TemplateMapping,
    t: &WaTemplate,
    values: &NoticeValues,
) -> Result<TemplateMessage, String> {
    let who = format!("{} ({})", t.name, t.language);
    if t.named_params {
        return Err(format!(
            "{who} uses named parameters; map one with {{{{1}}}}-style ones"
        ));
    }
    let Some(body) = &t.body else {
        return Err(format!("{who} is not synced yet; sync the templates"));
    };
    let check = |part: &str, text: Option<&String>, given: usize| {
        let wanted = text.map_or(0, |t| placeholders(t));
        if wanted == given {
            Ok(())
        } else {
            Err(format!(
                "{who} has {wanted} {part} parameters, the mapping fills {given}"
            ))
        }
    };
    check("body", Some(body), mapping.body.len())?;
    check("header", t.header.as_ref(), mapping.header.len())?;
    let body_values: Vec<String> = mapping.body.iter().map(|p| values.get(*p)).collect();
    let text = fill(body, &body_values);
    let length = text.chars().count();
    if length > MAX_BODY {
        return Err(format!(
            "{who} would be {length} characters long filled, and Meta takes at most {MAX_BODY}"
        ));
    }
    Ok(TemplateMessage {
        name: t.name.clone(),
        language: t.language.clone(),
        header: mapping.header.iter().map(|p| values.get(*p)).collect(),
        text,
        body: body_values,
        buttons: mapping
            .buttons
            .iter()
            .map(|b| match b {
                ButtonParam::QuickReply { index, payload } => FilledButton {
                    index: *index,
                    sub_type: "quick_reply".into(),
                    value: payload.clone(),
                },
                ButtonParam::Url { index, value } => FilledButton {
                    index: *index,
                    sub_type: "url".into(),
                    value: values.get(*value),
                },
            })
            .collect(),
    })
}
