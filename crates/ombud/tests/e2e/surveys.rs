//! The satisfaction survey (issue 23, part 2): a day after a resolution the
//! citizen is asked, with native reply buttons (a WhatsApp list inside the
//! window, an approved template's quick replies outside it, a Telegram
//! inline keyboard); a low rating with "not solved" reopens the complaint;
//! each resolution is asked about once, and one undone before its survey
//! falls due is not asked about at all. The fake Graph API checks every
//! interactive message as Meta does and refuses free-form messages outside
//! the window; `complaint.rated` reaches a webhook receiver.

use std::time::Duration;

use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::audit::session_api;
use crate::fake_telegram::FakeTelegram;
use crate::helpers::*;
use crate::staff::*;
use crate::webhooks::{endpoint, Receiver};

const WABA: &str = "102030405061";

async fn set_status(app: &TestApp, key: &str, number: &str, status: &str) {
    let res = app
        .api(Method::PATCH, &format!("/complaints/{number}"), key)
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

async fn status_of(app: &TestApp, t: &TestTenant, number: &str) -> ComplaintStatus {
    crate::work::complaint(app, t, number).await.status
}

async fn surveys(app: &TestApp, key: &str, number: &str) -> Vec<Value> {
    let res = app
        .api(Method::GET, &format!("/complaints/{number}/surveys"), key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Waits until the survey job of every resolution of the complaint has run
/// (asked, or decided not to): what a test looks at afterwards is final.
async fn surveys_settled(app: &TestApp, t: &TestTenant, number: &str) {
    let c = crate::work::complaint(app, t, number).await;
    let events = app
        .store
        .complaint_events(&t.tenant.id, &c.id)
        .await
        .unwrap();
    let keys: Vec<String> = events
        .iter()
        .filter(|e| e.action == "status_changed" && e.to_value.as_deref() == Some("resolved"))
        .map(|e| ombud_core::survey::job_key(&c.id, e.created_at))
        .collect();
    assert!(!keys.is_empty());
    for key in keys {
        let done = wait_until(Duration::from_secs(10), || async {
            app.store
                .job(&key)
                .await
                .unwrap()
                .is_some_and(|j| j.state == ombud_store::JobState::Done)
        })
        .await;
        assert!(done, "the survey job {key} ran");
    }
}

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
    app.clock.advance(chrono::Duration::hours(1));
    set_status(&app, &key, &number, "in_progress").await;
    graph.wait_for_reply_to(citizen, filed + 2).await;
    app.clock.advance(chrono::Duration::hours(1));
    set_status(&app, &key, &number, "resolved").await;
    graph.wait_for_reply_to(citizen, filed + 3).await;
    // The citizen thanks the office 23 hours on: the window is open when
    // the survey falls due, so it goes as an interactive list.
    app.clock.advance(chrono::Duration::hours(23));
    let before = graph.delivered_to(citizen).len();
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "thank you").await;
    graph.wait_for_reply_to(citizen, before + 1).await;
    assert!(interactive_to(&graph, citizen).is_empty(), "not yet due");
    app.clock.advance(chrono::Duration::minutes(61));
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
    let path = format!("/channels/{}/templates", t.channel.id);
    let quick =
        |i: u8, n: u8| json!({"type": "quick_reply", "index": i, "payload": format!("rate:{n}")});
    let mapping = json!({"waba_id": WABA, "notices": {"survey": {
        "name": "complaint_survey", "languages": ["en_US"], "body": ["complaint_number"],
        "buttons": [quick(0, 5), quick(1, 3), quick(2, 1)]}}});
    let res = session_api(&staff, Method::PUT, &path)
        .await
        .json(&mapping)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let res = session_api(&staff, Method::POST, &format!("{path}/sync"))
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.clock.advance(chrono::Duration::hours(25));
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
    let page = staff
        .get(&format!("/app/complaints/{number}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Citizen&#x27;s rating") || page.contains("Citizen's rating"),
        "{page}"
    );
    assert!(page.contains("rated it 2/5"), "{page}");

    // Nothing more is asked: each resolution had its survey.
    app.clock.advance(chrono::Duration::days(3));
    surveys_settled(&app, &t, &number).await;
    assert_eq!(surveys(&app, &key, &number).await.len(), 2);
    let questions = interactive_to(&graph, citizen)
        .into_iter()
        .filter(|r| r.choices.len() == 5)
        .count();
    assert_eq!(questions, 1, "one list, one template");
    assert_eq!(template().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_on_telegram_is_an_inline_keyboard_and_the_settings_say_when_and_how_often() {
    const BOT_TOKEN: &str = "654321:ABCdefGHIjklMNOpqrSTUvwxYZ012345";
    const SECRET: &str = "tg-secret_token-csat";
    let graph = FakeGraph::start().await;
    let tg = FakeTelegram::start(BOT_TOKEN).await;
    let app = TestApp::spawn().await;
    let t = app.tenant("tgcsat", "TGC", &graph).await;
    let (_, channel) = ombud_engine::provision::add_channel(
        app.store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        app.engine.outbound().providers(),
        &t.tenant.slug,
        "Telegram".into(),
        ChannelConfig::Telegram(TelegramConfig {
            bot_token: Secret::new(BOT_TOKEN),
            secret_token: Secret::new(SECRET),
            api_url: tg.url(),
        }),
    )
    .await
    .unwrap();
    let key = app
        .api_key(
            &t.tenant.id,
            &[Scope::ComplaintsRead, Scope::ComplaintsWrite],
        )
        .await;
    let chat = "777051";
    let post = |update: Value| {
        app.http
            .post(app.url(&channel.webhook_path()))
            .header("x-telegram-bot-api-secret-token", SECRET)
            .json(&update)
            .send()
    };
    let say = |id: i64, text: &str| {
        json!({"update_id": 7000 + id, "message": {"message_id": id, "date": 1764633600,
            "chat": {"id": 777051, "type": "private"},
            "from": {"id": 777051, "is_bot": false, "first_name": "Ravi"}, "text": text}})
    };

    // An admin asks after 2 hours, once per complaint; a bad value is named.
    let admin = user(
        &app,
        "admin@tgcsat.test",
        &[(&t.tenant.id, Role::Admin)],
        false,
    )
    .await;
    let staff = Staff::login(&app, admin.email.as_str()).await;
    let res = session_api(&staff, Method::PUT, "/settings/survey")
        .await
        .json(&json!({"enabled": true, "delay_hours": 0, "repeat": "once_per_complaint"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"]["fields"][0]["field"], "delay_hours", "{e}");
    let res = session_api(&staff, Method::PUT, "/settings/survey")
        .await
        .json(&json!({"enabled": true, "delay_hours": 2, "repeat": "once_per_complaint"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let res = app
        .api(Method::PUT, "/settings/survey", &key)
        .json(&json!({"enabled": false, "delay_hours": 2, "repeat": "once_per_complaint"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "an API key does not change settings");
    let got: Value = app
        .api(Method::GET, "/settings/survey", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"enabled": true, "delay_hours": 2, "repeat": "once_per_complaint"})
    );

    for (i, text) in [
        "The garbage has not been collected for a week",
        "Lane 5, Kothrud",
        "yes",
    ]
    .iter()
    .enumerate()
    {
        // Telegram numbers a chat's messages, the bot's and the person's,
        // in one sequence: the fake's start at 1, the person's here at 101.
        assert_eq!(post(say(i as i64 + 101, text)).await.unwrap().status(), 200);
        tg.wait_for(chat, i + 1).await;
    }
    let number = number_in(tg.sent_to(chat).last().unwrap())
        .unwrap_or_else(|| panic!("{:?}", tg.sent_to(chat)));
    set_status(&app, &key, &number, "resolved").await;
    tg.wait_for(chat, 4).await;
    app.clock.advance(chrono::Duration::minutes(121));
    assert!(
        wait_until(Duration::from_secs(10), || async {
            tg.sent().iter().any(|m| m.keyboard.len() == 5)
        })
        .await,
        "the survey was asked"
    );
    let asked = tg
        .sent()
        .into_iter()
        .find(|m| m.keyboard.len() == 5)
        .unwrap();
    assert!(asked.text.contains(&number), "{}", asked.text);
    let rows: Vec<(String, String)> = asked.keyboard.iter().map(|r| r[0].clone()).collect();
    assert_eq!(rows[0], ("5 ★ Very good".to_owned(), "rate:5".to_owned()));
    assert_eq!(rows.len(), 5);

    // A tap comes back as a callback query, answered in the webhook's response.
    let callback = |id: &str, data: &str| {
        json!({"update_id": 7100, "callback_query": {"id": id,
            "from": {"id": 777051, "is_bot": false, "first_name": "Ravi"},
            "message": {"message_id": asked.message_id, "date": 1764633600,
                "chat": {"id": 777051, "type": "private"}, "text": asked.text,
                "reply_markup": {"inline_keyboard": asked.keyboard.iter().map(|r| json!([{"text": r[0].0, "callback_data": r[0].1}])).collect::<Vec<_>>()}},
            "chat_instance": "-77", "data": data}})
    };
    let res = post(callback("cbq-1", "rate:5")).await.unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        (&answer["method"], &answer["callback_query_id"]),
        (&json!("answerCallbackQuery"), &json!("cbq-1"))
    );
    // Telegram delivers an update again when unsure: stored once.
    let again: Value = post(callback("cbq-1", "rate:5"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicates"], 1);
    let told = tg.wait_for(chat, 6).await;
    assert!(
        told[5].starts_with("Thank you! Would you like to tell us more?"),
        "{told:?}"
    );
    let skip = tg.sent().pop().unwrap();
    assert_eq!(
        skip.keyboard,
        [[("No thanks".to_owned(), "comment:skip".to_owned())]]
    );
    assert_eq!(
        post(callback("cbq-2", "comment:skip"))
            .await
            .unwrap()
            .status(),
        200
    );
    let told = tg.wait_for(chat, 7).await;
    assert_eq!(told[6], "Thank you for your feedback.");
    // A late tap on the old keyboard is thanked, not taken for a complaint.
    assert_eq!(
        post(callback("cbq-3", "rate:1")).await.unwrap().status(),
        200
    );
    let told = tg.wait_for(chat, 8).await;
    assert_eq!(told[7], "Thank you, we already have your answer.");
    let s = &surveys(&app, &key, &number).await[0];
    assert_eq!(
        (&s["rating"], &s["stage"], &s["comment"]),
        (&json!(5), &json!("done"), &Value::Null)
    );

    // Once per complaint: resolved again, nobody asks.
    set_status(&app, &key, &number, "in_progress").await;
    set_status(&app, &key, &number, "resolved").await;
    app.clock.advance(chrono::Duration::hours(3));
    surveys_settled(&app, &t, &number).await;
    assert_eq!(surveys(&app, &key, &number).await.len(), 1);
    assert_eq!(
        tg.sent().iter().filter(|m| m.keyboard.len() == 5).count(),
        1
    );
}
