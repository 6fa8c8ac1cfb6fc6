//! Tenants' secrets at rest: channel credentials (WhatsApp's app secret,
//! verify and access tokens; a Telegram bot's token and secret token; a web
//! chat's signing key) and webhook signing secrets are kept sealed under the
//! server's key (`ombud_core::seal`, the sealing of LLM keys), bound to their
//! tenant. The backends seal as they write and open as they read, with this
//! module's [`Sealer`]; nothing above the store ever sees a sealed value, and
//! nothing in the database is a usable secret without `secret.key`.
//!
//! Rows written before sealing (plain text) are sealed in place when the
//! store opens ([`SEALED_COLUMNS`]); a key rotation re-seals every sealed
//! value, LLM keys in agent versions included, under a new key.

use ombud_core::seal::{is_sealed, SealKey};
use ombud_core::Secret;

use crate::{StoreError, StoreResult};

/// The columns that hold secrets, per table (each has a `tenant_id`; NULL or
/// empty holds nothing to hide). Stored API answers are among them: the
/// answer to a POST may show a secret once (a new API key, an endpoint's
/// signing secret), and is kept for replays of its idempotency key.
pub(crate) const SEALED_COLUMNS: &[(&str, &[&str])] = &[
    ("channels", &["app_secret", "verify_token", "access_token"]),
    ("webhook_endpoints", &["secret", "previous_secret"]),
    ("idempotency_keys", &["body"]),
];

/// Seals with the server's key; opens with it, or with a key that an
/// unfinished rotation left (the keys after the first).
#[derive(Clone)]
pub struct Sealer {
    keys: Vec<SealKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({} keys)", self.keys.len())
    }
}

impl Sealer {
    pub fn new(key: SealKey) -> Self {
        Self { keys: vec![key] }
    }

    /// `key` seals; `also` may open what an earlier or later key sealed (a
    /// rotation interrupted between the database and the key file).
    pub fn with_fallbacks(key: SealKey, also: Vec<SealKey>) -> Self {
        let mut keys = vec![key];
        keys.extend(also);
        Self { keys }
    }

    /// The value to store for `secret` of `tenant`.
    pub fn seal(&self, tenant: &str, secret: &str) -> String {
        if secret.is_empty() {
            return String::new();
        }
        self.keys[0].seal(secret, tenant)
    }

    /// The secret a stored value holds. Plain text (a row from before
    /// sealing, until the store next opens) is taken as it is.
    pub fn open(&self, tenant: &str, stored: &str) -> StoreResult<Secret> {
        if !is_sealed(stored) {
            return Ok(Secret::new(stored));
        }
        let mut last = String::new();
        for key in &self.keys {
            match key.open(stored, tenant) {
                Ok(secret) => return Ok(secret),
                Err(e) => last = e,
            }
        }
        Err(StoreError::Internal(format!(
            "a secret of {tenant} could not be opened: {last} (is OMBUD_SECRET_KEY or secret.key the one this database was sealed with?)"
        )))
    }

    /// What to store instead of `stored` when it is still plain text.
    pub(crate) fn seal_if_plain(&self, tenant: &str, stored: Option<&str>) -> Option<String> {
        match stored {
            Some(s) if !s.is_empty() && !is_sealed(s) => Some(self.seal(tenant, s)),
            _ => None,
        }
    }

    /// `stored` sealed under `next` instead, whether it was sealed or plain.
    pub(crate) fn reseal(
        &self,
        next: &Sealer,
        tenant: &str,
        stored: Option<&str>,
    ) -> StoreResult<Option<String>> {
        match stored {
            Some(s) if !s.is_empty() => {
                let secret = self.open(tenant, s)?;
                Ok(Some(next.seal(tenant, secret.expose())))
            }
            _ => Ok(None),
        }
    }

    /// Re-seals under `next` every sealed string in an agent version's
    /// configuration (an LLM agent's `api_key_sealed`); true if any was.
    pub(crate) fn reseal_json(
        &self,
        next: &Sealer,
        tenant: &str,
        value: &mut serde_json::Value,
    ) -> StoreResult<bool> {
        use serde_json::Value;
        Ok(match value {
            Value::String(s) if is_sealed(s) => {
                let secret = self.open(tenant, s)?;
                *s = next.seal(tenant, secret.expose());
                true
            }
            Value::Array(items) => {
                let mut any = false;
                for item in items {
                    any |= self.reseal_json(next, tenant, item)?;
                }
                any
            }
            Value::Object(map) => {
                let mut any = false;
                for item in map.values_mut() {
                    any |= self.reseal_json(next, tenant, item)?;
                }
                any
            }
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_plain_ones_pass_and_a_rotation_reseals() {
        let old = Sealer::new(SealKey::generate());
        let sealed = old.seal("ten_a", "app-secret-1");
        assert!(is_sealed(&sealed) && !sealed.contains("app-secret-1"));
        assert_eq!(old.open("ten_a", &sealed).unwrap().expose(), "app-secret-1");
        assert!(old.open("ten_b", &sealed).is_err(), "bound to its tenant");
        assert_eq!(old.open("ten_a", "legacy").unwrap().expose(), "legacy");
        assert_eq!(old.seal("ten_a", ""), "");
        assert_eq!(old.seal_if_plain("ten_a", Some(&sealed)), None);
        assert_eq!(old.seal_if_plain("ten_a", Some("")), None);
        assert!(old.seal_if_plain("ten_a", Some("plain")).is_some());

        let new_key = SealKey::generate();
        let new = Sealer::new(new_key.clone());
        let moved = old.reseal(&new, "ten_a", Some(&sealed)).unwrap().unwrap();
        assert_eq!(new.open("ten_a", &moved).unwrap().expose(), "app-secret-1");
        assert!(old.open("ten_a", &moved).is_err());
        // A rotation cut short: the old key still opens what it sealed.
        let both = Sealer::with_fallbacks(new_key, vec![SealKey::generate(), old.keys[0].clone()]);
        assert_eq!(
            both.open("ten_a", &sealed).unwrap().expose(),
            "app-secret-1"
        );

        let mut config =
            serde_json::json!({"model": "m", "api_key_sealed": sealed, "tools": ["a"]});
        assert!(old.reseal_json(&new, "ten_a", &mut config).unwrap());
        let key = config["api_key_sealed"].as_str().unwrap();
        assert_eq!(new.open("ten_a", key).unwrap().expose(), "app-secret-1");
        assert_eq!(config["model"], "m");
    }
}
