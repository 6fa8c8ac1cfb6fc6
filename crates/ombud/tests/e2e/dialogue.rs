use std::time::{Duration, Instant};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_text_becomes_a_complaint_with_a_number() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let citizen = "919800000001";

    let steps = [
        (
            "The street light near Shivaji school has been broken for a week",
            "Where is this?",
        ),
        ("Near Shivaji school, Kothrud", "Reply YES to register"),
        ("yes", "Complaint number:"),
    ];
    for (i, (text, expect)) in steps.iter().enumerate() {
        let sent = Instant::now();
        app.say(&t, citizen, text).await;
        let replies = graph.wait_for_reply_to(citizen, i + 1).await;
        let took = sent.elapsed();
        assert_eq!(replies.len(), i + 1, "no reply to {text:?}");
        assert!(
            replies[i].contains(expect),
            "reply to {text:?} was {:?}",
            replies[i]
        );
        assert!(
            took < Duration::from_secs(1),
            "reply to {text:?} took {took:?}"
        );
    }
    let last = graph.delivered_to(citizen).pop().unwrap();
    let number = number_in(&last).expect("a complaint number in the reply");
    assert!(regex::Regex::new(r"^[A-Z]+-\d{8}-\d{4}$")
        .unwrap()
        .is_match(&number));
    assert!(number.starts_with("PUNE-"));

    let complaints = app.store.complaints(&t.tenant.id, 10).await.unwrap();
    assert_eq!(complaints.len(), 1);
    let c = &complaints[0];
    assert_eq!(c.number.as_str(), number);
    assert_eq!(c.language.as_str(), "en");
    assert_eq!(c.location.as_deref(), Some("Near Shivaji school, Kothrud"));
    assert!(c.description.contains("street light"));
    let categories = app.store.categories(&t.tenant.id).await.unwrap();
    let category = categories
        .iter()
        .find(|k| Some(&k.id) == c.category_id.as_ref())
        .unwrap();
    assert_eq!(category.slug, "streetlight");
    let events = app
        .store
        .complaint_events(&t.tenant.id, &c.id)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "created");

    // Status, by number and for all open complaints.
    app.say(&t, citizen, &format!("status {number}")).await;
    let replies = graph.wait_for_reply_to(citizen, 4).await;
    assert!(
        replies[3].contains(&number) && replies[3].contains("received"),
        "{}",
        replies[3]
    );

    // Hand-over: after "human" the bot stays silent.
    app.say(&t, citizen, "human").await;
    let replies = graph.wait_for_reply_to(citizen, 5).await;
    assert!(replies[4].contains("staff"), "{}", replies[4]);
    app.say(&t, citizen, "hello? anyone?").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        graph.delivered_to(citizen).len(),
        5,
        "the bot spoke after hand-over"
    );
    let conversation = &app.store.conversations(&t.tenant.id).await.unwrap()[0];
    assert_eq!(conversation.state, ombud_core::ConversationState::Human);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marathi_and_hindi_are_answered_in_their_own_language() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;

    let mr = "919800000002";
    app.say(&t, mr, "शिवाजी शाळेजवळचा दिवा आठवड्यापासून बंद आहे")
        .await;
    let r = graph.wait_for_reply_to(mr, 1).await;
    assert!(r[0].contains("हे कुठे आहे"), "{}", r[0]);
    app.say(&t, mr, "शिवाजी शाळा, कोथरूड").await;
    app.say(&t, mr, "हो").await;
    let r = graph.wait_for_reply_to(mr, 3).await;
    assert!(r[2].contains("तक्रार क्रमांक"), "{}", r[2]);
    let complaint = &app.store.complaints(&t.tenant.id, 10).await.unwrap()[0];
    assert_eq!(complaint.language.as_str(), "mr");

    let hi = "919800000003";
    app.say(&t, hi, "हमारी गली में पानी की पाइप टूट गई है और पानी बह रहा है")
        .await;
    let r = graph.wait_for_reply_to(hi, 1).await;
    assert!(r[0].contains("कहाँ"), "{}", r[0]);
    assert!(!r[0].is_ascii(), "answered in English: {}", r[0]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_over_the_burst_limit_gets_one_notice_and_nothing_is_dropped() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let citizen = "919800000004";
    for i in 0..8 {
        app.say(&t, citizen, &format!("help {i}")).await;
        graph.wait_for_reply_to(citizen, (i + 1).min(6)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let replies = graph.delivered_to(citizen);
    assert_eq!(replies.len(), 6, "five answers and one notice: {replies:?}");
    assert!(replies[5].contains("very fast"), "{}", replies[5]);
    // Every message is stored for staff, answered or not.
    let inbound = app
        .messages_of(&t.tenant.id)
        .await
        .into_iter()
        .filter(|m| m.direction == ombud_core::Direction::Inbound)
        .count();
    assert_eq!(inbound, 8);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ombud_say_signs_and_delivers_like_whatsapp() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let (env, url) = (app.db.env(), format!("http://{}", app.addr));
    let (code, printed, stderr) = tokio::task::spawn_blocking(move || {
        run_cli_env(
            &env,
            &[
                "say",
                "--tenant",
                "pune",
                "--from",
                "919811111111",
                "--url",
                &url,
                "help",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(printed["answer"]["received"], 1);
    let replies = graph.wait_for_reply_to("919811111111", 1).await;
    assert!(replies[0].contains("status"), "{replies:?}");
    drop(t);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_is_refused_on_sqlite_and_welcome_on_postgres() {
    let app = TestApp::spawn().await;
    let config = test_config(&app.db);
    let second = ombud::App::build(&config, ombud::AppOptions::default()).await;
    if app.db.is_postgres() {
        // Replicas share one PostgreSQL.
        assert!(second.is_ok(), "{:?}", second.err());
    } else {
        // One SQLite file has one server: start-up releases outbox claims.
        let err = second
            .err()
            .expect("a second server must not start")
            .to_string();
        assert!(err.contains("already using"), "{err}");
    }
    app.stop().await;
}
