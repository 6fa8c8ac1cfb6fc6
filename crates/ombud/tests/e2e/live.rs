//! The live inbox over HTTP: every conversation with its filters, unread
//! marks and the count, notes between the messages, and the event stream
//! (`/app/live`) that tells open pages what changed: a citizen's message,
//! another member's reply, someone typing; never another tenant's.

use std::time::Duration;

use ombud_core::*;
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::helpers::*;
use crate::staff::*;
use crate::work::{complaint, street_light};

/// A page's event stream, read as a browser's EventSource would.
struct Stream {
    res: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(staff: &Staff<'_>) -> Stream {
        let res = staff
            .request(reqwest::Method::GET, "/app/live")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Stream {
            res,
            buffer: String::new(),
        }
    }

    /// The next event, as (name, data), if one comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<(String, String)> {
        let deadline = Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim().to_owned())
                };
                if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                    return Some((event, data));
                }
            }
            match tokio::time::timeout_at(deadline, self.res.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) => panic!("the stream ended"),
                Err(_) => return None,
            }
        }
    }

    /// Waits up to 10 s for an event `name` whose data contains `needle`.
    async fn until(&mut self, name: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut heard = Vec::new();
        while Instant::now() < deadline {
            if let Some((event, data)) = self.next(deadline - Instant::now()).await {
                if event == name && data.contains(needle) {
                    return data;
                }
                heard.push((event, data));
            }
        }
        panic!("no {name} event with {needle} within 10 s; heard {heard:?}");
    }

    /// Whether the server ends the stream within `wait` (what it sends
    /// until then is dropped).
    async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.res.chunk()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(_) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Everything heard within `wait`.
    async fn heard(&mut self, wait: Duration) -> Vec<(String, String)> {
        let deadline = Instant::now() + wait;
        let mut out = Vec::new();
        while let Some(e) = self
            .next(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            out.push(e);
        }
        out
    }
}

async fn unread(app: &TestApp, t: &TestTenant, user: &User) -> u64 {
    app.store
        .unread_count(&t.tenant.id, &user.id)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_lists_every_conversation_by_filter_with_unread_marks() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let (asks, filer) = ("919800000001", "919800000002");
    app.say(&t, asks, "human").await;
    graph.wait_for_reply_to(asks, 1).await;
    let number = street_light(&app, &t, &graph, filer).await;
    let ravi_user = member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
    member(&app, "asha@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let ravi = Staff::login(&app, "ravi@pune.gov.in").await;
    let asha = Staff::login(&app, "asha@pune.gov.in").await;
    let page = |staff: &Staff<'_>, path: &str| {
        let req = staff.request(reqwest::Method::GET, path);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };

    // Needs a person (the default): only the one handed over, unread, with
    // its channel and the citizen's words.
    let inbox = page(&ravi, "/app/inbox").await;
    assert!(
        inbox.contains("+91 98000 00001") || inbox.contains(asks),
        "{inbox}"
    );
    assert!(
        !inbox.contains("00002"),
        "the bot's conversation is not listed"
    );
    assert!(inbox.contains("WhatsApp · needs a person"), "{inbox}");
    assert!(inbox.contains("new message"), "{inbox}");
    assert!(
        inbox.contains(r#"<span class="preview">human</span>"#),
        "{inbox}"
    );
    // All: the bot's too, with what the citizen last said.
    let all = page(&ravi, "/app/inbox?filter=all").await;
    assert!(all.contains("the bot answers"), "{all}");
    assert!(all.contains("yes</span>"), "the filer's last words: {all}");
    let mine = page(&ravi, "/app/inbox?filter=mine").await;
    assert!(
        mine.contains("No conversation is assigned to you"),
        "{mine}"
    );
    let res = ravi.get("/app/inbox?filter=everything").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("filter"));

    // Reading it clears the mark for the reader only.
    let handed = app.store.handed_over(&t.tenant.id).await.unwrap()[0].clone();
    assert_eq!(unread(&app, &t, &ravi_user).await, 1);
    let path = format!("/app/inbox/{}", handed.conversation.id);
    let open = page(&ravi, &path).await;
    assert!(open.contains("Writes on</dt><dd>WhatsApp"), "{open}");
    assert_eq!(unread(&app, &t, &ravi_user).await, 0);
    assert!(!page(&ravi, "/app/inbox").await.contains("new message"));
    assert!(page(&asha, "/app/inbox").await.contains("new message"));
    // The citizen writes again: unread again.
    graph.citizen_wrote(asks);
    app.say(&t, asks, "is anyone there?").await;
    assert_eq!(unread(&app, &t, &ravi_user).await, 1);

    // Writing into the bot's conversation takes it over and makes it Ravi's.
    let filed = complaint(&app, &t, &number).await;
    let theirs = filed.conversation_id.clone().unwrap();
    let res = ravi
        .submit(
            &format!("/app/inbox/{theirs}/reply"),
            &[("body", "Ravi here: a team goes tomorrow.")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let conv = app
        .store
        .conversation(&t.tenant.id, &theirs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.conversation.state, ConversationState::Human);
    assert_eq!(conv.assignee_id.as_ref(), Some(&ravi_user.id));
    let mine = page(&ravi, "/app/inbox?filter=mine").await;
    assert!(mine.contains(&theirs.to_string()), "{mine}");
    assert!(page(&asha, "/app/inbox?filter=mine")
        .await
        .contains("No conversation is assigned to you"));
    let unassigned = page(&ravi, "/app/inbox?filter=unassigned").await;
    assert!(unassigned.contains(&handed.conversation.id.to_string()));
    assert!(!unassigned.contains(&theirs.to_string()), "{unassigned}");

    // A note on the citizen's complaint shows in the thread, as a note,
    // with the citizen's complaints beside it; open pages hear of the
    // complaint, and its page and the list mark what they swap for it.
    let mut live = Stream::open(&ravi).await;
    let complaint_page = page(&ravi, &format!("/app/complaints/{number}")).await;
    assert!(
        complaint_page.contains(&format!(
            r#"data-live="complaint:{} conversation:{theirs}""#,
            filed.id
        )),
        "{complaint_page}"
    );
    assert!(page(&ravi, "/app/complaints")
        .await
        .contains(r#"id="complaint-rows" data-live="complaints""#));
    ravi.submit(
        &format!("/app/complaints/{number}/note"),
        &[("value", "Pole 14 needs a new choke")],
    )
    .await;
    live.until("complaint", &filed.id.to_string()).await;
    let thread = page(&ravi, &format!("/app/inbox/{theirs}")).await;
    assert!(
        thread.contains("Pole 14 needs a new choke") && thread.contains("Internal note by ravi on"),
        "{thread}"
    );
    assert!(thread.contains(&format!(r#"href="/app/complaints/{number}""#)));
    // Handing back clears the assignee.
    ravi.submit(&format!("/app/inbox/{theirs}/hand-back"), &[])
        .await;
    let conv = app
        .store
        .conversation(&t.tenant.id, &theirs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.assignee_id, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_pages_hear_messages_replies_and_typing_live_and_only_their_tenants() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let other = app.tenant("nashik", "NASIK", &graph).await;
    let citizen = "919800000005";
    app.say(&t, citizen, "human").await;
    graph.wait_for_reply_to(citizen, 1).await;
    let conversation = app.store.handed_over(&t.tenant.id).await.unwrap()[0]
        .conversation
        .id
        .to_string();
    member(&app, "ravi@pune.gov.in", &t.tenant.id, Role::Staff).await;
    member(&app, "asha@pune.gov.in", &t.tenant.id, Role::Staff).await;
    member(&app, "meera@nashik.gov.in", &other.tenant.id, Role::Staff).await;
    let ravi = Staff::login(&app, "ravi@pune.gov.in").await;
    let asha = Staff::login(&app, "asha@pune.gov.in").await;
    let meera = Staff::login(&app, "meera@nashik.gov.in").await;
    let mut ravi_live = Stream::open(&ravi).await;
    let mut asha_live = Stream::open(&asha).await;
    let mut meera_live = Stream::open(&meera).await;
    // Each hears its own unread count at once.
    assert_eq!(ravi_live.until("unread", "count").await, r#"{"count":1}"#);
    assert_eq!(meera_live.until("unread", "count").await, r#"{"count":0}"#);

    // The citizen writes: both of Pune's pages hear of the conversation.
    // (How soon is the browser test's to check, at 2 s.)
    ravi.get(&format!("/app/inbox/{conversation}")).await;
    ravi_live.until("unread", r#"{"count":0}"#).await;
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "the light is still off").await;
    ravi_live.until("conversation", &conversation).await;
    asha_live.until("conversation", &conversation).await;
    // Ravi's count went to 0 when he opened it and back to 1 now.
    ravi_live.until("unread", r#"{"count":1}"#).await;

    // Asha types and replies: Ravi hears both; Asha does not hear herself type.
    let res = asha
        .submit(&format!("/app/inbox/{conversation}/typing"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let typing = ravi_live.until("typing", &conversation).await;
    assert!(typing.contains(r#""name":"asha""#), "{typing}");
    asha.submit(
        &format!("/app/inbox/{conversation}/reply"),
        &[("body", "Asha here, looking into it.")],
    )
    .await;
    ravi_live.until("conversation", &conversation).await;
    let page = ravi
        .get(&format!("/app/inbox/{conversation}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Asha here, looking into it."), "{page}");
    assert!(page.contains("<span class=\"who\">asha</span>"), "{page}");
    let asha_heard = asha_live.heard(Duration::from_millis(1500)).await;
    assert!(
        !asha_heard.iter().any(|(e, _)| e == "typing"),
        "{asha_heard:?}"
    );

    // Nashik's page heard nothing of Pune's, and cannot type into it.
    let heard = meera_live.heard(Duration::from_millis(1500)).await;
    assert!(
        heard.iter().all(|(_, data)| !data.contains(&conversation)),
        "{heard:?}"
    );
    let res = meera
        .submit(&format!("/app/inbox/{conversation}/typing"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Signing out ends the pages' streams (checked every 10 s).
    ravi.submit("/app/logout", &[]).await;
    assert!(
        ravi_live.ends_within(Duration::from_secs(15)).await,
        "a signed-out member's stream ends"
    );

    // Field workers get no stream; signed out, nobody does.
    member(&app, "field@pune.gov.in", &t.tenant.id, Role::FieldWorker).await;
    let field = Staff::login(&app, "field@pune.gov.in").await;
    assert_eq!(field.get("/app/live").await.status(), StatusCode::FORBIDDEN);
    assert_ne!(
        Staff::new(&app).get("/app/live").await.status(),
        StatusCode::OK
    );
    app.stop().await;
}
