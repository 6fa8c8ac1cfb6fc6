//! "Forgot password": a link mailed to the account's address that works
//! once, for an hour, and signs the account out everywhere when used. The
//! answer to a request is the same whether the address has an account or
//! not; a few links an hour per account at most.

use chrono::Duration;
use ombud_core::account::{PASSWORD_RESETS_PER_HOUR, PASSWORD_RESET_MINUTES};
use ombud_core::audit::{Actor, FieldChange, Origin, Target};
use ombud_core::*;
use ombud_store::StoreResult;
use sha2::{Digest, Sha256};

use super::{Acting, Operations};
use crate::mail::{Mail, PASSWORD_RESET};

/// What became of a request (the person asking is told the same in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRequest {
    Mailed,
    /// No account has that address.
    NoAccount,
    /// The account had its links for this hour.
    Throttled,
    /// Mail is off on this server: nothing can be sent.
    MailOff,
}

fn target(user: &User) -> Target {
    Target::new("user", &user.id, Some(user.email.as_str().to_owned()))
}

impl Operations {
    /// Mails a reset link to `email` if it has an account (recorded as
    /// `password.reset_requested` in each of its organisations).
    pub async fn request_password_reset(
        &self,
        origin: &Origin,
        email: &Email,
        base_url: &str,
    ) -> StoreResult<ResetRequest> {
        let Some(key) = self.mail_key() else {
            return Ok(ResetRequest::MailOff);
        };
        let Some(user) = self.store.user_by_email(email).await? else {
            return Ok(ResetRequest::NoAccount);
        };
        let now = self.now();
        let recent = self
            .store
            .password_resets_since(&user.id, now - Duration::hours(1))
            .await?;
        if recent >= PASSWORD_RESETS_PER_HOUR {
            return Ok(ResetRequest::Throttled);
        }
        let id = PasswordResetId::new();
        let token = key.link_token(PASSWORD_RESET, id.as_str());
        let reset = PasswordReset {
            id: id.clone(),
            user_id: user.id.clone(),
            token_hash: hex::encode(Sha256::digest(token.as_bytes())),
            created_at: now,
            expires_at: now + Duration::minutes(PASSWORD_RESET_MINUTES),
            used_at: None,
        };
        let mail = Mail::PasswordReset {
            reset_id: id,
            to: user.email.clone(),
            base_url: base_url.to_owned(),
        }
        .job(now);
        let acting = Acting::new(Actor::anonymous(email.as_str()), origin.clone());
        let entries = self
            .store
            .memberships(&user.id)
            .await?
            .iter()
            .map(|m| acting.entry(&m.tenant_id, now, "password.reset_requested", target(&user)))
            .collect();
        self.store
            .create_password_reset(reset, mail, entries)
            .await?;
        Ok(ResetRequest::Mailed)
    }

    /// The reset a link's token names, while it may still be used.
    pub async fn usable_password_reset(&self, token: &str) -> StoreResult<Option<PasswordReset>> {
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        let now = self.now();
        Ok(self
            .store
            .password_reset(&hash)
            .await?
            .filter(|r| r.used_at.is_none() && r.expires_at > now))
    }

    /// Gives `user` the password `password_hash` by the reset (once), and
    /// ends all their sessions (`password.reset_by_link` in each of their
    /// organisations). False if the link was used or has expired meanwhile.
    pub async fn complete_password_reset(
        &self,
        origin: &Origin,
        reset: &PasswordReset,
        user: &User,
        password_hash: &str,
    ) -> StoreResult<bool> {
        let now = self.now();
        let acting = Acting::new(
            Actor {
                id: Some(user.id.to_string()),
                name: Some(user.name.clone()),
                ..Actor::anonymous(user.email.as_str())
            },
            origin.clone(),
        );
        let entries = self
            .store
            .memberships(&user.id)
            .await?
            .iter()
            .map(|m| {
                acting
                    .entry(&m.tenant_id, now, "password.reset_by_link", target(user))
                    .with_changes([FieldChange::new(
                        "password",
                        None,
                        Some("changed by a mailed link".into()),
                    )])
            })
            .collect();
        self.store
            .use_password_reset(&reset.id, password_hash, now, entries)
            .await
    }
}
