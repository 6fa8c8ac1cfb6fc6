//! The intake agent's configuration: offered languages, what to ask, limits and the
//! reply templates per language. It lives in an agent version, so a tenant changes
//! the bot's words without a deploy of Ombud.

use std::collections::BTreeMap;

use ombud_core::Language;
use serde::{Deserialize, Serialize};

/// The longest reply template: one WhatsApp message.
const MAX_TEMPLATE: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// The languages replies are offered in; the first is the default.
    pub languages: Vec<Language>,
    pub require_location: bool,
    /// Ask "YES to register" before creating the complaint.
    pub confirm: bool,
    pub limits: Limits,
    pub templates: BTreeMap<String, Templates>,
}

/// Per-contact limits. A message over a limit is stored but not answered, except
/// for one polite notice per day (daily limit) or per window (burst).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub per_day: u32,
    pub burst: u32,
    pub burst_window_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_day: 20,
            burst: 5,
            burst_window_secs: 60,
        }
    }
}

/// Every reply the intake agent can give, in one language. `{name}` placeholders
/// are filled in: tenant, options, category, description, location, number, status,
/// date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    pub greeting: String,
    pub ask_description: String,
    pub ask_category: String,
    pub ask_location: String,
    pub confirm: String,
    pub created: String,
    pub cancelled: String,
    pub status_line: String,
    pub status_none: String,
    pub status_not_found: String,
    pub help: String,
    pub handoff: String,
    pub non_text: String,
    pub limit_daily: String,
    pub limit_burst: String,
    /// Status names as citizens read them (`in_progress` → "in progress").
    pub statuses: BTreeMap<String, String>,
    /// Sent when staff change a complaint's status: `{number}`, `{status}`.
    /// Versions saved before it existed use the built-in text of their language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_changed: Option<String>,
    /// Asks between the two categories the words fit about as well:
    /// `{first}`, `{second}`, `{options}` (the two with their numbers).
    /// Versions saved before it existed use the built-in text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ask_between: Option<String>,
    /// Says a photo was taken for the complaint (the next question
    /// follows). Versions saved before it existed use the built-in text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_received: Option<String>,
    /// Asks again for a photo or voice note that could not be taken (too
    /// large, not a photo, damaged on the way). Built-in text by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_refused: Option<String>,
    /// A voice note with no words heard in it: asks the citizen to type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_speech: Option<String>,
    /// A voice note over the office's limit: asks for a shorter one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_too_long: Option<String>,
    /// A voice note the transcriber could not take: people will listen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_to_people: Option<String>,
}

impl IntakeConfig {
    /// Reads and checks a version's config; the error names the field.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, String> {
        let config: Self = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.languages.is_empty() {
            return Err("languages: offer at least one language".into());
        }
        use ombud_core::limits::{at_most, LANGUAGES, STATUSES};
        at_most("languages", self.languages.len(), LANGUAGES).map_err(|e| e.to_string())?;
        at_most("templates", self.templates.len(), LANGUAGES).map_err(|e| e.to_string())?;
        for (lang, templates) in &self.templates {
            at_most(
                &format!("templates.{lang}.statuses"),
                templates.statuses.len(),
                STATUSES,
            )
            .map_err(|e| e.to_string())?;
            // Every reply fits one WhatsApp message before its placeholders
            // are filled in.
            let texts = serde_json::to_value(templates).unwrap_or_default();
            for (name, text) in texts.as_object().into_iter().flatten() {
                let long = match text {
                    serde_json::Value::String(t) => t.chars().count() > MAX_TEMPLATE,
                    serde_json::Value::Object(m) => m
                        .values()
                        .any(|v| v.as_str().is_some_and(|t| t.chars().count() > MAX_TEMPLATE)),
                    _ => false,
                };
                if long {
                    return Err(format!(
                        "templates.{lang}.{name}: at most {MAX_TEMPLATE} characters"
                    ));
                }
            }
        }
        for lang in &self.languages {
            if !self.templates.contains_key(lang.as_str()) {
                return Err(format!("templates.{lang}: missing for an offered language"));
            }
        }
        if self.limits.per_day == 0 || self.limits.burst == 0 || self.limits.burst_window_secs == 0
        {
            return Err("limits: per_day, burst and burst_window_secs must be at least 1".into());
        }
        Ok(())
    }

    /// The templates for `lang`, else for the default language.
    pub fn templates_for(&self, lang: &Language) -> &Templates {
        self.templates
            .get(lang.as_str())
            .or_else(|| {
                self.languages
                    .first()
                    .and_then(|l| self.templates.get(l.as_str()))
            })
            .or_else(|| self.templates.values().next())
            .unwrap_or_else(|| default_templates_en())
    }

    /// What a citizen is told when staff move their complaint to `status`, in
    /// `lang` (or the default language).
    pub fn status_notice(&self, lang: &Language, number: &str, status: &str) -> String {
        let text = self
            .templates_for(lang)
            .status_changed
            .clone()
            .or_else(|| builtin(lang).status_changed)
            .unwrap_or_default();
        let status = self.status_label(lang, status);
        text.replace("{number}", number)
            .replace("{status}", &status)
    }

    /// The question between two categories, in `lang`: the version's
    /// words, else the built-in ones.
    pub fn ask_between(&self, lang: &Language) -> String {
        self.templates_for(lang)
            .ask_between
            .clone()
            .or_else(|| builtin(lang).ask_between)
            .unwrap_or_default()
    }

    /// Says a photo was taken, in `lang`.
    pub fn photo_received(&self, lang: &Language) -> String {
        self.templates_for(lang)
            .photo_received
            .clone()
            .or_else(|| builtin(lang).photo_received)
            .unwrap_or_default()
    }

    /// Asks again for media that could not be taken, in `lang`.
    pub fn media_refused(&self, lang: &Language) -> String {
        self.templates_for(lang)
            .media_refused
            .clone()
            .or_else(|| builtin(lang).media_refused)
            .unwrap_or_default()
    }

    /// Asks to type a voice note no words were heard in, in `lang`.
    pub fn no_speech(&self, lang: &Language) -> String {
        self.templates_for(lang)
            .no_speech
            .clone()
            .or_else(|| builtin(lang).no_speech)
            .unwrap_or_default()
    }

    /// Refuses an over-long voice note politely, in `lang`.
    pub fn voice_too_long(&self, lang: &Language) -> String {
        self.templates_for(lang)
            .voice_too_long
            .clone()
            .or_else(|| builtin(lang).voice_too_long)
            .unwrap_or_default()
    }

    /// Says people will listen to a voice note, in `lang`.
    pub fn voice_to_people(&self, lang: &Language) -> String {
        self.templates_for(lang)
            .voice_to_people
            .clone()
            .or_else(|| builtin(lang).voice_to_people)
            .unwrap_or_default()
    }

    /// A status as citizens read it in `lang`: the version's word, else
    /// the built-in one of that language (a version saved before the status
    /// existed), else its code.
    pub fn status_label(&self, lang: &Language, status: &str) -> String {
        self.templates_for(lang)
            .statuses
            .get(status)
            .cloned()
            .or_else(|| builtin(lang).statuses.get(status).cloned())
            .unwrap_or_else(|| status.to_owned())
    }

    pub fn default_language(&self) -> Language {
        self.languages.first().cloned().unwrap_or_else(Language::en)
    }
}

impl Default for IntakeConfig {
    fn default() -> Self {
        let mut templates = BTreeMap::new();
        templates.insert("en".to_owned(), default_templates_en().clone());
        templates.insert("hi".to_owned(), super::templates_hi_mr::hindi());
        templates.insert("mr".to_owned(), super::templates_hi_mr::marathi());
        Self {
            languages: ["en", "hi", "mr"]
                .iter()
                .filter_map(|c| Language::parse(c).ok())
                .collect(),
            require_location: true,
            confirm: true,
            limits: Limits::default(),
            templates,
        }
    }
}

fn default_templates_en() -> &'static Templates {
    static EN: std::sync::OnceLock<Templates> = std::sync::OnceLock::new();
    EN.get_or_init(|| Templates {
        greeting: "Namaste! This is the complaint desk of {tenant}. Tell us what is wrong and where, in one message. Send \"help\" for options.".into(),
        ask_description: "Please describe the problem in a few words: what is wrong and where.".into(),
        ask_category: "Which kind of problem is it? Reply with a number:\n{options}".into(),
        ask_location: "Where is this? Please send the address or a nearby landmark.".into(),
        confirm: "Please confirm your complaint:\nCategory: {category}\nProblem: {description}\nLocation: {location}\nReply YES to register it or NO to cancel.".into(),
        created: "Your complaint is registered. Complaint number: {number}. Send \"status {number}\" any time to check on it.".into(),
        cancelled: "Cancelled, nothing was registered. Write to us again whenever you need.".into(),
        status_line: "{number}: {status} ({category}, registered {date})".into(),
        status_none: "You have no open complaints. To register one, just describe the problem.".into(),
        status_not_found: "We could not find complaint {number} among yours. Please check the number.".into(),
        help: "You can:\n- describe a problem to register a complaint\n- send \"status\" to see your open complaints, or \"status <number>\" for one\n- send \"human\" to talk to our staff\n- send \"cancel\" to stop the current complaint".into(),
        handoff: "Okay, a member of our staff will reply to you here. Please wait.".into(),
        non_text: "Sorry, for now we can only understand text messages. Please type your message.".into(),
        limit_daily: "You have sent many messages today. We will read your next ones tomorrow; your complaints stay registered.".into(),
        limit_burst: "You are sending messages very fast. Please wait a minute before sending more.".into(),
        statuses: statuses(&[
            ("new", "received"), ("pending_validation", "awaiting verification on the ground"),
            ("validated", "verified on the ground"), ("acknowledged", "acknowledged"), ("in_progress", "in progress"),
            ("on_hold", "on hold"), ("escalated", "escalated"), ("resolved", "resolved"),
            ("closed", "closed"), ("rejected", "rejected"),
        ]),
        status_changed: Some("Update on your complaint {number}: it is now {status}. Send \"status\" any time to see your open complaints.".into()),
        ask_between: Some("Is this about {first} or {second}? Tap one, or reply with its number:\n{options}\nSend 0 to see every kind.".into()),
        photo_received: Some("Thank you, we have your photo; it goes with your complaint.".into()),
        media_refused: Some("Sorry, we could not take that file: it was too large, not a photo, or damaged on the way. Please send it again, or describe the problem in words.".into()),
        no_speech: Some("We could not hear any words in your voice note. Please type your message, or record it again closer to the phone.".into()),
        voice_too_long: Some("Your voice note is too long for us to take. Please send a shorter one, or type your message.".into()),
        voice_to_people: Some("We could not listen to your voice note automatically just now. A member of our staff will listen to it and reply here.".into()),
    })
}

/// Ombud's own templates in `lang` (English for a language it has none in).
fn builtin(lang: &Language) -> Templates {
    match lang.as_str() {
        "hi" => super::templates_hi_mr::hindi(),
        "mr" => super::templates_hi_mr::marathi(),
        _ => default_templates_en().clone(),
    }
}

pub(super) fn statuses(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_round_trips() {
        let c = IntakeConfig::default();
        c.validate().unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(IntakeConfig::from_value(&v).unwrap(), c);
    }

    #[test]
    fn a_status_notice_is_in_the_citizens_language_with_the_status_named() {
        let c = IntakeConfig::default();
        let lang = |s| Language::parse(s).unwrap();
        let en = c.status_notice(&lang("en"), "PUNE-20261123-0007", "in_progress");
        assert!(
            en.contains("PUNE-20261123-0007") && en.contains("in progress"),
            "{en}"
        );
        let mr = c.status_notice(&lang("mr"), "PUNE-20261123-0007", "resolved");
        assert!(
            mr.contains("सोडवली") && mr.contains("PUNE-20261123-0007"),
            "{mr}"
        );
        // A language the version does not offer gets its default language.
        let ta = c.status_notice(&lang("ta"), "X", "closed");
        assert_eq!(ta, c.status_notice(&lang("en"), "X", "closed"));
        // A version saved before the template existed still reads, with the
        // built-in text of the language.
        let mut old = serde_json::to_value(&c).unwrap();
        old["templates"]["hi"]
            .as_object_mut()
            .unwrap()
            .remove("status_changed");
        let old = IntakeConfig::from_value(&old).unwrap();
        let hi = old.status_notice(&lang("hi"), "X", "resolved");
        assert!(hi.contains("हल हो गई"), "{hi}");
        // … and one saved before field verification names its statuses
        // with the built-in words of the language.
        let mut old = serde_json::to_value(&c).unwrap();
        let mr_statuses = old["templates"]["mr"]["statuses"].as_object_mut().unwrap();
        mr_statuses.remove("validated");
        let old = IntakeConfig::from_value(&old).unwrap();
        let mr = old.status_notice(&lang("mr"), "X", "validated");
        assert!(mr.contains("प्रत्यक्ष पडताळणी झाली"), "{mr}");
        assert_eq!(
            old.status_label(&lang("en"), "validated"),
            "verified on the ground"
        );
        assert_eq!(old.status_label(&lang("en"), "unheard_of"), "unheard_of");
    }

    #[test]
    fn errors_name_the_field() {
        let e = IntakeConfig::from_value(&serde_json::json!({"languages": ["ta"]})).unwrap_err();
        assert!(e.contains("templates.ta"), "{e}");
        let e = IntakeConfig::from_value(&serde_json::json!({"confrim": true})).unwrap_err();
        assert!(e.contains("confrim"), "{e}");
        let e =
            IntakeConfig::from_value(&serde_json::json!({"languages": ["english"]})).unwrap_err();
        assert!(e.contains("english"), "{e}");
    }
}
