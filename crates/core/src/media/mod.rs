//! Media a citizen sends (photos, voice notes): what a channel says about
//! it, what Ombud accepts, and making it safe to show. The bytes are judged
//! by what they are (sniffed), never by the type a sender claims; photos
//! lose their metadata (an EXIF block carries where and when the phone took
//! it) before staff see them. No I/O: the engine fetches and stores.

use sha2::{Digest, Sha256};

mod clean;
pub mod transcription;

pub use clean::strip_metadata;

use crate::{AttachmentId, MessageKind};

/// What a channel told us about a message's media, before it is fetched:
/// WhatsApp's `image`/`audio` object, Telegram's `file_id`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MediaRef {
    /// The provider's id for the file (WhatsApp's media id, Telegram's
    /// `file_id`).
    pub id: String,
    /// The type the provider says it is (checked against the bytes).
    pub mime_type: Option<String>,
    /// The checksum the provider sent (WhatsApp: SHA-256), hex or base64.
    pub sha256: Option<String>,
    /// The size the provider says, in bytes.
    pub size: Option<u64>,
}

/// Where a message's media stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaState {
    /// Being fetched from the provider; the message waits for it.
    Fetching,
    /// Stored, checked and cleaned; staff can see it.
    Ready,
    /// Fetched and turned away (too large, not what it claimed, damaged).
    Refused,
    /// Could not be fetched, every retry spent.
    Failed,
    /// A voice note fetched and kept, waiting for its transcript; the
    /// message waits with it.
    Transcribing,
    /// A voice note kept but not transcribed (the transcriber failed every
    /// try): people listen to it.
    Unheard,
}

impl MediaState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fetching => "fetching",
            Self::Ready => "ready",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::Transcribing => "transcribing",
            Self::Unheard => "unheard",
        }
    }

    /// Whether the message is still waiting for it.
    pub fn pending(self) -> bool {
        matches!(self, Self::Fetching | Self::Transcribing)
    }

    /// Whether its bytes are kept (and may be served).
    pub fn kept(self) -> bool {
        matches!(self, Self::Ready | Self::Transcribing | Self::Unheard)
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Fetching,
            Self::Ready,
            Self::Refused,
            Self::Failed,
            Self::Transcribing,
            Self::Unheard,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A message's media as the message carries it: enough for an agent to
/// know what it got and for a conversation view to show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MediaInfo {
    pub id: AttachmentId,
    pub state: MediaState,
    /// The sniffed type, once fetched (`image/jpeg`, `audio/ogg`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Why it was refused or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was refused, for the citizen's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// A voice note's words, as the transcriber heard them: the text the
    /// agent reads. Empty: no speech was heard. None: not transcribed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
}

impl MediaInfo {
    pub fn fetching(id: AttachmentId) -> Self {
        Self {
            id,
            state: MediaState::Fetching,
            content_type: None,
            size: None,
            error: None,
            refusal: None,
            transcript: None,
        }
    }
}

/// Why media was turned away; each has its own words for the citizen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Larger than the tenant's limit for its kind.
    TooLarge,
    /// A voice note longer than the tenant's limit.
    TooLong,
    /// Not a kind of file accepted for this message (a PDF sent as a photo).
    WrongType,
    /// Arrived damaged: its checksum did not match what the provider sent.
    Damaged,
}

/// The media kinds Ombud fetches and keeps; other kinds (video,
/// documents, stickers) are stored as messages only.
pub fn fetched(kind: MessageKind) -> bool {
    matches!(kind, MessageKind::Image | MessageKind::Audio)
}

/// How much media a tenant takes, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaLimits {
    /// Largest photo, in bytes (WhatsApp's own limit is 5 MB).
    pub image_bytes: u64,
    /// Largest voice note, in bytes (the constituency plan's 1 MB).
    pub audio_bytes: u64,
    /// Longest voice note, in seconds (the plan's 2 minutes).
    pub audio_seconds: u32,
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            image_bytes: 5 * 1024 * 1024,
            audio_bytes: 1024 * 1024,
            audio_seconds: 120,
        }
    }
}

/// The tenant setting that holds its [`MediaLimits`].
pub const SETTINGS_KEY: &str = "media.limits";

/// The most any tenant may allow: WhatsApp's own limits (images 5 MB,
/// audio 16 MB), and a quarter of an hour of speech.
pub const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_AUDIO_BYTES: u64 = 16 * 1024 * 1024;
pub const MAX_AUDIO_SECONDS: u32 = 900;

impl MediaLimits {
    pub fn validate(&self) -> Result<(), crate::ValidationError> {
        let check = |field: &str, value: u64, max: u64, unit: &str| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(crate::ValidationError::new(
                    field,
                    format!("must be 1 to {max} {unit}"),
                ))
            }
        };
        check("image_bytes", self.image_bytes, MAX_IMAGE_BYTES, "bytes")?;
        check("audio_bytes", self.audio_bytes, MAX_AUDIO_BYTES, "bytes")?;
        check(
            "audio_seconds",
            u64::from(self.audio_seconds),
            u64::from(MAX_AUDIO_SECONDS),
            "seconds",
        )
    }

    /// The largest a fetch of this kind may read: the limit, or nothing for
    /// kinds that are not fetched.
    pub fn bytes_for(&self, kind: MessageKind) -> u64 {
        match kind {
            MessageKind::Image => self.image_bytes,
            MessageKind::Audio => self.audio_bytes,
            _ => 0,
        }
    }
}

/// Fetched media, judged: accepted (cleaned, with its type and hash) or
/// refused with the reason.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    Accepted(Accepted),
    Refused { refusal: Refusal, reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// What staff are shown: a photo without its metadata, audio as it came.
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    /// Hex SHA-256 of `bytes`: the stored object's name.
    pub sha256: String,
    /// A voice note's length, where its container says it (Ogg).
    pub seconds: Option<f64>,
}

/// Checks fetched bytes against what the provider said and the tenant's
/// limits, and cleans what is kept. `claimed_sha256`: the checksums the
/// provider gave of the bytes as sent (hex or base64); each must match.
pub fn judge(
    kind: MessageKind,
    bytes: Vec<u8>,
    claimed_sha256: &[&str],
    limits: &MediaLimits,
) -> Judged {
    let refuse = |refusal, reason: String| Judged::Refused { refusal, reason };
    let limit = limits.bytes_for(kind);
    if bytes.len() as u64 > limit {
        return refuse(
            Refusal::TooLarge,
            format!("{} bytes, over the limit of {limit}", bytes.len()),
        );
    }
    let digest = Sha256::digest(&bytes);
    for &claimed in claimed_sha256 {
        match decode_sha256(claimed) {
            Some(c) if c[..] == digest[..] => {}
            Some(_) => {
                return refuse(
                    Refusal::Damaged,
                    "its SHA-256 is not the one the provider sent (damaged or altered on the way)"
                        .into(),
                )
            }
            None => {
                return refuse(
                    Refusal::Damaged,
                    format!("the provider's checksum {claimed:?} is not a SHA-256"),
                )
            }
        }
    }
    let Some(content_type) = sniff(&bytes) else {
        return refuse(
            Refusal::WrongType,
            "its content is not a file type Ombud knows".into(),
        );
    };
    let accepted = match kind {
        MessageKind::Image => IMAGE_TYPES.contains(&content_type),
        MessageKind::Audio => AUDIO_TYPES.contains(&content_type),
        _ => false,
    };
    if !accepted {
        return refuse(
            Refusal::WrongType,
            format!("{content_type} is not accepted as {}", kind.as_str()),
        );
    }
    let (bytes, seconds) = if kind == MessageKind::Image {
        match strip_metadata(content_type, &bytes) {
            Ok(clean) => (clean, None),
            Err(e) => return refuse(Refusal::Damaged, format!("unreadable {content_type}: {e}")),
        }
    } else {
        let seconds = (content_type == "audio/ogg")
            .then(|| ogg_seconds(&bytes))
            .flatten();
        (bytes, seconds)
    };
    if kind == MessageKind::Audio {
        if let Some(s) = seconds.filter(|s| *s > f64::from(limits.audio_seconds)) {
            return refuse(
                Refusal::TooLong,
                format!(
                    "{s:.0} seconds long, over the limit of {}",
                    limits.audio_seconds
                ),
            );
        }
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Judged::Accepted(Accepted {
        bytes,
        content_type,
        sha256,
        seconds,
    })
}

/// Photos Ombud keeps: what phones send.
pub const IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];
/// Voice notes and audio Ombud keeps: WhatsApp's and Telegram's voice (Ogg
/// Opus), and what phones record otherwise.
pub const AUDIO_TYPES: [&str; 4] = ["audio/ogg", "audio/mpeg", "audio/mp4", "audio/amr"];

/// A SHA-256 written as 64 hex digits or in base64 (Meta's webhooks).
fn decode_sha256(text: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    let text = text.trim();
    let bytes = if text.len() == 64 {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
            .ok()?
    };
    bytes.try_into().ok()
}

/// What the bytes are, by their first bytes (their "magic"); None for
/// anything else.
pub fn sniff(b: &[u8]) -> Option<&'static str> {
    let at = |i: usize, magic: &[u8]| b.get(i..i + magic.len()) == Some(magic);
    Some(if at(0, &[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        "image/gif"
    } else if at(0, b"OggS") {
        "audio/ogg"
    } else if at(0, b"#!AMR") {
        "audio/amr"
    } else if at(4, b"ftyp") {
        if at(8, b"M4A ") || at(8, b"M4B ") {
            "audio/mp4"
        } else {
            "video/mp4"
        }
    } else if at(0, b"ID3") || (b.len() > 1 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0) {
        "audio/mpeg"
    } else if at(0, b"%PDF-") {
        "application/pdf"
    } else {
        return None;
    })
}

/// An Ogg Opus stream's length: the last page's granule position (48 kHz
/// samples) less the pre-skip in the Opus header. None when it is not Opus
/// or the pages do not say.
pub fn ogg_seconds(b: &[u8]) -> Option<f64> {
    let head = find(b, b"OpusHead")?;
    let pre_skip = u16::from_le_bytes([*b.get(head + 10)?, *b.get(head + 11)?]);
    let last = rfind(b, b"OggS")?;
    let granule = u64::from_le_bytes(b.get(last + 6..last + 14)?.try_into().ok()?);
    if granule == u64::MAX {
        return None;
    }
    Some(granule.saturating_sub(u64::from(pre_skip)) as f64 / 48_000.0)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

/// A file name for a download: the attachment's id and its type's usual
/// extension.
pub fn file_name(id: &AttachmentId, content_type: &str) -> String {
    let ext = match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/amr" => "amr",
        _ => "bin",
    };
    format!("{id}.{ext}")
}

#[cfg(test)]
mod tests;
