//! Retention (issue 26, part 1): the sweep removes exactly what is old
//! enough, kind by kind, with time moved past each limit, and nothing else:
//! expired sessions and reset links, invitations 30 days after they expired,
//! deliveries 30 days after delivery and 90 after failing (with their
//! attempts), events once no delivery refers to them and a week has passed.
//! A delivery still pending is never removed; replaying a swept one says why
//! it is gone.

use std::time::Duration;

use ombud_core::*;
use ombud_store::Aging;
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::staff::*;
use crate::webhooks::{endpoint, send_test, Receiver};

async fn count(app: &TestApp, table: &str, condition: &str) -> usize {
    let q = format!("select cast(count(*) as text) from {table} where {condition}");
    app.db.texts(&q).await[0].parse().unwrap()
}

/// Rows of each kind the sweep looks at.
async fn counts(app: &TestApp, events: &[&str]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for table in [
        "sessions",
        "invitations",
        "password_resets",
        "webhook_attempts",
    ] {
        out.push((table.to_owned(), count(app, table, "1 = 1").await));
    }
    for status in ["delivered", "failed", "pending"] {
        let n = count(app, "webhook_deliveries", &format!("status = '{status}'")).await;
        out.push((format!("deliveries {status}"), n));
    }
    for (i, e) in events.iter().enumerate() {
        let n = count(app, "events", &format!("id = '{e}'")).await;
        out.push((format!("event {i}"), n));
    }
    out
}

fn row(c: &[(String, usize)], name: &str) -> usize {
    c.iter().find(|(n, _)| n == name).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_removes_what_is_old_enough_and_nothing_else() {
    let graph = crate::fake_graph::FakeGraph::start().await;
    let app = TestApp::spawn_with(crate::mail::with_smtp, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let policy = ombud_engine::ops::retention::RetentionPolicy::default();
    let sweep = || async {
        app.engine.ops().sweep_retention(&policy).await.unwrap();
    };

    // An event no endpoint takes: filed before there is any.
    crate::work::street_light(&app, &t, &graph, "919800000001").await;
    let lonely = app
        .db
        .texts("select id from events order by created_at")
        .await;
    assert!(!lonely.is_empty());
    // A member signed in, one invited, a reset link asked for.
    let admin = user(
        &app,
        "admin@pune.gov.in",
        &[(&t.tenant.id, Role::Admin)],
        false,
    )
    .await;
    let staff = Staff::login(&app, admin.email.as_str()).await;
    let res = staff
        .submit(
            "/app/team/invitations",
            &[("email", "new@pune.gov.in"), ("role", "staff")],
        )
        .await;
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
    let res = Staff::new(&app)
        .post_form("/app/forgot", &[("email", admin.email.as_str())])
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());

    // Three endpoints: one that takes its delivery, one that answers 410 (a
    // delivery failed for good), one that keeps failing (still pending).
    let (ok, gone, busy) = (Receiver::start(), Receiver::start(), Receiver::start());
    gone.control(json!({"status": 410})).await;
    busy.control(json!({"status": 503})).await;
    let mut ids = Vec::new();
    for r in [&ok, &gone, &busy] {
        let body = json!({"url": r.url(), "description": "t", "event_types": ["webhook.test"]});
        let (id, secret) = endpoint(&app, &key, body).await;
        r.control(json!({"secrets": [secret]})).await;
        ids.push(id);
    }
    let delivered = send_test(&app, &key, &ids[0]).await;
    let failed = send_test(&app, &key, &ids[1]).await;
    let pending = send_test(&app, &key, &ids[2]).await;
    let settled = wait_until(Duration::from_secs(10), || async {
        count(&app, "webhook_deliveries", "status = 'delivered'").await == 1
            && count(&app, "webhook_deliveries", "status = 'failed'").await == 1
            && count(&app, "webhook_attempts", "1 = 1").await >= 3
    })
    .await;
    assert!(settled, "{:?}", counts(&app, &[]).await);
    let events = [lonely[0].as_str(), &delivered, &failed, &pending];
    let before = counts(&app, &events).await;
    assert_eq!(row(&before, "sessions"), 1);
    assert_eq!(row(&before, "invitations"), 1);
    assert_eq!(row(&before, "password_resets"), 1);
    assert_eq!(row(&before, "deliveries pending"), 1);

    // Nothing is old enough yet.
    sweep().await;
    assert_eq!(counts(&app, &events).await, before);

    // Eight days on: the reset link and the event nobody took are gone.
    app.pass(chrono::Duration::days(8)).await;
    sweep().await;
    let now = counts(&app, &events).await;
    assert_eq!(row(&now, "password_resets"), 0);
    assert_eq!(row(&now, "event 0"), 0, "the lonely event");
    for name in [
        "invitations",
        "deliveries delivered",
        "deliveries failed",
        "event 1",
        "event 2",
        "event 3",
    ] {
        assert_eq!(row(&now, name), row(&before, name), "{name} kept: {now:?}");
    }

    // A month on: the session, the delivered delivery with its attempts and
    // its event; the failed one and the invitation (expired 24 days ago) stay.
    app.pass(chrono::Duration::days(23)).await;
    sweep().await;
    let now = counts(&app, &events).await;
    assert_eq!(row(&now, "sessions"), 0);
    assert_eq!(row(&now, "deliveries delivered"), 0);
    assert_eq!(row(&now, "event 1"), 0);
    assert_eq!(row(&now, "deliveries failed"), 1);
    assert_eq!(row(&now, "event 2"), 1);
    assert_eq!(row(&now, "invitations"), 1);
    assert_eq!(
        count(&app, "executions", "trimmed = 1").await,
        0,
        "runs kept 90 days"
    );
    let orphans = count(
        &app,
        "webhook_attempts",
        "delivery_id not in (select id from webhook_deliveries)",
    )
    .await;
    assert_eq!(orphans, 0, "attempts go with their delivery");
    // Replaying the swept delivery says why it is not there.
    let res = app
        .api(
            Method::POST,
            &format!("/webhooks/{}/deliveries/{delivered}/replay", ids[0]),
            &key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let e = res.text().await.unwrap();
    assert!(
        e.contains("longer ago than the server keeps deliveries"),
        "{e}"
    );

    // A quarter on: the failed delivery and its event, and the invitation.
    // The endpoint that keeps failing still has its delivery (pending, in
    // flight, or failed just now as its retries ran out): never swept while
    // pending, and a failure counts from when it failed.
    app.pass(chrono::Duration::days(60)).await;
    sweep().await;
    let now = counts(&app, &events).await;
    assert_eq!(row(&now, "event 2"), 0);
    assert_eq!(row(&now, "event 3"), 1);
    assert_eq!(row(&now, "invitations"), 0);
    // The intake runs keep their figures, not what the citizen wrote.
    let runs = count(&app, "executions", "1 = 1").await;
    assert!(runs >= 3, "{runs} runs");
    assert_eq!(
        count(&app, "executions", "trimmed = 1 and tool_calls = '[]'").await,
        runs
    );
    assert_eq!(count(&app, "executions", "status = 'ok'").await, runs);
    let outputs = app
        .db
        .texts("select cast(output as text) from executions")
        .await;
    assert!(outputs.iter().all(|o| o == "{}"), "{outputs:?}");
    let conversation = app.store.conversations(&t.tenant.id).await.unwrap()[0]
        .id
        .to_string();
    let key_runs = app
        .api(
            Method::GET,
            &format!("/conversations/{conversation}/executions"),
            &key,
        )
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(key_runs["data"][0]["trimmed"], true, "{key_runs}");
    assert_eq!(key_runs["data"][0]["output"], json!({}), "an object still");
    assert_eq!(
        count(
            &app,
            "webhook_deliveries",
            &format!("event_id = '{pending}'")
        )
        .await,
        1
    );
    app.stop().await;
}

/// Two offices: one whose admin sets `field` (a retention in days) to 30
/// through the API (after a value out of range is refused, naming it), and
/// one that leaves it alone.
pub(crate) async fn offices_one_keeping_30_days(
    app: &TestApp,
    graph: &FakeGraph,
    field: &str,
) -> (TestTenant, TestTenant) {
    let (keeps, forever) = (
        app.tenant("keeps", "KEEP", graph).await,
        app.tenant("forever", "EVER", graph).await,
    );
    member(app, "admin@keeps.example", &keeps.tenant.id, Role::Admin).await;
    let admin = Staff::login(app, "admin@keeps.example").await;
    let put = |days: u32| {
        let admin = &admin;
        async move {
            crate::audit::session_api(admin, Method::PUT, "/settings/conversations")
                .await
                .json(&json!({ field: days }))
                .send()
                .await
                .unwrap()
        }
    };
    let res = put(36501).await;
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body.to_string().contains(field), "{body}");
    assert_eq!(put(30).await.status(), 200);
    (keeps, forever)
}

/// One citizen's message and the bot's answer to it.
async fn say(app: &TestApp, graph: &FakeGraph, t: &TestTenant, text: &str) {
    let citizen = "919800000901";
    let before = graph.delivered_to(citizen).len();
    app.say(t, citizen, text).await;
    graph.wait_for_reply_to(citizen, before + 1).await;
}

/// Each message's body in the tenant, oldest first.
async fn bodies(app: &TestApp, t: &TestTenant) -> Vec<(String, String)> {
    let mut all = app.messages_of(&t.tenant.id).await;
    all.sort_by_key(|m| (m.created_at, m.direction == Direction::Outbound));
    all.into_iter()
        .map(|m| (m.direction.as_str().to_owned(), m.body))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_that_keeps_messages_30_days_loses_their_words_after_30_days_and_no_other_does() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let (keeps, forever) = offices_one_keeping_30_days(&app, &graph, "message_bodies_days").await;
    let policy = ombud_engine::ops::retention::RetentionPolicy::default();
    let sweep = || async {
        app.engine
            .ops()
            .age_messages(Aging::Bodies, &policy, &mut Default::default())
            .await
            .unwrap()
    };
    say(&app, &graph, &keeps, "help").await;
    say(&app, &graph, &forever, "help").await;
    app.pass(chrono::Duration::days(20)).await;
    say(&app, &graph, &keeps, "status").await;
    let first = bodies(&app, &keeps).await;
    assert_eq!(first.len(), 4);
    assert!(first.iter().all(|(_, b)| !b.is_empty()));
    assert_eq!(sweep().await, 0, "nothing is 30 days old yet");

    // Past 30 days (and the day's end) from the first exchange: its words
    // go, both ways; the later exchange and the other office's stay.
    // The server's own sweep (every quarter of an hour) may get there
    // first once the clock jumps, so what is checked is what is left.
    app.pass(chrono::Duration::days(11)).await;
    sweep().await;
    let now = bodies(&app, &keeps).await;
    assert_eq!((now[0].1.as_str(), now[1].1.as_str()), ("", ""), "{now:?}");
    assert_eq!(now[2..], first[2..]);
    // The runs on those words lose their output too (they hold the same
    // words), months before the operator's executions retention.
    let trimmed = |t: &TestTenant| format!("tenant_id = '{}' and trimmed = 1", t.tenant.id);
    assert_eq!(
        (
            count(&app, "executions", &trimmed(&keeps)).await,
            count(&app, "executions", &trimmed(&forever)).await
        ),
        (1, 0),
        "the first exchange's run"
    );
    assert!(bodies(&app, &forever)
        .await
        .iter()
        .all(|(_, b)| !b.is_empty()));
    assert_eq!(sweep().await, 0, "once");
    // Twenty days on, the later exchange is past its 30 days too.
    app.pass(chrono::Duration::days(21)).await;
    sweep().await;
    assert!(bodies(&app, &keeps).await.iter().all(|(_, b)| b.is_empty()));
    assert!(bodies(&app, &forever)
        .await
        .iter()
        .all(|(_, b)| !b.is_empty()));
    // The operator's default reaches the office that did not choose.
    let operator = ombud_engine::ops::retention::RetentionPolicy {
        message_bodies: Some(chrono::Duration::days(45)),
        ..Default::default()
    };
    assert_eq!(
        app.engine
            .ops()
            .age_messages(Aging::Bodies, &operator, &mut Default::default())
            .await
            .unwrap(),
        2
    );
    assert!(bodies(&app, &forever)
        .await
        .iter()
        .all(|(_, b)| b.is_empty()));
    app.stop().await;
}

/// The tenant's rows in `table` (`messages`, `executions`, `outbox`).
async fn rows_of(app: &TestApp, t: &TestTenant, table: &str) -> usize {
    count(app, table, &format!("tenant_id = '{}'", t.tenant.id)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_that_keeps_messages_30_days_deletes_them_then_and_keeps_its_complaints() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let (keeps, forever) = offices_one_keeping_30_days(&app, &graph, "messages_days").await;
    let policy = ombud_engine::ops::retention::RetentionPolicy::default();
    let sweep = |policy| {
        let app = &app;
        async move {
            app.engine
                .ops()
                .age_messages(Aging::Messages, policy, &mut Default::default())
                .await
                .unwrap()
        }
    };

    // Day 0: a citizen of each office files a complaint; day 20, the
    // first asks after it.
    let citizen = "919800000911";
    let number = crate::work::street_light(&app, &keeps, &graph, citizen).await;
    crate::work::street_light(&app, &forever, &graph, "919800000912").await;
    let filed = crate::work::complaint(&app, &keeps, &number).await;
    let theirs = rows_of(&app, &forever, "messages").await;
    app.pass(chrono::Duration::days(20)).await;
    graph.citizen_wrote(citizen);
    let before = graph.delivered_to(citizen).len();
    app.say(&keeps, citizen, "status").await;
    graph.wait_for_reply_to(citizen, before + 1).await;
    let day_20 = app.engine.now() - chrono::Duration::hours(1);
    assert_eq!(sweep(&policy).await, 0, "nothing is 30 days old yet");

    // Day 31: everything of day 0 goes.
    let all = app.messages_of(&keeps.tenant.id).await;
    let recent: Vec<_> = all.iter().filter(|m| m.created_at > day_20).collect();
    assert!(recent.len() >= 2 && recent.len() < all.len() - 1, "{all:?}");
    // (The server's own sweep may get there first once the clock jumps:
    // what is checked is what is left.)
    app.pass(chrono::Duration::days(11)).await;
    sweep(&policy).await;
    // What is left: day 20's (and any notice sent since).
    let left = app.messages_of(&keeps.tenant.id).await;
    assert!(left.iter().all(|m| m.created_at > day_20), "{left:?}");
    assert!(recent.iter().all(|r| left.iter().any(|m| m.id == r.id)));
    // Day 20's runs only (counted now, not when its reply went out: a
    // run's record may land a moment after its reply).
    let day_0_runs = format!(
        "tenant_id = '{}' and started_at <= '{}'",
        keeps.tenant.id,
        day_20.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    assert_eq!(
        count(&app, "executions", &day_0_runs).await,
        0,
        "day 0's runs go"
    );
    assert!(
        rows_of(&app, &keeps, "executions").await >= 1,
        "day 20's run stays"
    );
    assert_eq!(sweep(&policy).await, 0, "once");
    // The complaint, its conversation and contact stay; the other office
    // keeps everything.
    let now = crate::work::complaint(&app, &keeps, &number).await;
    assert_eq!(
        (now.description, now.location, now.conversation_id),
        (filed.description, filed.location, filed.conversation_id)
    );
    let conversation = app.conversation_of(&keeps, citizen).await;
    let key = app
        .api_key(&keeps.tenant.id, &[Scope::ConversationsRead])
        .await;
    let listed = app
        .api(
            Method::GET,
            &format!("/conversations/{}/messages", conversation.id),
            &key,
        )
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    // The API lists what is left (a notice may have come in since).
    let listed: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        left.iter().all(|m| listed.contains(&m.id.as_str())),
        "{listed:?}"
    );
    let now_left = app.messages_of(&keeps.tenant.id).await;
    assert!(listed
        .iter()
        .all(|id| now_left.iter().any(|m| m.id.as_str() == *id)));
    assert_eq!(rows_of(&app, &forever, "messages").await, theirs);

    // The operator's default reaches the office that did not choose.
    let operator = ombud_engine::ops::retention::RetentionPolicy {
        messages: Some(chrono::Duration::days(45)),
        ..Default::default()
    };
    assert_eq!(sweep(&operator).await, 0, "not 45 days yet");
    app.pass(chrono::Duration::days(15)).await;
    assert_eq!(sweep(&operator).await as usize, theirs);
    assert_eq!(rows_of(&app, &forever, "messages").await, 0);
    assert_eq!(rows_of(&app, &forever, "executions").await, 0);

    // A reply the channel has not taken yet (Meta answers 500: its send is
    // retried) keeps its message, whatever the cut-off; the message it
    // answers goes, and the reply stops pointing at it.
    // (Found by what it answers, not counted: the clock's jumps above may
    // have due notices of their own on the way, pending too.)
    graph.script(&[(500, None); 20]);
    graph.citizen_wrote(citizen);
    app.say(&keeps, citizen, "help").await;
    let pending = |id: String| format!("message_id = '{id}' and status in ('pending', 'sending')");
    let help = app
        .messages_of(&keeps.tenant.id)
        .await
        .into_iter()
        .find(|m| m.body == "help")
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let reply = loop {
        let mut found = None;
        for m in app.messages_of(&keeps.tenant.id).await {
            if m.in_reply_to.as_ref() == Some(&help.id)
                && count(&app, "outbox", &pending(m.id.to_string())).await == 1
            {
                found = Some(m.id);
            }
        }
        match found {
            Some(id) => break id,
            None if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            None => panic!("no reply to \"help\" waiting to be sent"),
        }
    };
    let soon = app.engine.now() + chrono::Duration::minutes(1);
    app.store
        .age(&keeps.tenant.id, Aging::Messages, soon, 20)
        .await
        .unwrap();
    let left = app.messages_of(&keeps.tenant.id).await;
    let kept = left
        .iter()
        .find(|m| m.id == reply)
        .expect("the reply stays");
    assert_eq!(kept.in_reply_to, None, "what it answered is gone");
    for m in &left {
        assert_eq!(m.direction, Direction::Outbound, "{left:?}");
        assert_eq!(
            count(&app, "outbox", &pending(m.id.to_string())).await,
            1,
            "{m:?}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_that_keeps_words_3_days_loses_its_webhook_payloads_then_too() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let (short, other) = (
        app.tenant("short", "SHRT", &graph).await,
        app.tenant("other", "OTHR", &graph).await,
    );
    let settings = conversation::ConversationSettings {
        message_bodies_days: Some(3),
        ..Default::default()
    };
    app.engine
        .ops()
        .set_conversation_settings(&ombud_engine::Acting::cli(), &short.tenant.id, settings)
        .await
        .unwrap();
    // The short office: a delivery taken, one failed for good, one still
    // being retried; the other office: one taken.
    let (ok, gone, busy, theirs) = (
        Receiver::start(),
        Receiver::start(),
        Receiver::start(),
        Receiver::start(),
    );
    gone.control(json!({"status": 410})).await;
    busy.control(json!({"status": 503})).await;
    let mut sent = Vec::new();
    for (t, r) in [
        (&short, &ok),
        (&short, &gone),
        (&short, &busy),
        (&other, &theirs),
    ] {
        let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
        let body = json!({"url": r.url(), "description": "t", "event_types": ["webhook.test"]});
        let (id, secret) = endpoint(&app, &key, body).await;
        r.control(json!({"secrets": [secret]})).await;
        sent.push(send_test(&app, &key, &id).await);
    }
    let settled = wait_until(Duration::from_secs(10), || async {
        count(&app, "webhook_deliveries", "status = 'delivered'").await == 2
            && count(&app, "webhook_deliveries", "status = 'failed'").await == 1
    })
    .await;
    assert!(settled, "{:?}", counts(&app, &[]).await);
    // The retried one is pending (a 503 is tried again, for days).
    let retried = format!("event_id = '{}' and status = 'pending'", sent[2]);
    assert!(
        wait_until(Duration::from_secs(10), || async {
            count(&app, "webhook_deliveries", &retried).await == 1
        })
        .await
    );
    let left = || async {
        let mut out = Vec::new();
        for event in &sent {
            let of = format!("event_id = '{event}'");
            let has = format!("id = '{event}'");
            out.push((
                count(&app, "events", &has).await,
                count(&app, "webhook_deliveries", &of).await,
            ));
        }
        out
    };
    let policy = ombud_engine::ops::retention::RetentionPolicy::default();
    app.engine.ops().sweep_retention(&policy).await.unwrap();
    assert_eq!(left().await, [(1, 1); 4], "nothing is 3 days old");

    // Four days on, past the office's 3 days for words (the operator keeps
    // deliveries 30 and 90 days, events 7): the short office's taken and
    // failed deliveries go with their events; the one still retried, and
    // the other office's, stay. (The server's own sweep may get there
    // first once the clock jumps: what is checked is what is left.)
    app.pass(chrono::Duration::days(4)).await;
    let report = app.engine.ops().sweep_retention(&policy).await.unwrap();
    assert_eq!(
        left().await,
        [(0, 0), (0, 0), (1, 1), (1, 1)],
        "{:?}",
        report.removed
    );
    app.stop().await;
}
