//! Staff work in the dashboard over HTTP: filtering, a complaint's page,
//! status changes that tell the citizen, internal notes that do not, bulk
//! changes across pages, role checks and tenant walls.

use std::time::Duration;

use ombud_core::*;
use ombud_store::{ComplaintChange, NewComplaint};
use reqwest::StatusCode;

use crate::dashboard::{location, roles_of, user, Staff};
use crate::helpers::*;

/// A citizen files a complaint through the WhatsApp dialogue; its number.
pub async fn file(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
    text: &str,
) -> String {
    let before = graph.delivered_to(citizen).len();
    for (i, line) in [text, "Near Shivaji school, Kothrud", "yes"]
        .iter()
        .enumerate()
    {
        app.say(t, citizen, line).await;
        graph.wait_for_reply_to(citizen, before + i + 1).await;
    }
    number_in(&graph.delivered_to(citizen).pop().unwrap()).expect("a complaint number")
}

pub async fn complaint(app: &TestApp, t: &TestTenant, number: &str) -> Complaint {
    app.store
        .complaint_by_number(&t.tenant.id, &ComplaintNumber::parse(number).unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// `n` more complaints in the same conversation as `like` (as if the citizen
/// had filed them one by one), straight into the store.
pub async fn more_like(app: &TestApp, t: &TestTenant, like: &Complaint, n: usize) {
    for i in 0..n {
        app.store
            .create_complaint(
                &t.tenant,
                NewComplaint {
                    origin_key: None,
                    channel_id: like.channel_id.clone(),
                    contact_id: like.contact_id.clone(),
                    conversation_id: like.conversation_id.clone(),
                    category_id: None,
                    description: format!("garbage not collected, lane {i}"),
                    location: None,
                    language: like.language.clone(),
                    priority: Priority::Normal,
                    source: Source::Text,
                    actor: "agent".into(),
                    at: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
    }
}

/// Settles the outbox, then the deliveries each citizen has had.
pub async fn quiet(graph: &FakeGraph) -> usize {
    let mut last = graph.delivered().len();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = graph.delivered().len();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_filter_open_a_complaint_change_its_status_and_keep_notes_internal() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let light = file(
        &app,
        &t,
        &graph,
        "919800000001",
        "The street light near the school is broken",
    )
    .await;
    let water = file(
        &app,
        &t,
        &graph,
        "919800000002",
        "Water pipe leaking on the main road",
    )
    .await;
    let ravi = user(
        &app,
        "ravi@pune.gov.in",
        &[(&t.tenant.id, Role::Staff)],
        false,
    )
    .await;
    let staff = Staff::login(&app, "ravi@pune.gov.in").await;

    // Filter by words, by the citizen's number, by status.
    let page = staff
        .get("/app/complaints?q=street+light")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&light) && !page.contains(&water), "{page}");
    let page = staff
        .get("/app/complaints?q=9800000002")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&water) && !page.contains(&light));
    let page = staff
        .get("/app/complaints?status=resolved")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains(&light) && page.contains("No complaints match"));
    let res = staff
        .get("/app/complaints?status=lost&from=yesterday")
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("is not one of new") && page.contains("must be a date like"));

    // The complaint's page: transcript, history, and only the legal moves.
    let page = staff
        .get(&format!("/app/complaints/{light}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Near Shivaji school, Kothrud"), "transcript");
    assert!(page.contains("registered the complaint"), "history");
    assert!(page.contains("<option value=\"acknowledged\">"));
    assert!(
        !page.contains("<option value=\"closed\">"),
        "new cannot go to closed"
    );
    let by_id = complaint(&app, &t, &light).await.id;
    assert_eq!(
        staff
            .get(&format!("/app/complaints/{by_id}"))
            .await
            .status(),
        StatusCode::OK
    );

    // A move the table forbids is refused next to the field; nothing is sent.
    let sent_before = graph.delivered_to("919800000001").len();
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/status"),
            &[("value", "closed")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("cannot move from new to closed"));
    assert_eq!(
        complaint(&app, &t, &light).await.status,
        ComplaintStatus::New
    );

    // A legal move: the citizen is told, in their language, through the outbox.
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/status"),
            &[("value", "in_progress")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/app/complaints/{light}"));
    let told = graph
        .wait_for_reply_to("919800000001", sent_before + 1)
        .await;
    assert_eq!(told.len(), sent_before + 1);
    let notice = told.last().unwrap();
    assert!(
        notice.contains(&light) && notice.contains("in progress"),
        "{notice}"
    );
    assert_eq!(
        complaint(&app, &t, &light).await.status,
        ComplaintStatus::InProgress
    );

    // A note: sanitized, marked internal, never sent.
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/note"),
            &[(
                "value",
                "Called the <b>contractor</b><script>alert(1)</script>",
            )],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = staff
        .get(&format!("/app/complaints/{light}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Called the <b>contractor</b>"), "{page}");
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains(">Internal</span>"));
    assert!(page.contains("changed the status from new to in progress"));
    let res = staff
        .submit(&format!("/app/complaints/{light}/note"), &[("value", "  ")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("write something first"));

    // Assign to oneself; "assigned to me" finds it.
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/assign"),
            &[("value", ravi.id.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mine = staff
        .get("/app/complaints?assignee=me")
        .await
        .text()
        .await
        .unwrap();
    assert!(mine.contains(&light) && !mine.contains(&water));
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/assign"),
            &[("value", UserId::new().as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("is not a member of this organisation"));

    let total = quiet(&graph).await;
    assert_eq!(
        graph.delivered_to("919800000001").len(),
        sent_before + 1,
        "the note and the assignment sent nothing ({total} deliveries in all)"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_change_covers_every_match_across_pages_and_tells_each_citizen_once() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let a = file(
        &app,
        &t,
        &graph,
        "919800000001",
        "The street light near the school is broken",
    )
    .await;
    let b = file(
        &app,
        &t,
        &graph,
        "919800000002",
        "Water pipe leaking on the main road",
    )
    .await;
    let (ca, cb) = (complaint(&app, &t, &a).await, complaint(&app, &t, &b).await);
    // 60 + 60 more: three pages of garbage complaints across two citizens.
    more_like(&app, &t, &ca, 60).await;
    more_like(&app, &t, &cb, 60).await;
    user(
        &app,
        "ravi@pune.gov.in",
        &[(&t.tenant.id, Role::Staff)],
        false,
    )
    .await;
    let staff = Staff::login(&app, "ravi@pune.gov.in").await;
    let me = app
        .store
        .user_by_email(&Email::parse("ravi@pune.gov.in").unwrap())
        .await
        .unwrap()
        .unwrap();

    let list = staff
        .get("/app/complaints?q=garbage")
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("Next page"), "more than one page");
    assert_eq!(list.matches("name=\"ids\"").count(), 50);

    // Assign everything matching: the preview counts all 120, not the 50 shown.
    let bulk = "/app/complaints/bulk?q=garbage";
    let form = [
        ("action", "assign"),
        ("assignee", me.id.as_str()),
        ("scope", "matching"),
    ];
    let res = staff.submit(bulk, &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let preview = res.text().await.unwrap();
    assert!(
        preview.contains("<strong id=\"bulk-count\">120</strong>"),
        "{preview}"
    );
    assert_eq!(
        app.store
            .count_complaints(
                &t.tenant.id,
                &ombud_store::ComplaintFilter {
                    assignee: Some(ombud_store::AssigneeFilter::Member(me.id.clone())),
                    ..Default::default()
                }
            )
            .await
            .unwrap(),
        0,
        "nothing changes before the confirmation"
    );
    let mut confirmed = form.to_vec();
    confirmed.push(("confirm", "yes"));
    let done = staff.submit(bulk, &confirmed).await.text().await.unwrap();
    assert!(
        done.contains("<strong id=\"bulk-changed\">120</strong>"),
        "{done}"
    );
    let mine = staff
        .get("/app/complaints?assignee=me&q=garbage")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(mine.matches("name=\"ids\"").count(), 50);
    assert!(
        !mine.contains(&a) && !mine.contains(&b),
        "the unmatched two are not assigned"
    );

    // Resolve all garbage and street-light complaints of both citizens: each
    // citizen is told once, naming their complaints, and an illegal move is
    // skipped and listed.
    let one = ComplaintNumber::parse(&a).unwrap();
    let rejected = app
        .engine
        .change_complaints(
            &t.tenant.id,
            &me.id,
            ombud_engine::Selection::Ids(vec![ca.id.clone()]),
            ComplaintChange::Status(ComplaintStatus::Rejected),
        )
        .await
        .unwrap();
    assert_eq!(rejected.changed.len(), 1);
    let settled = quiet(&graph).await;
    let before = (
        graph.delivered_to("919800000001").len(),
        graph.delivered_to("919800000002").len(),
    );
    let form = [
        ("action", "status"),
        ("status", "resolved"),
        ("scope", "matching"),
        ("confirm", "yes"),
    ];
    let done = staff
        .submit("/app/complaints/bulk?q=e", &form)
        .await
        .text()
        .await
        .unwrap();
    // 120 garbage + the water complaint ("pipe leaking ... the main road");
    // the rejected street-light one is skipped.
    assert!(
        done.contains("<strong id=\"bulk-changed\">121</strong>"),
        "{done}"
    );
    assert!(
        done.contains(&format!(
            "{one}</a>: a rejected complaint cannot change status"
        )),
        "{done}"
    );
    let after = quiet(&graph).await;
    assert_eq!(after - settled, 2, "one notice per citizen");
    let to_a = graph.delivered_to("919800000001");
    let to_b = graph.delivered_to("919800000002");
    assert_eq!((to_a.len(), to_b.len()), (before.0 + 1, before.1 + 1));
    let notice_b = to_b.last().unwrap();
    assert!(
        notice_b.contains(&b) && notice_b.contains("resolved"),
        "{notice_b}"
    );
    assert_eq!(notice_b.matches("PUNE-").count(), 10, "the first ten named");
    assert!(
        notice_b.contains("(+51)"),
        "and the rest counted: {notice_b}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_what_the_table_says_and_no_more() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let number = file(
        &app,
        &t,
        &graph,
        "919800000001",
        "The street light near the school is broken",
    )
    .await;
    for (email, role) in [
        ("viewer@pune.gov.in", Role::Viewer),
        ("staff@pune.gov.in", Role::Staff),
        ("admin@pune.gov.in", Role::Admin),
        ("owner@pune.gov.in", Role::Owner),
    ] {
        user(&app, email, &[(&t.tenant.id, role)], false).await;
    }
    let id = complaint(&app, &t, &number).await.id.to_string();
    let target = user(
        &app,
        "target@pune.gov.in",
        &[(&t.tenant.id, Role::Viewer)],
        false,
    )
    .await;
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
    let note = format!("/app/complaints/{number}/note");
    let area = format!("/app/complaints/{number}/area");
    let bulk = "/app/complaints/bulk".to_owned();
    type Route<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Role);
    let routes: Vec<Route> = vec![
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
        ("GET", "/app/settings".into(), vec![], Role::Admin),
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
        ("POST", area, vec![("value", "{role}")], Role::Staff),
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
            let allowed = role >= *least;
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
    let number = file(
        &app,
        &a,
        &graph,
        "919800000001",
        "The street light near the school is broken",
    )
    .await;
    let theirs = complaint(&app, &a, &number).await;
    user(
        &app,
        "owner@nashik.gov.in",
        &[(&b.tenant.id, Role::Owner)],
        false,
    )
    .await;
    let other = Staff::login(&app, "owner@nashik.gov.in").await;

    for key in [number.clone(), theirs.id.to_string()] {
        let res = other.get(&format!("/app/complaints/{key}")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{key}");
        let res = other
            .submit(
                &format!("/app/complaints/{key}/status"),
                &[("value", "rejected")],
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
    let number = file(
        &app,
        &t,
        &graph,
        "919800000001",
        "The street light near the school is broken",
    )
    .await;
    let owner = user(
        &app,
        "owner@pune.gov.in",
        &[(&t.tenant.id, Role::Owner), (&other.tenant.id, Role::Owner)],
        false,
    )
    .await;
    let ravi = user(
        &app,
        "ravi@pune.gov.in",
        &[(&t.tenant.id, Role::Staff)],
        false,
    )
    .await;
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
        (c("status"), vec![("value", "acknowledged")]),
        (c("priority"), vec![("value", "urgent")]),
        (c("category"), vec![("value", "")]),
        (c("assign"), vec![("value", &owner_id)]),
        (c("area"), vec![("value", "Ward 7")]),
        (c("note"), vec![("value", "x")]),
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
            format!("/app/inbox/{conversation}/reply"),
            vec![("body", "hello")],
        ),
        (format!("/app/inbox/{conversation}/hand-back"), vec![]),
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
                ("current", crate::dashboard::PASSWORD),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_draws_the_month_and_the_csv_holds_every_match() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let a = file(
        &app,
        &t,
        &graph,
        "919800000001",
        "The street light near the school is broken",
    )
    .await;
    let ca = complaint(&app, &t, &a).await;
    more_like(&app, &t, &ca, 60).await;
    user(
        &app,
        "viewer@pune.gov.in",
        &[(&t.tenant.id, Role::Viewer)],
        false,
    )
    .await;
    let staff = user(
        &app,
        "ravi@pune.gov.in",
        &[(&t.tenant.id, Role::Staff)],
        false,
    )
    .await;
    app.engine
        .change_complaints(
            &t.tenant.id,
            &staff.id,
            ombud_engine::Selection::Ids(vec![ca.id.clone()]),
            ComplaintChange::Status(ComplaintStatus::Resolved),
        )
        .await
        .unwrap();
    let viewer = Staff::login(&app, "viewer@pune.gov.in").await;

    let res = viewer.get("/app/overview").await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<span class=\"big\" id=\"created-30d\">61</span>"),
        "{page}"
    );
    assert!(page.contains("<span class=\"big\" id=\"open-now\">60</span>"));
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 3);
    assert!(page.contains(": 60 new</title>"), "today's column: 60 new");
    assert!(page.contains(": 1 resolved</title>"), "and 1 resolved");
    assert!(page.contains("median time to resolution"));

    // The CSV holds every match, across what would be two pages on screen.
    let res = viewer.get("/app/complaints.csv?q=garbage").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.trim_end().split("\r\n").collect();
    assert!(lines[0].starts_with("number,status,priority"));
    assert_eq!(lines.len(), 1 + 60, "header and 60 garbage complaints");
    assert!(lines[1].starts_with("\"PUNE-"), "{}", lines[1]);
    assert!(
        lines.iter().all(|l| !l.contains(&a)),
        "the street light one is not garbage"
    );
    let all = viewer
        .get("/app/complaints.csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(all.trim_end().split("\r\n").count(), 1 + 61);
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
    let number = file(
        &app,
        &t,
        &graph,
        "919800000001",
        "The street light near the school is broken",
    )
    .await;
    let id = complaint(&app, &t, &number).await.id.to_string();
    app.say(&t, "919800000009", "human").await;
    graph.wait_for_reply_to("919800000009", 1).await;
    let conversation = app.store.handed_over(&t.tenant.id).await.unwrap()[0]
        .conversation
        .id
        .to_string();
    let target = user(
        &app,
        "target@pune.gov.in",
        &[(&t.tenant.id, Role::Viewer)],
        false,
    )
    .await;
    let category = app.store.categories(&t.tenant.id).await.unwrap()[0]
        .id
        .to_string();
    let roles = [Role::Viewer, Role::Staff, Role::Admin, Role::Owner];
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
    // (path, least role); GETs first, then POSTs with an empty form.
    let gets = [
        ("/app/complaints".to_owned(), Role::Viewer),
        (format!("/app/complaints/{number}"), Role::Viewer),
        ("/app/complaints.csv".to_owned(), Role::Viewer),
        ("/app/overview".to_owned(), Role::Viewer),
        ("/app/inbox".to_owned(), Role::Viewer),
        (format!("/app/inbox/{conversation}"), Role::Viewer),
        ("/app/team".to_owned(), Role::Admin),
        ("/app/settings".to_owned(), Role::Admin),
        ("/app/welcome".to_owned(), Role::Admin),
    ];
    let posts = [
        (c("status"), Role::Staff),
        (c("priority"), Role::Staff),
        (c("category"), Role::Staff),
        (c("assign"), Role::Staff),
        (c("area"), Role::Staff),
        (c("note"), Role::Staff),
        ("/app/complaints/bulk".to_owned(), Role::Staff),
        (format!("/app/inbox/{conversation}/reply"), Role::Staff),
        ("/app/team/invitations".to_owned(), Role::Admin),
        (inv, Role::Admin),
        (m("role"), Role::Admin),
        (m("password"), Role::Admin),
        ("/app/settings/categories".to_owned(), Role::Admin),
        (format!("/app/settings/categories/{category}"), Role::Admin),
        ("/app/settings/channels".to_owned(), Role::Admin),
        ("/app/welcome/categories".to_owned(), Role::Admin),
        // Last: these change who can do what, or end the conversation's hand-off.
        (format!("/app/inbox/{conversation}/hand-back"), Role::Staff),
        (m("remove"), Role::Admin),
    ];
    let before = app
        .store
        .complaint_events(&t.tenant.id, &id.parse().unwrap())
        .await
        .unwrap();
    for role in roles {
        let member = Staff::login(&app, &format!("{}@pune.gov.in", role.as_str())).await;
        for (path, least) in &gets {
            let status = member.get(path).await.status();
            if role >= *least {
                assert_ne!(status, StatusCode::FORBIDDEN, "{role:?} GET {path}");
                assert!(status.as_u16() < 500, "{role:?} GET {path}: {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} GET {path}");
            }
        }
        for (path, least) in &posts {
            let status = member.submit(path, &[]).await.status();
            if role >= *least {
                assert_ne!(status, StatusCode::FORBIDDEN, "{role:?} POST {path}");
                assert!(status.as_u16() < 500, "{role:?} POST {path}: {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} POST {path}");
            }
        }
        if role == Role::Viewer {
            // Nothing the viewer tried changed anything.
            let now = app
                .store
                .complaint_events(&t.tenant.id, &id.parse().unwrap())
                .await
                .unwrap();
            assert_eq!(now, before);
            assert_eq!(app.store.handed_over(&t.tenant.id).await.unwrap().len(), 1);
            assert_eq!(app.store.members(&t.tenant.id).await.unwrap().len(), 5);
        }
    }
    app.stop().await;
}
