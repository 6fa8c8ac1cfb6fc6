//! Telegram and the web chat, each carrying the intake dialogue end to end:
//! Telegram against a fake Bot API, the web chat through its visitor token,
//! its message endpoint and its event stream, as the widget uses them.

use std::time::{Duration, Instant};

use ombud_core::*;
use ombud_engine::provision;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::fake_telegram::FakeTelegram;
use crate::helpers::*;

/// The intake dialogue: what the person says, and what the reply contains.
const STEPS: [(&str, &str); 3] = [
    (
        "The street light near Shivaji school has been broken for a week",
        "Where is this?",
    ),
    ("Near Shivaji school, Kothrud", "Reply YES to register"),
    ("yes", "Complaint number:"),
];

const BOT_TOKEN: &str = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345";
const SECRET: &str = "tg-secret_token-1";

async fn telegram_channel(app: &TestApp, t: &TestTenant, tg: &FakeTelegram) -> Channel {
    let config = ChannelConfig::Telegram(TelegramConfig {
        bot_token: Secret::new(BOT_TOKEN),
        secret_token: Secret::new(SECRET),
        api_url: tg.url(),
    });
    let (_, channel) = provision::add_channel(
        app.store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        app.engine.outbound().providers(),
        &t.tenant.slug,
        "Telegram".into(),
        config,
    )
    .await
    .unwrap();
    channel
}

/// POSTs an update as Telegram would, with `secret` in its header.
async fn update(
    app: &TestApp,
    channel: &Channel,
    secret: Option<&str>,
    message_id: i64,
    text: &str,
) -> reqwest::Response {
    let body = json!({"update_id": 9000 + message_id, "message": {
        "message_id": message_id, "date": 1764633600,
        "chat": {"id": 777001, "type": "private", "first_name": "Asha"},
        "from": {"id": 777001, "is_bot": false, "first_name": "Asha", "language_code": "en"},
        "text": text,
    }});
    let mut req = app.http.post(app.url(&channel.webhook_path())).json(&body);
    if let Some(s) = secret {
        req = req.header("x-telegram-bot-api-secret-token", s);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_bot_carries_the_intake_dialogue_and_refuses_a_forged_secret() {
    let graph = FakeGraph::start().await;
    let tg = FakeTelegram::start(BOT_TOKEN).await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let channel = telegram_channel(&app, &t, &tg).await;
    assert_eq!(
        channel.webhook_path(),
        format!("/channels/telegram/{}/webhook", channel.id)
    );
    let chat = "777001";

    // Forged or missing secrets are refused before anything is stored.
    for secret in [Some("guess"), None] {
        let res = update(&app, &channel, secret, 1, "hello").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"]["code"], "secret_token_invalid", "{e}");
        assert_eq!(
            e["error"]["fields"][0]["field"],
            "X-Telegram-Bot-Api-Secret-Token"
        );
    }
    let res = app
        .http
        .post(app.url(&channel.webhook_path()))
        .header("x-telegram-bot-api-secret-token", SECRET)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(!app.store.has_conversations(&t.tenant.id).await.unwrap());

    // Telegram is busy once: the first reply waits and is sent once.
    tg.busy(1);
    for (i, (text, expect)) in STEPS.iter().enumerate() {
        let res = update(&app, &channel, Some(SECRET), 10 + i as i64, text).await;
        assert_eq!(res.status(), StatusCode::OK);
        let replies = tg.wait_for(chat, i + 1).await;
        assert_eq!(replies.len(), i + 1, "no reply to {text:?}");
        assert!(
            replies[i].contains(expect),
            "reply to {text:?}: {replies:?}"
        );
    }
    let number = number_in(tg.sent_to(chat).last().unwrap()).unwrap();
    let complaint = app
        .store
        .complaint_by_number(&t.tenant.id, &ComplaintNumber::parse(&number).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(complaint.channel_id, Some(channel.id.clone()));
    assert_eq!(
        complaint.location.as_deref(),
        Some("Near Shivaji school, Kothrud")
    );
    let contact = app
        .store
        .contact(&t.tenant.id, complaint.contact_id.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            contact.external_id.as_str(),
            contact.profile_name.as_deref()
        ),
        (chat, Some("Asha"))
    );

    // Telegram delivers an update again when unsure: it is stored once.
    let res = update(&app, &channel, Some(SECRET), 12, "yes").await;
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["duplicates"], 1, "{answer}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tg.sent_to(chat).len(), 3);

    // Handed to staff, who answer through the API into the Telegram chat.
    update(&app, &channel, Some(SECRET), 20, "human").await;
    let replies = tg.wait_for(chat, 4).await;
    assert!(replies[3].contains("staff"), "{replies:?}");
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let conversation = complaint.conversation_id.unwrap();
    let (status, view) =
        crate::api::call(app.api(Method::GET, &format!("/conversations/{conversation}"), &key))
            .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["reply_window_open"], true);
    let (status, sent) = crate::api::call(
        app.api(
            Method::POST,
            &format!("/conversations/{conversation}/messages"),
            &key,
        )
        .json(&json!({"body": "We are on it. Ravi, ward office"})),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let replies = tg.wait_for(chat, 5).await;
    assert_eq!(replies[4], "We are on it. Ravi, ward office");
    assert!(graph.requests().is_empty(), "nothing went to WhatsApp");
    app.stop().await;
}

/// A web chat of tenant `t` that pages on `origins` may embed.
pub(crate) async fn webchat_channel(app: &TestApp, t: &TestTenant, origins: &[&str]) -> Channel {
    let config = ChannelConfig::Webchat(WebchatConfig {
        signing_key: Secret::new("web-chat-signing-key-of-forty-characters"),
        allowed_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        greetings: Default::default(),
    });
    let (_, channel) = provision::add_channel(
        app.store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        app.engine.outbound().providers(),
        &t.tenant.slug,
        "Web chat".into(),
        config,
    )
    .await
    .unwrap();
    channel
}

/// A new visitor of the web chat, from `origin` (one it allows): their token.
pub(crate) async fn visitor_token(app: &TestApp, channel: &Channel, origin: &str) -> String {
    let res = app
        .http
        .post(chat_url(app, channel, "visitors"))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let visitor: Value = res.json().await.unwrap();
    visitor["token"].as_str().unwrap().to_owned()
}

pub(crate) fn chat_url(app: &TestApp, channel: &Channel, path: &str) -> String {
    app.url(&format!("/channels/webchat/{}/{path}", channel.id))
}

/// One Server-Sent Event: its id and its data.
#[derive(Debug, Clone)]
struct Event {
    id: String,
    data: Value,
}

/// Reads a `text/event-stream` response event by event.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, url: &str, last_event_id: Option<&str>) -> Self {
        let mut req = app.http.get(url);
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{:?}",
            response.headers()
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next `message` event, waiting at most 5 s.
    async fn next(&mut self) -> Event {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                        .map(str::to_owned)
                };
                if field("event").as_deref() == Some("message") {
                    return Event {
                        id: field("id").unwrap(),
                        data: serde_json::from_str(&field("data").unwrap()).unwrap(),
                    };
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .expect("an event within 5 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

pub(crate) async fn post_message(
    app: &TestApp,
    channel: &Channel,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let res = app
        .http
        .post(chat_url(app, channel, "messages"))
        .bearer_auth(token)
        .header("origin", "https://pune.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_chat_carries_the_intake_dialogue_over_its_event_stream() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let channel = webchat_channel(&app, &t, &["https://pune.example"]).await;

    // The widget, for the tenant's pages.
    let res = app
        .http
        .get(app.url(&channel.webhook_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let script = res.text().await.unwrap();
    assert!(
        script.contains(&format!("var channel = \"{}\"", channel.id))
            && script.contains("var title = \"Web chat\""),
        "{script}"
    );

    // A visitor, from an allowed site only; the preflight says what is allowed.
    let new_visitor = |origin: &'static str| {
        app.http
            .post(chat_url(&app, &channel, "visitors"))
            .header("origin", origin)
            .send()
    };
    let res = new_visitor("https://evil.example").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = new_visitor("https://pune.example").await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://pune.example"
    );
    let visitor: Value = res.json().await.unwrap();
    let token = visitor["token"].as_str().unwrap().to_owned();
    let res = app
        .http
        .request(Method::OPTIONS, chat_url(&app, &channel, "messages"))
        .header("origin", "https://pune.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));

    // Without a token of this chat, nothing is taken or shown.
    let (status, e) = post_message(&app, &channel, "v1.forged.token", json!({"text": "hi"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
    let res = app
        .http
        .get(chat_url(&app, &channel, "events?token=v1.forged.token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    for bad in [json!({"text": ""}), json!({"text": "x".repeat(4097)})] {
        let (status, e) = post_message(&app, &channel, &token, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["fields"][0]["field"], "text");
    }
    for payload in [json!(""), json!("x".repeat(65)), json!("tab\there")] {
        let body = json!({"text": "Yes", "payload": payload});
        let (status, e) = post_message(&app, &channel, &token, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert_eq!(e["error"]["fields"][0]["field"], "payload");
    }

    let events_url = chat_url(
        &app,
        &channel,
        &format!("events?token={}", urlencode(&token)),
    );
    let mut stream = EventStream::open(&app, &events_url, None).await;
    let mut seen: Vec<Event> = Vec::new();
    for (i, (text, expect)) in STEPS.iter().enumerate() {
        let mut body = json!({"text": text, "client_id": format!("c{i}")});
        if i == 2 {
            // The confirmation offers buttons; the visitor taps "Yes", as
            // the widget posts it: the title and the choice's id.
            let offered = &seen[3].data["choices"]["options"];
            assert_eq!(offered[0]["id"], "intake:yes", "{offered}");
            body["text"] = offered[0]["title"].clone();
            body["payload"] = offered[0]["id"].clone();
        }
        let text = body["text"].as_str().unwrap().to_owned();
        let (status, answer) = post_message(&app, &channel, &token, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let mine = stream.next().await;
        assert_eq!(
            (mine.data["from"].as_str(), mine.data["text"].as_str()),
            (Some("visitor"), Some(text.as_str()))
        );
        let reply = stream.next().await;
        assert_eq!(reply.data["from"], "organisation", "{:?}", reply.data);
        let said = reply.data["text"].as_str().unwrap();
        assert!(said.contains(expect), "reply to {text:?}: {said:?}");
        seen.push(mine);
        seen.push(reply);
    }
    let number = number_in(seen[5].data["text"].as_str().unwrap()).unwrap();
    assert!(number.starts_with("PUNE-"), "{number}");
    let complaints = app.store.complaints(&t.tenant.id, 5).await.unwrap();
    assert_eq!(complaints[0].channel_id, Some(channel.id.clone()));
    // Staff read the visitor as one, never by an internal id.
    crate::staff::member(&app, "staff@pune.example", &t.tenant.id, Role::Staff).await;
    let staff = crate::staff::Staff::login(&app, "staff@pune.example").await;
    let list = staff.get("/app/complaints").await.text().await.unwrap();
    assert!(
        list.contains(&number) && list.contains("web visitor "),
        "{list}"
    );
    assert!(!list.contains("vis_"), "{list}");

    // A send retried with its client_id is stored once.
    let (_, again) = post_message(
        &app,
        &channel,
        &token,
        json!({"text": "yes", "client_id": "c2"}),
    )
    .await;
    assert_eq!(again["duplicates"], 1, "{again}");

    // A reconnecting browser resumes after the last event it saw.
    let mut resumed = EventStream::open(&app, &events_url, Some(&seen[1].id)).await;
    let next = resumed.next().await;
    assert_eq!(next.id, seen[2].id);
    assert_eq!(next.data["text"], seen[2].data["text"]);
    // Another visitor sees none of it.
    let other: Value = new_visitor("https://pune.example")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, _) = post_message(
        &app,
        &channel,
        other["token"].as_str().unwrap(),
        json!({"text": "hello"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let other_url = chat_url(
        &app,
        &channel,
        &format!(
            "events?token={}",
            urlencode(other["token"].as_str().unwrap())
        ),
    );
    let first = EventStream::open(&app, &other_url, None).await.next().await;
    assert_eq!(first.data["text"], "hello");
    assert!(graph.requests().is_empty(), "nothing went to WhatsApp");
    // Nor does another tenant's web chat take this chat's token.
    let n = app.tenant("nashik", "NASIK", &graph).await;
    let theirs = webchat_channel(&app, &n, &[]).await;
    let (status, _) = post_message(&app, &theirs, &token, json!({"text": "hi"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = app
        .http
        .get(chat_url(
            &app,
            &theirs,
            &format!("events?token={}", urlencode(&token)),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(!app.store.has_conversations(&n.tenant.id).await.unwrap());

    // One visitor may send 20 messages a minute; then 429 with Retry-After.
    let mut accepted = 4;
    let refused = loop {
        let res = app
            .http
            .post(chat_url(&app, &channel, "messages"))
            .bearer_auth(&token)
            .json(&json!({"text": format!("more {accepted}")}))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break res;
        }
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        accepted += 1;
        assert!(accepted <= 20, "no limit after {accepted} messages");
    };
    assert_eq!(accepted, 20, "the retried send counted too");
    assert!(refused.headers().contains_key("retry-after"));
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A photo sent to the bot: fetched through `getFile` and the file URL,
/// its largest size, and kept with the complaint as WhatsApp's are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_sent_to_the_telegram_bot_is_fetched_and_kept() {
    let graph = FakeGraph::start().await;
    let tg = FakeTelegram::start(BOT_TOKEN).await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let channel = telegram_channel(&app, &t, &tg).await;
    let photo = crate::media::phone_photo();
    let small = tg.add_file(b"a thumbnail that is never fetched", "photos/file_0.jpg");
    let large = tg.add_file(&photo, "photos/file_1.jpg");
    let body = json!({"update_id": 9100, "message": {
        "message_id": 41, "date": 1764633600,
        "chat": {"id": 777001, "type": "private", "first_name": "Asha"},
        "from": {"id": 777001, "is_bot": false, "first_name": "Asha"},
        "photo": [{"file_id": small, "file_unique_id": "s", "width": 90, "height": 60, "file_size": 33},
                  {"file_id": large, "file_unique_id": "l", "width": 96, "height": 64, "file_size": photo.len()}],
        "caption": "Garbage dumped on the footpath outside the market, it smells",
    }});
    let res = app
        .http
        .post(app.url(&channel.webhook_path()))
        .header("x-telegram-bot-api-secret-token", SECRET)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let replies = tg.wait_for("777001", 1).await;
    assert!(
        replies[0].starts_with("Thank you, we have your photo"),
        "{replies:?}"
    );
    assert_eq!(
        tg.file_calls(),
        (1, 1),
        "one getFile, one download: the largest size"
    );
    let media = app
        .messages_of(&t.tenant.id)
        .await
        .into_iter()
        .find_map(|m| m.media)
        .unwrap();
    let a = app
        .store
        .attachment(&t.tenant.id, &media.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.state, ombud_core::media::MediaState::Ready);
    assert_eq!(a.content_type.as_deref(), Some("image/jpeg"));
    app.stop().await;
}
