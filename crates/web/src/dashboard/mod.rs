//! The staff dashboard under `/app`: server-rendered pages (askama templates),
//! a session cookie, and a CSRF token on every state-changing request.
//!
//! Every request passes [`session::load`] first: it reads the session (one
//! query: session, user and role), ends it if it is past its idle or absolute
//! limit, and checks the CSRF token of any state-changing request made with it.
//! Handlers then take [`session::Current`], which also enforces a forced
//! password change, and ask it for the role they need.

mod account;
mod agents;
mod assets;
mod assignment;
mod assignment_forms;
mod audit;
mod bulk;
mod category_forms;
mod channel_forms;
mod channel_templates;
mod channel_webchat;
mod charts;
mod complaint;
mod complaints;
pub(crate) mod csrf;
mod deadlines;
mod developers;
mod field;
mod filters;
pub(crate) mod inbox;
mod join;
pub mod live;
pub mod lockout;
mod login;
mod media_form;
mod overview;
mod page;
mod palette;
mod pause;
mod person;
mod reset;
pub(crate) mod session;
mod settings;
mod team;
mod test_chats;
mod timeline;
mod welcome;

use std::sync::Arc;
use std::time::Duration;

use axum::response::Redirect;
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::AppState;

pub use page::PageError;
/// A session's token and what the store keeps of it (`ombud loadtest` opens
/// staff sessions with them).
pub use session::{random_token, token_hash};

/// How the dashboard's sessions and cookies behave.
#[derive(Debug, Clone)]
pub struct DashboardSettings {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login, however active.
    pub session_absolute: Duration,
    /// Mark cookies `Secure`: the public URL is https.
    pub secure_cookies: bool,
    /// Believe `X-Forwarded-For` and `X-Forwarded-Proto` (set only behind a
    /// proxy that overwrites them).
    pub trust_proxy: bool,
    /// Where people reach the server (for links such as invitations); else
    /// the address a request came to.
    pub public_url: Option<String>,
    /// Largest form body read (the CSRF check reads the form itself).
    pub max_body_bytes: usize,
    /// Requests a minute per session and per address (see [`crate::limits`]).
    pub limits: crate::limits::RequestLimits,
    /// When logins are refused or held back (see `lockout`).
    pub logins: lockout::LoginLimits,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(8 * 3600),
            session_absolute: Duration::from_secs(7 * 24 * 3600),
            secure_cookies: false,
            trust_proxy: false,
            public_url: None,
            max_body_bytes: 1024 * 1024,
            limits: Default::default(),
            logins: Default::default(),
        }
    }
}

/// What the dashboard's handlers share besides the store: its settings.
pub(crate) struct Dashboard {
    settings: DashboardSettings,
}

pub fn router(state: AppState, settings: DashboardSettings) -> Router<AppState> {
    let dashboard = Arc::new(Dashboard { settings });
    Router::new()
        .route("/app", get(|| async { Redirect::to("/app/complaints") }))
        .route("/app/login", get(login::page).post(login::submit))
        .route("/app/logout", post(login::logout))
        .route(
            "/app/password",
            get(login::password_page).post(login::change_password),
        )
        .route("/app/account", get(account::page))
        .route("/app/account/summary", post(account::set_summary))
        .route("/app/tenant", post(account::switch_tenant))
        .route("/app/complaints", get(complaints::list))
        .route("/app/complaints.csv", get(overview::csv))
        .route("/app/overview", get(overview::page))
        .route("/app/complaints/bulk", post(bulk::bulk))
        .route("/app/complaints/{key}", get(complaint::detail))
        .route("/app/attachments/{id}", get(complaint::attachment))
        .route("/app/complaints/{key}/edit", post(complaint::edit))
        .route("/app/complaints/{key}/note", post(complaint::note))
        .route("/app/complaints/{key}/reply", post(complaint::reply))
        .route("/app/field", get(field::list))
        .route("/app/field/{key}", get(field::detail))
        .route("/app/field/{key}/verdict", post(field::verdict))
        .route("/app/inbox", get(inbox::list))
        .route("/app/inbox/{id}", get(inbox::show))
        .route("/app/inbox/{id}/reply", post(inbox::reply))
        .route("/app/inbox/{id}/hand-back", post(inbox::hand_back))
        .route("/app/inbox/{id}/close-session", post(inbox::close_session))
        .route("/app/inbox/{id}/export", post(person::export))
        .route("/app/inbox/{id}/erase", post(person::erase))
        .route("/app/inbox/{id}/block", post(pause::block))
        .route("/app/inbox/{id}/unblock", post(pause::unblock))
        .route("/app/inbox/{id}/typing", post(live::typing))
        .route("/app/live", get(live::stream))
        .route("/app/team", get(team::page))
        .route("/app/team/invitations", post(team::invite))
        .route("/app/team/invitations/{id}/revoke", post(team::revoke))
        .route("/app/team/members/{id}/role", post(team::set_role))
        .route("/app/team/members/{id}/remove", post(team::remove))
        .route(
            "/app/team/members/{id}/password",
            post(team::reset_password),
        )
        .route("/app/invite/{token}", get(join::page).post(join::accept))
        .route("/app/forgot", get(reset::forgot_page).post(reset::request))
        .route(
            "/app/reset/{token}",
            get(reset::reset_page).post(reset::reset),
        )
        .route("/app/settings", get(settings::page))
        .route(
            "/app/settings/categories",
            get(settings::page).post(category_forms::add_category),
        )
        .route("/app/settings/survey", post(settings::set_survey))
        .route("/app/settings/summary", post(settings::set_summary))
        .route("/app/settings/reminder", post(settings::set_reminder))
        .route("/app/settings/sessions", post(settings::set_sessions))
        .route("/app/settings/media", post(media_form::set_media))
        .route("/app/settings/deadlines", get(deadlines::page))
        .route("/app/settings/calendar", post(deadlines::set_calendar))
        .route("/app/settings/sla", post(deadlines::set_sla))
        .route("/app/settings/assignment", get(assignment::page))
        .route("/app/settings/areas", post(assignment_forms::set_areas))
        .route("/app/settings/teams", post(assignment_forms::set_teams))
        .route("/app/settings/rules", post(assignment_forms::set_rules))
        .route(
            "/app/settings/verification",
            post(assignment_forms::set_verification),
        )
        .route(
            "/app/settings/categories/{id}",
            post(category_forms::edit_category),
        )
        .route(
            "/app/settings/channels",
            get(settings::page).post(channel_forms::add_channel),
        )
        .route(
            "/app/settings/channels/{id}/templates",
            get(channel_templates::page).post(channel_templates::save),
        )
        .route(
            "/app/settings/channels/{id}/templates/sync",
            post(channel_templates::sync),
        )
        .route(
            "/app/settings/channels/{id}/webchat",
            get(channel_webchat::page).post(channel_webchat::save),
        )
        .route(
            "/app/settings/channels/{kind}",
            post(channel_forms::add_other_channel),
        )
        .route("/app/agents", get(agents::show))
        .route("/app/agents/deploy", post(agents::deploy))
        .route("/app/agents/new", post(agents::create_agent))
        .route("/app/agents/{id}", get(agents::show_agent))
        .route("/app/agents/{id}/versions", post(agents::save_version))
        .route(
            "/app/agents/{id}/versions/{number}/test",
            post(test_chats::start),
        )
        .route(
            "/app/test-chats/{id}",
            get(test_chats::show).post(test_chats::send),
        )
        .route("/app/developers", get(developers::show))
        .route("/app/developers/keys", post(developers::create_key))
        .route(
            "/app/developers/keys/{id}/revoke",
            post(developers::revoke_key),
        )
        .route(
            "/app/developers/webhooks",
            post(developers::create_endpoint),
        )
        .route(
            "/app/developers/webhooks/{id}",
            get(developers::show_endpoint),
        )
        .route(
            "/app/developers/webhooks/{id}/{action}",
            post(developers::endpoint_action),
        )
        .route(
            "/app/developers/webhooks/{id}/deliveries/{event}/replay",
            post(developers::replay_delivery),
        )
        .route("/app/audit", get(audit::page))
        .route("/app/welcome", get(welcome::page))
        .route("/app/welcome/{step}", post(welcome::mark))
        .route("/app/static/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .layer(axum::middleware::from_fn_with_state(state, session::load))
        .layer(Extension(dashboard))
}
