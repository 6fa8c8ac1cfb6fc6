//! Agent kinds and the checking of a version's configuration before it is
//! saved. A saved configuration is the full snapshot — defaults filled in —
//! so a version reads the same after Ombud's defaults change.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::intake::IntakeConfig;
use crate::llm::LlmConfig;
use crate::process::ProcessConfig;

/// What runs an agent's versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    /// The built-in complaint-intake dialogue.
    Intake,
    /// A model behind an OpenAI-compatible chat-completions endpoint.
    Llm,
    /// A program speaking the worker protocol on stdin/stdout.
    Process,
}

impl AgentKind {
    pub const ALL: [Self; 3] = [Self::Intake, Self::Llm, Self::Process];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intake => "intake",
            Self::Llm => "llm",
            Self::Process => "process",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                ConfigError::new("kind", format!("{s:?} is not one of intake, llm, process"))
            })
    }
}

/// A configuration refused, naming the field (dotted path) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// From a `"field: reason"` message.
    pub fn from_message(message: &str) -> Self {
        match message.split_once(": ") {
            Some((field, reason)) if !field.contains(' ') => Self::new(field, reason),
            _ => Self::new("config", message),
        }
    }
}

/// Checks `config` for an agent of `kind` and returns the full snapshot to save.
pub fn validate(kind: AgentKind, config: &Value) -> Result<Value, ConfigError> {
    match kind {
        AgentKind::Intake => {
            let parsed: IntakeConfig = parse(config)?;
            parsed
                .validate()
                .map_err(|e| ConfigError::from_message(&e))?;
            snapshot(&parsed)
        }
        AgentKind::Llm => {
            let parsed: LlmConfig = parse(config)?;
            parsed.validate()?;
            snapshot(&parsed)
        }
        AgentKind::Process => {
            let parsed: ProcessConfig = parse(config)?;
            parsed.validate()?;
            snapshot(&parsed)
        }
    }
}

/// Reads a configuration; a type error names the field it is in.
pub fn parse<T: DeserializeOwned>(config: &Value) -> Result<T, ConfigError> {
    if !config.is_object() {
        return Err(ConfigError::new("config", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "config".to_owned()
        } else {
            path
        };
        ConfigError::new(field, e.into_inner().to_string())
    })
}

fn snapshot<T: Serialize>(config: &T) -> Result<Value, ConfigError> {
    serde_json::to_value(config).map_err(|e| ConfigError::new("config", e.to_string()))
}

/// Checks a whole number lies in `range`.
pub(crate) fn within(
    field: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("{value} is outside {}..={}", range.start(), range.end()),
        ))
    }
}

/// Checks a text is not blank, has no NUL and is at most `max` characters.
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::new(field, "must not be empty"))
    } else if value.contains('\0') {
        Err(ConfigError::new(field, "must not contain a NUL character"))
    } else if value.chars().count() > max {
        Err(ConfigError::new(
            field,
            format!("is longer than {max} characters"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_parse_and_name_themselves() {
        for k in AgentKind::ALL {
            assert_eq!(AgentKind::parse(k.as_str()), Ok(k));
        }
        assert_eq!(AgentKind::parse("python").unwrap_err().field, "kind");
    }

    #[test]
    fn an_intake_config_is_saved_whole_and_errors_name_the_field() {
        let full = validate(AgentKind::Intake, &json!({"confirm": false})).unwrap();
        assert_eq!(full["confirm"], false);
        assert!(
            full["templates"]["en"]["greeting"].is_string(),
            "defaults filled in"
        );
        let cases = [
            (json!({"confrim": true}), "confrim"),
            (json!({"limits": {"per_day": "ten"}}), "limits.per_day"),
            (json!({"limits": {"per_dya": 3}}), "limits.per_dya"),
            (json!({"languages": ["ta"]}), "templates.ta"),
            (json!({"languages": []}), "languages"),
            (json!([1, 2]), "config"),
        ];
        for (config, field) in cases {
            let e = validate(AgentKind::Intake, &config).unwrap_err();
            assert_eq!(e.field, field, "{config}: {e}");
        }
    }
}
