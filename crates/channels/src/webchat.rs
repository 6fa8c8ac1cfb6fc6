//! The web chat. A visitor gets a token when the widget first opens: the
//! visitor's id and an HMAC-SHA256 of it under the channel's signing key, so
//! the server keeps no session table and a token works on any replica. Replies
//! are "sent" by the outbox like any other channel's: sending marks them
//! handed over and rings the [`WebchatBell`], which wakes the visitor's event
//! stream to read them from the store.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use ombud_core::{id::new_id_body, Channel};
use sha2::Sha256;
use tokio::sync::watch;

use crate::{ChannelSender, SendError};

const VERSION: &str = "v1";

fn mac(key: &str, channel: &str, visitor: &str) -> String {
    // HMAC takes a key of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(channel.as_bytes());
    m.update(b".");
    m.update(visitor.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// A new visitor of the channel: their id and their token.
pub fn new_visitor(channel: &Channel, key: &str) -> (String, String) {
    let visitor = format!("vis_{}", new_id_body());
    let token = format!(
        "{VERSION}.{visitor}.{}",
        mac(key, channel.id.as_str(), &visitor)
    );
    (visitor, token)
}

/// The visitor a token names, if the channel's key signed it.
pub fn visitor_of(channel: &Channel, key: &str, token: &str) -> Option<String> {
    let mut parts = token.splitn(3, '.');
    let (Some(VERSION), Some(visitor), Some(sig)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if !visitor.starts_with("vis_") || visitor.len() != 30 {
        return None;
    }
    let expected = mac(key, channel.id.as_str(), visitor);
    use subtle::ConstantTimeEq;
    bool::from(sig.as_bytes().ct_eq(expected.as_bytes())).then(|| visitor.to_owned())
}

/// Rung whenever a web chat reply is handed over; event streams wait on it
/// (and also look at the store now and then, for replies another replica
/// sent).
#[derive(Clone)]
pub struct WebchatBell {
    tx: watch::Sender<u64>,
}

impl Default for WebchatBell {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(0),
        }
    }
}

impl WebchatBell {
    pub fn ring(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.tx.subscribe()
    }
}

/// The outbox's sender for web chats: the reply is stored already, so
/// handing it over is ringing the bell.
#[derive(Clone, Default)]
pub struct WebchatSender {
    pub bell: WebchatBell,
}

#[async_trait]
impl ChannelSender for WebchatSender {
    async fn send_text(
        &self,
        channel: &Channel,
        _to: &str,
        _body: &str,
        idempotency_key: &str,
    ) -> Result<String, SendError> {
        if channel.webchat().is_none() {
            return Err(SendError::Permanent {
                reason: format!("{} is not a web chat", channel.id),
            });
        }
        self.bell.ring();
        Ok(format!("webchat:{idempotency_key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ombud_core::*;

    fn chat() -> Channel {
        Channel {
            id: ChannelId::new(),
            tenant_id: TenantId::new(),
            name: "web".into(),
            config: ChannelConfig::Webchat(WebchatConfig {
                signing_key: Secret::new("k".repeat(40)),
                allowed_origins: vec![],
                greetings: Default::default(),
            }),
            deployed_version: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_token_names_its_visitor_on_its_channel_only() {
        let (c, other) = (chat(), chat());
        let key = "k".repeat(40);
        let (visitor, token) = new_visitor(&c, &key);
        assert_eq!(visitor_of(&c, &key, &token), Some(visitor.clone()));
        assert_eq!(visitor_of(&other, &key, &token), None, "another channel");
        assert_eq!(visitor_of(&c, "another key", &token), None);
        let forged = format!("v1.{}.{}", "vis_01JD8Y3M6V4ZB2T9W0XK5Q7R1C", &token[35..]);
        assert_eq!(visitor_of(&c, &key, &forged), None, "someone else's id");
        assert_eq!(visitor_of(&c, &key, "v1.nonsense"), None);
    }
}
