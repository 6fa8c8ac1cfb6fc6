//! Photos citizens send on WhatsApp (issue 27): fetched from the Graph API
//! as Meta serves media (a lookup for a five-minute URL, then the download
//! with the bearer token), checked against Meta's SHA-256, sniffed, limited,
//! stripped of their EXIF location, and kept with the complaint being
//! described; shown to that tenant's staff and API callers only.

use std::time::Duration;

use ombud_core::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::fake_graph::MediaFault;
use crate::helpers::*;
use crate::staff::*;

/// A real JPEG as a phone takes it: a 96×64 picture with an EXIF block
/// saying where it was taken (GPS latitude 18° 31′ 10″ N).
pub fn phone_photo() -> Vec<u8> {
    let (w, h) = (96u16, 64u16);
    let mut pixels = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..h {
        for x in 0..w {
            // A grey road with a dark pothole in the middle.
            let (dx, dy) = (i32::from(x) - 48, i32::from(y) - 32);
            let hole = dx * dx + 2 * dy * dy < 300;
            let v = if hole { 40 } else { 150 + (x % 7) as u8 * 5 };
            pixels.extend_from_slice(&[v, v, v.saturating_sub(10)]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 85);
    encoder.add_app_segment(1, &exif_with_gps()).unwrap();
    encoder
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

/// An EXIF block (big-endian TIFF) whose IFD0 points to a GPS IFD with a
/// latitude: what phones write and what must not reach staff.
fn exif_with_gps() -> Vec<u8> {
    let mut t = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    // IFD0: one entry, GPSInfo (0x8825, LONG) pointing at offset 26.
    t.extend_from_slice(&[0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
    // GPS IFD: GPSLatitudeRef "N", GPSLatitude (3 RATIONALs at 56).
    t.extend_from_slice(&[0, 2]);
    t.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    t.extend_from_slice(&[0, 2, 0, 5, 0, 0, 0, 3, 0, 0, 0, 56]);
    t.extend_from_slice(&[0, 0, 0, 0]);
    for (n, d) in [(18u32, 1u32), (31, 1), (1000, 100)] {
        t.extend_from_slice(&n.to_be_bytes());
        t.extend_from_slice(&d.to_be_bytes());
    }
    t
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The first photo's or voice note's attachment in a conversation, as
/// stored.
pub async fn attachment_in(
    app: &TestApp,
    tenant: &TenantId,
    conversation: &ConversationId,
) -> ombud_store::Attachment {
    let media = app
        .store
        .messages(tenant, conversation)
        .await
        .unwrap()
        .into_iter()
        .find_map(|m| m.media)
        .expect("a message with media");
    app.store
        .attachment(tenant, &media.id)
        .await
        .unwrap()
        .expect("its attachment")
}

/// A complaint's attachments, as the API lists them.
pub async fn listed(app: &TestApp, t: &TestTenant, number: &str) -> Vec<Value> {
    let key = app.api_key(&t.tenant.id, &[Scope::ComplaintsRead]).await;
    let list: Value = app
        .api(
            reqwest::Method::GET,
            &format!("/complaints/{number}/attachments"),
            &key,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"].as_array().unwrap().clone()
}

/// Meta's webhook for a photo message.
pub fn photo_message(
    t: &TestTenant,
    citizen: &str,
    wamid: &str,
    media_id: &str,
    sha256: &str,
    caption: Option<&str>,
) -> Value {
    let mut image = json!({"mime_type": "image/jpeg", "sha256": sha256, "id": media_id});
    if let Some(c) = caption {
        image["caption"] = json!(c);
    }
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111",
                     "phone_number_id": t.channel.whatsapp().unwrap().phone_number_id},
        "contacts": [{"profile": {"name": "Asha"}, "wa_id": citizen}],
        "messages": [{"from": citizen, "id": wamid, "timestamp": "1763856000",
                      "type": "image", "image": image}]
    }))
}

/// Sends a photo as the citizen, and waits for the office's answer.
pub async fn send_photo(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
    (media_id, sha256): (&str, &str),
    caption: Option<&str>,
) -> String {
    let before = graph.delivered_to(citizen).len();
    graph.citizen_wrote(citizen);
    let wamid = format!("wamid.PHOTO.{}", ombud_core::id::new_id_body());
    let payload = photo_message(t, citizen, &wamid, media_id, sha256, caption);
    assert_eq!(app.post_signed(t, &payload).await.status(), 200);
    let replies = wait_for_reply(graph, citizen, before + 1).await;
    replies[before].clone()
}

async fn wait_for_reply(graph: &FakeGraph, citizen: &str, n: usize) -> Vec<String> {
    // A fetch retried after two failures waits out the scheduler's backoff
    // (1 s, then 2 s, in the tests).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = graph.delivered_to(citizen);
        if got.len() >= n || std::time::Instant::now() > deadline {
            assert!(got.len() >= n, "no reply {n} to {citizen}: {got:?}");
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Answers the office's questions (place, kind, confirmation) until it
/// gives a complaint number.
pub async fn finish_dialogue(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    citizen: &str,
    mut last: String,
) -> String {
    for _ in 0..5 {
        if let Some(n) = number_in(&last) {
            return n;
        }
        let answer = if last.contains("Where is this") {
            "Karve Road, near the Nal Stop bus stand"
        } else if last.contains("Which kind") || last.contains("Tap one") {
            "1"
        } else if last.contains("confirm") {
            "yes"
        } else {
            panic!("an unexpected question: {last}")
        };
        let before = graph.delivered_to(citizen).len();
        graph.citizen_wrote(citizen);
        app.say(t, citizen, answer).await;
        last = wait_for_reply(graph, citizen, before + 1).await[before].clone();
    }
    panic!("no complaint number: {last}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_goes_with_the_complaint_without_its_location_and_only_to_its_tenant() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let other = app.tenant("nashik", "NSK", &graph).await;
    let photo = phone_photo();
    assert!(contains(&photo, b"Exif\0\0") && contains(&photo, &[0, 0, 0, 18, 0, 0, 0, 1]));
    let (media_id, sha256) = graph.add_media(&photo, "image/jpeg");
    let citizen = "919800000501";

    // The photo first, with the problem in its caption: it is kept for the
    // complaint, and the dialogue goes on from the caption.
    let first = send_photo(
        &app,
        &t,
        &graph,
        citizen,
        (&media_id, &sha256),
        Some("Huge pothole on the road, two bikes fell today"),
    )
    .await;
    assert!(
        first.starts_with("Thank you, we have your photo"),
        "{first}"
    );
    let number = finish_dialogue(&app, &t, &graph, citizen, first).await;
    assert_eq!(graph.media_calls(), (1, 1), "one lookup, one download");

    // The API lists it by reference and serves it without the EXIF block.
    let key = app.api_key(&t.tenant.id, &[Scope::ComplaintsRead]).await;
    let items = listed(&app, &t, &number).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let a = &items[0];
    assert_eq!(
        (a["kind"].as_str(), a["state"].as_str()),
        (Some("image"), Some("ready")),
        "{a}"
    );
    assert_eq!(a["content_type"], "image/jpeg");
    let id = a["id"].as_str().unwrap().to_owned();
    let res = app
        .http
        .get(app.url(a["content_url"].as_str().unwrap()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(
        res.headers()["content-security-policy"],
        "default-src 'none'; sandbox"
    );
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("private"));
    let served = res.bytes().await.unwrap();
    assert!(served.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert!(!contains(&served, b"Exif\0\0"), "the EXIF block is gone");
    assert!(
        !contains(&served, &[0, 0, 0, 18, 0, 0, 0, 1]),
        "and its latitude"
    );
    assert!(served.len() > photo.len() / 2, "the picture itself is kept");
    assert_eq!(a["sha256"], hex::encode(Sha256::digest(&served)));
    assert_eq!(a["size"], served.len());

    // Staff see it on the complaint's page and in the conversation.
    member(&app, "staff@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "staff@pune.gov.in").await;
    let page = staff.page(&format!("/app/complaints/{number}")).await;
    let img = format!("<img src=\"/app/attachments/{id}\"");
    assert_eq!(
        page.matches(&img).count(),
        2,
        "on the page and in the conversation: {page}"
    );
    let res = staff.get(&format!("/app/attachments/{id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), served);

    // Another tenant's key and staff find nothing there.
    let their_key = app
        .api_key(&other.tenant.id, &[Scope::ComplaintsRead])
        .await;
    for path in [
        format!("/api/v1/attachments/{id}/content"),
        format!("/api/v1/complaints/{number}/attachments"),
    ] {
        let res = app
            .http
            .get(app.url(&path))
            .bearer_auth(&their_key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    member(&app, "staff@nashik.gov.in", &other.tenant.id, Role::Admin).await;
    let theirs = Staff::login(&app, "staff@nashik.gov.in").await;
    assert_eq!(
        theirs.get(&format!("/app/attachments/{id}")).await.status(),
        404
    );
    // Nor does a key without complaints:read.
    let blind = app.api_key(&t.tenant.id, &[Scope::WebhooksManage]).await;
    let res = app
        .http
        .get(app.url(&format!("/api/v1/attachments/{id}/content")))
        .bearer_auth(&blind)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_outlasts_a_failing_graph_api_and_an_expired_url_and_refuses_a_damaged_file() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let citizen = "919800000502";
    app.say(
        &t,
        citizen,
        "Garbage has not been collected on our street for a week",
    )
    .await;
    let asked = wait_for_reply(&graph, citizen, 1).await;

    // The Graph API fails twice, then hands out a URL that has expired by
    // the time it is used: the photo still arrives, fetched again.
    graph.media_faults(&[
        MediaFault::Lookup(500),
        MediaFault::Lookup(503),
        MediaFault::Expired,
    ]);
    let (media_id, sha256) = graph.add_media(&phone_photo(), "image/jpeg");
    let reply = send_photo(&app, &t, &graph, citizen, (&media_id, &sha256), None).await;
    assert!(
        reply.starts_with("Thank you, we have your photo"),
        "{reply}"
    );
    // The dialogue goes on where it was.
    assert!(
        reply.ends_with(asked[0].as_str()),
        "{reply:?} ends with {:?}",
        asked[0]
    );
    assert_eq!(graph.media_calls(), (4, 2), "four lookups, two downloads");

    // A file whose SHA-256 is not the one in Meta's webhook is refused, and
    // the citizen is asked to send it again.
    let (media_id, _) = graph.add_media(&phone_photo(), "image/jpeg");
    let wrong = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"something else"))
    };
    let reply = send_photo(&app, &t, &graph, citizen, (&media_id, &wrong), None).await;
    assert!(
        reply.starts_with("Sorry, we could not take that file"),
        "{reply}"
    );

    // Staff see why, in the conversation.
    let number = finish_dialogue(&app, &t, &graph, citizen, asked[0].clone()).await;
    member(&app, "staff@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "staff@pune.gov.in").await;
    let page = staff.page(&format!("/app/complaints/{number}")).await;
    assert!(
        page.contains("(photo not taken: its SHA-256 is not the one the provider sent"),
        "{page}"
    );
    // Only the photo that arrived is the complaint's.
    let list = listed(&app, &t, &number).await;
    assert_eq!(list.len(), 1, "{list:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_over_the_tenants_limit_is_refused_without_being_downloaded() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let limits = ombud_core::media::MediaLimits {
        image_bytes: 1000,
        ..Default::default()
    };
    set_limits(&app, &t, limits).await;

    let citizen = "919800000503";
    let (media_id, sha256) = graph.add_media(&phone_photo(), "image/jpeg");
    let reply = send_photo(&app, &t, &graph, citizen, (&media_id, &sha256), None).await;
    assert!(
        reply.starts_with("Sorry, we could not take that file"),
        "{reply}"
    );
    assert_eq!(graph.media_calls(), (1, 0), "the lookup's size was enough");
    app.stop().await;
}

/// `kill -9` after the webhook was acknowledged and before the photo could
/// be downloaded (the Graph API is down): the restarted server fetches it
/// and answers, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_acknowledged_before_a_kill_9_is_fetched_after_the_restart() {
    use crate::crash::{cli, serve_with, wait_ready, whatsapp_channel};
    const PHONE: &str = "5550027";
    const SECRET: &str = "media-crash-secret";
    let graph = FakeGraph::start().await;
    let db = TestDb::new().await;
    let args = [
        "tenant",
        "create",
        "--slug",
        "media",
        "--name",
        "Media Office",
        "--prefix",
        "MED",
    ];
    cli(&db, &args);
    let channel = whatsapp_channel(&db, "media", PHONE, SECRET, &graph.url());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}{}", channel["webhook_path"].as_str().unwrap());
    let http = reqwest::Client::new();
    let env = [
        ("OMBUD_SCHEDULER__LEASE_SECS", "3"),
        ("OMBUD_SCHEDULER__RETRY_BASE_SECS", "1"),
        ("OMBUD_SCHEDULER__POLL_INTERVAL_MS", "100"),
    ];
    let mut server = serve_with(&db, port, &env);
    wait_ready(&http, &base).await;

    let citizen = "919800000504";
    let (media_id, sha256) = graph.add_media(&phone_photo(), "image/jpeg");
    graph.stop().await;
    let payload = envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE},
        "contacts": [{"profile": {"name": "Asha"}, "wa_id": citizen}],
        "messages": [{"from": citizen, "id": "wamid.CRASHPHOTO", "timestamp": "1763856000",
                      "type": "image",
                      "image": {"mime_type": "image/jpeg", "sha256": sha256, "id": media_id}}]
    }))
    .to_string();
    let res = http
        .post(&url)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            ombud_channels::whatsapp::sign(SECRET, payload.as_bytes()),
        )
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "acknowledged: durable");
    server.0.kill().expect("kill -9");
    let _ = server.0.wait();
    assert_eq!(
        graph.media_calls().1,
        0,
        "nothing was downloaded before the kill"
    );

    let graph = graph.restart().await;
    let _server = serve_with(&db, port, &env);
    wait_ready(&http, &base).await;
    let replies = wait_for_reply(&graph, citizen, 1).await;
    assert!(
        replies[0].starts_with("Thank you, we have your photo"),
        "{replies:?}"
    );
    assert_eq!(
        graph.media_calls().1,
        1,
        "downloaded once, after the restart"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(graph.delivered_to(citizen).len(), 1, "answered once");
}

/// Erasing a person takes their photos: the attachment rows at once, the
/// stored bytes with the next collection, unless another person sent the
/// very same photo (then they stay until that one goes too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_persons_photos_are_deleted_unless_another_sent_the_same() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let photo = phone_photo();
    let (asha, ravi) = ("919800000505", "919800000506");
    for citizen in [asha, ravi] {
        let (media_id, sha256) = graph.add_media(&photo, "image/jpeg");
        send_photo(&app, &t, &graph, citizen, (&media_id, &sha256), None).await;
    }
    let (asha_said, ravi_said) = (
        app.conversation_of(&t, asha).await,
        app.conversation_of(&t, ravi).await,
    );
    let media_in = |c: ConversationId| {
        let app = &app;
        let t = &t;
        async move {
            app.store
                .messages(&t.tenant.id, &c)
                .await
                .unwrap()
                .into_iter()
                .find_map(|m| m.media)
        }
    };
    let media = media_in(asha_said.id.clone()).await.unwrap();
    let kept = app
        .store
        .attachment(&t.tenant.id, &media.id)
        .await
        .unwrap()
        .unwrap();
    let sha = kept.sha256.unwrap();
    let object = app
        .db
        .dir
        .path()
        .join("media")
        .join(t.tenant.id.as_str())
        .join(&sha[..2])
        .join(&sha);
    assert!(object.exists(), "{}", object.display());
    let collected = || async {
        let left = "select cast(count(*) as text) from media_garbage";
        wait_until(Duration::from_secs(10), || async {
            app.db.texts(left).await == ["0"]
        })
        .await
    };

    let erase = |contact: ContactId| {
        let app = &app;
        let t = &t;
        async move {
            app.engine
                .ops()
                .erase_contact(&ombud_engine::Acting::cli(), &t.tenant.id, &contact)
                .await
                .unwrap();
        }
    };
    erase(asha_said.contact_id.clone()).await;
    assert!(app
        .store
        .attachment(&t.tenant.id, &media.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        media_in(asha_said.id.clone()).await,
        None,
        "the message keeps nothing of it"
    );
    app.pass(chrono::Duration::minutes(6)).await;
    assert!(collected().await, "the collection ran");
    assert!(object.exists(), "Ravi's photo is the same bytes: kept");

    erase(ravi_said.contact_id.clone()).await;
    app.pass(chrono::Duration::minutes(6)).await;
    assert!(collected().await, "the collection ran again");
    assert!(!object.exists(), "nobody's photo now: deleted");
    app.stop().await;
}

/// An office that keeps messages 30 days keeps their photos as long: the
/// sweep that deletes a message takes its attachment, and the collection
/// the stored bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_leave_with_their_messages_when_retention_deletes_them() {
    use ombud_store::Aging;
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let (keeps, _) =
        crate::retention::offices_one_keeping_30_days(&app, &graph, "messages_days").await;
    let citizen = "919800000507";
    let (media_id, sha256) = graph.add_media(&phone_photo(), "image/jpeg");
    send_photo(&app, &keeps, &graph, citizen, (&media_id, &sha256), None).await;
    let said = app.conversation_of(&keeps, citizen).await;
    let kept = attachment_in(&app, &keeps.tenant.id, &said.id).await;
    let sha = kept.sha256.clone().unwrap();
    let object = app
        .db
        .dir
        .path()
        .join("media")
        .join(keeps.tenant.id.as_str())
        .join(&sha[..2])
        .join(&sha);
    assert!(object.exists());

    app.pass(chrono::Duration::days(32)).await;
    let policy = ombud_engine::ops::retention::RetentionPolicy::default();
    app.engine
        .ops()
        .age_messages(Aging::Messages, &policy, &mut Default::default())
        .await
        .unwrap();
    assert!(
        app.store
            .attachment(&keeps.tenant.id, &kept.id)
            .await
            .unwrap()
            .is_none(),
        "the attachment left with its message"
    );
    app.pass(chrono::Duration::minutes(6)).await;
    let gone = wait_until(Duration::from_secs(10), || async { !object.exists() }).await;
    assert!(gone, "the stored photo is deleted");
    app.stop().await;
}

/// A web chat visitor's photo: the raw image as the body, judged by its
/// bytes, cleaned and kept as WhatsApp's are, answered as a photo; what is
/// no photo, too large, or without a visitor's token is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_chat_visitor_uploads_a_photo_and_bad_uploads_are_refused_by_name() {
    use crate::channels::{visitor_token, webchat_channel};
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let channel = webchat_channel(&app, &t, &["https://pune.example"]).await;
    let token = visitor_token(&app, &channel, "https://pune.example").await;
    let url = |query: &str| app.url(&format!("/channels/webchat/{}/photos{query}", channel.id));
    let upload = |query: &str, content_type: &str, body: Vec<u8>, token: Option<&str>| {
        let mut req = app
            .http
            .post(url(query))
            .header("content-type", content_type)
            .header("origin", "https://pune.example")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let photo = phone_photo();

    let refusals = [
        (
            upload("", "image/jpeg", photo.clone(), None).await.unwrap(),
            401,
            "Authorization",
        ),
        (
            upload("", "application/pdf", b"%PDF-1.7".to_vec(), Some(&token))
                .await
                .unwrap(),
            415,
            "Content-Type",
        ),
        (
            upload(
                "",
                "image/jpeg",
                b"%PDF-1.7 not a photo".to_vec(),
                Some(&token),
            )
            .await
            .unwrap(),
            422,
            "body",
        ),
        (
            upload(
                "?client_id=a%20b",
                "image/jpeg",
                photo.clone(),
                Some(&token),
            )
            .await
            .unwrap(),
            422,
            "client_id",
        ),
        (
            upload("?size=9", "image/jpeg", photo.clone(), Some(&token))
                .await
                .unwrap(),
            400,
            "",
        ),
    ];
    for (res, status, field) in refusals {
        assert_eq!(res.status(), status);
        let e: Value = res.json().await.unwrap_or_default();
        if !field.is_empty() {
            assert_eq!(e["error"]["fields"][0]["field"], field, "{e}");
        }
    }
    assert!(!app.store.has_conversations(&t.tenant.id).await.unwrap());

    // A photo, sent twice with the same client id: stored once.
    for _ in 0..2 {
        let res = upload(
            "?client_id=photo-1&caption=Broken%20bench%20in%20the%20park",
            "image/jpeg",
            photo.clone(),
            Some(&token),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), 202);
    }
    let answered = wait_until(Duration::from_secs(10), || async {
        app.messages_of(&t.tenant.id).await.iter().any(|m| {
            m.direction == Direction::Outbound
                && m.body.starts_with("Thank you, we have your photo")
        })
    })
    .await;
    assert!(answered, "the photo was answered");
    let inbound: Vec<_> = app
        .messages_of(&t.tenant.id)
        .await
        .into_iter()
        .filter(|m| m.direction == Direction::Inbound)
        .collect();
    assert_eq!(inbound.len(), 1, "stored once");
    assert_eq!(inbound[0].body, "Broken bench in the park");
    let media = inbound[0].media.clone().unwrap();
    let a = app
        .store
        .attachment(&t.tenant.id, &media.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.state, ombud_core::media::MediaState::Ready);
    let dir = app.db.dir.path().join("media").join(t.tenant.id.as_str());
    let kept: Vec<_> = walk(&dir);
    assert_eq!(kept.len(), 1, "only the clean copy is kept: {kept:?}");
    let clean = std::fs::read(&kept[0]).unwrap();
    assert!(!contains(&clean, b"Exif\0\0"), "without its EXIF block");

    // Over the office's photo limit: refused, naming the body.
    let small = ombud_core::media::MediaLimits {
        image_bytes: 1000,
        ..Default::default()
    };
    set_limits(&app, &t, small).await;
    let res = upload("", "image/jpeg", photo, Some(&token)).await.unwrap();
    assert_eq!(res.status(), 422);
    let e: Value = res.json().await.unwrap();
    assert_eq!(e["error"]["fields"][0]["field"], "body", "{e}");
    assert!(e.to_string().contains("at most 1000"), "{e}");
    app.stop().await;
}

/// The office takes media up to `limits`, and transcribes nothing.
async fn set_limits(app: &TestApp, t: &TestTenant, limits: ombud_core::media::MediaLimits) {
    app.engine
        .ops()
        .set_media_settings(
            &ombud_engine::Acting::cli(),
            &t.tenant.id,
            limits,
            Default::default(),
        )
        .await
        .unwrap();
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
