//! A complaint's page over HTTP: filtering to it, changing its status (which
//! tells the citizen), internal notes (which do not), and writing to the
//! citizen from it. Split from `work.rs`, which keeps the shared helpers,
//! bulk changes, the overview and the CSV export.

use ombud_core::*;
use reqwest::StatusCode;

use crate::helpers::*;
use crate::staff::*;
use crate::work::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_filter_open_a_complaint_change_its_status_and_keep_notes_internal() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let (light, water) = light_and_water(&app, &t, &graph).await;
    let ravi = member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "ravi@pune.gov.in").await;

    // Filter by words, by the citizen's number, by status.
    let page = staff
        .get("/app/complaints?q=street+light")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&light) && !page.contains(&water), "{page}");
    let page = staff
        .get("/app/complaints?q=9800000002")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&water) && !page.contains(&light));
    let page = staff
        .get("/app/complaints?status=resolved")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains(&light) && page.contains("No complaints match"));
    let res = staff
        .get("/app/complaints?status=lost&from=yesterday")
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("is not one of new") && page.contains("must be a date like"));

    // The complaint's page: transcript, history, and only the legal moves.
    let page = staff
        .get(&format!("/app/complaints/{light}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Near Shivaji school, Kothrud"), "transcript");
    assert!(page.contains("registered the complaint"), "history");
    assert!(page.contains("<option value=\"acknowledged\">"));
    assert!(
        !page.contains("<option value=\"closed\">"),
        "new cannot go to closed"
    );
    let by_id = complaint(&app, &t, &light).await.id;
    assert_eq!(
        staff
            .get(&format!("/app/complaints/{by_id}"))
            .await
            .status(),
        StatusCode::OK
    );

    // A move the table forbids is refused next to the field; nothing is sent.
    let sent_before = graph.delivered_to("919800000001").len();
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/edit"),
            &[("status", "closed")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("cannot move from new to closed"));
    assert_eq!(
        complaint(&app, &t, &light).await.status,
        ComplaintStatus::New
    );

    // A legal move: the citizen is told, in their language, through the outbox.
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/edit"),
            &[("status", "in_progress")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        format!("/app/complaints/{light}?saved=status")
    );
    let told = graph
        .wait_for_reply_to("919800000001", sent_before + 1)
        .await;
    assert_eq!(told.len(), sent_before + 1);
    let notice = told.last().unwrap();
    assert!(
        notice.contains(&light) && notice.contains("in progress"),
        "{notice}"
    );
    assert_eq!(
        complaint(&app, &t, &light).await.status,
        ComplaintStatus::InProgress
    );
    let page = staff.get(&location(&res)).await.text().await.unwrap();
    assert!(
        page.contains("Saved: status: in progress. The citizen is told of the new status."),
        "{page}"
    );
    assert!(page.contains("<option value=\"in_progress\" selected>in progress (now)</option>"));
    // The whole form sent back as it is: nothing to save, nothing recorded.
    let c = complaint(&app, &t, &light).await;
    let lines = app.store.complaint_events(&t.tenant.id, &c.id).await;
    let lines = lines.unwrap().len();
    let category = c.category_id.map(|id| id.to_string()).unwrap_or_default();
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/edit"),
            &[
                ("status", "in_progress"),
                ("assignee", ""),
                ("priority", c.priority.as_str()),
                ("category", &category),
                ("area", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = staff.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("Nothing to save"), "{page}");
    let after = app.store.complaint_events(&t.tenant.id, &c.id).await;
    assert_eq!(after.unwrap().len(), lines);

    // A note: sanitized, marked internal, never sent.
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/note"),
            &[(
                "value",
                "Called the <b>contractor</b><script>alert(1)</script>",
            )],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = staff
        .get(&format!("/app/complaints/{light}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Called the <b>contractor</b>"), "{page}");
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains(">Internal</span>"));
    assert!(page.contains("changed the status from new to in progress"));
    let res = staff
        .submit(&format!("/app/complaints/{light}/note"), &[("value", "  ")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("write something first"));

    // Assign to oneself; "assigned to me" finds it.
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/edit"),
            &[("assignee", ravi.id.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mine = staff
        .get("/app/complaints?assignee=me")
        .await
        .text()
        .await
        .unwrap();
    assert!(mine.contains(&light) && !mine.contains(&water));
    let res = staff
        .submit(
            &format!("/app/complaints/{light}/edit"),
            &[("assignee", UserId::new().as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("is not a member of this organisation"));

    let total = quiet(&graph).await;
    assert_eq!(
        graph.delivered_to("919800000001").len(),
        sent_before + 1,
        "the note and the assignment sent nothing ({total} deliveries in all)"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_write_to_a_citizen_from_a_complaints_page_inside_the_window_only() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    graph.enforce_window(app.clock.clone());
    let (light, _) = light_and_water(&app, &t, &graph).await;
    member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "ravi@pune.gov.in").await;
    let citizen = "919800000001";
    let path = format!("/app/complaints/{light}");
    let page = staff.get(&path).await.text().await.unwrap();
    assert!(page.contains("Write to the citizen"), "{page}");
    assert!(page.contains("reply window open for 23h"), "{page}");
    assert!(page.contains("Sending takes the conversation from the bot"));

    // Sent through the outbox; the conversation is with people now, in the
    // inbox, and the page says so.
    let before = graph.delivered_to(citizen).len();
    let res = staff
        .submit(
            &format!("{path}/reply"),
            &[("body", "Which pole is it? Please send its number.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{path}?saved=reply"));
    let told = graph.wait_for_reply_to(citizen, before + 1).await;
    assert_eq!(
        told.last().map(String::as_str),
        Some("Which pole is it? Please send its number.")
    );
    let c = complaint(&app, &t, &light).await;
    let conversation = c.conversation_id.clone().unwrap();
    let h = app.store.conversation(&t.tenant.id, &conversation).await;
    assert_eq!(
        h.unwrap().unwrap().conversation.state,
        ConversationState::Human
    );
    let page = staff.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("Sent to the citizen"), "{page}");
    assert!(page.contains(&format!("/app/inbox/{conversation}")));
    // The transcript says who wrote what: the bot, and Ravi by name.
    let ravi = app
        .store
        .user_by_email(&Email::parse("ravi@pune.gov.in").unwrap())
        .await;
    let ravi = ravi.unwrap().unwrap();
    let sent = app.messages_of(&t.tenant.id).await;
    let mine = sent
        .iter()
        .find(|m| m.body.starts_with("Which pole"))
        .unwrap();
    assert_eq!(mine.sender, Some(format!("user:{}", ravi.id)));
    assert!(sent
        .iter()
        .any(|m| m.body.starts_with("Where is this?") && m.sender.as_deref() == Some("bot")));
    assert!(
        page.contains(r#"<span class="who">the bot</span>"#),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            r#"<li class="out staff"><span class="body">Which pole is it? Please send its number.</span><time><span class="who">{}</span>"#,
            if ravi.name.is_empty() { ravi.email.as_str() } else { ravi.name.as_str() }
        )),
        "{page}"
    );
    let inbox = staff.get("/app/inbox").await.text().await.unwrap();
    assert!(inbox.contains(citizen), "{inbox}");

    // A day later the window has closed: refused, the reason under the box,
    // the draft kept, nothing sent.
    app.pass(chrono::Duration::hours(25)).await;
    let staff = Staff::login(&app, "ravi@pune.gov.in").await;
    let res = staff
        .submit(&format!("{path}/reply"), &[("body", "Any news?")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("not sent: the 24-hour reply window closed"),
        "{page}"
    );
    assert!(page.contains(">Any news?</textarea>"), "{page}");
    assert_eq!(graph.delivered_to(citizen).len(), before + 1);

    // A complaint from no conversation has nobody to write to.
    let made = app
        .engine
        .ops()
        .record_complaint(
            &ombud_engine::Acting::system(),
            &t.tenant,
            ombud_engine::ops::conversations::FiledComplaint {
                channel_id: None,
                contact_id: None,
                conversation_id: None,
                category_id: None,
                description: "Phoned in: a fallen tree".into(),
                location: None,
                language: Language::en(),
                priority: Priority::Normal,
            },
        )
        .await
        .unwrap();
    let path = format!("/app/complaints/{}", made.number);
    let page = staff.get(&path).await.text().await.unwrap();
    assert!(!page.contains("Write to the citizen"), "{page}");
    let res = staff
        .submit(&format!("{path}/reply"), &[("body", "hello")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("came from no conversation"));
}
