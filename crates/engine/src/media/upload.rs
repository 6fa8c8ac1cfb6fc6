//! Photos a web chat visitor uploads: there is no provider to fetch from,
//! so the bytes are kept (by their own SHA-256) before the message is
//! stored, and the message names them as WhatsApp's name a media id. The
//! fetch job then reads them from the store and judges and cleans them as
//! any other photo; the raw upload is deleted once the clean one is kept.

use ombud_core::media::{self, MediaRef, IMAGE_TYPES};
use ombud_core::{Channel, MessageKind, ValidationError};
use ombud_store::{InboundMessage, StoreError, StoreResult};
use sha2::{Digest, Sha256};

use super::MediaStore;

/// The provider id an upload's media carries: `upload:<sha256>`.
pub const PREFIX: &str = "upload:";

/// A visitor's photo, kept, as the message that carries it: `from` the
/// visitor, `provider_id` unique per visitor and upload.
pub(crate) async fn keep(
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
