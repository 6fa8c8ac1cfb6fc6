//! Fetching what citizens send: a WhatsApp media id becomes a short-lived
//! URL (`GET /{media-id}`, valid five minutes), downloaded with the same
//! bearer token; a Telegram `file_id` becomes a file path (`getFile`),
//! downloaded from the Bot API's file URL. Reads stop at the caller's
//! limit, so a large file is refused without being read.

use ombud_core::media::MediaRef;
use ombud_core::{Channel, ChannelKind};
use serde::Deserialize;

use crate::{SendError, Senders};

/// Why a fetch did not bring the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The provider or the network failed for now: try again later.
    #[error("temporary failure: {0}")]
    Retry(String),
    /// The provider refused (the media is gone, the token is wrong): trying
    /// again would fail the same way.
    #[error("refused: {0}")]
    Refused(String),
    /// Larger than the limit (as the provider said, or as read).
    #[error("{size} bytes or more, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
}

impl From<SendError> for FetchError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Retryable { reason, .. } => Self::Retry(reason),
            SendError::Permanent { reason } => Self::Refused(reason),
        }
    }
}

/// A fetched file and what the provider said of it on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// The checksum the provider gave with the URL, if any (WhatsApp).
    pub sha256: Option<String>,
}

#[derive(Deserialize)]
struct MediaUrl {
    url: String,
    #[serde(default)]
    sha256: Option<String>,
    /// A string in Meta's answers ("303833"); a number is taken too.
    #[serde(default)]
    file_size: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TgAnswer {
    ok: bool,
    #[serde(default)]
    result: Option<TgFile>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    error_code: Option<u16>,
}

#[derive(Deserialize)]
struct TgFile {
    #[serde(default)]
    file_path: Option<String>,
    #[serde(default)]
    file_size: Option<u64>,
}

impl Senders {
    /// Fetches a message's media on its channel, reading at most `limit`
    /// bytes.
    pub(crate) async fn fetch(
        &self,
        channel: &Channel,
        media: &MediaRef,
        limit: u64,
    ) -> Result<Fetched, FetchError> {
        match channel.kind() {
            ChannelKind::Whatsapp => self.whatsapp_media(channel, media, limit).await,
            ChannelKind::Telegram => self.telegram_media(channel, media, limit).await,
            ChannelKind::Webchat => Err(FetchError::Refused(
                "web chat uploads arrive with their message; there is nothing to fetch".into(),
            )),
        }
    }

    async fn whatsapp_media(
        &self,
        channel: &Channel,
        media: &MediaRef,
        limit: u64,
    ) -> Result<Fetched, FetchError> {
        let Some(cfg) = channel.whatsapp() else {
            return Err(FetchError::Refused("not a WhatsApp channel".into()));
        };
        let sender = &self.whatsapp;
        let graph_url = crate::provider_url(
            &sender.providers,
            ChannelKind::Whatsapp,
            "graph_url",
            &cfg.graph_url,
        )?;
        let lookup = format!(
            "{graph_url}/{}/{}?phone_number_id={}",
            cfg.api_version,
            urlencoding(&media.id),
            cfg.phone_number_id
        );
        // The URL lives five minutes: one that expired between the lookup
        // and the download is looked up again at once.
        let mut last = None;
        for _ in 0..2 {
            let request = sender
                .http
                .get(&lookup)
                .bearer_auth(cfg.access_token.expose());
            let (_, text) = crate::whatsapp::sender::graph_call(request).await?;
            let found: MediaUrl = serde_json::from_str(&text).map_err(|_| {
                FetchError::Refused("the media lookup answered without a URL".into())
            })?;
            let size = found.file_size.as_ref().and_then(|v| match v {
                serde_json::Value::String(s) => s.trim().parse().ok(),
                other => other.as_u64(),
            });
            if let Some(size) = size.filter(|s| *s > limit) {
                return Err(FetchError::TooLarge { size, limit });
            }
            let request = sender
                .http
                .get(&found.url)
                .bearer_auth(cfg.access_token.expose());
            match download(request, limit).await {
                Err(Expired(reason)) => last = Some(reason),
                Ok(bytes) => {
                    return Ok(Fetched {
                        bytes,
                        sha256: found.sha256,
                    })
                }
                Err(Failed(e)) => return Err(e),
            }
        }
        Err(FetchError::Retry(format!(
            "the media URL was refused twice: {}",
            last.unwrap_or_default()
        )))
    }

    async fn telegram_media(
        &self,
        channel: &Channel,
        media: &MediaRef,
        limit: u64,
    ) -> Result<Fetched, FetchError> {
        let Some(cfg) = channel.telegram() else {
            return Err(FetchError::Refused("not a Telegram channel".into()));
        };
        if let Some(size) = media.size.filter(|s| *s > limit) {
            return Err(FetchError::TooLarge { size, limit });
        }
        let sender = &self.telegram;
        let api_url = crate::provider_url(
            &sender.providers,
            ChannelKind::Telegram,
            "api_url",
            &cfg.api_url,
        )?;
        // The token is in the path: errors never show the URL.
        let token = cfg.bot_token.expose();
        let response = sender
            .http
            .post(format!("{api_url}/bot{token}/getFile"))
            .json(&serde_json::json!({"file_id": media.id}))
            .send()
            .await
            .map_err(|e| {
                FetchError::Retry(format!("getFile failed: {}", crate::without_url(&e)))
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| {
            FetchError::Retry(format!(
                "reading getFile failed: {}",
                crate::without_url(&e)
            ))
        })?;
        let answer: Option<TgAnswer> = serde_json::from_str(&text).ok();
        let file = match answer {
            Some(TgAnswer {
                ok: true,
                result: Some(file),
                ..
            }) => file,
            other => {
                let code = other.as_ref().and_then(|a| a.error_code).unwrap_or(status);
                let said = other
                    .and_then(|a| a.description)
                    .map(|d| crate::provider_said(&d))
                    .unwrap_or_else(|| "the body was not a Bot API answer".into());
                let reason = format!("getFile: HTTP {code}: {said}");
                return Err(if code == 429 || code >= 500 {
                    FetchError::Retry(reason)
                } else {
                    FetchError::Refused(reason)
                });
            }
        };
        if let Some(size) = file.file_size.filter(|s| *s > limit) {
            return Err(FetchError::TooLarge { size, limit });
        }
        let path = file
            .file_path
            .filter(|p| !p.is_empty() && !p.contains(".."))
            .ok_or_else(|| FetchError::Refused("getFile gave no file path".into()))?;
        let request = sender.http.get(format!("{api_url}/file/bot{token}/{path}"));
        match download(request, limit).await {
            Ok(bytes) => Ok(Fetched {
                bytes,
                sha256: None,
            }),
            Err(Expired(reason)) => Err(FetchError::Retry(reason)),
            Err(Failed(e)) => Err(e),
        }
    }
}

enum Download {
    /// The URL was refused (expired or never valid): look it up again.
    Expired(String),
    Failed(FetchError),
}
use Download::{Expired, Failed};

/// GETs a file, reading at most `limit` bytes.
async fn download(request: reqwest::RequestBuilder, limit: u64) -> Result<Vec<u8>, Download> {
    let mut response = request.send().await.map_err(|e| {
        Failed(FetchError::Retry(format!(
            "download failed: {}",
            crate::without_url(&e)
        )))
    })?;
    let status = response.status();
    if matches!(status.as_u16(), 401 | 403 | 404 | 410) {
        return Err(Expired(format!("download: HTTP {}", status.as_u16())));
    }
    if !status.is_success() {
        let reason = format!("download: HTTP {}", status.as_u16());
        return Err(Failed(
            if status.as_u16() == 429 || status.is_server_error() {
                FetchError::Retry(reason)
            } else {
                FetchError::Refused(reason)
            },
        ));
    }
    if let Some(size) = response.content_length().filter(|s| *s > limit) {
        return Err(Failed(FetchError::TooLarge { size, limit }));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        Failed(FetchError::Retry(format!(
            "download cut short: {}",
            crate::without_url(&e)
        )))
    })? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > limit {
            return Err(Failed(FetchError::TooLarge {
                size: bytes.len() as u64,
                limit,
            }));
        }
    }
    Ok(bytes)
}

/// A media id as a path segment (Meta's are digits; anything else is
/// escaped rather than trusted).
fn urlencoding(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
