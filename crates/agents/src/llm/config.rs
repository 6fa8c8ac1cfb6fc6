//! An LLM agent version's configuration.

use serde::{Deserialize, Serialize};

use crate::config::{text, within, ConfigError};

/// Environment variables an LLM agent may name for its API key must start
/// with this, so a tenant cannot point a version at the server's own secrets
/// (`OMBUD_DATABASE_URL`…) and send them to a URL of its choosing.
pub const KEY_ENV_PREFIX: &str = "OMBUD_LLM_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// The API base up to and including its version, e.g.
    /// `https://api.openai.com/v1`: requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    pub model: String,
    /// The name of an environment variable holding the API key (single-
    /// organisation installs); it must start with `OMBUD_LLM_`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// The API key, encrypted under the server's key (`sealed:v1:…`). The API
    /// and dashboard take a plain `api_key` and seal it before saving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_sealed: Option<String>,
    #[serde(default = "default_prompt")]
    pub system_prompt: String,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Per request to the provider.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u32,
    /// The tools the model may call, by name; all six unless listed.
    #[serde(default = "all_tools")]
    pub tools: Vec<String>,
    /// Model calls per run at most (each tool round is one).
    #[serde(default = "default_max_turns")]
    pub max_turns: u32,
    /// Retries of one call on 429, 5xx or a failed connection.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Turns (a person's messages and the reply) kept in the model's context;
    /// older ones are folded into a running summary.
    #[serde(default = "default_context_turns")]
    pub context_turns: u32,
    /// Sent when the provider cannot answer; the execution is recorded as failed.
    #[serde(default = "default_fallback")]
    pub fallback_reply: String,
}

fn default_prompt() -> String {
    "You are the complaint desk of the organisation named below, answering citizens on a chat app. \
     Be brief and polite, and answer in the person's language. Register a complaint with \
     create_complaint once you know what is wrong and where, then give its number. Look up \
     status with complaint_status or list_my_complaints. Hand over with handoff_to_human \
     when the person asks for a human."
        .into()
}
fn default_temperature() -> f64 {
    0.2
}
fn default_max_tokens() -> u32 {
    512
}
fn default_timeout() -> u32 {
    30
}
fn all_tools() -> Vec<String> {
    crate::toolbox::specs()
        .iter()
        .map(|s| s.name.to_owned())
        .collect()
}
fn default_max_turns() -> u32 {
    6
}
fn default_retries() -> u32 {
    2
}
fn default_context_turns() -> u32 {
    12
}
fn default_fallback() -> String {
    "Sorry, I cannot answer just now. Your message is saved and our team will get back to you."
        .into()
}

impl LlmConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.base_url)
            .map_err(|e| ConfigError::new("base_url", format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConfigError::new(
                "base_url",
                "must be an http or https URL with a host",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::new(
                "base_url",
                "must have no query or fragment",
            ));
        }
        text("base_url", &self.base_url, 500)?;
        text("model", &self.model, 200)?;
        match (&self.api_key_env, &self.api_key_sealed) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "api_key_env",
                    "give either an environment variable or a key, not both",
                ))
            }
            (Some(name), None) => {
                let ok = name.len() > KEY_ENV_PREFIX.len()
                    && name.starts_with(KEY_ENV_PREFIX)
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !ok {
                    return Err(ConfigError::new(
                        "api_key_env",
                        format!(
                            "must be an upper-case variable name starting with {KEY_ENV_PREFIX}"
                        ),
                    ));
                }
            }
            (None, Some(sealed)) if !ombud_core::seal::is_sealed(sealed) => {
                return Err(ConfigError::new(
                    "api_key",
                    "is not a sealed key; send the key as api_key",
                ))
            }
            _ => {}
        }
        text("system_prompt", &self.system_prompt, 20_000)?;
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err(ConfigError::new("temperature", "must be between 0 and 2"));
        }
        within("max_tokens", self.max_tokens.into(), 1..=32_768)?;
        within("timeout_secs", self.timeout_secs.into(), 1..=300)?;
        within("max_turns", self.max_turns.into(), 1..=20)?;
        within("retries", self.retries.into(), 0..=5)?;
        within("context_turns", self.context_turns.into(), 1..=100)?;
        let known = all_tools();
        for (i, name) in self.tools.iter().enumerate() {
            if !known.contains(name) {
                return Err(ConfigError::new(
                    format!("tools[{i}]"),
                    format!("{name:?} is not one of {}", known.join(", ")),
                ));
            }
            if self.tools[..i].contains(name) {
                return Err(ConfigError::new(
                    format!("tools[{i}]"),
                    format!("{name:?} is listed twice"),
                ));
            }
        }
        text("fallback_reply", &self.fallback_reply, 1000)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::{validate, AgentKind};

    #[test]
    fn an_llm_config_needs_a_url_and_model_and_names_what_is_wrong() {
        let ok = validate(
            AgentKind::Llm,
            &json!({"base_url": "http://127.0.0.1:8000/v1", "model": "m"}),
        )
        .unwrap();
        assert_eq!(
            ok["tools"].as_array().unwrap().len(),
            6,
            "defaults filled in"
        );
        assert_eq!(ok["max_turns"], 6);
        let base = |extra: serde_json::Value| {
            let mut c = json!({"base_url": "https://llm.example.org/v1", "model": "m"});
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            c
        };
        let cases = [
            (json!({"model": "m"}), "config"),
            (base(json!({"base_url": "ftp://x/v1"})), "base_url"),
            (base(json!({"base_url": "https://x/v1?key=1"})), "base_url"),
            (base(json!({"model": ""})), "model"),
            (
                base(json!({"api_key_env": "OMBUD_DATABASE_URL"})),
                "api_key_env",
            ),
            (
                base(json!({"api_key_env": "OPENAI_API_KEY"})),
                "api_key_env",
            ),
            (base(json!({"api_key_sealed": "sk-plain"})), "api_key"),
            (base(json!({"temperature": 3.5})), "temperature"),
            (base(json!({"max_tokens": 0})), "max_tokens"),
            (base(json!({"timeout_secs": 301})), "timeout_secs"),
            (
                base(json!({"tools": ["create_complaint", "rm_rf"]})),
                "tools[1]",
            ),
            (
                base(json!({"tools": ["handoff_to_human", "handoff_to_human"]})),
                "tools[1]",
            ),
            (base(json!({"max_turns": "many"})), "max_turns"),
            (base(json!({"fallback_reply": " "})), "fallback_reply"),
            (base(json!({"temprature": 1})), "temprature"),
        ];
        for (config, field) in cases {
            let e = validate(AgentKind::Llm, &config).unwrap_err();
            assert_eq!(e.field, field, "{config}: {e}");
        }
        let env = validate(
            AgentKind::Llm,
            &base(json!({"api_key_env": "OMBUD_LLM_OPENAI"})),
        )
        .unwrap();
        assert_eq!(env["api_key_env"], "OMBUD_LLM_OPENAI");
    }
}
