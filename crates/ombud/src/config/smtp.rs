//! `smtp.*`: the SMTP server Ombud mails through (docs/notifications.md).
//! Unset `host`: mail is off, and links are shown to whoever made them.

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// The server; unset: no mail.
    pub host: Option<String>,
    pub port: u16,
    /// `starttls` (must succeed), `tls` (from the first byte, port 465), or
    /// `none` (a relay on the same host or network only).
    pub security: String,
    /// Given together, or neither.
    pub username: Option<String>,
    pub password: Option<ombud_core::Secret>,
    /// Who mail is from: `Ombud <ombud@example.org>`.
    pub from: String,
    pub timeout_secs: u64,
    /// A private CA's certificate (PEM file) to trust, for a server whose
    /// certificate it signed; public CAs are trusted anyway.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: None,
            port: 587,
            security: "starttls".into(),
            username: None,
            password: None,
            from: String::new(),
            timeout_secs: 20,
            ca_file: None,
        }
    }
}

impl SmtpSettings {
    /// The engine's mail settings; None when mail is off.
    pub fn mail(&self) -> Result<Option<ombud_engine::mail::MailConfig>, ConfigError> {
        let invalid = |key: &'static str, reason: &str| ConfigError::Invalid {
            key,
            reason: reason.into(),
        };
        let Some(host) = self.host.as_deref().filter(|h| !h.trim().is_empty()) else {
            return Ok(None);
        };
        let security = ombud_engine::mail::Security::parse(&self.security)
            .map_err(|e| invalid("smtp.security", &e))?;
        if self.port == 0 {
            return Err(invalid("smtp.port", "must be a port number"));
        }
        if self.timeout_secs == 0 {
            return Err(invalid("smtp.timeout_secs", "must be positive"));
        }
        let user = self.username.as_deref().filter(|u| !u.trim().is_empty());
        let password = self.password.as_ref().filter(|p| !p.expose().is_empty());
        let credentials = match (user, password) {
            (Some(u), Some(p)) => Some((u.to_owned(), p.clone())),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "smtp.username",
                    "and smtp.password are set together, or neither",
                ))
            }
        };
        let ca_pem = match self.ca_file.as_ref().filter(|p| !p.as_os_str().is_empty()) {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| invalid("smtp.ca_file", &format!("{}: {e}", path.display())))?;
                if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(invalid(
                        "smtp.ca_file",
                        &format!("{} holds no PEM certificate", path.display()),
                    ));
                }
                Some(pem)
            }
            None => None,
        };
        let config = ombud_engine::mail::MailConfig {
            host: host.to_owned(),
            port: self.port,
            security,
            credentials,
            from: self.from.clone(),
            timeout: std::time::Duration::from_secs(self.timeout_secs),
            ca_pem,
        };
        // The transport is made as the server will make it: a bad host or
        // sender is refused now, not at the first mail.
        if let Err(e) = ombud_engine::mail::Postman::new(&config) {
            let key = ["smtp.from", "smtp.ca_file"]
                .into_iter()
                .find(|k| e.starts_with(k))
                .unwrap_or("smtp.host");
            return Err(invalid(key, &e));
        }
        Ok(Some(config))
    }
}
