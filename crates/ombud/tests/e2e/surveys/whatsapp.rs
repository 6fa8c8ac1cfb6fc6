//! The survey on WhatsApp: an interactive list inside the window, the
//! mapped template's quick replies outside it.

use std::time::Duration;

use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use super::{status_of, surveys, surveys_settled};
use crate::helpers::*;
use crate::staff::*;
use crate::templates::{map_and_sync, set_status};
use crate::webhooks::{endpoint, Receiver};

const WABA: &str = "102030405061";

/// The survey's interactive messages to `to` (lists and buttons; the
/// intake dialogue's own buttons left out).
fn interactive_to(graph: &FakeGraph, to: &str) -> Vec<GraphRequest> {
    let survey = |id: &str| {
        ["rate:", "solved:", "comment:"]
            .iter()
            .any(|p| id.starts_with(p))
    };
    graph
        .requests()
        .into_iter()
        .filter(|r| r.to == to && r.kind == "interactive")
        .filter(|r| r.choices.iter().any(|c| survey(&c.0)))
        .collect()
}

/// Meta's webhook for a tap on a reply button or a list row (`kind`:
/// `button_reply` or `list_reply`), or on a template's quick reply
/// (`button`).
fn tap(t: &TestTenant, from: &str, kind: &str, id: &str, title: &str) -> Value {
    let wamid = format!("wamid.{}", ombud_core::id::new_id_body());
    let message = if kind == "button" {
        json!({"from": from, "id": wamid, "timestamp": "1763856000", "type": "button",
               "context": {"from": "15550001111", "id": "wamid.OUT"},
               "button": {"payload": id, "text": title}})
    } else {
        json!({"from": from, "id": wamid, "timestamp": "1763856000", "type": "interactive",
               "context": {"from": "15550001111", "id": "wamid.OUT"},
               "interactive": {"type": kind, kind: {"id": id, "title": title}}})
    };
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111",
                     "phone_number_id": t.channel.whatsapp().unwrap().phone_number_id},
        "contacts": [{"profile": {"name": "Citizen"}, "wa_id": from}],
        "messages": [message],
    }))
}

async fn tapped(app: &TestApp, t: &TestTenant, graph: &FakeGraph, from: &str, tap: Value) {
    graph.citizen_wrote(from);
    let res = app.post_signed(t, &tap).await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_on_whatsapp_takes_a_tapped_rating_reopens_when_not_solved_and_asks_once_per_resolution(
) {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("csat", "CSAT", &graph).await;
    graph.enforce_window(app.clock.clone());
    let key = app
        .api_key(
            &t.tenant.id,
            &[
                Scope::ComplaintsRead,
                Scope::ComplaintsWrite,
                Scope::WebhooksManage,
            ],
        )
        .await;
    let receiver = Receiver::start();
    let (_, secret) = endpoint(
        &app,
        &key,
        json!({"url": receiver.url(), "event_types": ["complaint.rated"]}),
    )
    .await;
    receiver.control(json!({"secrets": [secret]})).await;
    let citizen = "919800000051";
    let number = crate::work::file_saying(
        &app,
        &t,
        &graph,
        citizen,
        [
            "There is a big pothole on the road outside the bus depot",
            "Swargate bus depot, Pune",
            "yes",
        ],
    )
    .await;

    // Resolved, reopened and resolved again within a few hours: one survey,
    // about the resolution that stands, a day after it.
    // (Each notice is delivered before the clock moves: a send in flight
    // when the clock jumps an hour would see its lease run out.)
    let filed = graph.delivered_to(citizen).len();
    set_status(&app, &key, &number, "resolved").await;
    graph.wait_for_reply_to(citizen, filed + 1).await;
    app.pass(chrono::Duration::hours(1)).await;
    set_status(&app, &key, &number, "in_progress").await;
    graph.wait_for_reply_to(citizen, filed + 2).await;
    app.pass(chrono::Duration::hours(1)).await;
    set_status(&app, &key, &number, "resolved").await;
    graph.wait_for_reply_to(citizen, filed + 3).await;
    // The citizen thanks the office 23 hours on: the window is open when
    // the survey falls due, so it goes as an interactive list.
    app.pass(chrono::Duration::hours(23)).await;
    let before = graph.delivered_to(citizen).len();
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "thank you").await;
    graph.wait_for_reply_to(citizen, before + 1).await;
    assert!(interactive_to(&graph, citizen).is_empty(), "not yet due");
    app.pass(chrono::Duration::minutes(61)).await;
    assert!(
        wait_until(Duration::from_secs(10), || async {
            !interactive_to(&graph, citizen).is_empty()
        })
        .await,
        "the survey was asked"
    );
    let asked = interactive_to(&graph, citizen);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].status, 200, "{asked:?}");
    assert!(asked[0].body.contains(&number), "{}", asked[0].body);
    let ids: Vec<&str> = asked[0].choices.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(ids, ["rate:5", "rate:4", "rate:3", "rate:2", "rate:1"]);
    assert_eq!(surveys(&app, &key, &number).await.len(), 1);
    // The job run again (a crash after its commit, before it was marked
    // done) finds the survey it made and sends nothing.
    let c = crate::work::complaint(&app, &t, &number).await;
    let resolved_at = app
        .store
        .complaint_events(&t.tenant.id, &c.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.to_value.as_deref() == Some("resolved"))
        .map(|e| e.created_at)
        .next_back()
        .unwrap();
    let again = app
        .engine
        .ops()
        .ask_survey(&t.tenant.id, &c.id, resolved_at)
        .await
        .unwrap();
    assert_eq!(
        again,
        ombud_store::Asked::Skipped("this resolution was asked about already".into())
    );
    assert_eq!(interactive_to(&graph, citizen).len(), 1);

    // A low rating asks whether it was solved, as two reply buttons.
    tapped(
        &app,
        &t,
        &graph,
        citizen,
        tap(&t, citizen, "list_reply", "rate:2", "2 ★ Poor"),
    )
    .await;
    assert!(
        wait_until(Duration::from_secs(5), || async {
            interactive_to(&graph, citizen).len() >= 2
        })
        .await
    );
    let solved = &interactive_to(&graph, citizen)[1];
    assert_eq!(solved.body, "We are sorry. Was your problem solved?");
    assert_eq!(
        solved.choices,
        [
            ("solved:yes".to_owned(), "Yes, solved".to_owned()),
            ("solved:no".to_owned(), "No, not solved".to_owned())
        ]
    );

    // "Not solved" reopens the complaint (the citizen's change) and says so.
    tapped(
        &app,
        &t,
        &graph,
        citizen,
        tap(&t, citizen, "button_reply", "solved:no", "No, not solved"),
    )
    .await;
    assert!(
        wait_until(Duration::from_secs(10), || async {
            status_of(&app, &t, &number).await == ComplaintStatus::InProgress
        })
        .await,
        "reopened"
    );
    let told = graph.wait_for_reply_to(citizen, before + 4).await;
    assert!(
        told.iter()
            .any(|m| m.starts_with(&format!("We have reopened complaint {number}"))),
        "{told:?}"
    );
    let rated = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(rated.len(), 1, "{rated:?}");
    // Signed like every event (webhooks.rs verifies them); the receiver's
    // freshness check is on the wall clock, a day behind the moved one here.
    assert!(rated[0]["signature"]
        .as_str()
        .is_some_and(|s| s.starts_with("v1,")));
    let data: Value = serde_json::from_str(rated[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(data["type"], "complaint.rated");
    assert_eq!(data["data"]["number"], number.as_str());
    assert_eq!(
        (
            &data["data"]["rating"],
            &data["data"]["solved"],
            &data["data"]["reopened"]
        ),
        (&json!(2), &json!(false), &json!(true))
    );

    // The comment ends it.
    let before_comment = graph.delivered_to(citizen).len();
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "The pothole was only half filled")
        .await;
    let told = graph.wait_for_reply_to(citizen, before_comment + 1).await;
    assert_eq!(told.last().unwrap(), "Thank you for your feedback.");
    let s = &surveys(&app, &key, &number).await[0];
    assert_eq!(
        (&s["rating"], &s["solved"], &s["reopened"], &s["stage"]),
        (&json!(2), &json!(false), &json!(true), &json!("done"))
    );
    assert_eq!(s["comment"], "The pothole was only half filled");
    let events = app
        .store
        .complaint_events(
            &t.tenant.id,
            &crate::work::complaint(&app, &t, &number).await.id,
        )
        .await
        .unwrap();
    let reopened = events.iter().find(|e| {
        e.action == "status_changed"
            && e.to_value.as_deref() == Some("in_progress")
            && e.actor.starts_with("contact:")
    });
    assert!(
        reopened.is_some(),
        "the reopening is the citizen's: {events:?}"
    );
    for action in [
        "survey_sent",
        "survey_rated",
        "survey_solved",
        "survey_comment",
    ] {
        assert!(
            events.iter().any(|e| e.action == action),
            "{action}: {events:?}"
        );
    }

    // Resolved again; a day later the window is closed, so the survey goes
    // as the approved template mapped to it, and its quick replies answer.
    set_status(&app, &key, &number, "resolved").await;
    graph.add_template(
        WABA,
        "complaint_survey",
        "en_US",
        "APPROVED",
        "How satisfied are you with how complaint {{1}} was handled?",
        None,
    );
    let admin = user(
        &app,
        "admin@csat.test",
        &[(&t.tenant.id, Role::Admin)],
        false,
    )
    .await;
    let staff = Staff::login(&app, admin.email.as_str()).await;
    let quick =
        |i: u8, n: u8| json!({"type": "quick_reply", "index": i, "payload": format!("rate:{n}")});
    let mapping = json!({"waba_id": WABA, "notices": {"survey": {
        "name": "complaint_survey", "languages": ["en_US"], "body": ["complaint_number"],
        "buttons": [quick(0, 5), quick(1, 3), quick(2, 1)]}}});
    map_and_sync(&staff, &t.channel.id, &mapping).await;
    app.pass(chrono::Duration::hours(25)).await;
    let template = || {
        graph
            .requests()
            .into_iter()
            .filter(|r| r.to == citizen && r.kind == "template")
            .collect::<Vec<_>>()
    };
    assert!(wait_until(Duration::from_secs(10), || async { !template().is_empty() }).await);
    let sent = template();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status, 200, "{sent:?}");
    assert_eq!(
        sent[0].body,
        format!("How satisfied are you with how complaint {number} was handled?")
    );
    // Writing about something else closes the survey unanswered; the agent
    // answers it.
    let before_else = graph.delivered_to(citizen).len();
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "The street light near the temple is broken")
        .await;
    let told = graph.wait_for_reply_to(citizen, before_else + 1).await;
    assert!(told.last().unwrap().contains("Where is this?"), "{told:?}");
    let latest = &surveys(&app, &key, &number).await[0];
    assert_eq!(
        (&latest["stage"], &latest["rating"]),
        (&json!("done"), &Value::Null)
    );
    // A late tap on the template's quick reply is thanked, and leaves the
    // agent's dialogue where it was.
    tapped(
        &app,
        &t,
        &graph,
        citizen,
        tap(&t, citizen, "button", "rate:5", "Very good"),
    )
    .await;
    let told = graph.wait_for_reply_to(citizen, before_else + 2).await;
    assert_eq!(
        told.last().unwrap(),
        "Thank you, we already have your answer."
    );
    let before_place = told.len();
    app.say(&t, citizen, "Near Kasba Ganpati temple").await;
    let told = graph.wait_for_reply_to(citizen, before_place + 1).await;
    assert!(
        told.last().unwrap().contains("Reply YES to register"),
        "{told:?}"
    );
    // The intake agent's confirmation has its own reply buttons.
    let confirm = graph.requests().pop().unwrap();
    assert_eq!(confirm.kind, "interactive");
    assert_eq!(
        confirm.choices[0],
        ("intake:yes".to_owned(), "Yes".to_owned())
    );
    tapped(
        &app,
        &t,
        &graph,
        citizen,
        tap(&t, citizen, "button_reply", "intake:yes", "Yes"),
    )
    .await;
    let told = graph.wait_for_reply_to(citizen, before_place + 2).await;
    let second = number_in(told.last().unwrap()).expect("a second complaint");
    assert_ne!(second, number);

    // CSAT: the one rating was 2.
    let csat: Value = app
        .api(Method::GET, "/csat?days=30", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&csat["ratings"], &csat["csat"], &csat["average"]),
        (&json!(1), &json!(0.0), &json!(2.0)),
        "{csat}"
    );
    assert_eq!(csat["by_month"].as_array().unwrap().len(), 1, "{csat}");
    let res = app
        .api(Method::GET, "/csat?days=0", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    // A day has passed on the server's clock since the admin signed in.
    let staff = Staff::login(&app, admin.email.as_str()).await;
    let overview = staff.get("/app/overview").await.text().await.unwrap();
    assert!(
        overview.contains("0% satisfied (average 2.0 of 5, 1 rating)"),
        "{overview}"
    );
    let page = staff.page(&format!("/app/complaints/{number}")).await;
    assert!(
        page.contains("Citizen&#x27;s rating") || page.contains("Citizen's rating"),
        "{page}"
    );
    assert!(page.contains("rated it 2/5"), "{page}");

    // Nothing more is asked: each resolution had its survey.
    app.pass(chrono::Duration::days(3)).await;
    surveys_settled(&app, &t, &number).await;
    assert_eq!(surveys(&app, &key, &number).await.len(), 2);
    let questions = interactive_to(&graph, citizen)
        .into_iter()
        .filter(|r| r.choices.len() == 5)
        .count();
    assert_eq!(questions, 1, "one list, one template");
    assert_eq!(template().len(), 1);
}
