//! Who is calling: an API key (`Authorization: Bearer ombud_…`) or a dashboard
//! session (its cookie, and `X-CSRF-Token` on anything that changes state).
//! Keys have scopes and a per-key rate limit; a session's member has the
//! scopes of their role. The caller's tenant is the only one a request sees.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ombud_core::{ApiKey, ApiKeyId, Role, Scope, Tenant, User};

use super::Api;
use crate::dashboard::session;
use crate::{ApiError, AppState};

#[derive(Clone)]
pub enum Via {
    Key(ApiKey),
    Session { user: User, role: Role },
}

/// The caller of an `/api/v1` request, in its tenant.
#[derive(Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub via: Via,
    /// Where the request came from (for the audit trail).
    pub origin: ombud_core::audit::Origin,
}

impl Caller {
    /// Who acts, for an operation.
    pub fn acting(&self) -> ombud_engine::Acting {
        use ombud_core::audit::Actor;
        let actor = match &self.via {
            Via::Key(k) => Actor::api_key(k),
            Via::Session { user, .. } => Actor::user(&user.id, &user.name, user.email.as_str()),
        };
        ombud_engine::Acting::new(actor, self.origin.clone())
    }

    /// How history lines and events name the caller.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Key(k) => format!("api:{}", k.id),
            Via::Session { user, .. } => format!("user:{}", user.id),
        }
    }

    pub fn scopes(&self) -> Vec<Scope> {
        match &self.via {
            Via::Key(k) => k.scopes.clone(),
            Via::Session { role, .. } => role_scopes(*role),
        }
    }

    /// 403 naming the scope unless the caller has it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes().contains(&scope) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "missing_scope",
            format!("this needs the {} scope", scope.as_str()),
        )
        .field("scope", scope.as_str()))
    }

    /// API keys are managed by a tenant's admins, signed in: no key scope
    /// reaches them, so a leaked key cannot mint more.
    pub fn require_admin(&self) -> Result<&User, ApiError> {
        match &self.via {
            Via::Session { user, role } if *role >= Role::Admin => Ok(user),
            Via::Session { role, .. } => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the admin role; you are {}", role.as_str()),
            )),
            Via::Key(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "API keys are managed by a tenant admin signed in to the dashboard, not with a key",
            )),
        }
    }
}

/// What a member's role allows through the API.
pub fn role_scopes(role: Role) -> Vec<Scope> {
    use Scope::*;
    match role {
        // A field worker works on the dashboard's field page, through
        // their session: the API's lists would show them every complaint.
        Role::FieldWorker => Vec::new(),
        Role::Viewer => vec![ComplaintsRead, ConversationsRead, AgentsRead],
        Role::Staff => vec![
            ComplaintsRead,
            ComplaintsWrite,
            ConversationsRead,
            ConversationsWrite,
            AgentsRead,
        ],
        Role::Admin | Role::Owner => Scope::ALL.to_vec(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| unauthorized("no credentials"))
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// Finds the caller, applies the key's rate limit, and adds the `RateLimit-*`
/// headers to the answer.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(api) = request.extensions().get::<Arc<Api>>().cloned() else {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "api state missing",
        )
        .into_response();
    };
    let (method, headers) = (request.method().clone(), request.headers().clone());
    let (mut caller, (limit_key, limit)) = match identify(&state, &api, &method, &headers).await {
        Ok(found) => found,
        Err(e) => {
            // Nobody known: counted by address, as any anonymous caller.
            let ip = crate::limits::client_ip(&api.sessions, &headers, request.extensions());
            let per_address = api.sessions.limits.per_address_per_minute;
            let key = crate::limits::address_key(ip);
            if let Ok(Err(window)) =
                crate::limits::take(state.engine.ops(), &key, per_address).await
            {
                return window.refusal("this address");
            }
            let mut response = e.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"ombud\""),
                );
            }
            return response;
        }
    };
    crate::metrics::record_tenant(caller.tenant.slug.as_str());
    caller.origin = crate::origin::of(request.extensions());
    let window = match crate::limits::take(state.engine.ops(), &limit_key, limit).await {
        Ok(Ok(w)) => w,
        Ok(Err(w)) => {
            let who = match caller.via {
                Via::Key(_) => "this key",
                Via::Session { .. } => "this session",
            };
            return w.refusal(who);
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut request = request;
    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    window.write(&mut response);
    response
}

async fn identify(
    state: &AppState,
    api: &Api,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(Caller, (String, u32)), ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        let token = crate::auth::bearer_token(headers)
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <API key>`"))?;
        let refused = || unauthorized("the API key is unknown, revoked or expired");
        if !token.starts_with("ombud_") || token.len() > 100 {
            return Err(refused());
        }
        let key = state
            .store
            .api_key_by_hash(&crate::auth::api_key_hash(token))
            .await?
            .ok_or_else(refused)?;
        let now = state.engine.now();
        if !key.is_live(now) {
            return Err(refused());
        }
        let tenant = state
            .store
            .tenant(&key.tenant_id)
            .await?
            .ok_or_else(refused)?;
        if api.touches.should_touch(&key.id, Instant::now()) {
            state.engine.ops().touch_api_key(&key.id, now).await?;
        }
        let limit = (format!("key:{}", key.id), key.rate_limit_per_minute);
        return Ok((
            Caller {
                tenant,
                via: Via::Key(key),
                origin: Default::default(),
            },
            limit,
        ));
    }
    let no_session = || {
        unauthorized(
            "send an API key as `Authorization: Bearer <key>`, or sign in to the dashboard",
        )
    };
    let hash = session::request_token_hash(headers).ok_or_else(no_session)?;
    let signed_in = state.store.session(&hash).await?.ok_or_else(no_session)?;
    let now = state.engine.now();
    if let session::Liveness::Ended = session::liveness(&api.sessions, &signed_in.session, now) {
        return Err(no_session());
    }
    let role = signed_in.role.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you are no longer a member of this tenant",
        )
    })?;
    if signed_in.user.must_change_password {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "choose a new password in the dashboard first",
        ));
    }
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let given = headers
            .get(session::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !crate::dashboard::csrf::csrf_matches(given, &signed_in.session.csrf_token) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a request made with the dashboard's session needs its X-CSRF-Token header",
            ));
        }
    }
    let tenant = state
        .store
        .tenant(&signed_in.session.tenant_id)
        .await?
        .ok_or_else(no_session)?;
    Ok((
        Caller {
            tenant,
            via: Via::Session {
                user: signed_in.user,
                role,
            },
            origin: Default::default(),
        },
        (
            crate::limits::session_key(&hash),
            api.sessions.limits.per_session_per_minute,
        ),
    ))
}

/// When each key's last use was last written, so that it is written about
/// once a minute, not on every request.
#[derive(Default)]
pub struct KeyTouches {
    keys: Mutex<HashMap<ApiKeyId, Instant>>,
}

const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl KeyTouches {
    /// Whether to write the key's last use now.
    fn should_touch(&self, key: &ApiKeyId, now: Instant) -> bool {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() > 100_000 {
            keys.retain(|_, t| now.duration_since(*t) < TOUCH_EVERY);
        }
        if keys
            .get(key)
            .is_some_and(|t| now.duration_since(*t) < TOUCH_EVERY)
        {
            return false;
        }
        keys.insert(key.clone(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keys_last_use_is_written_once_a_minute() {
        let touches = KeyTouches::default();
        let key = ApiKeyId::new();
        let t0 = Instant::now();
        assert!(touches.should_touch(&key, t0));
        assert!(!touches.should_touch(&key, t0 + Duration::from_secs(30)));
        assert!(touches.should_touch(&ApiKeyId::new(), t0), "keys apart");
        assert!(touches.should_touch(&key, t0 + Duration::from_secs(60)));
    }
}
