//! Who may do what in the dashboard, over HTTP: every route against every
//! role, the CSRF token on every state-changing route, and the walls
//! between tenants.

use ombud_core::*;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::staff::*;
use crate::work::{complaint, street_light};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_what_the_table_says_and_no_more() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let number = street_light(&app, &t, &graph, "919800000001").await;
    for (email, role) in [
        ("field@pune.gov.in", Role::FieldWorker),
        ("viewer@pune.gov.in", Role::Viewer),
        ("staff@pune.gov.in", Role::Staff),
        ("admin@pune.gov.in", Role::Admin),
        ("owner@pune.gov.in", Role::Owner),
    ] {
        user(&app, email, &[(&t.tenant.id, role)], false).await;
    }
    let id = complaint(&app, &t, &number).await.id.to_string();
    let target = member(&app, "target@pune.gov.in", &t.tenant.id, Role::Viewer).await;
    let target_role = format!("/app/team/members/{}/role", target.id);
    app.say(&t, "919800000009", "human").await;
    graph.wait_for_reply_to("919800000009", 1).await;
    let conversation = app.store.handed_over(&t.tenant.id).await.unwrap()[0]
        .conversation
        .id
        .to_string();
    let hand_back = format!("/app/inbox/{conversation}/hand-back");
    let inbox_page = format!("/app/inbox/{conversation}");
    // (method, path, form, least role). Reads are for every member; changes
    // to complaints for staff and up.
    let detail = format!("/app/complaints/{number}");
    let channel_id = t.channel.id.to_string();
    let intake = t.channel.deployed_version.clone().unwrap().to_string();
    let agent_versions = format!(
        "/app/agents/{}/versions",
        app.store.agents(&t.tenant.id).await.unwrap()[0].id
    );
    let agent_page = format!(
        "/app/agents/{}",
        app.store.agents(&t.tenant.id).await.unwrap()[0].id
    );
    let test_start = format!("{agent_versions}/1/test");
    let chat = app
        .store
        .create_test_chat(
            &t.tenant.id,
            ombud_store::NewTestChat {
                id: ombud_core::TestChatId::new(),
                version: t.channel.deployed_version.clone().unwrap(),
                created_by: "system".into(),
                at: ombud_store::stored(chrono::Utc::now()),
            },
            Vec::new(),
        )
        .await
        .unwrap();
    let test_chat = format!("/app/test-chats/{}", chat.id);
    let note = format!("/app/complaints/{number}/note");
    let edit = format!("/app/complaints/{number}/edit");
    let bulk = "/app/complaints/bulk".to_owned();
    type Route<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Role);
    let routes: Vec<Route> = vec![
        ("GET", "/app/field".into(), vec![], Role::FieldWorker),
        ("GET", "/app/complaints".into(), vec![], Role::Viewer),
        ("GET", detail.clone(), vec![], Role::Viewer),
        ("GET", "/app/account".into(), vec![], Role::Viewer),
        ("GET", "/app/overview".into(), vec![], Role::Viewer),
        ("GET", "/app/inbox".into(), vec![], Role::Viewer),
        ("GET", "/app/complaints.csv".into(), vec![], Role::Viewer),
        ("GET", inbox_page.clone(), vec![], Role::Viewer),
        ("POST", hand_back.clone(), vec![], Role::Staff),
        (
            "POST",
            target_role.clone(),
            vec![("role", "staff")],
            Role::Admin,
        ),
        ("GET", "/app/team".into(), vec![], Role::Admin),
        ("GET", "/app/agents".into(), vec![], Role::Admin),
        ("GET", agent_page.clone(), vec![], Role::Admin),
        (
            "POST",
            "/app/agents/new".into(),
            vec![("name", "{role} agent"), ("kind", "intake")],
            Role::Admin,
        ),
        (
            "POST",
            agent_versions.clone(),
            vec![("config", "{}"), ("changelog", "by {role}")],
            Role::Admin,
        ),
        (
            "POST",
            "/app/agents/deploy".into(),
            vec![("channel_id", &channel_id), ("version_id", &intake)],
            Role::Admin,
        ),
        ("POST", test_start, vec![], Role::Admin),
        ("GET", test_chat.clone(), vec![], Role::Admin),
        (
            "POST",
            test_chat,
            vec![("text", "hello from {role}")],
            Role::Admin,
        ),
        ("GET", "/app/settings".into(), vec![], Role::Admin),
        ("GET", "/app/settings/deadlines".into(), vec![], Role::Admin),
        (
            "GET",
            "/app/settings/assignment".into(),
            vec![],
            Role::Admin,
        ),
        // An empty catalogue: complaints' areas stay free text below.
        ("POST", "/app/settings/areas".into(), vec![], Role::Admin),
        (
            "POST",
            "/app/settings/calendar".into(),
            vec![("hours_mon", "09:00-17:00")],
            Role::Admin,
        ),
        ("GET", "/app/welcome".into(), vec![], Role::Admin),
        ("POST", "/app/welcome/team".into(), vec![], Role::Admin),
        (
            "POST",
            "/app/settings/categories".into(),
            vec![("name_en", "Made by {role}"), ("priority", "normal")],
            Role::Admin,
        ),
        (
            "POST",
            "/app/team/invitations".into(),
            vec![("email", "{role}@invited.example"), ("role", "viewer")],
            Role::Admin,
        ),
        ("POST", note, vec![("value", "checked")], Role::Staff),
        ("POST", edit, vec![("area", "{role}")], Role::Staff),
        (
            "POST",
            bulk,
            vec![
                ("action", "note"),
                ("note", "x"),
                ("scope", "selected"),
                ("ids", &id),
                ("confirm", "yes"),
            ],
            Role::Staff,
        ),
    ];
    for (email, role) in [
        ("field@pune.gov.in", Role::FieldWorker),
        ("viewer@pune.gov.in", Role::Viewer),
        ("staff@pune.gov.in", Role::Staff),
        ("admin@pune.gov.in", Role::Admin),
        ("owner@pune.gov.in", Role::Owner),
    ] {
        let member = Staff::login(&app, email).await;
        for (method, path, form, least) in &routes {
            // Each role sets its own area, so that every allowed change is a change.
            let role_name = role.as_str();
            let form: Vec<(&str, String)> = form
                .iter()
                .map(|(k, v)| (*k, v.replace("{role}", role_name)))
                .collect();
            let res = match *method {
                "GET" => member.get(path).await,
                _ => {
                    let form: Vec<(&str, &str)> =
                        form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    member.submit(path, &form).await
                }
            };
            // A field worker has their account, and lands on their own
            // page from the complaint list; nothing else.
            let field = role == Role::FieldWorker;
            let lands = field && path == "/app/complaints";
            if lands {
                assert_eq!(res.headers()["location"], "/app/field");
            }
            let allowed = role >= *least || lands || (field && path == "/app/account");
            let status = res.status();
            if allowed {
                assert!(
                    status == StatusCode::OK || status == StatusCode::SEE_OTHER,
                    "{role:?} {method} {path}: {status}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} {method} {path}");
            }
        }
    }
    // The viewer's refused changes left no trace; the others' did.
    let events = app
        .store
        .complaint_events(&t.tenant.id, &id.parse().unwrap())
        .await
        .unwrap();
    let notes = events.iter().filter(|e| e.action == "note").count();
    assert_eq!(notes, 3 * 2, "three roles, each a note and a bulk note");
    let said: Vec<String> = app
        .store
        .test_turns(&t.tenant.id, &chat.id)
        .await
        .unwrap()
        .into_iter()
        .map(|turn| turn.said)
        .collect();
    assert_eq!(said, ["hello from admin", "hello from owner"]);
    // A viewer's page offers no forms to change anything.
    let viewer = Staff::login(&app, "viewer@pune.gov.in").await;
    let page = viewer.get(&detail).await.text().await.unwrap();
    assert!(!page.contains("/status\"") && !page.contains("name=\"ids\""));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_b_cannot_see_or_touch_tenant_a_complaints() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let a = app.tenant("pune", "PUNE", &graph).await;
    let b = app.tenant("nashik", "NASIK", &graph).await;
    let number = street_light(&app, &a, &graph, "919800000001").await;
    let theirs = complaint(&app, &a, &number).await;
    member(&app, "owner@nashik.gov.in", &b.tenant.id, Role::Owner).await;
    let other = Staff::login(&app, "owner@nashik.gov.in").await;

    for key in [number.clone(), theirs.id.to_string()] {
        let res = other.get(&format!("/app/complaints/{key}")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{key}");
        let res = other
            .submit(
                &format!("/app/complaints/{key}/edit"),
                &[("status", "rejected")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{key}");
        let res = other.get(&format!("/app/field/{key}")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{key}");
        let res = other
            .submit(
                &format!("/app/field/{key}/verdict"),
                &[("outcome", "rejected"), ("note", "not ours")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{key}");
    }
    let page = other
        .get(&format!("/app/complaints?q={number}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains(&format!("/app/complaints/{number}")),
        "{page}"
    );
    assert!(page.contains("No complaints match"));
    // Naming A's complaint in a bulk change from B changes nothing.
    let done = other
        .submit(
            "/app/complaints/bulk",
            &[
                ("action", "status"),
                ("status", "rejected"),
                ("scope", "selected"),
                ("ids", theirs.id.as_str()),
                ("confirm", "yes"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        done.contains("<strong id=\"bulk-changed\">0</strong>"),
        "{done}"
    );
    assert!(done.contains("not found"));
    assert_eq!(
        complaint(&app, &a, &number).await.status,
        ComplaintStatus::New
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_changing_route_without_the_csrf_token_is_403_and_changes_nothing() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let other = app.tenant("nashik", "NASIK", &graph).await;
    let number = street_light(&app, &t, &graph, "919800000001").await;
    let owner = user(
        &app,
        "owner@pune.gov.in",
        &[(&t.tenant.id, Role::Owner), (&other.tenant.id, Role::Owner)],
        false,
    )
    .await;
    let ravi = member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
    app.say(&t, "919800000009", "human").await;
    graph.wait_for_reply_to("919800000009", 1).await;
    let staff = Staff::login(&app, "owner@pune.gov.in").await;
    // An open invitation, made the proper way (with the token).
    let page = staff
        .submit(
            "/app/team/invitations",
            &[("email", "new@pune.gov.in"), ("role", "staff")],
        )
        .await
        .text()
        .await
        .unwrap();
    let at = page.find("/app/invite/").unwrap();
    let invite_path = page[at..].split('<').next().unwrap().to_owned();
    let invitation = app.store.open_invitations(&t.tenant.id).await.unwrap()[0]
        .id
        .to_string();
    let conversation = app.store.handed_over(&t.tenant.id).await.unwrap()[0]
        .conversation
        .id
        .to_string();
    let category = app.store.categories(&t.tenant.id).await.unwrap()[0].clone();
    let channels = app.store.channels(&t.tenant.id).await.unwrap().len();
    let id = complaint(&app, &t, &number).await.id.to_string();
    let before = app
        .store
        .complaint_events(&t.tenant.id, &id.parse().unwrap())
        .await
        .unwrap()
        .len();
    let c = |action: &str| format!("/app/complaints/{number}/{action}");
    let owner_id = owner.id.to_string();
    let routes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            c("edit"),
            vec![
                ("status", "acknowledged"),
                ("priority", "urgent"),
                ("category", ""),
                ("assignee", &owner_id),
                ("area", "Ward 7"),
            ],
        ),
        (c("note"), vec![("value", "x")]),
        (c("reply"), vec![("body", "hello")]),
        (
            c("verdict").replace("/complaints/", "/field/"),
            vec![("outcome", "rejected"), ("note", "x")],
        ),
        (
            "/app/settings/verification".into(),
            vec![
                ("enabled", "on"),
                ("remind_after_hours", "1"),
                ("escalate_after_hours", "2"),
            ],
        ),
        (
            "/app/settings/reminder".into(),
            vec![("enabled", "on"), ("after_hours", "1")],
        ),
        (
            "/app/complaints/bulk".into(),
            vec![
                ("action", "note"),
                ("note", "x"),
                ("scope", "selected"),
                ("ids", &id),
                ("confirm", "yes"),
            ],
        ),
        ("/app/tenant".into(), vec![("tenant", "nashik")]),
        (format!("/app/team/invitations/{invitation}/revoke"), vec![]),
        (
            format!("/app/team/members/{}/role", ravi.id),
            vec![("role", "viewer")],
        ),
        (format!("/app/team/members/{}/remove", ravi.id), vec![]),
        (format!("/app/team/members/{}/password", ravi.id), vec![]),
        (
            format!("/app/settings/categories/{}", category.id),
            vec![("name_en", "Renamed"), ("priority", "low")],
        ),
        (
            "/app/settings/channels".into(),
            vec![
                ("name", "Second"),
                ("phone_number_id", "123456"),
                ("app_secret", "s"),
                ("access_token", "a"),
                ("verify_token", "v"),
            ],
        ),
        (
            format!("/app/settings/channels/{}/templates", t.channel.id),
            vec![("waba_id", "1020")],
        ),
        (
            format!("/app/settings/channels/{}/templates/sync", t.channel.id),
            vec![],
        ),
        (
            format!("/app/settings/channels/{}/webchat", t.channel.id),
            vec![("greeting.en", "Hello")],
        ),
        (
            format!("/app/inbox/{conversation}/reply"),
            vec![("body", "hello")],
        ),
        (format!("/app/inbox/{conversation}/hand-back"), vec![]),
        (format!("/app/inbox/{conversation}/close-session"), vec![]),
        (
            "/app/settings/sessions".into(),
            vec![("session_idle_hours", "12")],
        ),
        (
            "/app/settings/media".into(),
            vec![
                ("image_kb", "2048"),
                ("audio_kb", "1024"),
                ("audio_seconds", "60"),
            ],
        ),
        (format!("/app/inbox/{conversation}/typing"), vec![]),
        (invite_path.clone(), vec![]),
        ("/app/welcome/welcome".into(), vec![]),
        (
            "/app/settings/categories".into(),
            vec![("name_en", "Sneaky"), ("priority", "normal")],
        ),
        (
            "/app/team/invitations".into(),
            vec![("email", "x@pune.gov.in"), ("role", "staff")],
        ),
        (
            "/app/password".into(),
            vec![
                ("current", crate::staff::PASSWORD),
                ("new", "another long one"),
                ("confirm", "another long one"),
            ],
        ),
        ("/app/logout".into(), vec![]),
    ];
    for (path, form) in &routes {
        let res = staff.post_form(path, form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        let mut wrong = form.clone();
        wrong.push(("csrf_token", "not-the-token"));
        let res = staff.post_form(path, &wrong).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{path} with a wrong token"
        );
    }
    let after = app
        .store
        .complaint_events(&t.tenant.id, &id.parse().unwrap())
        .await
        .unwrap()
        .len();
    assert_eq!(after, before, "no change was made");
    let reminders = app.engine.ops().reminder_settings(&t.tenant.id).await;
    assert!(!reminders.unwrap().enabled, "reminders stayed off");
    assert!(app
        .store
        .onboarding_steps(&t.tenant.id)
        .await
        .unwrap()
        .is_empty());
    assert!(!app
        .store
        .categories(&t.tenant.id)
        .await
        .unwrap()
        .iter()
        .any(|c| c.slug == "sneaky"));
    assert_eq!(
        roles_of(&app, &ravi.id).await,
        vec![(t.tenant.id.clone(), Role::Staff)],
        "ravi kept his role and membership"
    );
    assert_eq!(
        app.store
            .user_by_email(&ravi.email)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        ravi.password_hash,
        "and his password"
    );
    assert_eq!(
        app.store
            .open_invitations(&t.tenant.id)
            .await
            .unwrap()
            .len(),
        1,
        "the invitation stays, and no other was made"
    );
    assert_eq!(
        app.store.categories(&t.tenant.id).await.unwrap()[0],
        category
    );
    assert_eq!(
        app.store.channels(&t.tenant.id).await.unwrap().len(),
        channels
    );
    assert_eq!(app.store.handed_over(&t.tenant.id).await.unwrap().len(), 1);
    assert_eq!(
        graph.delivered_to("919800000009").len(),
        1,
        "no staff reply went out"
    );
    let page = staff.get("/app/complaints").await.text().await.unwrap();
    assert!(
        page.contains("pune office"),
        "still signed in, still in the same tenant"
    );
    assert_eq!(
        complaint(&app, &t, &number).await.status,
        ComplaintStatus::New
    );
    app.stop().await;
}

/// Every dashboard route, for every role: below the route's role it is 403
/// and nothing happens; at or above it, the role check lets it through (what
/// the handler then says, 200, 303 or a 4xx about the data, is the feature
/// tests' business).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_the_roles_below_its_own() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let number = street_light(&app, &t, &graph, "919800000001").await;
    let id = complaint(&app, &t, &number).await.id.to_string();
    app.say(&t, "919800000009", "human").await;
    graph.wait_for_reply_to("919800000009", 1).await;
    let conversation = app.store.handed_over(&t.tenant.id).await.unwrap()[0]
        .conversation
        .id
        .to_string();
    let target = member(&app, "target@pune.gov.in", &t.tenant.id, Role::Viewer).await;
    let category = app.store.categories(&t.tenant.id).await.unwrap()[0]
        .id
        .to_string();
    let roles = [
        Role::FieldWorker,
        Role::Viewer,
        Role::Staff,
        Role::Admin,
        Role::Owner,
    ];
    for role in roles {
        user(
            &app,
            &format!("{}@pune.gov.in", role.as_str()),
            &[(&t.tenant.id, role)],
            false,
        )
        .await;
    }
    let c = |action: &str| format!("/app/complaints/{number}/{action}");
    let m = |action: &str| format!("/app/team/members/{}/{action}", target.id);
    let inv = "/app/team/invitations/inv_00000000000000000000000000/revoke".to_owned();
    let templates = format!("/app/settings/channels/{}/templates", t.channel.id);
    let webchat = format!("/app/settings/channels/{}/webchat", t.channel.id);
    // (path, least role); GETs first, then POSTs with an empty form.
    let gets = [
        ("/app/field".to_owned(), Role::FieldWorker),
        // Nobody's own: not found for every role that may look.
        (format!("/app/field/{number}"), Role::FieldWorker),
        ("/app/complaints".to_owned(), Role::Viewer),
        (format!("/app/complaints/{number}"), Role::Viewer),
        ("/app/complaints.csv".to_owned(), Role::Viewer),
        ("/app/overview".to_owned(), Role::Viewer),
        ("/app/inbox".to_owned(), Role::Viewer),
        (format!("/app/inbox/{conversation}"), Role::Viewer),
        // The live stream: its head only (the body goes on).
        ("/app/live".to_owned(), Role::Viewer),
        ("/app/team".to_owned(), Role::Admin),
        ("/app/settings".to_owned(), Role::Admin),
        ("/app/settings/categories".to_owned(), Role::Admin),
        ("/app/settings/channels".to_owned(), Role::Admin),
        ("/app/settings/deadlines".to_owned(), Role::Admin),
        ("/app/settings/assignment".to_owned(), Role::Admin),
        (templates.clone(), Role::Admin),
        (webchat.clone(), Role::Admin),
        ("/app/welcome".to_owned(), Role::Admin),
        ("/app/audit".to_owned(), Role::Admin),
    ];
    let posts = [
        (c("edit"), Role::Staff),
        (c("note"), Role::Staff),
        (c("reply"), Role::Staff),
        ("/app/complaints/bulk".to_owned(), Role::Staff),
        (format!("/app/inbox/{conversation}/reply"), Role::Staff),
        (format!("/app/inbox/{conversation}/block"), Role::Staff),
        (format!("/app/inbox/{conversation}/unblock"), Role::Staff),
        (format!("/app/inbox/{conversation}/typing"), Role::Staff),
        ("/app/team/invitations".to_owned(), Role::Admin),
        (inv, Role::Admin),
        (m("role"), Role::Admin),
        (m("password"), Role::Admin),
        ("/app/settings/categories".to_owned(), Role::Admin),
        (format!("/app/settings/categories/{category}"), Role::Admin),
        ("/app/settings/channels".to_owned(), Role::Admin),
        ("/app/settings/channels/telegram".to_owned(), Role::Admin),
        ("/app/settings/channels/webchat".to_owned(), Role::Admin),
        (templates.clone(), Role::Admin),
        (webchat.clone(), Role::Admin),
        (format!("{templates}/sync"), Role::Admin),
        ("/app/settings/calendar".to_owned(), Role::Admin),
        ("/app/settings/sla".to_owned(), Role::Admin),
        ("/app/settings/areas".to_owned(), Role::Admin),
        ("/app/settings/teams".to_owned(), Role::Admin),
        ("/app/settings/rules".to_owned(), Role::Admin),
        ("/app/settings/verification".to_owned(), Role::Admin),
        ("/app/settings/survey".to_owned(), Role::Admin),
        ("/app/settings/summary".to_owned(), Role::Admin),
        ("/app/settings/reminder".to_owned(), Role::Admin),
        ("/app/settings/sessions".to_owned(), Role::Admin),
        ("/app/settings/media".to_owned(), Role::Admin),
        // Verifying is for field workers and staff, not viewers.
        (
            c("verdict").replace("/complaints/", "/field/"),
            Role::FieldWorker,
        ),
        ("/app/welcome/categories".to_owned(), Role::Admin),
        // Last: these change who can do what, or end the conversation's hand-off.
        (format!("/app/inbox/{conversation}/hand-back"), Role::Staff),
        (
            format!("/app/inbox/{conversation}/close-session"),
            Role::Staff,
        ),
        (m("remove"), Role::Admin),
    ];
    let before = app
        .store
        .complaint_events(&t.tenant.id, &id.parse().unwrap())
        .await
        .unwrap();
    for role in roles {
        let member = Staff::login(&app, &format!("{}@pune.gov.in", role.as_str())).await;
        let may = |path: &str, least: Role| match path.ends_with("/verdict") {
            true => role.may_verify(),
            false => role >= least,
        };
        for (path, least) in &gets {
            let res = member.get(path).await;
            let status = res.status();
            if role == Role::FieldWorker && path == "/app/complaints" {
                assert_eq!(status, StatusCode::SEE_OTHER);
                assert_eq!(res.headers()["location"], "/app/field");
            } else if may(path, *least) {
                assert_ne!(status, StatusCode::FORBIDDEN, "{role:?} GET {path}");
                assert!(status.as_u16() < 500, "{role:?} GET {path}: {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} GET {path}");
            }
        }
        for (path, least) in &posts {
            let status = member.submit(path, &[]).await.status();
            if may(path, *least) {
                assert_ne!(status, StatusCode::FORBIDDEN, "{role:?} POST {path}");
                assert!(status.as_u16() < 500, "{role:?} POST {path}: {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} POST {path}");
            }
        }
        if role <= Role::Viewer {
            // Nothing the viewer tried changed anything.
            let now = app
                .store
                .complaint_events(&t.tenant.id, &id.parse().unwrap())
                .await
                .unwrap();
            assert_eq!(now, before);
            assert_eq!(app.store.handed_over(&t.tenant.id).await.unwrap().len(), 1);
            assert_eq!(app.store.members(&t.tenant.id).await.unwrap().len(), 6);
        }
    }
    app.stop().await;
}
