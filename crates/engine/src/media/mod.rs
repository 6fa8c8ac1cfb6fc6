//! Media citizens send. A photo or voice note arrives as a message with a
//! provider's media id; ingest stores the message, its attachment row and a
//! fetch job in one transaction, and the message waits (the runner reads
//! no further) until the job settles it: fetched, judged by
//! `ombud_core::media` (size, checksum, sniffed type, length), cleaned of
//! metadata and kept in a [`MediaStore`] by its SHA-256; or refused; or, with
//! every retry spent, failed. Then the conversation runs again. The job is
//! keyed on the message, so a webhook delivered twice fetches once, and a
//! crash between the webhook and the download leaves the job to run after
//! the restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use ombud_channels::media::FetchError;
use ombud_channels::ChannelSender;
use ombud_core::media::transcription::TranscriptionSettings;
use ombud_core::media::{self, Judged, MediaLimits, MediaState, Refusal};
use ombud_core::{Clock, MessageKind, TenantId};
use ombud_store::attachments::{job_attachment, transcribe_job, FETCH_JOB, TRANSCRIBE_JOB};
use ombud_store::{Attachment, ConversationKey, Job, Settled, Store};

use crate::queue::ConversationQueue;
use crate::scheduler::{JobHandler, Jobs};

mod transcribe;
pub(crate) mod upload;

/// Where media bytes are kept: by tenant and SHA-256, written once.
#[async_trait]
pub trait MediaStore: Send + Sync + std::fmt::Debug {
    /// Keeps `bytes` as `sha256` of `tenant`; keeping what is kept already
    /// changes nothing. Durable when this returns.
    async fn put(&self, tenant: &TenantId, sha256: &str, bytes: &[u8]) -> Result<(), String>;
    /// The bytes kept as `sha256` of `tenant`, if any.
    async fn get(&self, tenant: &TenantId, sha256: &str) -> Result<Option<Vec<u8>>, String>;
    /// Forgets the bytes (nothing happens if there are none).
    async fn delete(&self, tenant: &TenantId, sha256: &str) -> Result<(), String>;
}

/// A SHA-256 as an object name: 64 lowercase hex digits, nothing else (so
/// no name can walk out of its directory or prefix).
pub fn object_name(sha256: &str) -> Result<&str, String> {
    let ok = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(sha256)
        .ok_or_else(|| format!("{sha256:?} is not a SHA-256"))
}

/// Media in a directory (`<data dir>/media` by default):
/// `<tenant>/<first two hex digits>/<sha256>`, written to a temporary file,
/// synced and renamed into place.
#[derive(Debug, Clone)]
pub struct DirMediaStore {
    root: PathBuf,
}

impl DirMediaStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, tenant: &TenantId, sha256: &str) -> Result<PathBuf, String> {
        let name = object_name(sha256)?;
        Ok(self.root.join(tenant.as_str()).join(&name[..2]).join(name))
    }
}

#[async_trait]
impl MediaStore for DirMediaStore {
    async fn put(&self, tenant: &TenantId, sha256: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.path(tenant, sha256)?;
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || write_once(&path, &bytes))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("could not keep media: {e}"))
    }

    async fn get(&self, tenant: &TenantId, sha256: &str) -> Result<Option<Vec<u8>>, String> {
        let path = self.path(tenant, sha256)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("could not read media: {e}")),
        }
    }

    async fn delete(&self, tenant: &TenantId, sha256: &str) -> Result<(), String> {
        let path = self.path(tenant, sha256)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("could not delete media: {e}")),
        }
    }
}

fn write_once(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if std::fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64) {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.{}",
        ombud_core::id::new_id_body(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("media")
    ));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// What the media jobs need from the engine.
pub(crate) struct MediaWork {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub sender: Arc<dyn ChannelSender>,
    /// None: this process keeps no media (an engine built without one).
    pub media: Option<Arc<dyn MediaStore>>,
    pub queue: Arc<ConversationQueue>,
    /// Reaches tenants' transcribers, through the outbound guard.
    pub http: reqwest::Client,
    /// Opens tenants' sealed transcriber keys.
    pub seal_key: Option<ombud_core::seal::SealKey>,
}

/// The recurring job that deletes stored objects no attachment names.
pub const COLLECT_JOB: &str = "media.collect";

/// Adds the fetch, transcription and collection jobs' handlers.
pub(crate) fn with_media_jobs(jobs: Jobs, work: MediaWork) -> Jobs {
    let work = Arc::new(work);
    jobs.handle(FETCH_JOB, Arc::new(FetchJob(work.clone())))
        .handle(
            TRANSCRIBE_JOB,
            Arc::new(transcribe::TranscribeJob(work.clone())),
        )
        .handle(COLLECT_JOB, Arc::new(CollectJob(work)))
        .every(crate::scheduler::Recurring::utc(COLLECT_JOB, "*/5 * * * *"))
}

/// Deletes the stored objects whose attachments retention or an erasure
/// removed, unless another attachment of the tenant still names the same
/// bytes. Idempotent: an object already deleted is deleted again in vain.
struct CollectJob(Arc<MediaWork>);

#[async_trait]
impl JobHandler for CollectJob {
    async fn run(&self, _job: &Job) -> Result<(), String> {
        let work = &self.0;
        let Some(media) = &work.media else {
            return Ok(());
        };
        let text = |e: ombud_store::StoreError| e.to_string();
        loop {
            let batch = work.store.media_garbage(100).await.map_err(text)?;
            if batch.is_empty() {
                return Ok(());
            }
            for (tenant, sha256) in batch {
                if !work
                    .store
                    .media_in_use(&tenant, &sha256)
                    .await
                    .map_err(text)?
                {
                    media.delete(&tenant, &sha256).await?;
                    metrics::counter!(COLLECTED).increment(1);
                }
                work.store
                    .forget_media_garbage(&tenant, &sha256)
                    .await
                    .map_err(text)?;
            }
        }
    }
}

/// Stored objects deleted once nothing named them.
pub const COLLECTED: &str = "ombud_media_objects_deleted_total";

struct FetchJob(Arc<MediaWork>);

#[async_trait]
impl JobHandler for FetchJob {
    async fn run(&self, job: &Job) -> Result<(), String> {
        let Some(attachment) = self.0.waiting(job, MediaState::Fetching).await? else {
            return Ok(());
        };
        let last_try = job.attempts >= job.max_attempts;
        let settled = match self.fetch(&attachment).await {
            Ok(settled) => settled,
            Err(reason) if !last_try => return Err(reason),
            Err(reason) => failed(format!("gave up after {} tries: {reason}", job.attempts)),
        };
        let kept = settled.sha256.clone();
        self.0.settle(&attachment, settled).await?;
        // A visitor's raw upload, once its clean copy is kept (or it was
        // refused): deleted unless something names the same bytes.
        if let (Some(raw), Some(store)) = (upload::named(&attachment.provider), &self.0.media) {
            let named = kept.as_deref() == Some(raw)
                || self
                    .0
                    .store
                    .media_in_use(&attachment.tenant_id, raw)
                    .await
                    .unwrap_or(true);
            if !named {
                let _ = store.delete(&attachment.tenant_id, raw).await;
            }
        }
        Ok(())
    }

    async fn gave_up(&self, job: &Job, error: &str) {
        // Every try's holder died mid-run: the message must not wait for ever.
        if let Ok(Some(attachment)) = self.0.waiting(job, MediaState::Fetching).await {
            let _ = self.0.settle(&attachment, failed(error.to_owned())).await;
        }
    }
}

impl FetchJob {
    /// Fetches, judges and keeps the attachment's media; an error is worth
    /// another try.
    async fn fetch(&self, a: &Attachment) -> Result<Settled, String> {
        let work = &self.0;
        let channel = work
            .store
            .channel(&a.channel_id)
            .await
            .map_err(|e| e.to_string())?
            .filter(|c| c.tenant_id == a.tenant_id);
        let Some(channel) = channel else {
            return Ok(failed("its channel is gone".into()));
        };
        let limits: MediaLimits = work.setting(&a.tenant_id, media::SETTINGS_KEY).await?;
        let fetched = match upload::named(&a.provider) {
            // Uploaded with its message: kept already, raw.
            Some(raw) => match &work.media {
                Some(store) => match store.get(&a.tenant_id, raw).await? {
                    Some(bytes) => Ok(ombud_channels::media::Fetched {
                        bytes,
                        sha256: None,
                    }),
                    None => Err(FetchError::Refused("the upload is gone".into())),
                },
                None => Err(FetchError::Refused("this server keeps no media".into())),
            },
            None => {
                work.sender
                    .fetch_media(&channel, &a.provider, limits.bytes_for(a.kind))
                    .await
            }
        };
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(FetchError::Retry(reason)) => return Err(reason),
            Err(FetchError::Refused(reason)) => return Ok(failed(reason)),
            Err(e @ FetchError::TooLarge { .. }) => {
                return Ok(refused(Refusal::TooLarge, e.to_string()))
            }
        };
        let claimed: Vec<&str> = [a.provider.sha256.as_deref(), fetched.sha256.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        match media::judge(a.kind, fetched.bytes, &claimed, &limits) {
            Judged::Refused { refusal, reason } => {
                tracing::warn!(attachment = %a.id, %reason, "media refused");
                Ok(refused(refusal, reason))
            }
            Judged::Accepted(ok) => {
                let Some(store) = &work.media else {
                    return Ok(failed("this server keeps no media (no media store)".into()));
                };
                store.put(&a.tenant_id, &ok.sha256, &ok.bytes).await?;
                // A voice note waits for its words when the tenant has a
                // transcriber.
                let transcriber: TranscriptionSettings = work
                    .setting(&a.tenant_id, media::transcription::SETTINGS_KEY)
                    .await?;
                let transcribe = a.kind == MessageKind::Audio && transcriber.endpoint().is_some();
                Ok(Settled {
                    state: match transcribe {
                        true => MediaState::Transcribing,
                        false => MediaState::Ready,
                    },
                    content_type: Some(ok.content_type.to_owned()),
                    sha256: Some(ok.sha256),
                    size: Some(ok.bytes.len() as u64),
                    seconds: ok.seconds,
                    then: transcribe.then(|| transcribe_job(&a.tenant_id, &a.id, work.clock.now())),
                    ..failed(String::new())
                })
            }
        }
    }
}

impl MediaWork {
    /// The attachment `job` names if it is still in `state`. One that is
    /// gone (erased) is None; one settled by a run that died before waking
    /// its conversation is woken, and None.
    async fn waiting(&self, job: &Job, state: MediaState) -> Result<Option<Attachment>, String> {
        let (tenant, id) =
            job_attachment(job).ok_or("the job names no attachment (tenant_id, attachment_id)")?;
        let found = self
            .store
            .attachment(&tenant, &id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match found {
            Some(a) if a.state == state => Some(a),
            Some(a) => {
                self.wake(&a);
                None
            }
            None => None,
        })
    }

    async fn setting<T: serde::de::DeserializeOwned + Default>(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<T, String> {
        crate::ops::settings::read_setting(self.store.as_ref(), tenant, key)
            .await
            .map_err(|e| e.to_string())
    }

    async fn settle(&self, a: &Attachment, settled: Settled) -> Result<(), String> {
        let state = settled.state;
        self.store
            .settle_attachment(&a.tenant_id, &a.id, settled, self.clock.now())
            .await
            .map_err(|e| e.to_string())?;
        metrics::counter!(SETTLED, "kind" => a.kind.as_str(), "outcome" => state.as_str())
            .increment(1);
        self.wake(a);
        Ok(())
    }

    /// The message has its attachment (or never will): its conversation
    /// may run.
    fn wake(&self, a: &Attachment) {
        self.queue.enqueue(ConversationKey {
            tenant_id: a.tenant_id.clone(),
            conversation_id: a.conversation_id.clone(),
        });
    }
}

/// Media settled, by kind and how (`ready`, `refused`, `failed`,
/// `transcribing`, `unheard`).
pub const SETTLED: &str = "ombud_media_settled_total";

/// Says what the media metrics mean.
pub fn describe() {
    metrics::describe_counter!(
        SETTLED,
        "Photos and voice notes settled, by kind (image, audio) and outcome (ready, transcribing, unheard, refused, failed)."
    );
    metrics::describe_counter!(
        COLLECTED,
        "Stored photos and voice notes deleted once retention or an erasure left no attachment naming them."
    );
}

/// The attachment failed for good: `reason`. (Its other fields are the
/// base the other outcomes fill in.)
fn failed(reason: String) -> Settled {
    Settled {
        from: MediaState::Fetching,
        state: MediaState::Failed,
        content_type: None,
        sha256: None,
        size: None,
        seconds: None,
        error: (!reason.is_empty()).then_some(reason),
        refusal: None,
        transcript: None,
        transcript_language: None,
        transcript_model: None,
        then: None,
    }
}

fn refused(refusal: Refusal, reason: String) -> Settled {
    Settled {
        state: MediaState::Refused,
        refusal: Some(refusal),
        ..failed(reason)
    }
}
