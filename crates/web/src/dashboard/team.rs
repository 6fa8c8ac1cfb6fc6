//! The team page (admins and owners): members and their roles, invitations by
//! link, and password resets. Nobody may grant, change or remove a role above
//! their own, or change their own.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use ombud_core::*;
use ombud_store::Member;
use serde::Deserialize;

use super::complaints::display_name;
use super::login::FieldErrors;
use super::page::{html_with, Chrome, PageError};
use super::session::Current;
use super::Dashboard;
use crate::auth::one_time_password;
use crate::AppState;

use ombud_engine::ops::team::INVITATION_DAYS;

pub struct MemberRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub is_me: bool,
    /// The current member may change this one's role or remove them.
    pub manageable: bool,
}

pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub expires: String,
    pub expired: bool,
}

#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    chrome: Chrome,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    grantable: Vec<Role>,
    /// Shown once: a new invitation's link, or a reset's one-time password.
    shown_once: Option<(String, String)>,
    email: String,
    errors: FieldErrors,
}

impl TeamPage {
    fn grantable_for(&self, row: &MemberRow) -> Vec<Role> {
        self.grantable
            .iter()
            .copied()
            .filter(|r| *r != row.role)
            .collect()
    }
}

/// Whether `actor` may manage `target`: never themselves, never above their rank.
fn may_manage(actor: &Current, target: &Member) -> bool {
    target.user.id != actor.user.id && actor.role >= Role::Admin && target.role <= actor.role
}

async fn render(
    state: &AppState,
    current: &Current,
    shown_once: Option<(String, String)>,
    email: String,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let tenant = &current.tenant;
    let members = state.store.members(&tenant.id).await?;
    let invitations = state.store.open_invitations(&tenant.id).await?;
    let now = state.engine.now();
    let page = TeamPage {
        chrome: Chrome::of(current, "team"),
        members: members
            .iter()
            .map(|m| MemberRow {
                id: m.user.id.to_string(),
                name: display_name(&m.user),
                email: m.user.email.as_str().to_owned(),
                role: m.role,
                is_me: m.user.id == current.user.id,
                manageable: may_manage(current, m),
            })
            .collect(),
        invitations: invitations
            .iter()
            .map(|i| InvitationRow {
                id: i.id.to_string(),
                email: i.email.as_str().to_owned(),
                role: i.role,
                expires: super::complaints::local(tenant, i.expires_at),
                expired: i.expires_at <= now,
            })
            .collect(),
        grantable: Role::ALL
            .into_iter()
            .filter(|r| current.role.may_grant(*r))
            .collect(),
        shown_once,
        email,
        errors,
    };
    Ok(html_with(status, &page))
}

pub async fn page(State(state): State<AppState>, current: Current) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    render(
        &state,
        &current,
        None,
        String::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// Where people reach this server: the configured public URL, else the
/// address this request came to.
pub fn base_url(dashboard: &Dashboard, headers: &HeaderMap) -> String {
    if let Some(url) = &dashboard.settings.public_url {
        return url.clone();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub async fn invite(
    State(state): State<AppState>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    headers: HeaderMap,
    current: Current,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let mut errors = FieldErrors::default();
    let email = Email::parse(&form.email)
        .map_err(|e| errors.add("email", e.reason))
        .ok();
    let role = match Role::parse(&form.role) {
        Ok(r) if current.role.may_grant(r) => Some(r),
        Ok(r) => {
            errors.add(
                "role",
                format!(
                    "you cannot give the {} role: it is above your own",
                    r.as_str()
                ),
            );
            None
        }
        Err(e) => {
            errors.add("role", e.reason);
            None
        }
    };
    if let Some(email) = &email {
        let members = state.store.members(&current.tenant.id).await?;
        if members.iter().any(|m| &m.user.email == email) {
            errors.add("email", "is a member already");
        }
    }
    let (Some(email), Some(role), true) = (email, role, errors.is_empty()) else {
        return render(
            &state,
            &current,
            None,
            form.email,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let base = base_url(&dashboard, &headers);
    let (_, token) = state
        .engine
        .ops()
        .invite_member(
            &current.acting(),
            &current.tenant.id,
            &current.user.id,
            email.clone(),
            role,
            &base,
        )
        .await?;
    let link = format!("{base}/app/invite/{token}");
    let how = if state.engine.ops().mail_on() {
        format!(
            "It is on its way to {} by email. You may also send them",
            email.as_str()
        )
    } else {
        "Email is off on this server: send them".to_owned()
    };
    let shown = (
        format!(
            "Invitation for {} as {}. {how} this link (it works once, for {INVITATION_DAYS} days, and is not shown again):",
            email.as_str(),
            role.as_str()
        ),
        link,
    );
    render(
        &state,
        &current,
        Some(shown),
        String::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn revoke(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let id: InvitationId = id.parse().map_err(|_| PageError::not_found("invitation"))?;
    state
        .engine
        .ops()
        .revoke_invitation(&current.acting(), &current.tenant.id, &id)
        .await?;
    Ok(Redirect::to("/app/team").into_response())
}

/// The member `id` of the current tenant, if the current member may manage them.
async fn manageable(state: &AppState, current: &Current, id: &str) -> Result<Member, PageError> {
    let id: UserId = id.parse().map_err(|_| PageError::not_found("member"))?;
    let member = state
        .store
        .members(&current.tenant.id)
        .await?
        .into_iter()
        .find(|m| m.user.id == id)
        .ok_or_else(|| PageError::not_found("member"))?;
    if member.user.id == current.user.id {
        return Err(PageError::forbidden(
            "you cannot change your own role or account here",
        ));
    }
    if !may_manage(current, &member) {
        return Err(PageError::forbidden(format!(
            "{} is {}, above your own role",
            display_name(&member.user),
            member.role.as_str()
        )));
    }
    Ok(member)
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let member = manageable(&state, &current, &id).await?;
    let role = Role::parse(&form.role)
        .map_err(|e| PageError::bad_request(format!("role: {}", e.reason)))?;
    if !current.role.may_grant(role) {
        return Err(PageError::forbidden(format!(
            "you cannot give the {} role: it is above your own",
            role.as_str()
        )));
    }
    state
        .engine
        .ops()
        .change_role(&current.acting(), &current.tenant.id, &member, role)
        .await?;
    Ok(Redirect::to("/app/team").into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let member = manageable(&state, &current, &id).await?;
    state
        .engine
        .ops()
        .remove_member(&current.acting(), &current.tenant.id, &member)
        .await?;
    Ok(Redirect::to("/app/team").into_response())
}

/// Gives the member a one-time password (shown once) and ends their
/// sessions. Only for accounts that belong to this organisation alone: an
/// admin here must not take over an account that is also someone's elsewhere.
pub async fn reset_password(
    State(state): State<AppState>,
    current: Current,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    current.require(Role::Admin)?;
    let member = manageable(&state, &current, &id).await?;
    let elsewhere = state
        .store
        .memberships(&member.user.id)
        .await?
        .iter()
        .any(|m| m.tenant_id != current.tenant.id);
    if elsewhere {
        return Err(PageError::forbidden(
            "this account belongs to other organisations too; ask the operator to reset it (ombud user reset-password)",
        ));
    }
    let password = one_time_password();
    let hash = super::login::hash_off_thread(&password).await?;
    state
        .engine
        .ops()
        .reset_password(&current.acting(), &current.tenant.id, &member, &hash)
        .await?;
    let shown = (
        format!(
            "One-time password for {} (shown once; they must choose their own at their next login):",
            member.user.email.as_str()
        ),
        password,
    );
    render(
        &state,
        &current,
        Some(shown),
        String::new(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}
