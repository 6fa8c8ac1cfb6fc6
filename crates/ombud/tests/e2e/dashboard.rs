//! The dashboard over HTTP: login, sessions, CSRF, throttling, password change,
//! tenant switching. (Browser tests drive the pages themselves; these check the
//! rules a browser would not show.)

use std::collections::HashMap;

use ombud_core::*;
use reqwest::header::{RETRY_AFTER, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::staff::*;

async fn two_tenants(app: &TestApp) -> (TestTenant, TestTenant) {
    let graph = FakeGraph::start().await;
    (
        app.tenant("pune", "PUN", &graph).await,
        app.tenant("nashik", "NSK", &graph).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_starts_a_session_in_a_cookie_and_logout_ends_it() {
    let app = TestApp::spawn().await;
    let (pune, _) = two_tenants(&app).await;
    member(&app, "asha@pune.gov.in", &pune.tenant.id, Role::Staff).await;
    let mut staff = Staff::new(&app);

    // Not signed in: the list sends you to log in, and back afterwards.
    let res = staff.get("/app/complaints?status=new").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        "/app/login?next=%2Fapp%2Fcomplaints%3Fstatus%3Dnew"
    );
    let page = staff.get("/app/login").await.text().await.unwrap();
    assert!(page.contains("name=\"email\"") && page.contains("name=\"password\""));

    // A wrong password and an unknown account read the same.
    let wrong = staff.login_as("asha@pune.gov.in", "guess").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(new_session_cookie(&wrong).is_none());
    let wrong = wrong.text().await.unwrap();
    let unknown = staff.login_as("nobody@pune.gov.in", "guess").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown = unknown.text().await.unwrap();
    assert!(wrong.contains("That email and password do not match an account."));
    assert_eq!(
        wrong.replace("asha@pune.gov.in", "E"),
        unknown.replace("nobody@pune.gov.in", "E")
    );

    let res = staff
        .post_form(
            "/app/login",
            &[
                ("email", "Asha@Pune.gov.in"),
                ("password", PASSWORD),
                ("next", "/app/complaints?status=new"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/app/complaints?status=new");
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");
    staff.cookie = new_session_cookie(&res);
    let token = staff.cookie.clone().unwrap();
    // Only the hash of the token is stored.
    assert!(app.store.session(&token).await.unwrap().is_none());

    let page = staff.get("/app/complaints").await;
    assert_eq!(page.status(), StatusCode::OK);
    // Not to be framed by other sites, nor to run scripts from elsewhere.
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let page = page.text().await.unwrap();
    assert!(page.contains("pune office"), "{page}");

    // An outside `next` is not followed.
    let mut other = Staff::new(&app);
    let res = other
        .post_form(
            "/app/login",
            &[
                ("email", "asha@pune.gov.in"),
                ("password", PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/app/complaints");
    other.cookie = new_session_cookie(&res);

    // Logging out needs the token too; then the cookie is worth nothing.
    assert_eq!(
        staff.post_form("/app/logout", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(staff.get("/app/complaints").await.status(), StatusCode::OK);
    let res = staff.submit("/app/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        staff.get("/app/complaints").await.status(),
        StatusCode::SEE_OTHER
    );
    // The other login's session is its own and still works.
    assert_eq!(other.get("/app/complaints").await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_replaces_the_session_it_was_made_from() {
    let app = TestApp::spawn().await;
    let (pune, _) = two_tenants(&app).await;
    member(&app, "asha@pune.gov.in", &pune.tenant.id, Role::Staff).await;
    let mut staff = Staff::login(&app, "asha@pune.gov.in").await;
    let first = staff.cookie.clone().unwrap();
    let res = staff.login_as("asha@pune.gov.in", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let second = staff.cookie.clone().unwrap();
    assert_ne!(first, second, "a new token on every login");
    staff.cookie = Some(first);
    assert_eq!(
        staff.get("/app/complaints").await.status(),
        StatusCode::SEE_OTHER,
        "the session the login was made from is gone"
    );
    staff.cookie = Some(second);
    assert_eq!(staff.get("/app/complaints").await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_brute_force_is_answered_with_429_and_retry_after() {
    let app = TestApp::spawn().await;
    let (pune, _) = two_tenants(&app).await;
    member(&app, "asha@pune.gov.in", &pune.tenant.id, Role::Staff).await;
    member(&app, "ravi@pune.gov.in", &pune.tenant.id, Role::Staff).await;
    let mut staff = Staff::new(&app);
    for _ in 0..5 {
        let res = staff.login_as("asha@pune.gov.in", "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // The sixth try is refused before the password is looked at: even the
    // right one.
    for password in ["guess", PASSWORD] {
        let res = staff.login_as("asha@pune.gov.in", password).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = res.headers()[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
        assert!(new_session_cookie(&res).is_none());
        assert!(res.text().await.unwrap().contains("Too many failed logins"));
    }
    // Failures count per account and address: another account from the same
    // address is not held up by them (an address is stopped only after 30;
    // see lockout.rs).
    let res = staff.login_as("ravi@pune.gov.in", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_password_must_be_replaced_before_anything_else() {
    let app = TestApp::spawn().await;
    let (pune, _) = two_tenants(&app).await;
    user(
        &app,
        "asha@pune.gov.in",
        &[(&pune.tenant.id, Role::Admin)],
        true,
    )
    .await;
    let mut staff = Staff::new(&app);
    let res = staff.login_as("asha@pune.gov.in", PASSWORD).await;
    assert_eq!(location(&res), "/app/password");
    let res = staff.get("/app/complaints").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/app/password");

    let page = staff.get("/app/password").await.text().await.unwrap();
    assert!(page.contains("one-time password"), "{page}");
    let token = token_in(&page).unwrap();
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let token = token.clone();
        let staff = &staff;
        async move {
            staff
                .post_form(
                    "/app/password",
                    &[
                        ("csrf_token", &token),
                        ("current", current),
                        ("new", new),
                        ("confirm", confirm),
                    ],
                )
                .await
        }
    };
    // Each mistake is named next to its field, and nothing changes.
    let res = change("wrong", "short", "other").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("this is not your current password"), "{page}");
    assert!(page.contains("use at least 12 characters"), "{page}");
    assert!(page.contains("does not match the new password"), "{page}");
    let res = change(PASSWORD, PASSWORD, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("different from the current one"));

    let old_cookie = staff.cookie.clone().unwrap();
    let res = change(PASSWORD, "a much better secret", "a much better secret").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/app/complaints");
    staff.cookie = new_session_cookie(&res);
    assert_ne!(staff.cookie.as_deref(), Some(old_cookie.as_str()));
    assert_eq!(staff.get("/app/complaints").await.status(), StatusCode::OK);
    let mut stale = Staff::new(&app);
    stale.cookie = Some(old_cookie);
    assert_eq!(
        stale.get("/app/complaints").await.status(),
        StatusCode::SEE_OTHER,
        "sessions from before the change are ended"
    );
    assert_eq!(
        Staff::new(&app)
            .login_as("asha@pune.gov.in", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = Staff::new(&app)
        .login_as("asha@pune.gov.in", "a much better secret")
        .await;
    assert_eq!(location(&res), "/app/complaints");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_token_survives_a_reload_and_guards_every_change() {
    let app = TestApp::spawn().await;
    let (pune, nashik) = two_tenants(&app).await;
    user(
        &app,
        "asha@pune.gov.in",
        &[
            (&pune.tenant.id, Role::Staff),
            (&nashik.tenant.id, Role::Viewer),
        ],
        false,
    )
    .await;
    let staff = Staff::login(&app, "asha@pune.gov.in").await;
    // Every page carries the session's token masked afresh (BREACH), and a
    // token from a page read before a reload still works.
    let a = staff.csrf_token().await;
    let b = staff.csrf_token().await;
    assert_ne!(a, b, "masked afresh on every page");
    let list = staff.get("/app/complaints").await.text().await.unwrap();
    assert!(list.contains("<meta name=\"csrf-token\" content=\""));

    // Missing, wrong, and another field's value: 403, and the tenant stays.
    for pairs in [
        vec![("tenant", "nashik")],
        vec![("tenant", "nashik"), ("csrf_token", "0000")],
        vec![("tenant", "nashik"), ("csrf", a.as_str())],
    ] {
        let res = staff.post_form("/app/tenant", &pairs).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{pairs:?}");
    }
    let res = staff
        .request(reqwest::Method::POST, "/app/tenant")
        .header("x-csrf-token", "wrong")
        .form(&HashMap::from([("tenant", "nashik")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(staff
        .get("/app/complaints")
        .await
        .text()
        .await
        .unwrap()
        .contains("pune office"));

    // The header is as good as the field (that is how scripts send it).
    let res = staff
        .request(reqwest::Method::POST, "/app/tenant")
        .header("x-csrf-token", &a)
        .form(&HashMap::from([("tenant", "nashik")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = staff.get("/app/complaints").await.text().await.unwrap();
    assert!(
        page.contains("nashik office") && page.contains("(viewer)"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_switch_into_a_tenant_they_do_not_belong_to() {
    let app = TestApp::spawn().await;
    let (pune, _nashik) = two_tenants(&app).await;
    member(&app, "asha@pune.gov.in", &pune.tenant.id, Role::Owner).await;
    let staff = Staff::login(&app, "asha@pune.gov.in").await;
    for slug in ["nashik", "nowhere", "NOT A SLUG"] {
        let res = staff.submit("/app/tenant", &[("tenant", slug)]).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{slug}");
    }
    let page = staff.get("/app/complaints").await.text().await.unwrap();
    assert!(page.contains("pune office"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = TestApp::spawn_with(
        |c| c.public_url = Some("https://complaints.example.org".into()),
        None,
    )
    .await;
    let (pune, _) = two_tenants(&app).await;
    member(&app, "asha@pune.gov.in", &pune.tenant.id, Role::Staff).await;
    let res = Staff::new(&app)
        .login_as("asha@pune.gov.in", PASSWORD)
        .await;
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_over_the_body_limit_is_refused_before_its_token_is_read() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 4096, None).await;
    let (pune, _) = two_tenants(&app).await;
    member(&app, "asha@pune.gov.in", &pune.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "asha@pune.gov.in").await;
    let token = staff.csrf_token().await;
    let big = "x".repeat(10_000);
    // Sent in chunks, without a Content-Length, so only reading can tell.
    let body = form_of(&[("csrf_token", &token), ("tenant", &big)]);
    let chunks: Vec<Result<String, std::io::Error>> = body
        .as_bytes()
        .chunks(1000)
        .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
        .collect();
    let res = staff
        .request(reqwest::Method::POST, "/app/tenant")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Refused by the CSRF check's own bounded read, not later by the handler.
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("the form is larger than 4096 bytes"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_posted_from_another_site_is_refused() {
    let app = TestApp::spawn().await;
    let (pune, _) = two_tenants(&app).await;
    member(&app, "asha@pune.gov.in", &pune.tenant.id, Role::Staff).await;
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/app/login"))
        .header("origin", "https://evil.example")
        .form(&HashMap::from([
            ("email", "asha@pune.gov.in"),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(new_session_cookie(&res).is_none());
    app.stop().await;
}
