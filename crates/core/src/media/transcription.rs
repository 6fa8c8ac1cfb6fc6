//! Voice notes to words, through any OpenAI-compatible
//! `/v1/audio/transcriptions` endpoint (speaches/faster-whisper-server,
//! vLLM, whisper.cpp's server, OpenAI). What a tenant configures, what the
//! request carries, and how an answer is read: Whisper invents words on
//! silence ("Thank you.", "Thanks for watching!"), so a segment it thinks
//! holds no speech does not count as heard.

use crate::ValidationError;

/// The tenant setting that holds its [`TranscriptionSettings`].
pub const SETTINGS_KEY: &str = "media.transcription";

/// The longest prompt sent: Whisper reads at most 224 tokens of it.
const PROMPT_CHARS: usize = 600;
/// A segment Whisper gives at least this chance of holding no speech is
/// taken as silence (its words as invented).
const NO_SPEECH: f64 = 0.6;

/// Where a tenant's voice notes are transcribed. Off until a base URL is
/// set.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscriptionSettings {
    /// The server, without `/v1/audio/transcriptions`
    /// (`https://api.openai.com`, `http://speaches.internal:8000`).
    pub base_url: Option<String>,
    /// The model the server knows (`whisper-1`,
    /// `Systran/faster-whisper-small`).
    pub model: String,
    /// The API key, sealed for the tenant; None: the server wants none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_sealed: Option<String>,
}

impl TranscriptionSettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(url) = &self.base_url {
            let parsed = url::Url::parse(url)
                .map_err(|e| ValidationError::new("base_url", format!("is not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                return Err(ValidationError::new(
                    "base_url",
                    "must be an http or https URL with a host",
                ));
            }
            let model = self.model.trim();
            if model.is_empty() || model.len() > 100 || model.chars().any(char::is_control) {
                return Err(ValidationError::new(
                    "model",
                    "name the model, in at most 100 characters",
                ));
            }
        }
        Ok(())
    }

    /// The endpoint, when transcription is on.
    pub fn endpoint(&self) -> Option<String> {
        let base = self.base_url.as_deref()?.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        Some(format!("{base}/v1/audio/transcriptions"))
    }
}

/// The hint Whisper reads before the audio: what the office hears about,
/// so that its words (the tenant's categories) are spelt as the office
/// spells them.
pub fn prompt(office: &str, categories: &[String]) -> String {
    let mut text = format!("A citizen's complaint to {office} about: ");
    for (i, name) in categories.iter().enumerate() {
        let next = if i == 0 {
            name.clone()
        } else {
            format!(", {name}")
        };
        if text.chars().count() + next.chars().count() + 1 > PROMPT_CHARS {
            break;
        }
        text.push_str(&next);
    }
    text.push('.');
    text
}

/// What a transcription answer says.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The words; empty when no speech was heard.
    pub text: String,
    /// The language the server detected (`hindi`, `hi`…), as it said it.
    pub language: Option<String>,
    /// The audio's length, as the server measured it.
    pub seconds: Option<f64>,
}

#[derive(serde::Deserialize)]
struct Answer {
    text: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    segments: Option<Vec<Segment>>,
}

#[derive(serde::Deserialize)]
struct Segment {
    #[serde(default)]
    text: String,
    #[serde(default)]
    no_speech_prob: Option<f64>,
}

/// Reads an answer: `verbose_json` (text, language, duration, segments with
/// `no_speech_prob`) or plain `json` (text only). Segments Whisper doubts
/// held speech are dropped; so is the text when every one is doubted.
pub fn read_answer(body: &str) -> Result<Heard, String> {
    let answer: Answer =
        serde_json::from_str(body).map_err(|e| format!("not a transcription answer: {e}"))?;
    let text = match &answer.segments {
        Some(segments) if !segments.is_empty() => segments
            .iter()
            .filter(|s| s.no_speech_prob.is_none_or(|p| p < NO_SPEECH))
            .map(|s| s.text.trim())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        _ => answer.text.trim().to_owned(),
    };
    Ok(Heard {
        text: text.trim().to_owned(),
        language: answer.language.filter(|l| !l.trim().is_empty()),
        seconds: answer.duration.filter(|d| d.is_finite() && *d >= 0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_not_heard_even_when_whisper_invents_words() {
        let invented = r#"{"text":" Thank you.","language":"english","duration":4.2,
            "segments":[{"id":0,"text":" Thank you.","no_speech_prob":0.93}]}"#;
        let heard = read_answer(invented).unwrap();
        assert_eq!(heard.text, "");
        assert_eq!(heard.seconds, Some(4.2));

        let spoken = r#"{"text":"Paani nahi aa raha. Teen din se.","language":"hindi","duration":6.0,
            "segments":[{"text":" Paani nahi aa raha.","no_speech_prob":0.02},
                        {"text":" Teen din se.","no_speech_prob":0.1},
                        {"text":" Subscribe!","no_speech_prob":0.97}]}"#;
        let heard = read_answer(spoken).unwrap();
        assert_eq!(heard.text, "Paani nahi aa raha. Teen din se.");
        assert_eq!(heard.language.as_deref(), Some("hindi"));

        // Plain json: the text as it is.
        assert_eq!(read_answer(r#"{"text":" hello "}"#).unwrap().text, "hello");
        assert!(read_answer("<html>").is_err());
    }

    #[test]
    fn settings_name_an_endpoint_and_are_checked() {
        let on = TranscriptionSettings {
            base_url: Some("http://speaches.internal:8000/v1/".into()),
            model: "Systran/faster-whisper-small".into(),
            api_key_sealed: None,
        };
        on.validate().unwrap();
        assert_eq!(
            on.endpoint().as_deref(),
            Some("http://speaches.internal:8000/v1/audio/transcriptions")
        );
        assert_eq!(TranscriptionSettings::default().endpoint(), None);
        for (url, model, field) in [
            ("ftp://x", "m", "base_url"),
            ("not a url", "m", "base_url"),
            ("https://api.openai.com", " ", "model"),
        ] {
            let s = TranscriptionSettings {
                base_url: Some(url.into()),
                model: model.into(),
                api_key_sealed: None,
            };
            assert_eq!(s.validate().unwrap_err().field, field, "{url}");
        }
    }

    #[test]
    fn the_prompt_names_the_categories_within_its_length() {
        let names: Vec<String> = (0..200).map(|i| format!("Category {i}")).collect();
        let p = prompt("Pune Ward Office", &names[..2]);
        assert_eq!(
            p,
            "A citizen's complaint to Pune Ward Office about: Category 0, Category 1."
        );
        assert!(prompt("Pune", &names).chars().count() <= PROMPT_CHARS + 1);
    }
}
