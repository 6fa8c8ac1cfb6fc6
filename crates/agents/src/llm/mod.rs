//! The LLM runtime: a model behind any OpenAI-compatible
//! `POST {base_url}/chat/completions` (vLLM, llama.cpp server, Ollama, OpenAI…),
//! calling the agent tools through `tools` / `tool_calls`, round after round,
//! until it gives a final answer or the version's `max_turns` is reached.
//!
//! A call is retried on 429, 5xx and failed connections (`retries` times, with
//! backoff, honouring `Retry-After` up to 10 s). When the provider still cannot
//! answer, or takes longer than `timeout_secs`, the person gets the version's
//! `fallback_reply` and the run is recorded as a failed (or timed-out)
//! execution with the error.

mod config;
mod memory;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ombud_core::inbound::Tokens;
use ombud_core::seal::SealKey;
use ombud_core::*;
use serde_json::{json, Value};

pub use config::{LlmConfig, KEY_ENV_PREFIX};
pub use memory::{Memory, SUMMARY_MAX};

use crate::toolbox::{specs, ToolBox};
use crate::{AgentError, AgentRuntime, Reply, RunFailure, RunInput, RunOutput, Tools};

/// The kind name of LLM agents.
pub const KIND: &str = "llm";
/// The longest wait a provider's `Retry-After` can ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// The largest answer read from a provider.
const ANSWER_MAX: usize = 4 * 1024 * 1024;
/// How much of a provider's error answer is kept.
const ERROR_MAX: usize = 300;

/// Checks a URL just before it is called (a literal IP address is never
/// resolved, so a DNS guard alone would not see it).
pub trait UrlGuard: Send + Sync {
    fn check(&self, url: &str) -> Result<(), String>;
}

pub struct LlmRuntime {
    client: reqwest::Client,
    guard: Option<Arc<dyn UrlGuard>>,
    seal: Option<SealKey>,
    retry_base: Duration,
}

impl LlmRuntime {
    /// `client` should refuse internal addresses (the engine builds it with
    /// the outbound policy's resolver); `seal` opens sealed API keys.
    pub fn new(
        client: reqwest::Client,
        guard: Option<Arc<dyn UrlGuard>>,
        seal: Option<SealKey>,
    ) -> Self {
        Self {
            client,
            guard,
            seal,
            retry_base: Duration::from_millis(500),
        }
    }

    /// The first retry's wait; each next one doubles it.
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    fn api_key(&self, config: &LlmConfig, tenant: &TenantId) -> Result<Option<Secret>, String> {
        if let Some(name) = &config.api_key_env {
            return std::env::var(name)
                .map(|v| Some(Secret::new(v)))
                .map_err(|_| format!("the environment variable {name} is not set on the server"));
        }
        match (&config.api_key_sealed, &self.seal) {
            (None, _) => Ok(None),
            (Some(sealed), Some(key)) => key.open(sealed, tenant.as_str()).map(Some),
            (Some(_), None) => Err("the server has no sealing key to open the API key".into()),
        }
    }

    /// One chat completion, retried on 429, 5xx and failed connections.
    async fn complete(
        &self,
        config: &LlmConfig,
        key: Option<&Secret>,
        body: &Value,
    ) -> Result<Value, Failed> {
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        if let Some(guard) = &self.guard {
            guard.check(&url).map_err(Failed::error)?;
        }
        let timeout = Duration::from_secs(config.timeout_secs.into());
        let mut attempt = 0;
        loop {
            let mut request = self.client.post(&url).timeout(timeout).json(body);
            if let Some(key) = key {
                request = request.bearer_auth(key.expose());
            }
            let (error, wait) = match request.send().await {
                Err(e) if e.is_timeout() => {
                    return Err(Failed::timeout(format!(
                        "the provider did not answer within {} s",
                        config.timeout_secs
                    )))
                }
                Err(e) => (
                    format!("could not reach the provider: {}", root_cause(&e)),
                    None,
                ),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
                    let text = match read_capped(response, ANSWER_MAX).await {
                        Ok(t) => t,
                        Err(e) if e.is_timeout() => {
                            return Err(Failed::timeout(format!(
                                "the provider did not finish its answer within {} s",
                                config.timeout_secs
                            )))
                        }
                        Err(e) => {
                            return Err(Failed::error(format!(
                                "reading the provider's answer: {}",
                                root_cause(&e)
                            )))
                        }
                    };
                    if status.is_success() {
                        return serde_json::from_str(&text).map_err(|e| {
                            Failed::error(format!("the provider's answer is not JSON: {e}"))
                        });
                    }
                    let error = format!(
                        "the provider answered HTTP {}: {}",
                        status.as_u16(),
                        provider_error(&text)
                    );
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(Failed::error(error));
                    }
                    (error, retry_after)
                }
            };
            if attempt >= config.retries {
                let tries = attempt + 1;
                return Err(Failed::error(format!("{error} (after {tries} tries)")));
            }
            let backoff = self.retry_base * 2u32.saturating_pow(attempt);
            tokio::time::sleep(wait.map_or(backoff, |w| w.max(backoff))).await;
            attempt += 1;
        }
    }
}

/// Why a run could not get an answer from its model.
struct Failed {
    error: String,
    timeout: bool,
}

impl Failed {
    fn error(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            timeout: false,
        }
    }
    fn timeout(error: String) -> Self {
        Self {
            error,
            timeout: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("the answer is longer than {0} bytes")]
    TooLong(usize),
}

impl ReadError {
    fn is_timeout(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_timeout())
    }
}

/// The answer's body as text, refusing one longer than `max` bytes.
async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<String, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Err(ReadError::TooLong(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The provider's `error.message`, or the start of its answer.
fn provider_error(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned());
    message.chars().take(ERROR_MAX).collect()
}

#[async_trait]
impl AgentRuntime for LlmRuntime {
    fn new_session(&self, previous: &Value) -> Value {
        Memory::from_state(previous).next_session().to_state()
    }

    async fn run(&self, input: RunInput, tools: &dyn Tools) -> Result<RunOutput, AgentError> {
        let config: LlmConfig =
            crate::config::parse(&input.config).map_err(|e| AgentError::Config(e.to_string()))?;
        let mut memory = Memory::from_state(&input.state);
        let language = input.language();
        let mut toolbox = ToolBox::for_run(tools, KIND, &input);
        let user = said(&input.messages);
        let mut tokens = Tokens::default();
        let answer = match self.api_key(&config, &input.tenant.id) {
            Ok(key) => {
                let system = system_prompt(&config, &input, &language, &memory, tools).await;
                let mut messages = vec![json!({"role": "system", "content": system})];
                messages.extend(memory.messages());
                messages.push(json!({"role": "user", "content": user}));
                self.converse(&config, key.as_ref(), messages, &mut toolbox, &mut tokens)
                    .await
            }
            Err(error) => Err(Failed::error(error)),
        };
        let (text, failure) = match answer {
            Ok(text) => (text, None),
            Err(f) => (
                config.fallback_reply.clone(),
                Some(RunFailure {
                    error: f.error,
                    timeout: f.timeout,
                }),
            ),
        };
        memory.push(user, text.clone(), config.context_turns as usize);
        Ok(RunOutput {
            replies: vec![Reply {
                text,
                in_reply_to: input.messages.last().map(|m| m.id.clone()),
                choices: None,
            }],
            state: memory.to_state(),
            handoff: toolbox.handoff,
            language: toolbox.language.take(),
            tool_calls: std::mem::take(&mut toolbox.calls),
            tokens: (tokens != Tokens::default()).then_some(tokens),
            failure,
            runtime: None,
        })
    }
}

impl LlmRuntime {
    /// Calls the model, runs the tools it asks for, and calls it again, until
    /// it answers in words.
    async fn converse(
        &self,
        config: &LlmConfig,
        key: Option<&Secret>,
        mut messages: Vec<Value>,
        toolbox: &mut ToolBox<'_>,
        tokens: &mut Tokens,
    ) -> Result<String, Failed> {
        let offered: Vec<Value> = specs()
            .into_iter()
            .filter(|s| config.tools.iter().any(|t| t == s.name))
            .map(|s| json!({"type": "function", "function": {"name": s.name, "description": s.description, "parameters": s.parameters}}))
            .collect();
        for _ in 0..config.max_turns {
            let mut body = json!({
                "model": config.model,
                "messages": messages,
                "temperature": config.temperature,
                "max_tokens": config.max_tokens,
            });
            if !offered.is_empty() {
                body["tools"] = Value::Array(offered.clone());
                body["tool_choice"] = json!("auto");
            }
            let answer = self.complete(config, key, &body).await?;
            tokens.input += answer["usage"]["prompt_tokens"].as_i64().unwrap_or(0);
            tokens.output += answer["usage"]["completion_tokens"].as_i64().unwrap_or(0);
            let message = answer["choices"][0]["message"].clone();
            if !message.is_object() {
                return Err(Failed::error(
                    "the provider's answer has no choices[0].message",
                ));
            }
            let calls = message["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if calls.is_empty() {
                let text = message["content"].as_str().unwrap_or("").trim().to_owned();
                if text.is_empty() {
                    return Err(Failed::error(
                        "the model answered with no text and no tool call",
                    ));
                }
                return Ok(text);
            }
            messages.push(
                json!({"role": "assistant", "content": message["content"], "tool_calls": calls}),
            );
            for call in &calls {
                let name = call["function"]["name"].as_str().unwrap_or("");
                let offered_here = config.tools.iter().any(|t| t == name);
                let result = if offered_here {
                    toolbox.call(name, &call["function"]["arguments"]).await
                } else {
                    json!({"error": format!("no tool named {name:?} is offered")})
                };
                messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": result.to_string()}));
            }
        }
        Err(Failed::error(format!(
            "the model gave no final answer within {} calls",
            config.max_turns
        )))
    }
}

/// The person's messages of this run as one user turn.
fn said(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| match m.kind {
            MessageKind::Text => m.body.clone(),
            // A voice note reads as its words.
            _ if m.heard().is_some() => format!("[voice note] {}", m.heard().unwrap_or_default()),
            kind if m.body.trim().is_empty() => format!("[{} message]", kind.as_str()),
            kind => format!("[{} message] {}", kind.as_str(), m.body),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn system_prompt(
    config: &LlmConfig,
    input: &RunInput,
    language: &Language,
    memory: &Memory,
    tools: &dyn Tools,
) -> String {
    let mut prompt = format!(
        "{}\n\nOrganisation: {}\nToday (UTC): {}\nThe person's language: {} (reply in the language they write in).",
        config.system_prompt,
        input.tenant.name,
        input.now.format("%Y-%m-%d"),
        language
    );
    if config.tools.iter().any(|t| t == "create_complaint") {
        if let Ok(categories) = tools.categories().await {
            let list: Vec<String> = categories
                .iter()
                .map(|c| {
                    let name = c
                        .names
                        .get(language.as_str())
                        .or_else(|| c.names.values().next());
                    format!("{} ({})", c.slug, name.map_or("", |n| n.as_str()))
                })
                .collect();
            if !list.is_empty() {
                prompt.push_str("\nComplaint categories: ");
                prompt.push_str(&list.join(", "));
            }
        }
    }
    if !memory.summary.is_empty() {
        prompt.push_str("\n\nEarlier in this conversation:\n");
        prompt.push_str(&memory.summary);
    }
    prompt
}
