//! A member writes to a citizen after WhatsApp's 24-hour window (issue 24):
//! the words go as the channel's approved `staff_message` template, on one
//! line, naming the complaint; without one nothing is sent and the reply box
//! says why. The fake Graph API refuses free-form text outside the window
//! and checks each template send as Meta does (parameters on one line, the
//! filled text within 1,024 characters), so a wrong send fails the test.

use ombud_core::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::audit::session_api;
use crate::helpers::*;
use crate::staff::*;
use crate::templates::map_and_sync;

const WABA: &str = "102030405061";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_window_a_members_words_go_as_the_mapped_template() {
    let graph = crate::fake_graph::FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("staffmsg", "STM", &graph).await;
    graph.enforce_window(app.clock.clone());
    let citizen = "919800000051";
    let number = crate::work::file_saying(
        &app,
        &t,
        &graph,
        citizen,
        [
            "The water pipe on our lane is broken and leaking",
            "Near Shivaji school, Kothrud",
            "yes",
        ],
    )
    .await;
    let admin = user(
        &app,
        "admin@staffmsg.test",
        &[(&t.tenant.id, Role::Admin)],
        false,
    )
    .await;
    app.pass(chrono::Duration::hours(25)).await;
    let staff = Staff::login(&app, admin.email.as_str()).await;
    let page_path = format!("/app/complaints/{number}");
    let reply_path = format!("{page_path}/reply");

    // No template is mapped: refused, the reason says what is missing.
    let res = staff.submit(&reply_path, &[("body", "Any news?")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("not sent: the 24-hour reply window closed")
            && page.contains("no approved template for staff_message in en: no template is mapped to this notice"),
        "{page}"
    );

    // A staff message's template must carry the member's words.
    let path = format!("/channels/{}/templates", t.channel.id);
    let wordless = json!({"waba_id": WABA, "notices": {"staff_message": {
        "name": "office_reply", "languages": ["en_US"], "body": ["complaint_number"]}}});
    let res = session_api(&staff, Method::PUT, &path)
        .await
        .json(&wordless)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let e: serde_json::Value = res.json().await.unwrap();
    assert!(
        e.to_string().contains("notices.staff_message.body")
            && e.to_string().contains("message_text"),
        "{e}"
    );
    let misplaced = json!({"waba_id": WABA, "notices": {"status_changed": {
        "name": "office_reply", "languages": ["en_US"], "body": ["complaint_number", "message_text"]}}});
    let res = session_api(&staff, Method::PUT, &path)
        .await
        .json(&misplaced)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    graph.add_template(
        WABA,
        "office_reply",
        "en_US",
        "APPROVED",
        "About your complaint {{1}}, the office writes: {{2}}",
        None,
    );
    let mapping = json!({"waba_id": WABA, "notices": {"staff_message": {
        "name": "office_reply", "languages": ["en_US"],
        "body": ["complaint_number", "message_text"]}}});
    map_and_sync(&staff, &t.channel.id, &mapping).await;

    // The page says how the words will go, and they go so.
    let page = staff.get(&page_path).await.text().await.unwrap();
    assert!(
        page.contains("so what you write goes as the template office_reply"),
        "{page}"
    );
    let words = "The pipe was repaired this morning.\n\nPlease check   the tap\tand tell us.";
    let res = staff.submit(&reply_path, &[("body", words)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let sent = crate::templates::template_sends(&graph, citizen, 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].status, 200, "{:?}", sent[0]);
    assert_eq!(
        sent[0].template,
        Some(("office_reply".into(), "en_US".into()))
    );
    let read = format!(
        "About your complaint {number}, the office writes: The pipe was repaired this morning. Please check the tap and tell us."
    );
    assert_eq!(sent[0].body, read);
    // The transcript keeps what the citizen read, as the member's.
    let stored = app.messages_of(&t.tenant.id).await;
    let m = stored
        .iter()
        .find(|m| m.kind == MessageKind::Template)
        .expect("stored");
    assert_eq!(m.body, read);
    assert_eq!(
        m.sender.as_deref(),
        Some(format!("user:{}", admin.id).as_str())
    );

    // From the inbox, it names the citizen's latest complaint.
    let conversation = m.conversation_id.to_string();
    let inbox_page = staff
        .get(&format!("/app/inbox/{conversation}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        inbox_page.contains("goes as the template office_reply"),
        "{inbox_page}"
    );
    let res = staff
        .submit(
            &format!("/app/inbox/{conversation}/reply"),
            &[("body", "We will call you today.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let sent = crate::templates::template_sends(&graph, citizen, 2).await;
    assert!(
        sent[1].body.ends_with(&format!(
            "{number}, the office writes: We will call you today."
        )),
        "{:?}",
        sent[1]
    );

    // Too long for Meta once filled: refused here, with the limit, and kept.
    let long = "word ".repeat(200);
    let res = staff.submit(&reply_path, &[("body", &long)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("and Meta takes at most 1024"), "{page}");

    // Once the citizen writes again, text as before.
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "ok thank you").await;
    let before = graph.delivered_to(citizen).len();
    crate::helpers::wait_until(std::time::Duration::from_secs(5), || async {
        app.store
            .conversation(&t.tenant.id, &m.conversation_id)
            .await
            .unwrap()
            .and_then(|h| h.conversation.last_inbound_at)
            .is_some_and(|at| app.engine.now() - at < chrono::Duration::hours(1))
    })
    .await;
    let res = staff
        .submit(&reply_path, &[("body", "Glad to help.")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let told = graph.wait_for_reply_to(citizen, before + 1).await;
    assert!(told.iter().any(|b| b == "Glad to help."), "{told:?}");

    let refused: Vec<_> = graph
        .requests()
        .into_iter()
        .filter(|r| r.error_code.is_some())
        .collect();
    assert!(
        refused.is_empty(),
        "never once what Meta refuses: {refused:?}"
    );
    app.stop().await;
}
