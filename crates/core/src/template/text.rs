//! A template mapping as people write it, every part as text (the API's
//! JSON body, the dashboard's form), read into a checked
//! [`TemplateMapping`] once, here, and written back for the form.

use super::{ButtonParam, ParamValue, TemplateMapping};
use crate::ValidationError;

/// A mapping as people write it, every part as text: what the API's body
/// and the dashboard's form both carry, read here once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingText {
    pub name: String,
    pub languages: Vec<String>,
    pub body: Vec<String>,
    pub header: Vec<String>,
    pub buttons: Vec<ButtonText>,
}

/// A button as text: `quick_reply` with its payload, or `url` with its
/// value's source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ButtonText {
    pub kind: String,
    pub index: u8,
    pub payload: Option<String>,
    pub value: Option<String>,
}

impl ButtonText {
    /// One line of the dashboard's form: `quick_reply 0 rate:5` or
    /// `url 1 complaint_number`.
    pub fn parse_line(line: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        let (Some(kind), Some(index), Some(what), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(format!(
                "{line:?}: write a button as its type, index and value, such as \"quick_reply 0 rate:5\" or \"url 1 complaint_number\""
            ));
        };
        let index = index
            .parse()
            .map_err(|_| format!("{line:?}: the index is the button's place, 0 to 9"))?;
        let (payload, value) = match kind {
            "quick_reply" => (Some(what.to_owned()), None),
            _ => (None, Some(what.to_owned())),
        };
        Ok(Self {
            kind: kind.to_owned(),
            index,
            payload,
            value,
        })
    }

    pub fn line(&self) -> String {
        let what = self.payload.as_deref().or(self.value.as_deref());
        format!("{} {} {}", self.kind, self.index, what.unwrap_or_default())
    }
}

impl MappingText {
    /// The mapping, checked ([`TemplateMapping::validate`]); a bad part is
    /// named under `field` (`notices.survey.body`).
    pub fn parse(
        self,
        kind: super::NoticeKind,
        field: &str,
    ) -> Result<TemplateMapping, ValidationError> {
        let params = |part: &str, list: &[String]| -> Result<Vec<ParamValue>, ValidationError> {
            list.iter()
                .map(|p| {
                    ParamValue::parse(p.trim()).ok_or_else(|| {
                        ValidationError::new(
                            format!("{field}.{part}"),
                            format!("{p:?} is not {}", ParamValue::names()),
                        )
                    })
                })
                .collect()
        };
        let mut buttons = Vec::new();
        for b in self.buttons {
            let bad = |why: &str| ValidationError::new(format!("{field}.buttons"), why);
            buttons.push(match b.kind.as_str() {
                "quick_reply" => ButtonParam::QuickReply {
                    index: b.index,
                    payload: b
                        .payload
                        .ok_or_else(|| bad("a quick_reply needs its payload"))?,
                },
                "url" => ButtonParam::Url {
                    index: b.index,
                    value: params(
                        "buttons",
                        &[b.value.ok_or_else(|| bad("a url button needs its value"))?],
                    )?[0],
                },
                _ => return Err(bad("type must be quick_reply or url")),
            });
        }
        let mapping = TemplateMapping {
            name: self.name.trim().to_owned(),
            languages: self.languages.iter().map(|l| l.trim().to_owned()).collect(),
            body: params("body", &self.body)?,
            header: params("header", &self.header)?,
            buttons,
        };
        mapping.validate(kind, field)?;
        Ok(mapping)
    }
}

impl From<&TemplateMapping> for MappingText {
    fn from(m: &TemplateMapping) -> Self {
        let names = |ps: &[ParamValue]| ps.iter().map(|p| p.as_str().to_owned()).collect();
        Self {
            name: m.name.clone(),
            languages: m.languages.clone(),
            body: names(&m.body),
            header: names(&m.header),
            buttons: m
                .buttons
                .iter()
                .map(|b| match b {
                    ButtonParam::QuickReply { index, payload } => ButtonText {
                        kind: "quick_reply".into(),
                        index: *index,
                        payload: Some(payload.clone()),
                        value: None,
                    },
                    ButtonParam::Url { index, value } => ButtonText {
                        kind: "url".into(),
                        index: *index,
                        payload: None,
                        value: Some(value.as_str().to_owned()),
                    },
                })
                .collect(),
        }
    }
}
