//! Sessions: the cookie, reading the session on every request, its limits, the
//! CSRF check, and the [`Current`] extractor handlers take.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use ombud_core::{Role, Tenant, User};
use ombud_store::{Session, SignedIn};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::page::PageError;
use super::{Dashboard, DashboardSettings};
use crate::AppState;

const COOKIE: &str = "ombud_session";
/// The form field that carries the CSRF token; scripts send `X-CSRF-Token`.
pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Activity is written back at most this often, not on every request.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// The signed-in member on whose behalf a request runs, in their current tenant.
#[derive(Clone)]
pub struct Current {
    pub user: User,
    pub role: Role,
    pub tenant: Tenant,
    pub csrf_token: String,
    pub origin: ombud_core::audit::Origin,
}

impl Current {
    /// Who acts, for an operation.
    pub fn acting(&self) -> ombud_engine::Acting {
        acting(&self.user, &self.origin)
    }

    /// 403 unless the member's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(PageError::forbidden(format!(
                "this needs the {} role; you are {} in {}",
                role.as_str(),
                self.role.as_str(),
                self.tenant.name
            )))
        }
    }
}

/// What [`load`] found for a request: a live session (its member may still be
/// no member of the session's tenant any more).
#[derive(Clone)]
pub(crate) struct Loaded(pub Option<Arc<(SignedIn, Option<Tenant>)>>);

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the store keeps of a cookie's token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// Whether the request reached us over HTTPS (configured, or said by a trusted proxy).
fn over_https(settings: &DashboardSettings, headers: &HeaderMap) -> bool {
    settings.secure_cookies
        || (settings.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https")))
}

/// The `Set-Cookie` value that carries `token` until the session's absolute end.
pub fn session_cookie(
    settings: &DashboardSettings,
    headers: &HeaderMap,
    token: &str,
) -> HeaderValue {
    let secure = if over_https(settings, headers) {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        settings.session_absolute.as_secs()
    );
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that removes the cookie.
pub fn cleared_cookie(settings: &DashboardSettings, headers: &HeaderMap) -> HeaderValue {
    let secure = if over_https(settings, headers) {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::try_from(format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The address a request came from: the peer, or with a trusted proxy the
/// address it appended last to `X-Forwarded-For`.
pub fn client_ip(settings: &DashboardSettings, parts: &Parts) -> Option<IpAddr> {
    crate::limits::client_ip(settings, &parts.headers, &parts.extensions)
}

/// Whether a session is still good at `now`, and whether its activity should
/// be written back.
#[derive(Debug, PartialEq, Eq)]
pub enum Liveness {
    Live { touch: bool },
    Ended,
}

pub fn liveness(settings: &DashboardSettings, s: &Session, now: DateTime<Utc>) -> Liveness {
    let idle = chrono::Duration::from_std(settings.session_idle).unwrap_or(chrono::Duration::MAX);
    if now >= s.expires_at || now - s.last_seen_at >= idle {
        return Liveness::Ended;
    }
    Liveness::Live {
        touch: now - s.last_seen_at >= TOUCH_EVERY,
    }
}

/// Starts a session for `user` in `tenant`, for the cookie [`session_cookie`]
/// makes of the returned token.
pub async fn start(
    ops: &ombud_engine::Operations,
    login: Option<&ombud_engine::Acting>,
    settings: &DashboardSettings,
    user: &User,
    tenant: &ombud_core::TenantId,
) -> Result<String, PageError> {
    let token = random_token();
    let now = ops.now();
    let absolute =
        chrono::Duration::from_std(settings.session_absolute).unwrap_or(chrono::Duration::MAX);
    let session = Session {
        token_hash: token_hash(&token),
        user_id: user.id.clone(),
        tenant_id: tenant.clone(),
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + absolute,
    };
    ops.start_session(login, user, session).await?;
    Ok(token)
}

/// The hash of the session token the request carries, if any.
pub fn request_token_hash(headers: &HeaderMap) -> Option<String> {
    cookie_token(headers).map(token_hash)
}

/// Reads the request's session, ends it if it has run out, and refuses a
/// state-changing request made with it unless it carries the session's CSRF
/// token (form field or header). Requests without a live session pass through
/// untouched: handlers that need one send them to the login page.
pub async fn load(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(dashboard) = request.extensions().get::<Arc<Dashboard>>().cloned() else {
        return PageError::internal("dashboard state missing").into_response();
    };
    let settings = &dashboard.settings;
    let mut loaded = None;
    if let Some(hash) = request_token_hash(request.headers()) {
        match state.store.session(&hash).await {
            Ok(Some(signed_in)) => {
                let now = state.engine.now();
                match liveness(settings, &signed_in.session, now) {
                    Liveness::Ended => {
                        if let Err(e) = state.engine.ops().drop_session(&hash).await {
                            return PageError::from(e).into_response();
                        }
                    }
                    Liveness::Live { touch } => {
                        if touch {
                            if let Err(e) = state.engine.ops().touch_session(&hash, now).await {
                                return PageError::from(e).into_response();
                            }
                        }
                        let tenant = match state.store.tenant(&signed_in.session.tenant_id).await {
                            Ok(t) => t,
                            Err(e) => return PageError::from(e).into_response(),
                        };
                        loaded = Some(Arc::new((signed_in, tenant)));
                    }
                }
            }
            Ok(None) => {}
            Err(e) => return PageError::from(e).into_response(),
        }
    }
    // Counted as the session, or by address for whoever is not signed in
    // (with a cookie that is no session; without one the top layer counted).
    let counted = match (&loaded, request_token_hash(request.headers())) {
        (Some(_), Some(hash)) => Some((
            crate::limits::session_key(&hash),
            settings.limits.per_session_per_minute,
            "this session",
        )),
        (None, Some(_)) if !request.uri().path().starts_with("/app/static/") => {
            let ip = crate::limits::client_ip(settings, request.headers(), request.extensions());
            Some((
                crate::limits::address_key(ip),
                settings.limits.per_address_per_minute,
                "this address",
            ))
        }
        _ => None,
    };
    let window = match counted {
        Some((key, limit, who)) => {
            match crate::limits::take(state.engine.ops(), &key, limit).await {
                Ok(Ok(w)) => Some(w),
                Ok(Err(w)) => {
                    let mut refused = PageError::new(
                        axum::http::StatusCode::TOO_MANY_REQUESTS,
                        format!(
                            "Too many requests: {who} may make {} a minute. Try again in {} s.",
                            w.limit, w.reset_secs
                        ),
                    );
                    refused.retry_after = Some(w.reset_secs);
                    let mut response = refused.into_response();
                    w.write(&mut response);
                    return response;
                }
                Err(e) => return PageError::from(e).into_response(),
            }
        }
        None => None,
    };
    let mut request = request;
    if let Some(found) = &loaded {
        // A login replaces the session rather than acting with it, and has its
        // own guard against cross-site posts (the Origin check).
        if !is_safe(request.method()) && request.uri().path() != "/app/login" {
            request = match super::csrf::check(
                request,
                &found.0.session.csrf_token,
                settings.max_body_bytes,
            )
            .await
            {
                Ok(r) => r,
                Err(refused) => return refused.into_response(),
            };
        }
    }
    request.extensions_mut().insert(Loaded(loaded));
    let mut response = next.run(request).await;
    if let Some(w) = window {
        w.write(&mut response);
    }
    response
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why a request has no [`Current`]: not signed in (to the login page), no
/// longer a member of the session's tenant (403), or a password to change first.
pub enum NoCurrent {
    Login(String),
    ChangePassword,
    Page(PageError),
}

impl IntoResponse for NoCurrent {
    fn into_response(self) -> Response {
        match self {
            NoCurrent::Login(next) => {
                Redirect::to(&format!("/app/login?next={}", encode(&next))).into_response()
            }
            NoCurrent::ChangePassword => Redirect::to("/app/password").into_response(),
            NoCurrent::Page(e) => e.into_response(),
        }
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The signed-in user, whatever their membership (the password and account pages).
pub struct SignedInUser {
    pub user: User,
    pub csrf_token: String,
    pub token_hash: String,
    pub tenant: Option<Tenant>,
    pub role: Option<Role>,
    pub origin: ombud_core::audit::Origin,
}

impl SignedInUser {
    pub fn acting(&self) -> ombud_engine::Acting {
        acting(&self.user, &self.origin)
    }
}

/// A signed-in user acting from `origin`.
pub fn acting(user: &User, origin: &ombud_core::audit::Origin) -> ombud_engine::Acting {
    ombud_engine::Acting::new(
        ombud_core::audit::Actor::user(&user.id, &user.name, user.email.as_str()),
        origin.clone(),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for SignedInUser {
    type Rejection = NoCurrent;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let loaded = parts.extensions.get::<Loaded>().and_then(|l| l.0.clone());
        let Some(found) = loaded else {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/app");
            return Err(NoCurrent::Login(next.to_owned()));
        };
        let (signed_in, tenant) = found.as_ref();
        Ok(SignedInUser {
            user: signed_in.user.clone(),
            csrf_token: super::csrf::masked_csrf(&signed_in.session.csrf_token),
            token_hash: signed_in.session.token_hash.clone(),
            tenant: tenant.clone(),
            role: signed_in.role,
            origin: crate::origin::of(&parts.extensions),
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for SignedInUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Self as FromRequestParts<S>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Current {
    type Rejection = NoCurrent;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let signed_in =
            <SignedInUser as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        if signed_in.user.must_change_password {
            return Err(NoCurrent::ChangePassword);
        }
        if let Some(tenant) = &signed_in.tenant {
            crate::metrics::record_tenant(tenant.slug.as_str());
        }
        match (signed_in.tenant, signed_in.role) {
            (Some(tenant), Some(role)) => Ok(Current {
                user: signed_in.user,
                role,
                tenant,
                csrf_token: signed_in.csrf_token,
                origin: signed_in.origin,
            }),
            _ => Err(NoCurrent::Page(PageError::forbidden(
                "you are no longer a member of this organisation; choose another on your account page",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(created: DateTime<Utc>, last_seen: DateTime<Utc>) -> Session {
        Session {
            token_hash: "h".into(),
            user_id: ombud_core::UserId::new(),
            tenant_id: ombud_core::TenantId::new(),
            csrf_token: "c".into(),
            created_at: created,
            last_seen_at: last_seen,
            expires_at: created + chrono::Duration::days(7),
        }
    }

    #[test]
    fn a_session_ends_when_idle_or_at_its_absolute_end() {
        let settings = DashboardSettings::default(); // 8 h idle, 7 days absolute
        let t0 = Utc::now();
        let h = chrono::Duration::hours;
        let s = session(t0, t0);
        assert_eq!(liveness(&settings, &s, t0), Liveness::Live { touch: false });
        assert_eq!(
            liveness(&settings, &s, t0 + chrono::Duration::seconds(61)),
            Liveness::Live { touch: true }
        );
        assert_eq!(liveness(&settings, &s, t0 + h(8)), Liveness::Ended);
        // Active all along, it still ends 7 days after login.
        let busy = session(t0, t0 + h(7 * 24 - 1));
        assert_eq!(
            liveness(&settings, &busy, t0 + h(7 * 24 - 1)),
            Liveness::Live { touch: false }
        );
        assert_eq!(liveness(&settings, &busy, t0 + h(7 * 24)), Liveness::Ended);
    }

    #[test]
    fn the_cookie_is_found_among_others_and_marked_secure_over_https() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; ombud_session=abc123; x=1"),
        );
        assert_eq!(cookie_token(&headers), Some("abc123"));
        let mut settings = DashboardSettings::default();
        let plain = session_cookie(&settings, &headers, "t");
        let plain = plain.to_str().unwrap();
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        settings.secure_cookies = true;
        assert!(session_cookie(&settings, &headers, "t")
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
        // A proxy's word counts only when it is trusted.
        let mut settings = DashboardSettings::default();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(!session_cookie(&settings, &headers, "t")
            .to_str()
            .unwrap()
            .contains("Secure"));
        settings.trust_proxy = true;
        assert!(session_cookie(&settings, &headers, "t")
            .to_str()
            .unwrap()
            .contains("Secure"));
    }
}
