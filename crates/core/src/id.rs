//! Typed, prefixed ids (`ten_01J…`): a tenant id can never be passed where a complaint
//! id is wanted, and an id read in a log says what it names. The body is 26 Crockford
//! base32 characters: 48 bits of milliseconds then 80 random bits, so ids sort by
//! creation time (useful for keyset pagination) and never collide in practice.

use rand::RngCore;
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh 26-character sortable id body.
pub fn new_id_body() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut random = [0u8; 10];
    rand::rng().fill_bytes(&mut random);
    let mut value: u128 = (u128::from(millis & 0xFFFF_FFFF_FFFF)) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (8 * (9 - i));
    }
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (25 - i);
        *slot = ALPHABET[((value >> shift) & 0x1F) as usize];
    }
    out.iter().map(|&b| b as char).collect()
}

/// A 26-character id body derived from `key` (its SHA-256), the same every
/// time: for a record that must exist once per key, however often the work
/// that writes it runs.
pub fn derived_id_body(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut bits: u128 = 0;
    for b in &digest[..16] {
        bits = bits << 8 | u128::from(*b);
    }
    (0..26)
        .map(|i| ALPHABET[((bits >> (125 - 5 * i)) & 0x1F) as usize] as char)
        .collect()
}

fn valid_body(body: &str) -> bool {
    body.len() == 26 && body.bytes().all(|b| ALPHABET.contains(&b))
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn new() -> Self {
                Self(format!("{}_{}", $prefix, new_id_body()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id derived from `key`: the same for the same key.
            pub fn derived(key: &str) -> Self {
                Self(format!("{}_{}", $prefix, derived_id_body(key)))
            }

            pub fn parse(s: &str) -> Result<Self, crate::ValidationError> {
                match s.strip_prefix(concat!($prefix, "_")) {
                    Some(body) if valid_body(body) => Ok(Self(s.to_owned())),
                    _ => Err(crate::ValidationError::new(
                        stringify!($name),
                        format!("expected an id like {}_… (26 base32 characters)", $prefix),
                    )),
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = crate::ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

typed_id!(/// An organisation that receives complaints.
    TenantId, "ten");
typed_id!(/// A WhatsApp number (or other channel) of a tenant.
    ChannelId, "chn");
typed_id!(/// A person who writes to a channel.
    ContactId, "cnt");
typed_id!(/// The thread between a contact and a channel.
    ConversationId, "cnv");
typed_id!(/// One inbound or outbound message.
    MessageId, "msg");
typed_id!(/// A recorded complaint.
    ComplaintId, "cmp");
typed_id!(/// A complaint category of a tenant.
    CategoryId, "cat");
typed_id!(/// One agent run over a batch of inbound messages.
    ExecutionId, "exe");
typed_id!(/// An agent of a tenant.
    AgentId, "agt");
typed_id!(/// An immutable configuration snapshot of an agent.
    AgentVersionId, "agv");
typed_id!(/// A domain event, the unit webhooks deliver.
    EventId, "evt");
typed_id!(/// A person who logs in to the dashboard.
    UserId, "usr");
typed_id!(/// An invitation to join a tenant's team.
    InvitationId, "inv");
typed_id!(/// A key a tenant's own systems call the API with.
    ApiKeyId, "key");
typed_id!(/// Where a tenant's webhooks go.
    WebhookEndpointId, "whe");
typed_id!(/// A conversation with an agent version in the test panel, which no
    /// channel sees.
    TestChatId, "tch");
typed_id!(/// One entry of a tenant's audit trail.
    AuditEventId, "aud");
typed_id!(/// Scheduled work: a backup, a sweep, a reminder.
    JobId, "job");
typed_id!(/// A request to choose a new password, by a mailed link.
    PasswordResetId, "pwr");
typed_id!(/// A photo or voice note a message carried, stored once fetched.
    AttachmentId, "att");
typed_id!(/// One satisfaction survey: a question asked about one resolution.
    SurveyId, "srv");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_other_prefixes() {
        let id = TenantId::new();
        assert!(id.as_str().starts_with("ten_"));
        assert_eq!(TenantId::parse(id.as_str()), Ok(id.clone()));
        assert!(ComplaintId::parse(id.as_str()).is_err());
        assert!(TenantId::parse("ten_short").is_err());
        assert!(TenantId::parse("ten_0000000000000000000000000I").is_err());
    }

    #[test]
    fn derived_ids_are_valid_stable_and_differ_by_key() {
        let a = EventId::derived("summary:ten_1:2026-12-06");
        assert_eq!(EventId::parse(a.as_str()), Ok(a.clone()));
        assert_eq!(a, EventId::derived("summary:ten_1:2026-12-06"));
        assert_ne!(a, EventId::derived("summary:ten_1:2026-12-07"));
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = MessageId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = MessageId::new();
        assert!(a < b);
    }
}
