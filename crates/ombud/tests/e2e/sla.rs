//! Service levels (issue 25, part 1): deadlines counted in the office's
//! hours, warnings and breaches firing when the moved clock reaches them and
//! not before, an escalation on breach that tells the citizen once, and a
//! clock that stands still while a complaint is on hold.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone as _, Utc};
use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::audit::session_api;
use crate::helpers::*;
use crate::mail::{mail_to, wait_for_mail, with_smtp};
use crate::staff::*;
use crate::templates::set_status;
use crate::webhooks::{endpoint, Receiver};

/// The test tenants' zone.
const INDIA: &str = "Asia/Kolkata";

/// A local time in `zone` (`2026-12-11 16:30`) as an instant.
pub(crate) fn instant(zone: &str, s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    TimeZoneName::parse(zone)
        .unwrap()
        .tz()
        .from_local_datetime(&naive)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// An instant (as JSON) read in `zone`, in `format`.
pub(crate) fn local_in(zone: &str, at: &Value, format: &str) -> String {
    let at: DateTime<Utc> = serde_json::from_value(at.clone()).unwrap();
    at.with_timezone(&TimeZoneName::parse(zone).unwrap().tz())
        .format(format)
        .to_string()
}

/// Moves the clock to a second after `s` in `zone` (the test clock moves in
/// whole milliseconds: aiming at `s` itself can land a fraction before it).
pub(crate) fn go_to_in(app: &TestApp, zone: &str, s: &str) {
    app.clock
        .advance(instant(zone, s) + chrono::Duration::seconds(1) - app.engine.now());
}

/// An instant read in India, to the minute.
fn local(at: &Value) -> String {
    local_in(INDIA, at, "%Y-%m-%d %H:%M")
}

fn go_to(app: &TestApp, s: &str) {
    go_to_in(app, INDIA, s)
}

/// Files a complaint through the API (`body`: its JSON); the complaint made.
pub(crate) async fn file_by_api(app: &TestApp, key: &str, body: Value) -> Value {
    let res = app
        .api(Method::POST, "/complaints", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

pub(crate) async fn complaint_json(app: &TestApp, key: &str, number: &str) -> Value {
    let res = app
        .api(Method::GET, &format!("/complaints/{number}"), key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Waits for the minutely service-level sweep to have run since the clock
/// last moved (its next run is after now).
pub(crate) async fn swept(app: &TestApp) {
    let ran = wait_until(Duration::from_secs(15), || async {
        let now = app.engine.now();
        app.store
            .job(ombud_core::sla::SWEEP_JOB)
            .await
            .unwrap()
            .is_some_and(|j| j.state == ombud_store::JobState::Due && j.due_at > now)
    })
    .await;
    assert!(ran, "the sweep ran at {}", app.engine.now());
}

/// The events the receiver got, as (type, target).
async fn told(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .log()
        .await
        .iter()
        .map(|d| {
            let body: Value = serde_json::from_str(d["body"].as_str().unwrap()).unwrap();
            (
                body["type"].as_str().unwrap().to_owned(),
                body["data"]["target"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

async fn wait_told(receiver: &Receiver, n: usize) -> Vec<(String, String)> {
    receiver.wait_for(n, Duration::from_secs(15)).await;
    told(receiver).await
}

pub(crate) async fn wait_status(app: &TestApp, key: &str, number: &str, status: &str) -> Value {
    let reached = wait_until(Duration::from_secs(15), || async {
        complaint_json(app, key, number).await["status"] == status
    })
    .await;
    let last = complaint_json(app, key, number).await;
    assert!(reached, "{number} never became {status}: {last}");
    last
}

async fn sla_receiver(app: &TestApp, key: &str) -> Receiver {
    let receiver = Receiver::start();
    endpoint(
        app,
        key,
        json!({"url": receiver.url(),
               "event_types": ["complaint.sla_warning", "complaint.sla_breached"]}),
    )
    .await;
    // The receiver's freshness check reads the wall clock, days behind the
    // moved one: it takes every delivery (webhooks.rs checks signatures).
    receiver.control(json!({"status": 204})).await;
    receiver
}

pub(crate) async fn put_settings(admin: &Staff<'_>, path: &str, body: Value) -> (u16, Value) {
    let res = session_api(admin, Method::PUT, path)
        .await
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friday_half_past_four_breaches_monday_half_past_nine_and_on_hold_stops_the_clock() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(with_smtp, None).await;
    let t = app.tenant("sla", "SLA", &graph).await;
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
    // Addresses of this run only: the maildir outlives it.
    let run = ombud_core::id::new_id_body().to_lowercase();
    let (lead_mail, admin_mail) = (
        format!("sla-lead-{run}@pune.gov.in"),
        format!("sla-admin-{run}@pune.gov.in"),
    );
    let lead = member(&app, &lead_mail, &t.tenant.id, Role::Staff).await;
    member(&app, &admin_mail, &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, &admin_mail).await;
    let policy = json!({"enabled": true, "policies": [{
        "name": "Answer within the hour",
        "first_response_minutes": 60,
        "resolution_minutes": 960,
        "business_hours": true,
        "warn_before_minutes": 15,
        "escalate_to": lead.id,
    }]});
    let (status, saved) = put_settings(&admin, "/settings/sla", policy.clone()).await;
    assert_eq!(status, 200, "{saved}");
    let receiver = sla_receiver(&app, &key).await;

    // Friday 2026-12-11, 16:30 in India; the office keeps 09:00–17:00 on
    // weekdays (the default calendar).
    go_to(&app, "2026-12-11 16:30");
    let citizen = "919800000061";
    let number = crate::work::file_saying(
        &app,
        &t,
        &graph,
        citizen,
        [
            "The street light near Shivaji school has not worked for a week",
            "Shivaji school, MG Road, Pune",
            "yes",
        ],
    )
    .await;
    let c = complaint_json(&app, &key, &number).await;
    let sla = &c["sla"];
    assert_eq!(sla["policy"], "Answer within the hour", "{c}");
    assert_eq!(sla["state"], "on_track");
    assert_eq!(local(&sla["first_response"]["due_at"]), "2026-12-14 09:30");
    assert_eq!(local(&sla["first_response"]["warn_at"]), "2026-12-14 09:15");
    // Two business days: half an hour on Friday, Monday, and Tuesday to 16:30.
    assert_eq!(local(&sla["resolution"]["due_at"]), "2026-12-15 16:30");

    // Monday 09:14: the sweep finds nothing yet. 09:16: the warning, once.
    go_to(&app, "2026-12-14 09:14");
    swept(&app).await;
    assert!(told(&receiver).await.is_empty());
    assert_eq!(
        complaint_json(&app, &key, &number).await["sla"]["state"],
        "on_track"
    );
    go_to(&app, "2026-12-14 09:16");
    let events = wait_told(&receiver, 1).await;
    assert_eq!(
        events,
        [("complaint.sla_warning".into(), "first_response".into())]
    );
    let c = complaint_json(&app, &key, &number).await;
    assert_eq!(c["sla"]["state"], "due_soon");
    assert_eq!(c["status"], "new");
    // Nobody has it yet: the admins are mailed.
    let mails = wait_for_mail(&admin_mail, 1).await;
    assert!(
        mails[0]
            .subject
            .ends_with("first response due 14 Dec 2026, 09:30 (Asia/Kolkata)"),
        "{mails:?}"
    );
    assert!(mails[0].body.contains(&number), "{}", mails[0].body);

    // 09:31: the breach. Escalated, a step up in priority, handed to the
    // policy's owner, and the citizen told once.
    // The citizen asks after it at 09:20, so WhatsApp's window is open for
    // the escalation's notice.
    go_to(&app, "2026-12-14 09:20");
    let asked = graph.delivered_to(citizen).len();
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, &format!("What is the status of {number}?"))
        .await;
    graph.wait_for_reply_to(citizen, asked + 1).await;
    let before = asked + 1;
    go_to(&app, "2026-12-14 09:31");
    let events = wait_told(&receiver, 2).await;
    assert_eq!(
        events[1],
        ("complaint.sla_breached".into(), "first_response".into())
    );
    let c = wait_status(&app, &key, &number, "escalated").await;
    assert_eq!(c["priority"], "high", "{c}");
    assert_eq!(c["assignee_id"], lead.id.to_string());
    assert_eq!(c["sla"]["state"], "breached");
    assert_eq!(
        local(&c["sla"]["first_response"]["breached_at"]),
        "2026-12-14 09:31"
    );
    graph.wait_for_reply_to(citizen, before + 1).await;
    let sent = graph.delivered_to(citizen);
    assert_eq!(sent.len(), before + 1, "told once: {:?}", &sent[before..]);
    // The owner it was handed to is mailed.
    let mails = wait_for_mail(&lead_mail, 1).await;
    assert!(
        mails[0]
            .subject
            .ends_with("first response deadline missed, escalated"),
        "{mails:?}"
    );
    let lines = crate::templates::timeline(&app, &t, &number).await;
    let breached: Vec<_> = lines.iter().filter(|(a, _)| a == "sla_breached").collect();
    assert_eq!(breached.len(), 1, "{lines:?}");

    // On hold at 10:00 with 14.5 business hours of the resolution left;
    // back on Wednesday 10:00: due Thursday 16:30, and Tuesday's deadline
    // passed unnoticed meanwhile.
    go_to(&app, "2026-12-14 10:00");
    set_status(&app, &key, &number, "on_hold").await;
    graph.wait_for_reply_to(citizen, before + 2).await;
    let held = complaint_json(&app, &key, &number).await;
    assert_eq!(local(&held["sla"]["paused_at"]), "2026-12-14 10:00");
    go_to(&app, "2026-12-16 10:00");
    swept(&app).await;
    assert_eq!(told(&receiver).await.len(), 2, "nothing while on hold");
    // The window closed on Tuesday: this notice and the next breach's
    // cannot go as text and no template is mapped, so the timeline says so.
    set_status(&app, &key, &number, "in_progress").await;
    let back = complaint_json(&app, &key, &number).await;
    assert!(back["sla"]["paused_at"].is_null(), "{back}");
    assert_eq!(
        local(&back["sla"]["resolution"]["due_at"]),
        "2026-12-17 16:30"
    );
    assert_eq!(
        local(&back["sla"]["resolution"]["warn_at"]),
        "2026-12-17 16:15"
    );

    // The warning at 16:16, the breach at 16:31 (a warning whose deadline
    // has passed by the time it runs stands down: the breach says more).
    go_to(&app, "2026-12-17 16:16");
    let events = wait_told(&receiver, 3).await;
    assert_eq!(
        events[2],
        ("complaint.sla_warning".into(), "resolution".into())
    );
    go_to(&app, "2026-12-17 16:31");
    let events = wait_told(&receiver, 4).await;
    assert_eq!(
        events[3],
        ("complaint.sla_breached".into(), "resolution".into())
    );
    let c = wait_status(&app, &key, &number, "escalated").await;
    assert_eq!(c["priority"], "urgent");
    let lines = crate::templates::timeline(&app, &t, &number).await;
    let unsent = lines.iter().filter(|(a, _)| a == "notify_failed").count();
    assert_eq!(unsent, 2, "{lines:?}");
    assert_eq!(graph.delivered_to(citizen).len(), before + 2);
    // Each warning and breach mailed once: the lead had three, the admins one.
    wait_for_mail(&lead_mail, 3).await;
    app.stop().await;
    assert_eq!(mail_to(&lead_mail).len(), 3);
    assert_eq!(mail_to(&admin_mail).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_shift_and_a_holiday_put_the_deadline_on_monday_afternoon() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("shifts", "SHIFT", &graph).await;
    let key = app
        .api_key(
            &t.tenant.id,
            &[Scope::ComplaintsRead, Scope::ComplaintsWrite],
        )
        .await;
    member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    member(&app, "staff@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let admin = Staff::login(&app, "admin@pune.gov.in").await;
    let split = json!([["09:00", "13:00"], ["14:00", "18:00"]]);
    let calendar = json!({
        "hours": {"mon": split, "tue": split, "wed": split, "thu": split, "fri": split},
        "holidays": ["2026-12-11"],
    });
    let (status, saved) = put_settings(&admin, "/settings/calendar", calendar.clone()).await;
    assert_eq!((status, &saved), (200, &calendar));
    let policy = json!({"enabled": true, "policies": [{
        "name": "Five office hours", "first_response_minutes": 300, "business_hours": true,
    }]});
    assert_eq!(put_settings(&admin, "/settings/sla", policy).await.0, 200);

    // Bad settings are refused, naming the field; a member who is no admin
    // may not set them.
    let bad = [
        (
            "/settings/calendar",
            json!({"hours": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}),
            "hours.mon",
        ),
        (
            "/settings/calendar",
            json!({"hours": {"mon": [["9", "17:00"]]}}),
            "hours.mon[0]",
        ),
        (
            "/settings/sla",
            json!({"enabled": true, "policies": [{"name": "x", "resolution_minutes": 60, "warn_before_minutes": 60}]}),
            "policies[0].warn_before_minutes",
        ),
        (
            "/settings/sla",
            json!({"enabled": true, "policies": [{"name": "x", "resolution_minutes": 60, "escalate_to": UserId::new()}]}),
            "policies[0].escalate_to",
        ),
    ];
    for (path, body, field) in bad {
        let (status, e) = put_settings(&admin, path, body).await;
        assert_eq!(status, 422, "{path}: {e}");
        assert_eq!(e["error"]["fields"][0]["field"], field, "{e}");
    }
    let staff = Staff::login(&app, "staff@pune.gov.in").await;
    let (status, _) = put_settings(&staff, "/settings/calendar", calendar).await;
    assert_eq!(status, 403);

    // Thursday 17:30: half an hour that day, Friday a holiday, Monday's
    // morning (4 hours), then 30 minutes after lunch: Monday 14:30.
    go_to(&app, "2026-12-10 17:30");
    let c = file_by_api(
        &app,
        &key,
        json!({"description": "Water supply has been cut for two days"}),
    )
    .await;
    let number = c["number"].as_str().unwrap().to_owned();
    assert_eq!(
        local(&c["sla"]["first_response"]["due_at"]),
        "2026-12-14 14:30",
        "{c}"
    );
    assert!(c["sla"]["resolution"].is_null());

    go_to(&app, "2026-12-14 14:29");
    swept(&app).await;
    let listed = |filter: &'static str| {
        let (app, key) = (&app, &key);
        async move {
            let res = app
                .api(Method::GET, &format!("/complaints?sla={filter}"), key)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body)
        }
    };
    assert_eq!(listed("breached").await.1["data"], json!([]));
    go_to(&app, "2026-12-14 14:31");
    let c = wait_status(&app, &key, &number, "escalated").await;
    assert_eq!(c["sla"]["state"], "breached");
    assert_eq!(
        local(&c["sla"]["first_response"]["breached_at"]),
        "2026-12-14 14:31"
    );
    let (_, breached) = listed("breached").await;
    assert_eq!(breached["data"][0]["number"], number.as_str(), "{breached}");
    assert_eq!(listed("on_track").await.1["data"], json!([]));
    let (status, e) = listed("late").await;
    assert_eq!(
        (status, &e["error"]["fields"][0]["field"]),
        (422, &json!("sla")),
        "{e}"
    );

    // The overview counts it: no first response in time, one miss that week.
    let admin = Staff::login(&app, "admin@pune.gov.in").await;
    let page = admin.get("/app/overview").await.text().await.unwrap();
    assert!(
        page.contains("First response in time: <strong>0% of 1</strong>"),
        "{page}"
    );
    assert!(page.contains("week of 14 Dec"), "{page}");
    app.stop().await;
}
