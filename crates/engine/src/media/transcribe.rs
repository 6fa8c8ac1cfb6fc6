//! A kept voice note to words: `POST {base_url}/v1/audio/transcriptions`
//! (multipart: the file, the model, `verbose_json`, the contact's language
//! when known, a prompt naming the tenant's categories), through the
//! outbound guard, with the tenant's sealed key. Temporary failures are
//! retried (three tries); the last one, or a refusal, leaves the note
//! `unheard` for people to listen to.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ombud_core::media::transcription::{self, TranscriptionSettings};
use ombud_core::media::{self, MediaState};
use ombud_store::{Attachment, Job, Settled};

use super::MediaWork;
use crate::scheduler::JobHandler;

/// How long one transcription may take (a two-minute note on a CPU-only
/// whisper server takes well under this).
const TIMEOUT: Duration = Duration::from_secs(120);

pub(super) struct TranscribeJob(pub(super) Arc<MediaWork>);

/// Why a try did not bring words.
enum Unheard {
    /// Worth another try (the server down, busy, slow).
    Retry(String),
    /// Trying again would not help (refused, misconfigured, audio gone).
    Never(String),
}

#[async_trait]
impl JobHandler for TranscribeJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let Some(a) = self.0.waiting(job, MediaState::Transcribing).await? else {
            return Ok(());
        };
        let last_try = job.attempts >= job.max_attempts;
        let settled = match self.transcribe(&a).await {
            Ok(settled) => settled,
            Err(Unheard::Retry(reason)) if !last_try => return Err(reason),
            Err(Unheard::Retry(reason) | Unheard::Never(reason)) => {
                tracing::warn!(attachment = %a.id, %reason, "a voice note could not be transcribed; people will listen to it");
                unheard(&a, reason)
            }
        };
        self.0.settle(&a, settled).await
    }

    async fn gave_up(&self, job: &Job, error: &str) {
        if let Ok(Some(a)) = self.0.waiting(job, MediaState::Transcribing).await {
            let _ = self.0.settle(&a, unheard(&a, error.to_owned())).await;
        }
    }
}

impl TranscribeJob {
    async fn transcribe(&self, a: &Attachment) -> Result<Settled, Unheard> {
        let work = &self.0;
        let setting = |e: String| Unheard::Retry(e);
        let settings: TranscriptionSettings = work
            .setting(&a.tenant_id, transcription::SETTINGS_KEY)
            .await
            .map_err(setting)?;
        let Some(endpoint) = settings.endpoint() else {
            // Turned off since it was fetched: the note is kept, unheard
            // by a machine, as for a tenant without a transcriber.
            return Ok(Settled {
                transcript: None,
                ..kept(a, MediaState::Ready)
            });
        };
        let bytes = match (&work.media, a.sha256.as_deref()) {
            (Some(store), Some(sha)) => store
                .get(&a.tenant_id, sha)
                .await
                .map_err(Unheard::Retry)?
                .ok_or_else(|| Unheard::Never("the kept audio is gone".into()))?,
            _ => return Err(Unheard::Never("no kept audio".into())),
        };
        let key = match (&settings.api_key_sealed, &work.seal_key) {
            (None, _) => None,
            (Some(sealed), Some(seal)) => Some(
                seal.open(sealed, a.tenant_id.as_str())
                    .map_err(|e| Unheard::Never(format!("the transcriber's key: {e}")))?,
            ),
            (Some(_), None) => {
                return Err(Unheard::Never(
                    "this server has no key to open the transcriber's key with".into(),
                ))
            }
        };
        let (language, prompt) = self.hints(a).await.map_err(Unheard::Retry)?;
        let content_type = a.content_type.as_deref().unwrap_or("audio/ogg");
        let name = media::file_name(&a.id, content_type);
        let mut form = Multipart::new();
        form.file("file", &name, content_type, &bytes);
        form.field("model", settings.model.trim());
        form.field("response_format", "verbose_json");
        form.field("temperature", "0");
        if let Some(language) = &language {
            form.field("language", language);
        }
        form.field("prompt", &prompt);
        let mut request = work
            .http
            .post(&endpoint)
            .timeout(TIMEOUT)
            .header("content-type", form.content_type())
            .body(form.finish());
        if let Some(key) = key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| {
            Unheard::Retry(format!(
                "the transcriber: {}",
                ombud_channels::without_url(&e)
            ))
        })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| {
            Unheard::Retry(format!(
                "reading the transcriber: {}",
                ombud_channels::without_url(&e)
            ))
        })?;
        if !status.is_success() {
            let reason = format!("the transcriber answered HTTP {}", status.as_u16());
            return Err(match status.as_u16() {
                408 | 429 | 500..=599 => Unheard::Retry(reason),
                _ => Unheard::Never(reason),
            });
        }
        let heard = transcription::read_answer(&body).map_err(Unheard::Retry)?;
        Ok(Settled {
            seconds: a.seconds.or(heard.seconds),
            transcript: Some(heard.text),
            transcript_language: heard.language,
            transcript_model: Some(settings.model.trim().to_owned()),
            ..kept(a, MediaState::Ready)
        })
    }

    /// The contact's language (the hint), and the prompt naming the
    /// tenant's categories in the tenant's language.
    async fn hints(&self, a: &Attachment) -> Result<(Option<String>, String), String> {
        let store = &self.0.store;
        let text = |e: ombud_store::StoreError| e.to_string();
        let conversation = store
            .conversation(&a.tenant_id, &a.conversation_id)
            .await
            .map_err(text)?;
        let language = conversation
            .and_then(|h| h.contact_language)
            .map(|l| l.as_str().to_owned());
        let tenant = store.tenant(&a.tenant_id).await.map_err(text)?;
        let (office, lang) = match &tenant {
            Some(t) => (t.name.clone(), t.default_language.clone()),
            None => (String::new(), ombud_core::Language::en()),
        };
        let names: Vec<String> = store
            .categories(&a.tenant_id)
            .await
            .map_err(text)?
            .iter()
            .map(|c| c.name_in(&lang).to_owned())
            .collect();
        Ok((language, transcription::prompt(&office, &names)))
    }
}

/// The attachment as it was kept, in `state`.
fn kept(a: &Attachment, state: MediaState) -> Settled {
    Settled {
        from: MediaState::Transcribing,
        state,
        content_type: a.content_type.clone(),
        sha256: a.sha256.clone(),
        size: a.size,
        seconds: a.seconds,
        error: None,
        refusal: None,
        transcript: None,
        transcript_language: None,
        transcript_model: None,
        then: None,
    }
}

fn unheard(a: &Attachment, reason: String) -> Settled {
    Settled {
        error: Some(reason),
        ..kept(a, MediaState::Unheard)
    }
}

/// A `multipart/form-data` body, as OpenAI's endpoint reads it.
struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    fn new() -> Self {
        Self {
            boundary: format!("ombud-{}", ombud_core::id::new_id_body()),
            body: Vec::new(),
        }
    }

    fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    fn part(&mut self, disposition: &str, content_type: Option<&str>, value: &[u8]) {
        let mut head = format!(
            "--{}\r\nContent-Disposition: form-data; {disposition}\r\n",
            self.boundary
        );
        if let Some(t) = content_type {
            head.push_str(&format!("Content-Type: {t}\r\n"));
        }
        head.push_str("\r\n");
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(value);
        self.body.extend_from_slice(b"\r\n");
    }

    fn field(&mut self, name: &str, value: &str) {
        self.part(&format!("name=\"{name}\""), None, value.as_bytes());
    }

    fn file(&mut self, name: &str, file_name: &str, content_type: &str, bytes: &[u8]) {
        let disposition = format!("name=\"{name}\"; filename=\"{file_name}\"");
        self.part(&disposition, Some(content_type), bytes);
    }

    fn finish(mut self) -> Vec<u8> {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        self.body
    }
}
