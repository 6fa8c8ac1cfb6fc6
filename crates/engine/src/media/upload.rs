//! Photos a web chat visitor uploads: there is no provider to fetch from,
//! so the bytes are kept (by their own SHA-256) before the message is
//! stored, and the message names them as WhatsApp's name a media id. The
//! fetch job then reads them from the store and judges and cleans them as
//! any other photo; the raw upload is deleted once the clean one is kept.

use ombud_core::media::{self, MediaRef, IMAGE_TYPES};
use ombud_core::{Channel, MessageKind, ValidationError};
use ombud_store::{InboundBatch, InboundMessage, IngestOutcome, StoreError, StoreResult};
use sha2::{Digest, Sha256};

use super::MediaStore;

/// The provider id an upload's media carries: `upload:<sha256>`.
pub const PREFIX: &str = "upload:";

impl crate::Engine {
    /// Stores a photo a web chat visitor uploaded (`from`, `provider_id`
    /// and `caption` as its message's), after keeping its bytes: Invalid
    /// (field `body`) when it is no photo or over the tenant's limit.
    pub async fn ingest_upload(
        &self,
        channel: &Channel,
        message: (String, String, String),
        bytes: &[u8],
    ) -> StoreResult<IngestOutcome> {
        let Some(store) = self.media() else {
            return Err(StoreError::Unavailable("this server keeps no media".into()));
        };
        let limits = self.ops().media_limits(&channel.tenant_id).await?;
        let message = keep(store.as_ref(), &limits, channel, message, bytes).await?;
        let batch = InboundBatch {
            messages: vec![message],
            statuses: Vec::new(),
        };
        self.ingest(channel, batch).await
    }
}

/// A visitor's photo, kept, as the message that carries it: `from` the
/// visitor, `provider_id` unique per visitor and upload.
async fn keep(
    store: &dyn MediaStore,
    limits: &media::MediaLimits,
    channel: &Channel,
    (from, provider_id, caption): (String, String, String),
    bytes: &[u8],
) -> StoreResult<InboundMessage> {
    let invalid = |reason: String| StoreError::Invalid(ValidationError::new("body", reason));
    if bytes.len() as u64 > limits.image_bytes {
        return Err(invalid(format!(
            "is {} bytes; this office takes photos of at most {}",
            bytes.len(),
            limits.image_bytes
        )));
    }
    let sniffed = media::sniff(bytes).filter(|t| IMAGE_TYPES.contains(t));
    let Some(content_type) = sniffed else {
        return Err(invalid("is not a photo (JPEG, PNG or WebP)".into()));
    };
    let sha256 = hex::encode(Sha256::digest(bytes));
    store
        .put(&channel.tenant_id, &sha256, bytes)
        .await
        .map_err(StoreError::Unavailable)?;
    Ok(InboundMessage {
        from,
        profile_name: None,
        provider_id,
        kind: MessageKind::Image,
        body: caption,
        payload: None,
        sent_at: None,
        media: Some(MediaRef {
            id: format!("{PREFIX}{sha256}"),
            mime_type: Some(content_type.to_owned()),
            sha256: Some(sha256),
            size: Some(bytes.len() as u64),
        }),
    })
}

/// The kept upload a message names, if it is one.
pub(crate) fn named(media: &MediaRef) -> Option<&str> {
    media.id.strip_prefix(PREFIX)
}
