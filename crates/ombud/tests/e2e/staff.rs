//! Test helpers for the dashboard: accounts made straight in the store, and a
//! person at a browser without the browser (keeps the session cookie, reads
//! the CSRF token from pages, never follows redirects).

use ombud_core::*;
use ombud_store::NewUser;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::*;

pub const PASSWORD: &str = "correct horse battery";

/// A user made straight in the store, with `PASSWORD` unless `one_time`.
pub async fn user(app: &TestApp, email: &str, roles: &[(&TenantId, Role)], one_time: bool) -> User {
    app.store
        .create_user(
            NewUser {
                id: ombud_core::UserId::new(),
                email: Email::parse(email).unwrap(),
                name: email.split('@').next().unwrap().to_owned(),
                password_hash: ombud_web::auth::hash_password(PASSWORD).unwrap(),
                must_change_password: one_time,
                platform_admin: false,
                memberships: roles.iter().map(|(t, r)| ((*t).clone(), *r)).collect(),
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap()
}

/// A user's roles, tenant by tenant, as the store has them.
pub async fn roles_of(app: &TestApp, user: &UserId) -> Vec<(TenantId, Role)> {
    app.store
        .memberships(user)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.tenant_id, m.role))
        .collect()
}

/// A person at a browser, without the browser: keeps the session cookie, never
/// follows redirects, and reads the CSRF token from the pages.
pub struct Staff<'a> {
    pub app: &'a TestApp,
    http: reqwest::Client,
    pub cookie: Option<String>,
}

pub fn form_of(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

impl<'a> Staff<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    /// A request carrying the session cookie (if any), to finish and send.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, self.app.url(path));
        match &self.cookie {
            Some(c) => req.header(COOKIE, format!("ombud_session={c}")),
            None => req,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap()
    }

    /// A page's HTML, whatever its status.
    pub async fn page(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// POSTs a form exactly as given (no token added).
    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.request(reqwest::Method::POST, path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_of(pairs))
            .send()
            .await
            .unwrap()
    }

    /// POSTs a form with the session's CSRF token, as the page's form would.
    pub async fn submit(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut pairs = pairs.to_vec();
        pairs.push(("csrf_token", &token));
        self.post_form(path, &pairs).await
    }

    /// The token the account page carries (every signed-in page carries it).
    pub async fn csrf_token(&self) -> String {
        let page = self.get("/app/account").await.text().await.unwrap();
        token_in(&page).expect("a signed-in page carries a CSRF token")
    }

    pub async fn login_as(&mut self, email: &str, password: &str) -> reqwest::Response {
        let res = self
            .post_form("/app/login", &[("email", email), ("password", password)])
            .await;
        if let Some(token) = new_session_cookie(&res) {
            self.cookie = Some(token);
        }
        res
    }

    pub async fn login(app: &'a TestApp, email: &str) -> Staff<'a> {
        let mut staff = Staff::new(app);
        let res = staff.login_as(email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login of {email}");
        staff
    }
}

pub fn token_in(page: &str) -> Option<String> {
    let at = page.find("name=\"csrf_token\" value=\"")? + "name=\"csrf_token\" value=\"".len();
    Some(page[at..].split('"').next()?.to_owned())
}

pub fn new_session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("ombud_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .filter(|v| !v.is_empty())
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A user with one role in one tenant and the test password.
pub async fn member(app: &TestApp, email: &str, tenant: &TenantId, role: Role) -> User {
    user(app, email, &[(tenant, role)], false).await
}
