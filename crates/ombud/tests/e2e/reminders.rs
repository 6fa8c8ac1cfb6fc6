//! Reminders (issue 23's `reminder` notice): staff put a complaint on hold
//! while they wait for the citizen's answer; when the citizen has not
//! written for the tenant's hours since, they are reminded once, in their
//! language: as text inside WhatsApp's window, as the template mapped to the
//! `reminder` notice outside it, and not at all (the timeline says why)
//! when no approved template fits. A citizen who answered is not reminded.
//! The fake Graph API refuses free-form text outside the window (131047)
//! and checks template sends against the templates it holds.

use ombud_core::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::audit::session_api;
use crate::helpers::*;
use crate::staff::*;
use crate::templates::{map_and_sync, set_status, template_sends, timeline};

const WABA: &str = "102030405062";

/// Waits until the reminder job of the complaint's latest hold has run
/// (reminded, or decided not to); what it left is final then.
async fn reminder_settled(app: &TestApp, t: &TestTenant, number: &str) {
    let (c, held_at) = latest_hold(app, t, number).await;
    let key = ombud_core::reminder::job_key(&c, held_at);
    assert!(job_done(app, &key).await, "the reminder job {key} ran");
}

/// The complaint and when it was last put on hold.
async fn latest_hold(app: &TestApp, t: &TestTenant, number: &str) -> (ComplaintId, DateTimeUtc) {
    let c = crate::work::complaint(app, t, number).await;
    let held_at = app
        .store
        .complaint_events(&t.tenant.id, &c.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "status_changed" && e.to_value.as_deref() == Some("on_hold"))
        .map(|e| e.created_at)
        .next_back()
        .expect("put on hold");
    (c.id, held_at)
}

/// The latest hold's reminder asked for again, as a job run again after a
/// crash would: what it answers.
async fn remind_again(app: &TestApp, t: &TestTenant, number: &str) -> ombud_store::Reminded {
    let (c, held_at) = latest_hold(app, t, number).await;
    let ops = app.engine.ops();
    ops.remind_citizen(&t.tenant.id, &c, held_at).await.unwrap()
}

type DateTimeUtc = chrono::DateTime<chrono::Utc>;

/// Moves a complaint through the API and waits until its citizen's notice
/// is dealt with: delivered, or on the timeline as not sendable (a send in
/// flight when the clock jumps would see its lease run out).
async fn moved(
    app: &TestApp,
    (t, graph, key): (&TestTenant, &FakeGraph, &str),
    number: &str,
    citizen: &str,
    status: &str,
) {
    let before = graph.delivered_to(citizen).len();
    set_status(app, key, number, status).await;
    let last = timeline(app, t, number).await.pop().unwrap();
    if last.0 != "notify_failed" {
        let told = graph.wait_for_reply_to(citizen, before + 1).await;
        assert_eq!(told.len(), before + 1, "the {status} notice was delivered");
    }
}

/// Whether the complaint's timeline has a line of `action`.
async fn has_line(app: &TestApp, t: &TestTenant, number: &str, action: &str) -> bool {
    timeline(app, t, number).await.iter().any(|l| l.0 == action)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_silent_on_hold_is_reminded_once_as_text_or_template_and_one_who_answered_is_not()
{
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("remind", "RMD", &graph).await;
    graph.enforce_window(app.clock.clone());
    let key = app
        .api_key(
            &t.tenant.id,
            &[Scope::ComplaintsRead, Scope::ComplaintsWrite],
        )
        .await;
    let admin = user(
        &app,
        "admin@remind.test",
        &[(&t.tenant.id, Role::Admin)],
        false,
    )
    .await;
    let staff = Staff::login(&app, admin.email.as_str()).await;

    // Off until an office turns them on; the wait is checked.
    let res = app
        .api(Method::GET, "/settings/reminder", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let read: serde_json::Value = res.json().await.unwrap();
    assert_eq!(read, json!({"enabled": false, "after_hours": 24}));
    let set = |body: serde_json::Value| {
        let staff = &staff;
        async move {
            session_api(staff, Method::PUT, "/settings/reminder")
                .await
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = set(json!({"enabled": true, "after_hours": 0})).await;
    assert_eq!(res.status(), 422);
    let e: serde_json::Value = res.json().await.unwrap();
    assert!(e.to_string().contains("after_hours"), "{e}");
    let res = app
        .api(Method::PUT, "/settings/reminder", &key)
        .json(&json!({"enabled": true, "after_hours": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "an API key does not change settings");
    // The dashboard's form sets it too.
    let res = staff
        .submit(
            "/app/settings/reminder",
            &[("enabled", "on"), ("after_hours", "2")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let settings = app.engine.ops().reminder_settings(&t.tenant.id).await;
    assert_eq!(
        settings.unwrap(),
        ombud_core::reminder::ReminderSettings {
            enabled: true,
            after_hours: 2
        }
    );
    let page = staff.get("/app/settings").await.text().await.unwrap();
    assert!(page.contains("id=\"reminder\"") && page.contains("value=\"2\""));

    // Two citizens file; both complaints go on hold while the office waits.
    let on = (&t, &graph, key.as_str());
    let silent = "919800000061";
    let answers = "919800000062";
    let quiet = crate::work::file_saying(
        &app,
        &t,
        &graph,
        silent,
        [
            "The street light near the school is broken",
            "Near Shivaji school, Kothrud",
            "yes",
        ],
    )
    .await;
    let answered = crate::work::file_saying(
        &app,
        &t,
        &graph,
        answers,
        [
            "हमारी गली में पानी की पाइप टूट गई है और पानी बह रहा है",
            "शिवाजी स्कूल के पास, कोथरूड",
            "हाँ",
        ],
    )
    .await;
    moved(&app, on, &quiet, silent, "on_hold").await;
    moved(&app, on, &answered, answers, "on_hold").await;

    // An hour on, the second citizen writes back; nothing is due yet.
    app.pass(chrono::Duration::hours(1)).await;
    let before = graph.delivered_to(answers).len();
    graph.citizen_wrote(answers);
    app.say(&t, answers, "मैंने फोटो भेज दी है").await;
    graph.wait_for_reply_to(answers, before + 1).await;
    let reminded = |to: &str, words: &str| graph.delivered_to(to).iter().any(|b| b.contains(words));
    assert!(!reminded(silent, "A reminder about your complaint"));

    // Two hours after the hold (inside the window), the silent citizen is
    // reminded by text; the one who answered is not.
    let told = graph.delivered_to(silent).len();
    app.pass(chrono::Duration::minutes(61)).await;
    let texts = graph.wait_for_reply_to(silent, told + 1).await;
    assert_eq!(
        texts.last().unwrap(),
        &format!("A reminder about your complaint {quiet}: we are waiting for your answer to our last message before we can go on. Please reply here."),
    );
    reminder_settled(&app, &t, &quiet).await;
    reminder_settled(&app, &t, &answered).await;
    assert!(!reminded(answers, "याद दिला"), "the citizen had answered");
    assert!(has_line(&app, &t, &quiet, "reminder_sent").await);
    assert!(!has_line(&app, &t, &answered, "reminder_sent").await);
    assert_eq!(
        remind_again(&app, &t, &answered).await,
        ombud_store::Reminded::Skipped("the citizen has written since".into())
    );
    // The job run again (a crash after its commit) sends nothing more.
    assert_eq!(
        remind_again(&app, &t, &quiet).await,
        ombud_store::Reminded::Skipped("reminded already".into())
    );
    let sent = |to: &str| {
        graph
            .delivered_to(to)
            .iter()
            .filter(|b| b.starts_with("A reminder") || b.contains("याद दिला"))
            .count()
    };
    assert_eq!(sent(silent), 1);
    let page = staff
        .get(&format!("/app/complaints/{quiet}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("reminded the citizen that their answer is awaited"));

    // A wait past WhatsApp's window: put on hold again, the Hindi citizen
    // goes silent. With no template mapped, nothing is sent and the
    // timeline says why.
    let res = set(json!({"enabled": true, "after_hours": 25})).await;
    assert_eq!(res.status(), 200);
    moved(&app, on, &answered, answers, "in_progress").await;
    moved(&app, on, &answered, answers, "on_hold").await;
    app.pass(chrono::Duration::hours(25)).await;
    reminder_settled(&app, &t, &answered).await;
    let why = "could not notify: no approved template for reminder in hi: no template is mapped to this notice";
    let lines = timeline(&app, &t, &answered).await;
    assert!(
        lines.iter().any(|l| l.0 == "notify_failed" && l.1 == why),
        "{lines:?}"
    );
    assert!(!has_line(&app, &t, &answered, "reminder_sent").await);
    assert_eq!(sent(answers), 0);

    // The admin maps an approved template; the next hold's reminder goes
    // as that template, in Hindi, with the complaint's number.
    for (language, text) in [
        (
            "en_US",
            "Complaint {{1}}: we are waiting for your answer. Please reply here.",
        ),
        (
            "hi",
            "शिकायत {{1}}: हमें आपके उत्तर की प्रतीक्षा है। कृपया यहीं उत्तर दें।",
        ),
    ] {
        graph.add_template(WABA, "complaint_reminder", language, "APPROVED", text, None);
    }
    let mapping = json!({"waba_id": WABA, "notices": {"reminder": {
        "name": "complaint_reminder", "languages": ["en_US", "hi"], "body": ["complaint_number"]}}});
    // A day on, the session has lapsed: the admin signs in again.
    let staff = Staff::login(&app, admin.email.as_str()).await;
    map_and_sync(&staff, &t.channel.id, &mapping).await;
    moved(&app, on, &answered, answers, "in_progress").await;
    moved(&app, on, &answered, answers, "on_hold").await;
    app.pass(chrono::Duration::hours(25)).await;
    let sends = template_sends(&graph, answers, 1).await;
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(
        sends[0].template,
        Some(("complaint_reminder".into(), "hi".into()))
    );
    assert_eq!(sends[0].status, 200, "{:?}", sends[0]);
    assert_eq!(
        sends[0].body,
        format!("शिकायत {answered}: हमें आपके उत्तर की प्रतीक्षा है। कृपया यहीं उत्तर दें।")
    );
    reminder_settled(&app, &t, &answered).await;
    assert!(has_line(&app, &t, &answered, "reminder_sent").await);
    // No free-form text was ever refused for the window.
    assert!(
        graph
            .requests()
            .iter()
            .all(|r| r.error_code != Some(131047)),
        "{:?}",
        graph.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_left_off_send_nothing_and_a_moved_on_hold_has_none() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("remoff", "RMO", &graph).await;
    let key = app
        .api_key(
            &t.tenant.id,
            &[Scope::ComplaintsRead, Scope::ComplaintsWrite],
        )
        .await;
    let citizen = "919800000063";
    let number = crate::work::street_light(&app, &t, &graph, citizen).await;
    let on = (&t, &graph, key.as_str());
    // Off (the default): a hold makes no reminder job at all.
    moved(&app, on, &number, citizen, "on_hold").await;
    let (c, held_at) = latest_hold(&app, &t, &number).await;
    let job = app
        .store
        .job(&ombud_core::reminder::job_key(&c, held_at))
        .await;
    assert!(job.unwrap().is_none());

    // On, then the complaint moves on before the reminder is due: none.
    let acting = ombud_engine::Acting::system();
    let settings = ombud_core::reminder::ReminderSettings {
        enabled: true,
        after_hours: 3,
    };
    let ops = app.engine.ops();
    ops.set_reminder_settings(&acting, &t.tenant.id, settings)
        .await
        .unwrap();
    moved(&app, on, &number, citizen, "in_progress").await;
    moved(&app, on, &number, citizen, "on_hold").await;
    app.pass(chrono::Duration::hours(1)).await;
    moved(&app, on, &number, citizen, "in_progress").await;
    app.pass(chrono::Duration::hours(3)).await;
    reminder_settled(&app, &t, &number).await;
    assert!(!graph
        .delivered_to(citizen)
        .iter()
        .any(|b| b.starts_with("A reminder")));
    assert_eq!(
        remind_again(&app, &t, &number).await,
        ombud_store::Reminded::Skipped("no longer on hold (now in_progress)".into())
    );
}
