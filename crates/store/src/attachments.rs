//! Photos and voice notes in the store: the attachment row a media message
//! gets when it is ingested (with its fetch job, in the same transaction),
//! how a fetch ended, and the attachments of a complaint. The bytes are
//! elsewhere (the engine's `MediaStore`), named by their SHA-256; what is
//! fetched, refused or cleaned is `ombud_core::media`'s to say.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ombud_core::media::{MediaInfo, MediaRef, MediaState, Refusal};
use ombud_core::*;

use crate::decode::{self, Columns, Decoded};
use crate::{NewJob, StoreResult};

/// The scheduled job that fetches one attachment.
pub const FETCH_JOB: &str = "media.fetch";
/// Tries of a fetch before it fails for good (the scheduler's backoff
/// between them).
pub const FETCH_ATTEMPTS: u32 = 5;
/// The scheduled job that transcribes a voice note.
pub const TRANSCRIBE_JOB: &str = "media.transcribe";
/// Tries of a transcription before the voice note goes to people.
pub const TRANSCRIBE_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub tenant_id: TenantId,
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub channel_id: ChannelId,
    pub complaint_id: Option<ComplaintId>,
    pub kind: MessageKind,
    pub state: MediaState,
    /// What the provider said of it.
    pub provider: MediaRef,
    pub content_type: Option<String>,
    /// Hex SHA-256 of the stored bytes: the stored object's name.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// A voice note's length.
    pub seconds: Option<f64>,
    pub error: Option<String>,
    /// A voice note's words (empty: no speech heard), the language the
    /// transcriber heard and its model.
    pub transcript: Option<String>,
    pub transcript_language: Option<String>,
    pub transcript_model: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a fetch (or a transcription) ended.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The state it ends (nothing changes if it is no longer in it).
    pub from: MediaState,
    pub state: MediaState,
    pub content_type: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub seconds: Option<f64>,
    pub error: Option<String>,
    pub refusal: Option<Refusal>,
    pub transcript: Option<String>,
    pub transcript_language: Option<String>,
    pub transcript_model: Option<String>,
    /// Work that follows, scheduled in the same transaction (the
    /// transcription of a voice note just kept).
    pub then: Option<NewJob>,
}

impl Settled {
    /// What the message carries of it from now on.
    pub(crate) fn info(&self, id: &AttachmentId) -> MediaInfo {
        MediaInfo {
            id: id.clone(),
            state: self.state,
            content_type: self.content_type.clone(),
            size: self.size,
            error: self.error.clone(),
            refusal: self.refusal,
            transcript: self.transcript.clone(),
        }
    }
}

#[async_trait]
pub trait AttachmentStore: Send + Sync {
    async fn attachment(
        &self,
        tenant: &TenantId,
        id: &AttachmentId,
    ) -> StoreResult<Option<Attachment>>;
    /// A complaint's attachments, oldest first.
    async fn complaint_attachments(
        &self,
        tenant: &TenantId,
        complaint: &ComplaintId,
    ) -> StoreResult<Vec<Attachment>>;
    /// Records how the fetch (or transcription) of an attachment in
    /// `settled.from` ended, on its row and its message, with the job that
    /// follows; false (nothing changed) if it had ended already.
    async fn settle_attachment(
        &self,
        tenant: &TenantId,
        id: &AttachmentId,
        settled: Settled,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Up to `limit` stored objects whose attachments are gone (retention,
    /// erasure), oldest first: (tenant, SHA-256).
    async fn media_garbage(&self, limit: u32) -> StoreResult<Vec<(TenantId, String)>>;
    /// Whether any attachment of the tenant still names the object.
    async fn media_in_use(&self, tenant: &TenantId, sha256: &str) -> StoreResult<bool>;
    /// The object is dealt with (deleted, or named again).
    async fn forget_media_garbage(&self, tenant: &TenantId, sha256: &str) -> StoreResult<()>;
}

/// The garbage's rows, oldest first (`?1` how many).
pub(crate) const GARBAGE: &str =
    "select tenant_id, sha256 from media_garbage order by created_at, tenant_id, sha256 limit ?1";
pub(crate) const IN_USE: &str =
    "select exists (select 1 from attachments where tenant_id = ?1 and sha256 = ?2)";
pub(crate) const FORGET: &str = "delete from media_garbage where tenant_id = ?1 and sha256 = ?2";

pub(crate) fn garbage(r: &dyn Columns) -> Decoded<(TenantId, String)> {
    Ok((decode::id(r, "tenant_id")?, r.text("sha256")?))
}

/// The job that transcribes a kept voice note: one per attachment.
pub fn transcribe_job(tenant: &TenantId, attachment: &AttachmentId, at: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: TRANSCRIBE_JOB.into(),
        key: format!("transcribe:{attachment}"),
        max_attempts: TRANSCRIBE_ATTEMPTS,
        ..fetch_job(tenant, &MessageId::new(), attachment, at)
    }
}

/// The fetch job of the attachment of `message`: one per message, however
/// often the delivery comes again.
pub(crate) fn fetch_job(
    tenant: &TenantId,
    message: &MessageId,
    attachment: &AttachmentId,
    at: DateTime<Utc>,
) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: FETCH_JOB.into(),
        key: format!("media:{message}"),
        tenant_id: Some(tenant.clone()),
        payload: serde_json::json!({"attachment_id": attachment}),
        schedule: None,
        due_at: at,
        max_attempts: FETCH_ATTEMPTS,
    }
}

/// The attachment a job names (see [`fetch_job`]).
pub fn job_attachment(job: &crate::Job) -> Option<(TenantId, AttachmentId)> {
    let id = job.payload.get("attachment_id")?.as_str()?.parse().ok()?;
    Some((job.tenant_id.clone()?, id))
}

pub(crate) const ATTACHMENT_COLS: &str = "id, tenant_id, message_id, conversation_id, channel_id, \
     complaint_id, kind, state, provider_ref, content_type, sha256, size, seconds, error, \
     transcript, transcript_language, transcript_model, created_at, updated_at";

pub(crate) fn attachment(r: &dyn Columns) -> Decoded<Attachment> {
    let state = r.text("state")?;
    let provider = r.text("provider_ref")?;
    let bad = |col: &str, e: String| {
        crate::StoreError::Internal(format!("stored {col} is unreadable: {e}"))
    };
    Ok(Attachment {
        id: decode::id(r, "id")?,
        tenant_id: decode::id(r, "tenant_id")?,
        message_id: decode::id(r, "message_id")?,
        conversation_id: decode::id(r, "conversation_id")?,
        channel_id: decode::id(r, "channel_id")?,
        complaint_id: decode::opt_id(r, "complaint_id")?,
        kind: MessageKind::parse(&r.text("kind")?),
        state: MediaState::parse(&state).ok_or_else(|| bad("state", state.clone()))?,
        provider: serde_json::from_str(&provider)
            .map_err(|e| bad("provider_ref", e.to_string()))?,
        content_type: r.opt_text("content_type")?,
        sha256: r.opt_text("sha256")?,
        size: r
            .opt_int("size")?
            .map(|n| u64::try_from(n).map_err(|e| bad("size", e.to_string())))
            .transpose()?,
        seconds: r.opt_real("seconds")?,
        error: r.opt_text("error")?,
        transcript: r.opt_text("transcript")?,
        transcript_language: r.opt_text("transcript_language")?,
        transcript_model: r.opt_text("transcript_model")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}
