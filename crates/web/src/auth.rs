//! Passwords of staff accounts: argon2id hashes (PHC strings) and the one-time
//! passwords an operator hands out.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::{Rng, RngCore};

/// Characters of a one-time password: no 0/O, 1/l/I, so it can be read out.
const ONE_TIME_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const ONE_TIME_LENGTH: usize = 20;

/// The argon2id hash of `password`, with a fresh salt and argon2's default
/// parameters (19 MiB, 2 passes, 1 lane: OWASP's minimum for argon2id).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches `hash`; a hash that cannot be read matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The token of an `Authorization: Bearer <token>` header; the scheme's name
/// is case-insensitive (RFC 9110 §11.1), so `bearer` works as well.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A random password for someone to use once (about 116 bits).
pub fn one_time_password() -> String {
    let mut rng = rand::rng();
    (0..ONE_TIME_LENGTH)
        .map(|_| ONE_TIME_ALPHABET[rng.random_range(0..ONE_TIME_ALPHABET.len())] as char)
        .collect()
}

/// Characters of an API key: lower-case letters and digits, easy to copy.
const KEY_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0234567890";

/// A new API key and its visible prefix: `ombud_<8>_<40>` (about 230 bits of
/// randomness), and `ombud_<8>`, which is safe to show in lists and logs.
pub fn new_api_key() -> (String, String) {
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

/// What a new key is asked to be.
pub struct KeyRequest {
    pub tenant: ombud_core::TenantId,
    pub name: String,
    pub scopes: Vec<ombud_core::Scope>,
    pub rate_limit_per_minute: u32,
    pub expires_in_days: Option<u32>,
    pub created_by: Option<ombud_core::UserId>,
}

/// Checks the request and stores a new key; returns the key (to show once)
/// and what is stored of it.
pub async fn mint_api_key(
    store: &dyn ombud_store::Store,
    r: KeyRequest,
) -> Result<(String, ombud_core::ApiKey), MintError> {
    use ombud_core::ValidationError;
    let name = r.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(
            ValidationError::new("name", "give the key a name of 1 to 100 characters").into(),
        );
    }
    if r.scopes.is_empty() {
        return Err(ValidationError::new("scopes", "name at least one scope").into());
    }
    ombud_core::limits::at_most("scopes", r.scopes.len(), ombud_core::limits::SCOPES)?;
    if r.rate_limit_per_minute == 0 || r.rate_limit_per_minute > 1_000_000 {
        return Err(ValidationError::new(
            "rate_limit_per_minute",
            "must be between 1 and 1000000 requests per minute",
        )
        .into());
    }
    if matches!(r.expires_in_days, Some(d) if d == 0 || d > 3650) {
        return Err(ValidationError::new(
            "expires_in_days",
            "must be from 1 to 3650 (or left out: never)",
        )
        .into());
    }
    let (key, prefix) = new_api_key();
    let now = ombud_store::stored_now();
    let mut scopes = r.scopes;
    scopes.sort();
    scopes.dedup();
    let api_key = ombud_core::ApiKey {
        id: ombud_core::ApiKeyId::new(),
        tenant_id: r.tenant,
        name: name.to_owned(),
        prefix,
        scopes,
        rate_limit_per_minute: r.rate_limit_per_minute,
        created_by: r.created_by,
        created_at: now,
        expires_at: r
            .expires_in_days
            .map(|d| now + chrono::Duration::days(i64::from(d))),
        last_used_at: None,
        revoked_at: None,
    };
    store
        .create_api_key(api_key.clone(), &api_key_hash(&key))
        .await?;
    Ok((key, api_key))
}

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("{}: {}", .0.field, .0.reason)]
    Invalid(#[from] ombud_core::ValidationError),
    #[error(transparent)]
    Store(#[from] ombud_store::StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        // A fresh salt each time: the same password never hashes the same.
        assert_ne!(hash, hash_password("correct horse").unwrap());
    }

    #[test]
    fn api_keys_carry_their_prefix_and_differ() {
        let (key, prefix) = new_api_key();
        assert!(key.starts_with(&format!("{prefix}_")), "{key}");
        assert_eq!(prefix.len(), "ombud_".len() + 8);
        assert_eq!(key.len(), prefix.len() + 1 + 40);
        assert_ne!(key, new_api_key().0);
        assert_eq!(api_key_hash(&key).len(), 64);
        assert_ne!(api_key_hash(&key), api_key_hash(&new_api_key().0));
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        let with = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
            h
        };
        for v in ["Bearer ombud_x", "bearer ombud_x", "BEARER  ombud_x "] {
            assert_eq!(bearer_token(&with(v)), Some("ombud_x"), "{v}");
        }
        for v in ["Basic ombud_x", "Bearer", "Bearer ", "Bearerombud_x"] {
            assert_eq!(bearer_token(&with(v)), None, "{v}");
        }
        assert_eq!(bearer_token(&axum::http::HeaderMap::new()), None);
    }

    #[test]
    fn one_time_passwords_are_long_and_differ() {
        let (a, b) = (one_time_password(), one_time_password());
        assert_eq!(a.len(), ONE_TIME_LENGTH);
        assert!(a.bytes().all(|c| ONE_TIME_ALPHABET.contains(&c)));
        assert_ne!(a, b);
    }
}
