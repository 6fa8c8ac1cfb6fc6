//! Staff accounts: users, and their role in each tenant they belong to.

use chrono::{DateTime, Utc};

use crate::{InvitationId, PasswordResetId, TenantId, UserId, ValidationError};

/// A person who logs in to the dashboard. A user belongs to tenants through
/// memberships; `platform_admin` marks the operators of the Ombud itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: String,
    /// A PHC string (argon2id); never the password itself. Left out of
    /// anything serialised (so out of every JSON answer and log).
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    /// Set when the password was given out by someone else (a one-time
    /// password): the user must choose their own at the next login.
    pub must_change_password: bool,
    pub platform_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// An invitation to join a tenant with a role, by a link that works once,
/// until it expires. The link's token is stored only as its SHA-256.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub role: Role,
    pub invited_by: UserId,
    #[serde(skip_serializing, default)]
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// How long a password reset's link works.
pub const PASSWORD_RESET_MINUTES: i64 = 60;
/// Reset links mailed to one account in an hour, at most; more requests get
/// the same answer and no mail.
pub const PASSWORD_RESETS_PER_HOUR: u64 = 3;

/// Someone asked for a link to choose a new password ("forgot password").
/// The link works once, for [`PASSWORD_RESET_MINUTES`]; its token is stored
/// only as its SHA-256.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PasswordReset {
    pub id: PasswordResetId,
    pub user_id: UserId,
    #[serde(skip_serializing, default)]
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A user's role in one tenant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Membership {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// The member gets the tenant's daily summary by email.
    #[serde(default)]
    pub daily_summary: bool,
    /// The language of their summary mail (None: English).
    #[serde(default)]
    pub summary_language: Option<crate::Language>,
}

/// What a member may do in a tenant, each role including the ones below it:
/// viewers read; staff work complaints; admins also manage the team,
/// categories and channels; owners all of it. Field workers stand apart,
/// below viewers: they see only the complaints assigned to them, and verify
/// those on the ground ([`Role::may_verify`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[serde(rename = "field_worker")]
    FieldWorker,
    Viewer,
    Staff,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::FieldWorker,
        Role::Viewer,
        Role::Staff,
        Role::Admin,
        Role::Owner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::FieldWorker => "field_worker",
            Role::Viewer => "viewer",
            Role::Staff => "staff",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "role",
                    "must be one of owner, admin, staff, viewer, field_worker",
                )
            })
    }

    /// Whether a member with this role may give `other` to someone (invite or
    /// change a role): never above their own, and only admins and owners.
    pub fn may_grant(self, other: Role) -> bool {
        self >= Role::Admin && other <= self
    }

    /// Whether a member with this role may mark a complaint assigned to
    /// them validated or rejected: field workers and staff, not viewers
    /// (who change nothing).
    pub fn may_verify(self) -> bool {
        self == Role::FieldWorker || self >= Role::Staff
    }

    /// A role that sees only what is assigned to it.
    pub fn sees_only_own(self) -> bool {
        self == Role::FieldWorker
    }
}

impl std::str::FromStr for Role {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// An email address as a login name: trimmed and lower-cased, so one person
/// cannot hold two accounts by changing case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let email = s.trim().to_lowercase();
        let ok = email.len() <= 254
            && !email.chars().any(char::is_whitespace)
            && matches!(email.split_once('@'), Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
        if ok {
            Ok(Self(email))
        } else {
            Err(ValidationError::new(
                "email",
                "must be an address like name@example.org (at most 254 characters)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased_and_must_look_like_one() {
        assert_eq!(
            Email::parse("  Asha@Pune.GOV.in ").unwrap().as_str(),
            "asha@pune.gov.in"
        );
        for bad in ["", "asha", "@pune.in", "asha@", "a@b@c", "as ha@pune.in"] {
            let err = Email::parse(bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@x.in", "a".repeat(250))).is_err());
    }

    #[test]
    fn roles_rank_and_grant_no_more_than_their_own() {
        assert!(
            Role::Owner > Role::Admin && Role::Admin > Role::Staff && Role::Staff > Role::Viewer
        );
        assert!(Role::Owner.may_grant(Role::Owner));
        assert!(Role::Admin.may_grant(Role::Staff));
        assert!(!Role::Admin.may_grant(Role::Owner));
        assert!(
            !Role::Staff.may_grant(Role::Viewer),
            "staff do not manage the team"
        );
        assert!(
            Role::Viewer > Role::FieldWorker,
            "field workers see the least"
        );
        assert!(Role::Admin.may_grant(Role::FieldWorker));
        assert_eq!(Role::parse("field_worker"), Ok(Role::FieldWorker));
        let verify: Vec<Role> = Role::ALL.into_iter().filter(|r| r.may_verify()).collect();
        assert_eq!(
            verify,
            [Role::FieldWorker, Role::Staff, Role::Admin, Role::Owner]
        );
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert_eq!(Role::parse("root").unwrap_err().field, "role");
    }
}
