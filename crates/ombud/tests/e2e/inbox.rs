//! The hand-off inbox: a citizen asks for a person, staff answer from the
//! browser through the outbox, the 24-hour window is enforced, and the bot
//! takes over again when handed back.

use std::time::Duration;

use ombud_core::*;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::staff::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_answer_a_handed_over_conversation_and_hand_it_back() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let citizen = "919800000001";
    app.say(&t, citizen, "human").await;
    let replies = graph.wait_for_reply_to(citizen, 1).await;
    assert!(replies[0].contains("staff will reply"), "{replies:?}");
    member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "ravi@pune.gov.in").await;

    let inbox = staff.get("/app/inbox").await.text().await.unwrap();
    assert!(inbox.contains(citizen), "{inbox}");
    let conversation = app.store.conversations(&t.tenant.id).await.unwrap()[0].clone();
    let path = format!("/app/inbox/{}", conversation.id);
    let page = staff.get(&path).await.text().await.unwrap();
    assert!(page.contains("reply window open"), "{page}");
    // A viewer reads the conversation but cannot answer or hand it back.
    member(&app, "viewer@pune.gov.in", &t.tenant.id, Role::Viewer).await;
    let viewer = Staff::login(&app, "viewer@pune.gov.in").await;
    assert_eq!(viewer.get(&path).await.status(), StatusCode::OK);
    for action in ["reply", "hand-back"] {
        let res = viewer
            .submit(&format!("{path}/{action}"), &[("body", "hi")])
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action}");
    }
    let page = staff.get(&path).await.text().await.unwrap();
    assert!(
        page.contains("human") && page.contains("staff will reply"),
        "transcript"
    );

    // A reply goes out through the outbox like the bot's.
    let res = staff
        .submit(
            &format!("{path}/reply"),
            &[("body", "Hello, this is Ravi from the ward office.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let replies = graph.wait_for_reply_to(citizen, 2).await;
    assert_eq!(replies[1], "Hello, this is Ravi from the ward office.");

    // While people have it, the bot stays silent.
    app.say(&t, citizen, "status").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        graph.delivered_to(citizen).len(),
        2,
        "the bot did not answer"
    );

    // Outside the 24-hour window a reply is refused, with the reason, and the
    // draft is kept. A day later the session has gone idle too: sign in again.
    app.pass(chrono::Duration::hours(25)).await;
    assert_eq!(
        staff.get(&path).await.status(),
        StatusCode::SEE_OTHER,
        "an idle session ends"
    );
    let staff = Staff::login(&app, "ravi@pune.gov.in").await;
    let res = staff
        .submit(
            &format!("{path}/reply"),
            &[("body", "Are you still there?")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("not sent: the 24-hour reply window closed"),
        "{page}"
    );
    assert!(page.contains(">Are you still there?</textarea>"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(graph.delivered_to(citizen).len(), 2, "nothing was sent");

    // Handed back: the bot answers the next message (not the ones people had).
    let res = staff.submit(&format!("{path}/hand-back"), &[]).await;
    assert_eq!(location(&res), "/app/inbox");
    let inbox = staff.get("/app/inbox").await.text().await.unwrap();
    assert!(!inbox.contains(citizen) && inbox.contains("No conversation is waiting"));
    let res = staff
        .submit(&format!("{path}/reply"), &[("body", "late")])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "writing would take it over again, but the window is closed"
    );
    app.say(&t, citizen, "help").await;
    let replies = graph.wait_for_reply_to(citizen, 3).await;
    assert_eq!(replies.len(), 3);
    assert!(replies[2].contains("You can:"), "{}", replies[2]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        graph.delivered_to(citizen).len(),
        3,
        "one answer, to the new message only"
    );

    // Another tenant's member finds no such conversation.
    let other = app.tenant("nashik", "NASIK", &graph).await;
    member(&app, "meera@nashik.gov.in", &other.tenant.id, Role::Owner).await;
    let meera = Staff::login(&app, "meera@nashik.gov.in").await;
    assert_eq!(meera.get(&path).await.status(), StatusCode::NOT_FOUND);
    let res = meera
        .submit(&format!("{path}/reply"), &[("body", "hi")])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
