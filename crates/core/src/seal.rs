//! Secrets a tenant gives Ombud to keep (an LLM provider's API key in an agent
//! version), stored encrypted: XChaCha20-Poly1305 under the server's key, with
//! the tenant's id bound in as associated data, so a sealed value copied into
//! another tenant does not open. Sealed text reads `sealed:v1:<base64>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::Secret;

const PREFIX: &str = "sealed:v1:";
const NONCE: usize = 24;

/// The server's sealing key: 32 random bytes, kept outside the database.
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(****)")
    }
}

impl SealKey {
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// The token of a link for `purpose` and `id` (an invitation, a
    /// password reset): HMAC-SHA256 under this key, in hex. The store keeps
    /// only the token's SHA-256, and the mail job, on whichever replica
    /// runs it, writes the link again from the id: no token is kept anywhere.
    pub fn link_token(&self, purpose: &str, id: &str) -> String {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(b"ombud link token\0");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// What stands for an erased person's `address` in `tenant`: HMAC-SHA256
    /// under this key, in hex. The same address gives the same pseudonym,
    /// and nobody without the key can tell whose it is.
    pub fn pseudonym(&self, tenant: &str, address: &str) -> String {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(b"ombud pseudonym\0");
        mac.update(tenant.as_bytes());
        mac.update(b"\0");
        mac.update(address.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Reads a key written by [`to_base64`](Self::to_base64).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{} bytes, not 32", b.len()))?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Encrypts `secret` for `tenant` (any stable id of the owner).
    pub fn seal(&self, secret: &str, tenant: &str) -> String {
        let nonce: [u8; NONCE] = rand::random();
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: tenant.as_bytes(),
        };
        // Encryption of an in-memory buffer cannot fail with this cipher.
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts what [`seal`](Self::seal) made for the same tenant.
    pub fn open(&self, sealed: &str, tenant: &str) -> Result<Secret, String> {
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or("not a sealed value (sealed:v1:…)")?;
        let bytes = STANDARD
            .decode(body)
            .map_err(|_| "the sealed value is damaged")?;
        if bytes.len() < NONCE + 16 {
            return Err("the sealed value is too short".into());
        }
        let (nonce, message) = bytes.split_at(NONCE);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let payload = Payload {
            msg: message,
            aad: tenant.as_bytes(),
        };
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| "the sealed value does not open with this server's key")?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| "the sealed value is not text".into())
    }
}

/// Whether `text` looks like a sealed value.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

#[cfg(test)]
mod link_tests {
    use super::*;

    #[test]
    fn a_link_token_is_the_keys_and_the_purposes_and_the_ids() {
        let key = SealKey::generate();
        let t = key.link_token("password-reset", "pwr_1");
        assert_eq!(t.len(), 64);
        assert_eq!(
            t,
            key.link_token("password-reset", "pwr_1"),
            "written again the same"
        );
        assert_ne!(t, key.link_token("invitation", "pwr_1"));
        assert_ne!(t, key.link_token("password-reset", "pwr_2"));
        assert_ne!(t, SealKey::generate().link_token("password-reset", "pwr_1"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_tenant() {
        let key = SealKey::generate();
        let sealed = key.seal("sk-live-123", "ten_a");
        assert!(is_sealed(&sealed) && !sealed.contains("sk-live"));
        assert_ne!(
            sealed,
            key.seal("sk-live-123", "ten_a"),
            "a fresh nonce each time"
        );
        assert_eq!(key.open(&sealed, "ten_a").unwrap().expose(), "sk-live-123");
        assert!(key.open(&sealed, "ten_b").is_err(), "bound to its tenant");
        assert!(SealKey::generate().open(&sealed, "ten_a").is_err());
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(key.open(&damaged, "ten_a").is_err());
        let again = SealKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(
            again.open(&sealed, "ten_a").unwrap().expose(),
            "sk-live-123"
        );
        assert!(SealKey::from_base64("c2hvcnQ=").is_err());
        assert!(!format!("{key:?}").contains(&key.to_base64()));
    }
}
