//! WhatsApp message templates: which approved template carries each notice an
//! office sends when the citizen is not writing, and how its parameters are
//! filled. WhatsApp takes free-form text only within 24 hours of the citizen's
//! last message; after that, only a template Meta has approved.
//!
//! A channel maps each notice kind to a template name, the languages it is
//! approved in and the values of its parameters ([`TemplateMapping`]); what
//! Meta holds for the business account ([`WaTemplate`]) is synced from the
//! Graph API and kept current by its status webhooks. [`choose`] (in
//! `fill`) decides, once for every backend and surface, what goes out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A message an office sends on its own initiative, not as an answer.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A complaint moved to another status.
    #[default]
    StatusChanged,
    /// A complaint was verified on the ground (field verification).
    Validated,
    /// A complaint was rejected.
    Rejected,
    /// The satisfaction question after a resolution.
    Survey,
    /// A reminder to the citizen (a question waiting for their answer).
    Reminder,
    /// A member's message to a citizen whose window has closed: the
    /// template carries their words (`message_text`).
    StaffMessage,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 6] = [
        Self::StatusChanged,
        Self::Validated,
        Self::Rejected,
        Self::Survey,
        Self::Reminder,
        Self::StaffMessage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatusChanged => "status_changed",
            Self::Validated => "validated",
            Self::Rejected => "rejected",
            Self::Survey => "survey",
            Self::Reminder => "reminder",
            Self::StaffMessage => "staff_message",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Every kind's name, for an error that lists them.
    pub fn names() -> String {
        or_list(Self::ALL.map(Self::as_str))
    }
}

/// `a, b or c`.
fn or_list<const N: usize>(names: [&str; N]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Where a template parameter's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamValue {
    /// The complaint's number (several, comma-separated, when one notice
    /// names several complaints of one citizen).
    ComplaintNumber,
    /// The status, as the citizen's language names it.
    StatusLabel,
    /// The complaint's category.
    Category,
    /// The day of the notice, tenant-local (`6 Dec 2026`).
    Date,
    /// What a member wrote, on one line (a `staff_message` only).
    MessageText,
}

impl ParamValue {
    pub const ALL: [ParamValue; 5] = [
        Self::ComplaintNumber,
        Self::StatusLabel,
        Self::Category,
        Self::Date,
        Self::MessageText,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ComplaintNumber => "complaint_number",
            Self::StatusLabel => "status_label",
            Self::Category => "category",
            Self::Date => "date",
            Self::MessageText => "message_text",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Every value's name, for an error that lists them.
    pub fn names() -> String {
        or_list(Self::ALL.map(Self::as_str))
    }
}

/// A button of a template that takes a value when sent: a quick reply's
/// payload (what comes back when the citizen taps it) or the dynamic end of a
/// URL button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ButtonParam {
    QuickReply { index: u8, payload: String },
    Url { index: u8, value: ParamValue },
}

/// How one notice goes out as a template on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateMapping {
    /// The template's name at Meta.
    pub name: String,
    /// The languages it is approved in, as Meta codes them (`en_US`, `hi`),
    /// the first the one to fall back to when the citizen's is not among them.
    pub languages: Vec<String>,
    /// The body's `{{1}}`, `{{2}}`… in order.
    #[serde(default)]
    pub body: Vec<ParamValue>,
    /// A text header's `{{1}}`, when it has one.
    #[serde(default)]
    pub header: Vec<ParamValue>,
    #[serde(default)]
    pub buttons: Vec<ButtonParam>,
}

/// Most mappings a channel holds (one per notice kind), languages per
/// mapping, and parameters per part: limits on what a tenant may store.
pub const MAX_LANGUAGES: usize = 20;
pub const MAX_PARAMS: usize = 10;
pub const MAX_BUTTONS: usize = 10;

impl TemplateMapping {
    /// Checks what a tenant admin sends for a notice of `kind`; the error
    /// names the field.
    pub fn validate(&self, kind: NoticeKind, field: &str) -> Result<(), ValidationError> {
        let bad = |f: &str, why: &str| Err(ValidationError::new(format!("{field}.{f}"), why));
        if !valid_name(&self.name) {
            return bad(
                "name",
                "must be a template name: 1 to 512 lowercase letters, digits and underscores",
            );
        }
        if self.languages.is_empty() || self.languages.len() > MAX_LANGUAGES {
            return bad("languages", "must list 1 to 20 language codes");
        }
        if let Some(l) = self.languages.iter().find(|l| !valid_language(l)) {
            return bad(
                "languages",
                &format!("{l:?} is not a language code such as en, en_US or hi"),
            );
        }
        for (part, params) in [("body", &self.body), ("header", &self.header)] {
            if params.len() > MAX_PARAMS {
                return bad(part, "at most 10 parameters");
            }
        }
        if self.buttons.len() > MAX_BUTTONS {
            return bad("buttons", "at most 10 buttons");
        }
        // A member's words go only where a member writes, and a template
        // that carries a member's message must carry it.
        let words = |params: &[ParamValue]| params.contains(&ParamValue::MessageText);
        let in_url = self.buttons.iter().any(|b| {
            matches!(
                b,
                ButtonParam::Url {
                    value: ParamValue::MessageText,
                    ..
                }
            )
        });
        if kind == NoticeKind::StaffMessage {
            if !words(&self.body) {
                return bad(
                    "body",
                    "a staff message's template carries the member's words: map message_text to one of its body parameters",
                );
            }
            if words(&self.header) || in_url {
                return bad("body", "message_text goes in the body only");
            }
        } else if words(&self.body) || words(&self.header) || in_url {
            let part = if words(&self.body) {
                "body"
            } else if words(&self.header) {
                "header"
            } else {
                "buttons"
            };
            return bad(part, "message_text is for the staff_message notice only");
        }
        for b in &self.buttons {
            if let ButtonParam::QuickReply { payload, .. } = b {
                if payload.is_empty() || payload.len() > 128 {
                    return bad("buttons", "a quick reply's payload is 1 to 128 bytes");
                }
            }
        }
        Ok(())
    }
}

/// The notices a WhatsApp channel sends as templates outside the window.
pub type TemplateMappings = BTreeMap<NoticeKind, TemplateMapping>;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn valid_language(code: &str) -> bool {
    let mut parts = code.split('_');
    let lang = parts.next().unwrap_or("");
    let region = parts.next();
    parts.next().is_none()
        && (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// A template as Meta holds it for the business account, synced from
/// `GET /{waba-id}/message_templates` and its status webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaTemplate {
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`…
    pub status: String,
    /// `UTILITY`, `MARKETING` or `AUTHENTICATION`.
    pub category: String,
    /// The body's text with its `{{n}}` placeholders (None: not synced yet,
    /// only heard of in a status webhook).
    pub body: Option<String>,
    /// A text header's, when it has one.
    pub header: Option<String>,
    /// Whether its parameters are named (`{{order_id}}`), which Ombud does not fill.
    pub named_params: bool,
}

impl WaTemplate {
    pub fn approved(&self) -> bool {
        self.status == "APPROVED"
    }
}

/// What a template status webhook says of one template: its new status
/// (`message_template_status_update`) or category (`template_category_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateUpdate {
    pub name: String,
    pub language: String,
    pub status: Option<String>,
    pub category: Option<String>,
}

mod fill;
mod text;

pub use fill::{
    choose, fill, one_line, placeholders, ChannelTemplates, Delivery, FilledButton, NoticeValues,
    TemplateMessage, MAX_BODY,
};

pub use text::{ButtonText, MappingText};

#[cfg(test)]
mod tests;
