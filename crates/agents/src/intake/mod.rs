//! The built-in intake agent: a deterministic dialogue that takes down a complaint
//! (description → category → location → confirmation → number), answers status
//! questions, helps, hands over to a human, and keeps per-contact limits. It runs
//! in process in microseconds and needs nothing outside Ombud.

mod buttons;
mod choosing;
mod config;
pub mod eval;
mod state;
mod templates_hi_mr;
pub mod understand;
mod words;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use ombud_core::*;

pub use config::{IntakeConfig, Limits, Templates};
use state::{Draft, IntakeState, Step};
use understand::Reading;
use words::Command;

use crate::language;
use crate::{AgentError, AgentRuntime, ComplaintDraft, Reply, RunInput, RunOutput, Tools};

/// The agent kind name stored with agent versions.
pub const KIND: &str = "intake";

/// Most parsed configurations kept; past this the keeper starts afresh.
const MAX_KEPT_CONFIGS: usize = 1024;

#[derive(Debug, Default)]
pub struct IntakeAgent {
    /// Parsed configurations of saved versions, which never change: parsing
    /// one for every run showed in the profile.
    parsed: Mutex<HashMap<AgentVersionId, Arc<IntakeConfig>>>,
}

impl IntakeAgent {
    fn config(&self, input: &RunInput) -> Result<Arc<IntakeConfig>, AgentError> {
        let parse = || {
            IntakeConfig::from_value(&input.config)
                .map(Arc::new)
                .map_err(AgentError::Config)
        };
        let Some(version) = &input.version else {
            return parse();
        };
        if let Some(kept) = self.kept().get(version) {
            return Ok(kept.clone());
        }
        let config = parse()?;
        let mut kept = self.kept();
        if kept.len() >= MAX_KEPT_CONFIGS {
            kept.clear();
        }
        kept.insert(version.clone(), config.clone());
        Ok(config)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<AgentVersionId, Arc<IntakeConfig>>> {
        self.parsed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl AgentRuntime for IntakeAgent {
    fn new_session(&self, previous: &serde_json::Value) -> serde_json::Value {
        IntakeState::from_value(previous).next_session().to_value()
    }

    async fn run(&self, input: RunInput, tools: &dyn Tools) -> Result<RunOutput, AgentError> {
        let config = self.config(&input)?;
        let mut run = Run {
            state: IntakeState::from_value(&input.state),
            language: input.contact.language.clone(),
            learnt_language: None,
            replies: Vec::new(),
            handoff: false,
            config: &config,
            input: &input,
            tools,
            categories: None,
            choices: None,
        };
        run.process().await?;
        Ok(RunOutput {
            replies: run.replies,
            state: run.state.to_value(),
            handoff: run.handoff,
            language: run.learnt_language,
            ..RunOutput::default()
        })
    }
}

struct Run<'a> {
    state: IntakeState,
    language: Option<Language>,
    learnt_language: Option<Language>,
    replies: Vec<Reply>,
    handoff: bool,
    config: &'a IntakeConfig,
    input: &'a RunInput,
    tools: &'a dyn Tools,
    categories: Option<Arc<Vec<Category>>>,
    /// Buttons for the reply being written (a question with set answers).
    choices: Option<ombud_core::choice::Choices>,
}

impl Run<'_> {
    async fn process(&mut self) -> Result<(), AgentError> {
        let input = self.input;
        let limits = &self.config.limits;
        let window = Duration::seconds(i64::from(limits.burst_window_secs));
        // One more than the limit is all the burst check needs to remember.
        let keep = limits.burst as usize + 1;
        for message in &input.messages {
            if self.handoff {
                break; // Staff have it now; the rest waits for them.
            }
            // A voice note the transcriber heard reads as its words typed.
            let words;
            let message = match message.heard() {
                Some(heard) => {
                    words = Message {
                        kind: MessageKind::Text,
                        body: heard.to_owned(),
                        ..message.clone()
                    };
                    &words
                }
                None => message,
            };
            let day = input.tenant.local_date(message.created_at).to_string();
            let (today, recent) = self
                .state
                .counts
                .add(&day, message.created_at, window, keep);
            let lang = self.language_for(message);
            if today > limits.per_day {
                if self.state.daily_notice.as_deref() != Some(day.as_str()) {
                    self.state.daily_notice = Some(day);
                    let text = self.t(&lang).limit_daily.clone();
                    self.reply(message, text);
                }
                continue;
            }
            if recent > limits.burst {
                let quiet = self.state.burst_notice_until.is_some_and(|t| t > input.now);
                if !quiet {
                    self.state.burst_notice_until = Some(input.now + window);
                    let text = self.t(&lang).limit_burst.clone();
                    self.reply(message, text);
                }
                continue;
            }
            self.handle(message, &lang).await?;
        }
        Ok(())
    }

    fn language_for(&mut self, message: &Message) -> Language {
        if message.kind != MessageKind::Text {
            return self.current_language();
        }
        let (lang, sure) = language::detect(
            &message.body,
            &self.config.languages,
            self.language.as_ref(),
        );
        if (sure || self.language.is_none()) && self.language.as_ref() != Some(&lang) {
            self.language = Some(lang.clone());
            self.learnt_language = Some(lang.clone());
        }
        lang
    }

    fn current_language(&self) -> Language {
        self.language
            .clone()
            .filter(|l| self.config.languages.contains(l))
            .unwrap_or_else(|| self.config.default_language())
    }

    fn t(&self, lang: &Language) -> &Templates {
        self.config.templates_for(lang)
    }

    fn reply(&mut self, to: &Message, text: String) {
        self.replies.push(Reply {
            text,
            in_reply_to: Some(to.id.clone()),
            choices: self.choices.take(),
        });
    }

    async fn categories(&mut self) -> Result<&[Category], AgentError> {
        if self.categories.is_none() {
            self.categories = Some(self.tools.categories().await?);
        }
        Ok(self
            .categories
            .as_deref()
            .map(Vec::as_slice)
            .unwrap_or_default())
    }

    async fn handle(&mut self, message: &Message, lang: &Language) -> Result<(), AgentError> {
        // A tapped button reads as the words it stands for.
        let tapped = message.payload.as_deref().and_then(buttons::words_of);
        if message.kind == MessageKind::Location {
            let text = self.pinned(message, lang).await?;
            self.reply(message, text);
            return Ok(());
        }
        if message.kind == MessageKind::Image && message.media.is_some() {
            let text = self.photo(message, lang).await?;
            self.reply(message, text);
            return Ok(());
        }
        if message.kind == MessageKind::Audio && message.media.is_some() {
            let text = self.unheard_voice(message, lang);
            self.reply(message, text);
            return Ok(());
        }
        if message.kind != MessageKind::Text && tapped.is_none() {
            let text = self.t(lang).non_text.clone();
            self.reply(message, text);
            return Ok(());
        }
        let norm = words::normalize(tapped.as_deref().unwrap_or(&message.body));
        let text = match words::command(&norm) {
            Some(Command::Help) => self.t(lang).help.clone(),
            Some(Command::Human) => {
                self.handoff = true;
                self.state = IntakeState {
                    step: Step::Idle,
                    draft: None,
                    ..self.state.clone()
                };
                self.t(lang).handoff.clone()
            }
            Some(Command::Cancel) => {
                self.state.step = Step::Idle;
                self.state.draft = None;
                self.t(lang).cancelled.clone()
            }
            Some(Command::Status(number)) => self.status(number, lang).await?,
            None => self.dialogue(message, &norm, lang).await?,
        };
        self.reply(message, text);
        Ok(())
    }

    pub(super) async fn dialogue(
        &mut self,
        message: &Message,
        norm: &str,
        lang: &Language,
    ) -> Result<String, AgentError> {
        let body = message.body.trim().to_owned();
        match self.state.step {
            Step::Idle => {
                if words::is_greeting(norm) {
                    return Ok(fill(
                        &self.t(lang).greeting,
                        &[("tenant", &self.input.tenant.name)],
                    ));
                }
                let categories = self.categories().await?;
                let reading = understand::read(&body, categories);
                let between = match reading {
                    Reading::Between(a, b) => {
                        Some((position(categories, a), position(categories, b)))
                    }
                    _ => None,
                };
                let category = reading.sure().map(|c| c.id.clone());
                if category.is_none() && between.is_none() && norm.split(' ').count() < 3 {
                    return Ok(self.t(lang).ask_description.clone());
                }
                // A pin or photos shared before the words stay with them.
                let before = self
                    .state
                    .draft
                    .take()
                    .filter(|d| d.description.is_empty())
                    .unwrap_or_default();
                // Told in a voice note (read here as its words): the note
                // goes with the complaint too.
                let voice = message.heard().is_some();
                let mut media = before.photos;
                if voice {
                    media.push(message.id.clone());
                }
                self.state.draft = Some(Draft {
                    description: body,
                    category_id: category,
                    location: before.location,
                    point: before.point,
                    photos: media,
                    voice,
                });
                // Two fit about as well: the citizen says which.
                if let Some((first, second)) = between {
                    self.state.step = Step::AwaitCategory;
                    return self.ask_between(first, second, lang).await;
                }
            }
            Step::AwaitCategory => match words::pick_category(norm, self.categories().await?) {
                Some(c) => {
                    let id = c.id.clone();
                    if let Some(d) = self.state.draft.as_mut() {
                        d.category_id = Some(id);
                    }
                }
                None => return self.ask_category(lang).await,
            },
            Step::AwaitLocation => {
                if body.chars().count() < 3 {
                    return Ok(self.t(lang).ask_location.clone());
                }
                if let Some(d) = self.state.draft.as_mut() {
                    d.location = Some(body);
                }
            }
            Step::AwaitConfirm => {
                if words::is_yes(norm) {
                    return self.create(message, lang).await;
                }
                if words::is_no(norm) {
                    self.state.step = Step::Idle;
                    self.state.draft = None;
                    return Ok(self.t(lang).cancelled.clone());
                }
                return self.confirm_text(lang).await;
            }
        }
        self.next_question(message, lang).await
    }

    /// Asks for whatever the draft still lacks, or confirms, or creates.
    pub(super) async fn next_question(
        &mut self,
        message: &Message,
        lang: &Language,
    ) -> Result<String, AgentError> {
        let Some(draft) = self.state.draft.clone() else {
            self.state.step = Step::Idle;
            return Ok(self.t(lang).ask_description.clone());
        };
        if draft.category_id.is_none() {
            self.state.step = Step::AwaitCategory;
            return self.ask_category(lang).await;
        }
        if self.config.require_location && draft.location.is_none() {
            self.state.step = Step::AwaitLocation;
            return Ok(self.t(lang).ask_location.clone());
        }
        if self.config.confirm {
            self.state.step = Step::AwaitConfirm;
            return self.confirm_text(lang).await;
        }
        self.create(message, lang).await
    }

    pub(super) async fn ask_category(&mut self, lang: &Language) -> Result<String, AgentError> {
        let categories = self.categories().await?;
        let options: Vec<String> = categories
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}. {}", i + 1, c.name_in(lang)))
            .collect();
        self.choices = buttons::categories(categories, lang);
        Ok(fill(
            &self.t(lang).ask_category,
            &[("options", &options.join("\n"))],
        ))
    }

    async fn category_name(
        &mut self,
        id: Option<&CategoryId>,
        lang: &Language,
    ) -> Result<String, AgentError> {
        let cats = self.categories().await?;
        Ok(id
            .and_then(|id| cats.iter().find(|c| &c.id == id))
            .map(|c| c.name_in(lang).to_owned())
            .unwrap_or_else(|| "-".into()))
    }

    async fn confirm_text(&mut self, lang: &Language) -> Result<String, AgentError> {
        self.choices = Some(buttons::yes_no(lang));
        let draft = self.state.draft.clone().unwrap_or_default();
        let category = self.category_name(draft.category_id.as_ref(), lang).await?;
        Ok(fill(
            &self.t(lang).confirm,
            &[
                ("category", &category),
                ("description", &draft.description),
                ("location", draft.location.as_deref().unwrap_or("-")),
            ],
        ))
    }

    async fn create(&mut self, message: &Message, lang: &Language) -> Result<String, AgentError> {
        let draft = self.state.draft.take().unwrap_or_default();
        self.state.step = Step::Idle;
        let priority = {
            let cats = self.categories().await?;
            Category::priority_for(
                draft
                    .category_id
                    .as_ref()
                    .and_then(|id| cats.iter().find(|c| &c.id == id)),
            )
        };
        // The key ties the complaint to the message that confirmed it: a retried
        // run finds the complaint its first try made instead of making another.
        let key = format!("intake:{}:{}", self.input.conversation_id, message.id);
        let complaint = self
            .tools
            .create_complaint(
                &key,
                ComplaintDraft {
                    category_id: draft.category_id,
                    description: draft.description,
                    location: draft.location,
                    point: draft.point,
                    language: lang.clone(),
                    priority,
                    media: draft.photos,
                    voice: draft.voice,
                },
            )
            .await?;
        Ok(fill(
            &self.t(lang).created,
            &[("number", complaint.number.as_str())],
        ))
    }

    async fn status(
        &mut self,
        number: Option<ComplaintNumber>,
        lang: &Language,
    ) -> Result<String, AgentError> {
        let complaints = match &number {
            Some(n) => match self.tools.complaint_status(n).await? {
                Some(c) => vec![c],
                None => {
                    return Ok(fill(
                        &self.t(lang).status_not_found,
                        &[("number", n.as_str())],
                    ));
                }
            },
            None => self.tools.open_complaints().await?,
        };
        if complaints.is_empty() {
            return Ok(self.t(lang).status_none.clone());
        }
        let mut lines = Vec::with_capacity(complaints.len());
        for c in &complaints {
            let category = self.category_name(c.category_id.as_ref(), lang).await?;
            let t = self.t(lang);
            let status = self.config.status_label(lang, c.status.as_str());
            let date = self
                .input
                .tenant
                .local_date(c.created_at)
                .format("%d-%m-%Y")
                .to_string();
            lines.push(fill(
                &t.status_line,
                &[
                    ("number", c.number.as_str()),
                    ("status", &status),
                    ("category", &category),
                    ("date", &date),
                ],
            ));
        }
        Ok(lines.join("\n"))
    }
}

/// Fills `{name}` placeholders.
/// A category's number in the list the citizen is shown (from 1).
fn position(categories: &[Category], c: &Category) -> usize {
    categories
        .iter()
        .position(|x| x.id == c.id)
        .map_or(0, |i| i + 1)
}

fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests;
