//! The team: invitations, roles, removals, password resets. Who may do what
//! is the caller's check (an admin, never above their own role); the change
//! and its audit entry are made here.

use chrono::Duration;
use ombud_core::audit::{FieldChange, Target};
use ombud_core::*;
use ombud_store::{Member, StoreError, StoreResult};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use super::{Acting, Operations};

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;

fn member_target(m: &Member) -> Target {
    Target::new("member", &m.user.id, Some(m.user.email.as_str().to_owned()))
}

/// The token of a link for `purpose` and `id`, hex, and the hash the store
/// keeps of it: made with the mail key when mail is on (so the mail job can
/// write the link again), else random.
pub(crate) fn link_token(
    key: Option<&ombud_core::seal::SealKey>,
    purpose: &str,
    id: &str,
) -> (String, String) {
    let token = match key {
        Some(key) => key.link_token(purpose, id),
        None => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
    };
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    (token, hash)
}

impl Operations {
    /// Invites `email` to the tenant as `role`; returns the invitation and
    /// the token of its link (shown once; only its hash is kept). With mail
    /// on, the link is also mailed to them (`base_url` is where the
    /// dashboard is reached).
    pub async fn invite_member(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        invited_by: &UserId,
        email: Email,
        role: Role,
        base_url: &str,
    ) -> StoreResult<(Invitation, String)> {
        let id = InvitationId::new();
        let (token, token_hash) = link_token(self.mail_key(), crate::mail::INVITATION, id.as_str());
        let now = self.now();
        let invitation = Invitation {
            id: id.clone(),
            tenant_id: tenant.clone(),
            email,
            role,
            invited_by: invited_by.clone(),
            token_hash,
            created_at: now,
            expires_at: now + Duration::days(INVITATION_DAYS),
            accepted_at: None,
        };
        let entry = acting
            .entry(
                tenant,
                now,
                "invitation.created",
                Target::new(
                    "invitation",
                    &invitation.id,
                    Some(invitation.email.as_str().to_owned()),
                ),
            )
            .with_changes([
                FieldChange::set("email", invitation.email.as_str()),
                FieldChange::set("role", role.as_str()),
                FieldChange::set("expires_at", invitation.expires_at),
            ]);
        let mail = self.mail_on().then(|| {
            crate::mail::Mail::Invitation {
                tenant_id: tenant.clone(),
                invitation_id: id,
                base_url: base_url.to_owned(),
            }
            .job(now)
        });
        self.store
            .create_invitation(invitation.clone(), mail, vec![entry])
            .await?;
        Ok((invitation, token))
    }

    /// Withdraws an invitation not yet accepted.
    pub async fn revoke_invitation(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        id: &InvitationId,
    ) -> StoreResult<()> {
        let open = self.store.open_invitations(tenant).await?;
        let invitation = open
            .iter()
            .find(|i| &i.id == id)
            .ok_or(StoreError::NotFound("invitation"))?;
        let entry = acting.entry(
            tenant,
            self.now(),
            "invitation.revoked",
            Target::new("invitation", id, Some(invitation.email.as_str().to_owned())),
        );
        if self
            .store
            .revoke_invitation(tenant, id, vec![entry])
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::NotFound("invitation"))
        }
    }

    pub async fn change_role(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        member: &Member,
        role: Role,
    ) -> StoreResult<()> {
        let entry = acting
            .entry(
                tenant,
                self.now(),
                "member.role_changed",
                member_target(member),
            )
            .with_changes(FieldChange::changed(
                "role",
                member.role.as_str(),
                role.as_str(),
            ));
        if self
            .store
            .set_role(tenant, &member.user.id, role, vec![entry])
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::NotFound("member"))
        }
    }

    /// Removes the member and ends their sessions in this tenant.
    pub async fn remove_member(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        member: &Member,
    ) -> StoreResult<()> {
        let entry = acting
            .entry(tenant, self.now(), "member.removed", member_target(member))
            .with_changes([FieldChange::new(
                "role",
                Some(member.role.as_str().into()),
                None,
            )]);
        if self
            .store
            .remove_member(tenant, &member.user.id, vec![entry])
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::NotFound("member"))
        }
    }

    /// Gives the member a new password to change at their next login, and
    /// ends their sessions. `password_hash` is the one-time password's hash.
    pub async fn reset_password(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        member: &Member,
        password_hash: &str,
    ) -> StoreResult<()> {
        let now = self.now();
        let entry = acting
            .entry(tenant, now, "password.reset", member_target(member))
            .with_changes([FieldChange::new(
                "password",
                None,
                Some("reset (one-time)".into()),
            )]);
        self.store
            .set_password(&member.user.id, password_hash, true, now, vec![entry])
            .await?;
        self.store.delete_sessions_of(&member.user.id).await?;
        Ok(())
    }

    /// Uses an invitation once: a new account, or a membership for the
    /// signed-in one. Recorded as the invitee's (`invitation.accepted`).
    pub async fn accept_invitation(
        &self,
        origin: &ombud_core::audit::Origin,
        invitation: &Invitation,
        token_hash: &str,
        account: ombud_store::Acceptance,
    ) -> StoreResult<User> {
        use ombud_core::audit::Actor;
        let actor = match &account {
            ombud_store::Acceptance::NewUser(new) => Actor {
                name: Some(new.name.clone()),
                ..Actor::anonymous(new.email.as_str())
            },
            ombud_store::Acceptance::Existing(id) => Actor {
                id: Some(id.to_string()),
                ..Actor::anonymous(invitation.email.as_str())
            },
        };
        let now = self.now();
        let entry = Acting::new(actor, origin.clone())
            .entry(
                &invitation.tenant_id,
                now,
                "invitation.accepted",
                Target::new(
                    "invitation",
                    &invitation.id,
                    Some(invitation.email.as_str().to_owned()),
                ),
            )
            .with_changes([FieldChange::set("role", invitation.role.as_str())]);
        self.store
            .accept_invitation(token_hash, account, now, vec![entry])
            .await
    }

    /// Makes an account with its memberships (`user.created` in each of
    /// their tenants).
    pub async fn create_user(
        &self,
        acting: &Acting,
        new: ombud_store::NewUser,
    ) -> StoreResult<User> {
        let now = self.now();
        let entries = new
            .memberships
            .iter()
            .map(|(tenant, role)| {
                acting
                    .entry(
                        tenant,
                        now,
                        "user.created",
                        Target::new("member", &new.id, Some(new.email.as_str().to_owned())),
                    )
                    .with_changes([FieldChange::set("role", role.as_str())])
            })
            .collect();
        self.store.create_user(new, now, entries).await
    }

    /// Gives an existing account a role in another tenant (`member.added`).
    pub async fn add_member(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        user: &User,
        role: Role,
    ) -> StoreResult<Membership> {
        let now = self.now();
        let entry = acting
            .entry(
                tenant,
                now,
                "member.added",
                Target::new("member", &user.id, Some(user.email.as_str().to_owned())),
            )
            .with_changes([FieldChange::set("role", role.as_str())]);
        self.store
            .add_membership(tenant, &user.id, role, now, vec![entry])
            .await
    }
}

impl Operations {
    /// Whether `member` gets the tenant's daily summary by email
    /// (`member.daily_summary`, by them).
    pub async fn set_daily_summary(
        &self,
        acting: &Acting,
        tenant: &TenantId,
        member: &User,
        on: bool,
        language: Option<Language>,
    ) -> StoreResult<()> {
        let role = self
            .store
            .members(tenant)
            .await?
            .iter()
            .find(|m| m.user.id == member.id)
            .map(|m| m.role)
            .ok_or(StoreError::NotFound("member"))?;
        if on && role.sees_only_own() {
            return Err(ValidationError::new(
                "daily_summary",
                "covers every complaint of the organisation; a field worker sees only their own",
            )
            .into());
        }
        let entry = acting
            .entry(
                tenant,
                self.now(),
                "member.daily_summary",
                Target::new("member", &member.id, Some(member.email.as_str().to_owned())),
            )
            .with_changes([
                FieldChange::set("daily_summary", on),
                FieldChange::set(
                    "summary_language",
                    language.as_ref().map_or("en", |l| l.as_str()),
                ),
            ]);
        if self
            .store
            .set_daily_summary(tenant, &member.id, on, language, vec![entry])
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::NotFound("member"))
        }
    }
}
