//! The tools as JSON functions, for runtimes that talk to a model or a worker:
//! their names, descriptions and argument schemas (the OpenAI `tools` shape),
//! and one `call` that checks the arguments, runs the tool and answers JSON.
//!
//! A bad argument or a failing tool is answered to the agent as
//! `{"error": "…"}`, never thrown: the agent can correct itself. Every call is
//! recorded for the execution log. Two tools change the conversation rather
//! than data — `set_contact_language` and `handoff_to_human` — and are kept
//! here to be committed with the run's output.

use std::fmt::Write as _;

use ombud_core::*;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::{ComplaintDraft, Tools};

/// The longest text an agent may put in a complaint or add to one.
pub const TEXT_MAX: usize = 2000;
/// The longest free-text argument other than that (location, reason).
pub const SHORT_MAX: usize = 200;

/// One tool call as the execution log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
    /// What the agent was answered: a result, or `{"error": …}`.
    pub result: Value,
    pub ok: bool,
}

/// A tool's description for a model: name, purpose, JSON Schema of its arguments.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: Value,
}

/// The six tools, described.
pub fn specs() -> Vec<ToolSpec> {
    let string = |max: usize, about: &str| json!({"type": "string", "minLength": 1, "maxLength": max, "description": about});
    let object = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required, "additionalProperties": false});
    vec![
        ToolSpec {
            name: "create_complaint",
            description: "Register a complaint for the person writing. Returns its number; tell them the number.",
            parameters: object(
                json!({
                    "description": string(TEXT_MAX, "What is wrong, in the person's words."),
                    "category": string(SHORT_MAX, "A category slug from the list in the instructions, if one fits."),
                    "location": string(SHORT_MAX, "Where it is: street, landmark, ward."),
                    "priority": {"type": "string", "enum": Priority::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>()},
                }),
                &["description"],
            ),
        },
        ToolSpec {
            name: "complaint_status",
            description: "Look up one of the person's own complaints by its number.",
            parameters: object(json!({"number": string(40, "The complaint number, e.g. PUNE-20261124-0001.")}), &["number"]),
        },
        ToolSpec {
            name: "list_my_complaints",
            description: "List the person's open complaints, newest first.",
            parameters: object(json!({}), &[]),
        },
        ToolSpec {
            name: "add_to_complaint",
            description: "Add details the person gives to one of their own complaints.",
            parameters: object(
                json!({"number": string(40, "The complaint number."), "text": string(TEXT_MAX, "What to add.")}),
                &["number", "text"],
            ),
        },
        ToolSpec {
            name: "set_contact_language",
            description: "Remember the language the person wants replies in (ISO 639-1 code such as en, hi, mr).",
            parameters: object(json!({"language": {"type": "string", "pattern": "^[a-z]{2}$"}}), &["language"]),
        },
        ToolSpec {
            name: "handoff_to_human",
            description: "Hand the conversation to staff when the person asks for a human or you cannot help. The bot stays silent afterwards.",
            parameters: object(json!({"reason": string(SHORT_MAX, "Why, in a few words.")}), &[]),
        },
    ]
}

/// The tools for one run: calls go to `tools`, effects on the conversation
/// and the call log are kept here.
pub struct ToolBox<'a> {
    tools: &'a dyn Tools,
    /// Makes `create_complaint` idempotent across retries of the same run.
    key_base: String,
    default_language: Language,
    created: u32,
    pub calls: Vec<ToolCall>,
    pub handoff: bool,
    pub language: Option<Language>,
    /// Photos the run's messages brought: a complaint made in the run
    /// takes them.
    photos: Vec<MessageId>,
    /// The run's messages include a voice note's words.
    voice: bool,
}

type Answer = Result<Value, String>;

impl<'a> ToolBox<'a> {
    /// `key_base` names the run (conversation and last input message), so a
    /// retried run's complaints are the first try's.
    pub fn new(tools: &'a dyn Tools, key_base: String, default_language: Language) -> Self {
        Self {
            tools,
            key_base,
            default_language,
            created: 0,
            calls: Vec::new(),
            handoff: false,
            language: None,
            photos: Vec::new(),
            voice: false,
        }
    }

    /// The tools for one run of `input` by a runtime of `kind`: complaints
    /// are keyed by the run's last message, in the person's language.
    pub fn for_run(tools: &'a dyn Tools, kind: &str, input: &crate::RunInput) -> Self {
        let last = input.messages.last().map_or("", |m| m.id.as_str());
        let mut toolbox = Self::new(
            tools,
            format!("{kind}:{}:{last}", input.conversation_id),
            input.language(),
        );
        toolbox.photos = input
            .messages
            .iter()
            .filter(|m| m.kind == MessageKind::Image)
            .filter(|m| {
                m.media
                    .as_ref()
                    .is_some_and(|i| i.state == ombud_core::media::MediaState::Ready)
            })
            .map(|m| m.id.clone())
            .collect();
        toolbox.voice = input.messages.iter().any(|m| m.heard().is_some());
        toolbox
    }

    /// Runs the named tool with `arguments` (a JSON object, or a string holding
    /// one, as models send them) and answers the JSON to give back.
    pub async fn call(&mut self, name: &str, arguments: &Value) -> Value {
        let parsed = match arguments {
            Value::String(s) if s.trim().is_empty() => Ok(Value::Object(Map::new())),
            Value::String(s) => {
                serde_json::from_str(s).map_err(|e| format!("arguments are not valid JSON: {e}"))
            }
            Value::Null => Ok(Value::Object(Map::new())),
            other => Ok(other.clone()),
        };
        let answer = match parsed {
            Ok(Value::Object(args)) => self.dispatch(name, &args).await,
            Ok(_) => Err("arguments must be a JSON object".to_owned()),
            Err(e) => Err(e),
        };
        let (result, ok) = match answer {
            Ok(v) => (v, true),
            Err(e) => (json!({"error": e}), false),
        };
        self.calls.push(ToolCall {
            name: name.to_owned(),
            arguments: parsed_or_raw(arguments),
            result: result.clone(),
            ok,
        });
        result
    }

    async fn dispatch(&mut self, name: &str, args: &Map<String, Value>) -> Answer {
        match name {
            "create_complaint" => self.create_complaint(args).await,
            "complaint_status" => {
                let args = Args::new(args, &["number"])?;
                let number = args.number()?;
                match self.tools.complaint_status(&number).await {
                    Ok(Some(c)) => Ok(complaint_json(&c)),
                    Ok(None) => Err(format!("the person has no complaint numbered {number}")),
                    Err(e) => Err(e.to_string()),
                }
            }
            "list_my_complaints" => {
                Args::new(args, &[])?;
                let open = self
                    .tools
                    .open_complaints()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"complaints": open.iter().map(complaint_json).collect::<Vec<_>>()}))
            }
            "add_to_complaint" => {
                let args = Args::new(args, &["number", "text"])?;
                let number = args.number()?;
                let text = args.text("text", TEXT_MAX)?.ok_or("text is required")?;
                let c = self
                    .tools
                    .add_to_complaint(&number, &text)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(json!({"added": true, "number": c.number.to_string()}))
            }
            "set_contact_language" => {
                let args = Args::new(args, &["language"])?;
                let code = args.text("language", 2)?.ok_or("language is required")?;
                let language = Language::parse(&code).map_err(|e| e.to_string())?;
                self.language = Some(language.clone());
                Ok(json!({"language": language}))
            }
            "handoff_to_human" => {
                Args::new(args, &["reason"])?;
                self.handoff = true;
                Ok(json!({"handed_over": true}))
            }
            other => Err(format!(
                "no tool named {other:?}; the tools are {}",
                specs()
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    async fn create_complaint(&mut self, args: &Map<String, Value>) -> Answer {
        let args = Args::new(args, &["description", "category", "location", "priority"])?;
        let description = args
            .text("description", TEXT_MAX)?
            .ok_or("description is required")?;
        let location = args.text("location", SHORT_MAX)?;
        let categories = self.tools.categories().await.map_err(|e| e.to_string())?;
        let category = match args.text("category", SHORT_MAX)? {
            None => None,
            Some(slug) => Some(categories.iter().find(|c| c.slug == slug).ok_or_else(|| {
                let known: Vec<&str> = categories.iter().map(|c| c.slug.as_str()).collect();
                format!("category {slug:?} is not one of {}", known.join(", "))
            })?),
        };
        let priority = match args.text("priority", 10)? {
            Some(p) => Priority::parse(&p).map_err(|e| e.to_string())?,
            None => Category::priority_for(category),
        };
        self.created += 1;
        let key = format!("{}:{}", self.key_base, self.created);
        let draft = ComplaintDraft {
            category_id: category.map(|c| c.id.clone()),
            description,
            location,
            point: None,
            language: self
                .language
                .clone()
                .unwrap_or_else(|| self.default_language.clone()),
            priority,
            media: self.photos.clone(),
            voice: self.voice,
        };
        let c = self
            .tools
            .create_complaint(&key, draft)
            .await
            .map_err(|e| e.to_string())?;
        Ok(complaint_json(&c))
    }
}

fn parsed_or_raw(arguments: &Value) -> Value {
    match arguments {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| arguments.clone()),
        other => other.clone(),
    }
}

fn complaint_json(c: &Complaint) -> Value {
    let mut description = String::new();
    for (i, ch) in c.description.chars().enumerate() {
        if i == 200 {
            let _ = write!(description, "…");
            break;
        }
        description.push(ch);
    }
    json!({
        "number": c.number.to_string(),
        "status": c.status.as_str(),
        "description": description,
        "location": c.location,
        "created_at": c.created_at.to_rfc3339(),
    })
}

/// A call's arguments, checked against the names the tool takes.
struct Args<'m>(&'m Map<String, Value>);

impl<'m> Args<'m> {
    fn new(args: &'m Map<String, Value>, known: &[&str]) -> Result<Self, String> {
        if let Some(unknown) = args.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(if known.is_empty() {
                format!("{unknown:?} is not an argument; this tool takes none")
            } else {
                format!(
                    "{unknown:?} is not an argument; this tool takes {}",
                    known.join(", ")
                )
            });
        }
        Ok(Self(args))
    }

    /// A trimmed string argument, None when absent or null.
    fn text(&self, name: &str, max: usize) -> Result<Option<String>, String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    Err(format!("{name} is empty"))
                } else if s.chars().count() > max {
                    Err(format!("{name} is longer than {max} characters"))
                } else if s.contains('\0') {
                    Err(format!("{name} contains a NUL character"))
                } else {
                    Ok(Some(s.to_owned()))
                }
            }
            Some(_) => Err(format!("{name} must be a string")),
        }
    }

    fn number(&self) -> Result<ComplaintNumber, String> {
        let raw = self.text("number", 40)?.ok_or("number is required")?;
        ComplaintNumber::parse(&raw)
            .map_err(|_| format!("{raw:?} is not a complaint number such as PUNE-20261124-0001"))
    }
}

#[cfg(test)]
mod tests;
