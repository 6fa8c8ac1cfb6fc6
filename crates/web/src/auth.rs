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

/// A random password for someone to use once (about 116 bits).
pub fn one_time_password() -> String {
    let mut rng = rand::rng();
    (0..ONE_TIME_LENGTH)
        .map(|_| ONE_TIME_ALPHABET[rng.random_range(0..ONE_TIME_ALPHABET.len())] as char)
        .collect()
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
    fn one_time_passwords_are_long_and_differ() {
        let (a, b) = (one_time_password(), one_time_password());
        assert_eq!(a.len(), ONE_TIME_LENGTH);
        assert!(a.bytes().all(|c| ONE_TIME_ALPHABET.contains(&c)));
        assert_ne!(a, b);
    }
}
