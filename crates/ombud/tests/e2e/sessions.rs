//! Conversation sessions (issue 26, item 1): a citizen back after the quiet
//! spell is met afresh (an unfinished question is not resumed), staff can
//! close a session, a tenant sets its own quiet spell, the history keeps
//! every session; and a message racing a close, or the clock passing the
//! quiet spell, is answered exactly once.

use std::time::Duration;

use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::audit::session_api;
use crate::helpers::*;
use crate::staff::*;

/// The intake agent's opening words (its greeting, in English).
const GREETING: &str = "This is the complaint desk";

/// Says `text` as `citizen` and returns the bot's reply to it (the
/// `n`-th message they receive).
async fn ask(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
    text: &str,
    n: usize,
) -> String {
    graph.citizen_wrote(citizen);
    app.say(t, citizen, text).await;
    let got = graph.wait_for_reply_to(citizen, n).await;
    assert_eq!(got.len(), n, "{citizen} after {text:?}: {got:?}");
    got[n - 1].clone()
}

fn step(c: &Conversation) -> &str {
    c.agent_state["step"].as_str().unwrap_or("idle")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_back_after_the_quiet_spell_is_met_afresh() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("sessions", "SES", &graph).await;
    let key = app.api_key(&t.tenant.id, &[Scope::ConversationsRead]).await;
    let (asha, ravi) = ("919800000301", "919800000302");
    // Both start a complaint; the bot asks them something.
    let complaint = "Streetlight not working near the school gate, dark at night";
    ask(&app, &t, &graph, asha, complaint, 1).await;
    ask(&app, &t, &graph, ravi, complaint, 1).await;
    let open = app.conversation_of(&t, asha).await;
    assert_ne!(step(&open), "idle", "the bot waits for an answer");
    assert_eq!(open.session, 1);

    // Within the quiet spell, Ravi's "hello" answers the bot's question.
    app.pass(chrono::Duration::hours(23)).await;
    let reply = ask(&app, &t, &graph, ravi, "hello", 2).await;
    assert!(!reply.contains(GREETING), "{reply}");
    assert_eq!(app.conversation_of(&t, ravi).await.session, 1);

    // A day after her last message, Asha's "hello" starts a new session:
    // greeted afresh, the unfinished question dropped.
    app.pass(chrono::Duration::hours(2)).await;
    let reply = ask(&app, &t, &graph, asha, "hello", 2).await;
    assert!(reply.contains(GREETING), "{reply}");
    let c = app.conversation_of(&t, asha).await;
    assert_eq!((c.session, c.agent_session), (2, 2));
    assert_eq!(step(&c), "idle");

    // The history keeps both sessions, each message marked with its own.
    let res = app
        .api(
            Method::GET,
            &format!("/conversations/{}/messages", c.id),
            &key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.unwrap();
    let sessions: Vec<(String, i64)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap().to_owned(),
                m["session"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("inbound", 1),
        ("outbound", 1),
        ("inbound", 2),
        ("outbound", 2),
    ];
    let expected: Vec<(String, i64)> = expected.iter().map(|(d, s)| ((*d).into(), *s)).collect();
    assert_eq!(sessions, expected);
    let view: Value = app
        .api(Method::GET, &format!("/conversations/{}", c.id), &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["session"], 2);

    // Staff read it session by session.
    member(&app, "staff@sessions.example", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "staff@sessions.example").await;
    let page = staff
        .get(&format!("/app/inbox/{}", c.id))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches("class=\"session-start\"").count(), 1, "{page}");
    assert!(page.contains("Session 2"), "{page}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_close_a_session_and_a_tenant_sets_its_own_quiet_spell() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("closing", "CLO", &graph).await;
    let key = app
        .api_key(
            &t.tenant.id,
            &[Scope::ConversationsRead, Scope::ConversationsWrite],
        )
        .await;
    let citizen = "919800000311";
    let complaint = "Garbage not collected for a week outside the market";
    ask(&app, &t, &graph, citizen, complaint, 1).await;
    let c = app.conversation_of(&t, citizen).await;
    assert_ne!(step(&c), "idle");

    // Closed by staff: the next message, a minute later, starts session 2.
    let close = format!("/conversations/{}/close", c.id);
    let res = app.api(Method::POST, &close, &key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert!(view["session_closed_at"].is_string(), "{view}");
    assert_eq!(view["session"], 1, "the next message starts the next one");
    app.pass(chrono::Duration::minutes(1)).await;
    let reply = ask(&app, &t, &graph, citizen, "hello", 2).await;
    assert!(reply.contains(GREETING), "{reply}");
    let c = app.conversation_of(&t, citizen).await;
    assert_eq!(c.session, 2);
    assert_eq!(c.session_closed_at, None, "the new session is open");

    // The office ends sessions after 2 hours of quiet instead of 24.
    member(&app, "admin@closing.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@closing.example").await;
    let res = session_api(&admin, Method::PUT, "/settings/conversations")
        .await
        .json(&json!({"session_idle_hours": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let e: Value = res.json().await.unwrap();
    assert_eq!(
        e["error"]["fields"][0]["field"], "session_idle_hours",
        "{e}"
    );
    let res = session_api(&admin, Method::PUT, "/settings/conversations")
        .await
        .json(&json!({"session_idle_hours": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["session_idle_hours"], 2);
    assert_eq!(saved["default_session_idle_hours"], 24);
    ask(&app, &t, &graph, citizen, complaint, 3).await;
    app.pass(chrono::Duration::hours(3)).await;
    let reply = ask(&app, &t, &graph, citizen, "hello", 4).await;
    assert!(reply.contains(GREETING), "{reply}");
    assert_eq!(app.conversation_of(&t, citizen).await.session, 3);

    // A session in the hands of people goes back to the bot when closed.
    let res = app
        .api(
            Method::POST,
            &format!("/conversations/{}/messages", c.id),
            &key,
        )
        .json(&json!({"body": "We are looking into it."}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        422,
        "the bot has it: staff take it over first"
    );
    let staff = Staff::login(&app, "admin@closing.example").await;
    let res = staff
        .submit(
            &format!("/app/inbox/{}/reply", c.id),
            &[("body", "We are looking into it.")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let held = app.conversation_of(&t, citizen).await;
    assert_eq!(held.state, ConversationState::Human);
    let res = staff
        .submit(&format!("/app/inbox/{}/close-session", c.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    let closed = app.conversation_of(&t, citizen).await;
    assert_eq!(closed.state, ConversationState::Bot);
    assert!(closed.session_closed_at.is_some());
    let page = staff
        .get(&format!("/app/inbox/{}", c.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("This session is closed"), "{page}");
    let reply = ask(&app, &t, &graph, citizen, "hello", 6).await;
    assert!(reply.contains(GREETING), "{reply}");
    app.stop().await;
}

/// Every citizen's every message has exactly one reply, and every
/// conversation's messages have all been read by a run.
async fn each_answered_once(app: &TestApp, t: &TestTenant, citizens: &[String], inbound: usize) {
    let done = wait_until(Duration::from_secs(20), || async {
        let mut read = 0;
        for c in app.store.conversations(&t.tenant.id).await.unwrap() {
            read += c.run_cursor as usize;
        }
        let sent = app
            .messages_of(&t.tenant.id)
            .await
            .iter()
            .filter(|m| m.direction == Direction::Outbound && m.status == DeliveryStatus::Sent)
            .count();
        read == inbound && sent == inbound
    })
    .await;
    assert!(done, "every message read and answered");
    let all = app.messages_of(&t.tenant.id).await;
    assert_eq!(assert_each_answered_once(&all), inbound);
    assert_eq!(
        app.store.conversations(&t.tenant.id).await.unwrap().len(),
        citizens.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_racing_the_close_or_the_quiet_spell_is_answered_once() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("racing", "RAC", &graph).await;
    let key = app
        .api_key(
            &t.tenant.id,
            &[Scope::ConversationsWrite, Scope::ConversationsRead],
        )
        .await;
    let citizens: Vec<String> = (0..12).map(|i| format!("9198000004{i:02}")).collect();
    for c in &citizens {
        ask(
            &app,
            &t,
            &graph,
            c,
            "Water supply has been irregular in our lane",
            1,
        )
        .await;
    }
    let ids: Vec<ConversationId> = {
        let mut ids = Vec::new();
        for c in &citizens {
            ids.push(app.conversation_of(&t, c).await.id);
        }
        ids
    };
    // Each citizen writes while staff close their session.
    let races = citizens.iter().zip(&ids).map(|(c, id)| {
        let (app, t, key) = (&app, &t, &key);
        async move {
            let close = async {
                let path = format!("/conversations/{id}/close");
                let res = app.api(Method::POST, &path, key).send().await.unwrap();
                assert_eq!(res.status(), 200);
            };
            tokio::join!(app.say(t, c, "hello again"), close);
        }
    });
    futures::future::join_all(races).await;
    each_answered_once(&app, &t, &citizens, 2 * citizens.len()).await;
    let sessions: Vec<i64> = {
        let mut s = Vec::new();
        for c in &citizens {
            s.push(app.conversation_of(&t, c).await.session);
        }
        s
    };
    assert!(sessions.iter().all(|s| [1, 2].contains(s)), "{sessions:?}");

    // Each writes again while the clock passes the quiet spell of their
    // last message.
    let last = {
        let mut last = None;
        for c in &citizens {
            let at = app.conversation_of(&t, c).await.active_at.unwrap();
            last = last.max(Some(at));
        }
        last.unwrap()
    };
    let now = app.engine.now();
    let to_spell = chrono::Duration::hours(24) - (now - last);
    app.pass(to_spell - chrono::Duration::milliseconds(1)).await;
    let writes = futures::future::join_all(citizens.iter().map(|c| app.say(&t, c, "any news?")));
    let tick = async {
        tokio::task::yield_now().await;
        app.pass(chrono::Duration::milliseconds(2)).await;
    };
    tokio::join!(writes, tick);
    each_answered_once(&app, &t, &citizens, 3 * citizens.len()).await;
    for (c, before) in citizens.iter().zip(&sessions) {
        let after = app.conversation_of(&t, c).await;
        assert!(
            [*before, before + 1].contains(&after.session),
            "{c}: session {before} then {}",
            after.session
        );
        assert_eq!(after.agent_session, after.session);
    }
    app.stop().await;
}
