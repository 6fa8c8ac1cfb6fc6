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

pub use ombud_core::api_key::{api_key_hash, new_api_key};

pub use ombud_engine::ops::keys::{KeyRequest, MintError};

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
