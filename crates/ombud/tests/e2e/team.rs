//! The team page: invitations by link (one use, expiry, never above the
//! inviter's role), role changes, removal and password resets.

use ombud_core::*;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::staff::*;

fn link_in(page: &str) -> String {
    shown_once(page).expect("a link shown once")
}

/// What a page shows once (a link, a password), in its code element.
fn shown_once(page: &str) -> Option<String> {
    let at = page.find("<code id=\"shown-once\"")?;
    let start = at + page[at..].find('>')? + 1;
    Some(page[start..].split('<').next()?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_link_makes_an_account_once_with_the_role_given() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.gov.in").await;

    // Never above one's own role; field errors next to the fields.
    let res = admin
        .submit(
            "/app/team/invitations",
            &[("email", "meera@pune.gov.in"), ("role", "owner")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("you cannot give the owner role"));
    let res = admin
        .submit(
            "/app/team/invitations",
            &[("email", "not an email"), ("role", "staff")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("must be an address like"));
    let res = admin
        .submit(
            "/app/team/invitations",
            &[("email", "admin@pune.gov.in"), ("role", "staff")],
        )
        .await;
    assert!(res.text().await.unwrap().contains("is a member already"));

    let page = admin
        .submit(
            "/app/team/invitations",
            &[("email", "Meera@Pune.gov.in"), ("role", "staff")],
        )
        .await
        .text()
        .await
        .unwrap();
    let link = link_in(&page);
    assert!(
        link.starts_with(&format!("http://{}/app/invite/", app.addr)),
        "{link}"
    );
    let path = link
        .trim_start_matches(&format!("http://{}", app.addr))
        .to_owned();
    // The token is stored hashed: the link's token is not in the database.
    let token = path.rsplit('/').next().unwrap();
    assert!(app.store.invitation(token).await.unwrap().is_none());
    let team = admin.get("/app/team").await.text().await.unwrap();
    assert!(
        team.contains("meera@pune.gov.in as staff"),
        "listed as open"
    );
    assert!(!team.contains(token), "the link is shown once only");

    // Accepting: a name and a password; mistakes are named.
    let guest = Staff::new(&app);
    let res = guest.get(&path).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert!(res.text().await.unwrap().contains("Join pune office"));
    let res = guest
        .post_form(
            &path,
            &[("name", ""), ("new", "short"), ("confirm", "short")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("tell your team who you are") && page.contains("at least 12"));
    let res = guest
        .post_form(
            &path,
            &[
                ("name", "Meera Joshi"),
                ("new", "meera's own secret"),
                ("confirm", "meera's own secret"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/app/complaints");
    let mut meera = Staff::new(&app);
    meera.cookie = new_session_cookie(&res);
    let list = meera.get("/app/complaints").await.text().await.unwrap();
    assert!(
        list.contains("pune office") && list.contains("(staff)"),
        "signed in, as staff"
    );

    // Once only.
    let res = Staff::new(&app)
        .post_form(
            &path,
            &[
                ("name", "Eve"),
                ("new", "eve's long secret"),
                ("confirm", "eve's long secret"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        Staff::new(&app).get(&path).await.status(),
        StatusCode::NOT_FOUND
    );
    let team = admin.get("/app/team").await.text().await.unwrap();
    assert!(team.contains("Meera Joshi") && !team.contains("meera@pune.gov.in as staff"));

    // Expired links are refused.
    let page = admin
        .submit(
            "/app/team/invitations",
            &[("email", "late@pune.gov.in"), ("role", "viewer")],
        )
        .await
        .text()
        .await
        .unwrap();
    let late = link_in(&page);
    // Links last 7 days.
    app.pass(chrono::Duration::days(8)).await;
    let late_path = late
        .trim_start_matches(&format!("http://{}", app.addr))
        .to_owned();
    assert_eq!(
        Staff::new(&app).get(&late_path).await.status(),
        StatusCode::GONE
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_account_joins_a_second_tenant_after_logging_in() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let pune = app.tenant("pune", "PUNE", &graph).await;
    let nashik = app.tenant("nashik", "NASIK", &graph).await;
    member(&app, "owner@nashik.gov.in", &nashik.tenant.id, Role::Owner).await;
    member(&app, "asha@pune.gov.in", &pune.tenant.id, Role::Staff).await;
    let owner = Staff::login(&app, "owner@nashik.gov.in").await;
    let page = owner
        .submit(
            "/app/team/invitations",
            &[("email", "asha@pune.gov.in"), ("role", "admin")],
        )
        .await
        .text()
        .await
        .unwrap();
    let path = link_in(&page)
        .trim_start_matches(&format!("http://{}", app.addr))
        .to_owned();

    let page = Staff::new(&app).get(&path).await.text().await.unwrap();
    assert!(page.contains("Log in as asha@pune.gov.in"), "{page}");
    assert_eq!(
        Staff::new(&app).post_form(&path, &[]).await.status(),
        StatusCode::FORBIDDEN,
        "not without logging in as that account"
    );
    let asha = Staff::login(&app, "asha@pune.gov.in").await;
    let res = asha.submit(&path, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let list = asha.get("/app/complaints").await.text().await.unwrap();
    assert!(
        list.contains("nashik office") && list.contains("(admin)"),
        "{list}"
    );
    let account = asha.get("/app/account").await.text().await.unwrap();
    assert!(account.contains("Switch to pune office"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_roles_below_their_own_and_reset_passwords() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let other = app.tenant("nashik", "NASIK", &graph).await;
    let admin = member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    let owner = member(&app, "owner@pune.gov.in", &t.tenant.id, Role::Owner).await;
    let ravi = member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let both = user(
        &app,
        "both@pune.gov.in",
        &[(&t.tenant.id, Role::Staff), (&other.tenant.id, Role::Owner)],
        false,
    )
    .await;
    let session = Staff::login(&app, "admin@pune.gov.in").await;
    let ravi_session = Staff::login(&app, "ravi@pune.gov.in").await;
    let member = |u: &User, what: &str| format!("/app/team/members/{}/{what}", u.id);

    // Up to one's own role, not above; never one's own; never an owner.
    let res = session
        .submit(&member(&ravi, "role"), &[("role", "admin")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = session
        .submit(&member(&ravi, "role"), &[("role", "owner")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = session
        .submit(&member(&owner, "role"), &[("role", "viewer")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = session
        .submit(&member(&admin, "role"), &[("role", "owner")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        roles_of(&app, &ravi.id).await,
        vec![(t.tenant.id.clone(), Role::Admin)]
    );

    // A reset shows a one-time password once, ends their sessions, and forces
    // a new password at the next login.
    let page = session
        .submit(&member(&ravi, "password"), &[])
        .await
        .text()
        .await
        .unwrap();
    let one_time = shown_once(&page).unwrap();
    assert_eq!(one_time.len(), 20);
    assert_eq!(
        ravi_session.get("/app/complaints").await.status(),
        StatusCode::SEE_OTHER,
        "logged out everywhere"
    );
    let res = Staff::new(&app)
        .login_as("ravi@pune.gov.in", PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = Staff::new(&app)
        .login_as("ravi@pune.gov.in", &one_time)
        .await;
    assert_eq!(location(&res), "/app/password");
    // Not an account that is someone's elsewhere.
    let res = session.submit(&member(&both, "password"), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("belongs to other organisations"));

    // Removing a member ends their access here.
    let res = session.submit(&member(&ravi, "remove"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.store.memberships(&ravi.id).await.unwrap().is_empty());
    // Staff cannot open the team page at all.
    let staff = Staff::login(&app, "both@pune.gov.in").await;
    let res = staff.submit("/app/tenant", &[("tenant", "pune")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(staff.get("/app/team").await.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
