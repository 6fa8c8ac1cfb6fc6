//! Staff work in the dashboard over HTTP: the helpers other tests file
//! complaints with, bulk changes across pages, the overview and the CSV
//! export (a complaint's own page is `complaint_page.rs`).

use std::time::Duration;

use ombud_core::*;
use ombud_store::{ComplaintChange, NewComplaint};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::staff::*;

/// A citizen files a complaint through the WhatsApp dialogue; its number.
pub async fn file(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
    text: &str,
) -> String {
    let lines = [text, "Near Shivaji school, Kothrud", "yes"];
    file_saying(app, t, graph, citizen, lines).await
}

/// A citizen files a complaint saying `lines` (what, where, yes), telling
/// the fake Graph API each time they write (it keeps the window); its number.
pub async fn file_saying(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
    lines: [&str; 3],
) -> String {
    let before = graph.delivered_to(citizen).len();
    for (i, line) in lines.iter().enumerate() {
        graph.citizen_wrote(citizen);
        app.say(t, citizen, line).await;
        graph.wait_for_reply_to(citizen, before + i + 1).await;
    }
    number_in(&graph.delivered_to(citizen).pop().unwrap()).expect("a complaint number")
}

/// The street-light complaint most tests work on, filed by `citizen`.
pub async fn street_light(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
) -> String {
    file(
        app,
        t,
        graph,
        citizen,
        "The street light near the school is broken",
    )
    .await
}

pub async fn complaint(app: &TestApp, t: &TestTenant, number: &str) -> Complaint {
    app.store
        .complaint_by_number(&t.tenant.id, &ComplaintNumber::parse(number).unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// Two complaints by two citizens: the street light's, then a water pipe's.
pub async fn light_and_water(app: &TestApp, t: &TestTenant, graph: &FakeGraph) -> (String, String) {
    let light = street_light(app, t, graph, "919800000001").await;
    let water = file(
        app,
        t,
        graph,
        "919800000002",
        "Water pipe leaking on the main road",
    )
    .await;
    (light, water)
}

/// `n` more complaints in `like`'s conversation, straight into the store.
pub async fn more_like(app: &TestApp, t: &TestTenant, like: &Complaint, n: usize) {
    for i in 0..n {
        let description = format!("garbage not collected, lane {i}");
        filed_at(app, &t.tenant, Some(like), &description, chrono::Utc::now()).await;
    }
}

/// A complaint written straight into the store at `at`, from the same
/// citizen and conversation as `like` (or from nobody).
pub async fn filed_at(
    app: &TestApp,
    tenant: &Tenant,
    like: Option<&Complaint>,
    description: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Complaint {
    app.store
        .create_complaint(
            tenant,
            NewComplaint {
                origin_key: None,
                channel_id: like.and_then(|c| c.channel_id.clone()),
                contact_id: like.and_then(|c| c.contact_id.clone()),
                conversation_id: like.and_then(|c| c.conversation_id.clone()),
                category_id: None,
                description: description.to_owned(),
                location: None,
                area: None,
                language: like.map_or_else(Language::en, |c| c.language.clone()),
                priority: Priority::Normal,
                source: Source::Text,
                actor: "agent".into(),
                at,
                audit: None,
                sla: None,
                route: false,
                verification: None,
                point: None,
                media: Vec::new(),
            },
        )
        .await
        .unwrap()
        .0
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
async fn a_bulk_change_covers_every_match_across_pages_and_tells_each_citizen_once() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let a = street_light(&app, &t, &graph, "919800000001").await;
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
    member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
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
            &ombud_engine::Acting::new(
                ombud_core::audit::Actor::user(&me.id, &me.name, me.email.as_str()),
                Default::default(),
            ),
            &t.tenant.id,
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
    // Applied to the selection with nothing selected: the list again, its
    // filters kept, with the reason in the bulk bar; nothing changes.
    let only_a = format!("/app/complaints/bulk?q={a}");
    let res = staff
        .submit(
            &only_a,
            &[
                ("action", "status"),
                ("status", "resolved"),
                ("scope", "selected"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Select at least one complaint (tick its box), or apply to all matching."),
        "{page}"
    );
    assert!(
        page.contains(&format!("value=\"{a}\"")) && page.contains(&format!(">{a}</a>")),
        "the list, filtered"
    );
    // A bad value keeps what was ticked.
    let res = staff
        .submit(
            &only_a,
            &[
                ("action", "note"),
                ("note", " "),
                ("scope", "selected"),
                ("ids", ca.id.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("note: write something first"), "{page}");
    assert!(
        page.contains(&format!(
            "value=\"{}\" aria-label=\"Select {one}\" checked",
            ca.id
        )),
        "{page}"
    );
    assert_eq!(quiet(&graph).await, settled, "nothing was sent");
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
async fn the_overview_draws_the_month_and_the_csv_holds_every_match() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let a = street_light(&app, &t, &graph, "919800000001").await;
    let ca = complaint(&app, &t, &a).await;
    more_like(&app, &t, &ca, 60).await;
    member(&app, "viewer@pune.gov.in", &t.tenant.id, Role::Viewer).await;
    let staff = member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
    app.engine
        .change_complaints(
            &ombud_engine::Acting::new(
                ombud_core::audit::Actor::user(&staff.id, &staff.name, staff.email.as_str()),
                Default::default(),
            ),
            &t.tenant.id,
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
        page.contains("<span class=\"big\" id=\"created\">61</span>"),
        "{page}"
    );
    assert!(page.contains("<span class=\"big\" id=\"open-now\">60</span>"));
    assert_eq!(page.matches("<figure class=\"chart").count(), 3);
    assert!(page.contains(": 60 new</title>"), "today's column: 60 new");
    assert!(page.contains(": 1 resolved</title>"), "and 1 resolved");
    assert!(page.contains("median time to resolution"));
    // One day of data draws a week, not the month.
    assert_eq!(page.matches("<rect x=").count(), 2, "one column, two parts");
    assert!(page.contains(r#"viewBox="0 0 70 100""#), "seven days wide");
    // The other periods; one not offered is refused with the reason.
    let page = viewer
        .get("/app/overview?days=90")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("last 90 days") && page.contains("id=\"created\">61</span>"));
    let res = viewer.get("/app/overview?days=12").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("choose 7, 30 or 90"));

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
