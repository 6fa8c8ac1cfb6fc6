//! API keys: how a tenant's own systems call the REST API. A key is shown once
//! and stored only as its SHA-256; its visible prefix (`ombud_1a2b3c4d`)
//! lets people tell keys apart in lists and logs.

use chrono::{DateTime, Utc};

use crate::{ApiKeyId, TenantId, UserId, ValidationError};

/// What a key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Scope {
    #[serde(rename = "complaints:read")]
    ComplaintsRead,
    #[serde(rename = "complaints:write")]
    ComplaintsWrite,
    #[serde(rename = "conversations:read")]
    ConversationsRead,
    #[serde(rename = "conversations:write")]
    ConversationsWrite,
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
    #[serde(rename = "agents:read")]
    AgentsRead,
    #[serde(rename = "agents:write")]
    AgentsWrite,
    /// The tenant's audit trail, to read (admins have it).
    #[serde(rename = "audit:read")]
    AuditRead,
    /// A person's data, to export and to erase (admins have it).
    #[serde(rename = "contacts:erase")]
    ContactsErase,
}

impl Scope {
    pub const ALL: [Scope; 9] = [
        Scope::ComplaintsRead,
        Scope::ComplaintsWrite,
        Scope::ConversationsRead,
        Scope::ConversationsWrite,
        Scope::WebhooksManage,
        Scope::AgentsRead,
        Scope::AgentsWrite,
        Scope::AuditRead,
        Scope::ContactsErase,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ComplaintsRead => "complaints:read",
            Scope::ComplaintsWrite => "complaints:write",
            Scope::ConversationsRead => "conversations:read",
            Scope::ConversationsWrite => "conversations:write",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::AgentsRead => "agents:read",
            Scope::AgentsWrite => "agents:write",
            Scope::AuditRead => "audit:read",
            Scope::ContactsErase => "contacts:erase",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|x| x.as_str()).collect();
                ValidationError::new(
                    "scopes",
                    format!("{s:?} is not one of {}", names.join(", ")),
                )
            })
    }

    /// A comma-separated list, at least one, no repeats kept.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, ValidationError> {
        let names: Vec<&str> = s.split(',').filter(|p| !p.trim().is_empty()).collect();
        crate::limits::at_most("scopes", names.len(), crate::limits::SCOPES)?;
        let mut scopes: Vec<Scope> = names
            .into_iter()
            .map(Self::parse)
            .collect::<Result<_, _>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(ValidationError::new("scopes", "name at least one scope"));
        }
        Ok(scopes)
    }
}

/// Requests per minute a key may make unless it says otherwise.
pub const DEFAULT_RATE_LIMIT: u32 = 600;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    /// `ombud_` and the first 8 characters of the key: safe to show.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub rate_limit_per_minute: u32,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Usable at `now`: not revoked, not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }

    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Characters of an API key: lower-case letters and digits, easy to copy.
const KEY_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0234567890";

/// A new API key and its visible prefix: `ombud_<8>_<40>` (about 230 bits of
/// randomness), and `ombud_<8>`, which is safe to show in lists and logs.
pub fn new_api_key() -> (String, String) {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let mut part = |n: usize| -> String {
        (0..n)
            .map(|_| KEY_ALPHABET[rng.random_range(0..KEY_ALPHABET.len())] as char)
            .collect()
    };
    let prefix = format!("ombud_{}", part(8));
    let key = format!("{prefix}_{}", part(40));
    (key, prefix)
}

/// What the store keeps of an API key: its SHA-256, hex.
pub fn api_key_hash(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_from_a_list_and_name_the_bad_one() {
        assert_eq!(
            Scope::parse_list("complaints:write, complaints:read,complaints:read").unwrap(),
            vec![Scope::ComplaintsRead, Scope::ComplaintsWrite]
        );
        let e = Scope::parse_list("complaints:read,complaints:delete").unwrap_err();
        assert_eq!(e.field, "scopes");
        assert!(e.reason.contains("complaints:delete"), "{}", e.reason);
        assert!(Scope::parse_list(" , ").is_err());
        let json = serde_json::to_string(&Scope::WebhooksManage).unwrap();
        assert_eq!(json, "\"webhooks:manage\"");
    }
}
