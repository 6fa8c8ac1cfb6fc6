use std::time::Duration;

use ombud_channels::whatsapp::sign;
use ombud_core::DeliveryStatus;
use serde_json::{json, Value};

use crate::helpers::*;

async fn error_code(res: reqwest::Response) -> String {
    let body: Value = res.json().await.expect("a JSON error body");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_right_status_and_store_nothing() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let payload = text_payload(
        &t.channel,
        "919800000001",
        "wamid.R1",
        "water leak on MG road",
    );
    let body = payload.to_string().into_bytes();

    let res = app
        .post_raw(
            &t.channel.id,
            body.clone(),
            Some(sign("wrong-secret", &body)),
        )
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(res).await, "signature_invalid");

    let res = app.post_raw(&t.channel.id, body.clone(), None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(error_code(res).await, "signature_missing");

    let res = app
        .post_raw(&t.channel.id, body.clone(), Some("sha256=nothex".into()))
        .await;
    assert_eq!(res.status(), 401);

    let garbage = b"{\"object\": \"whatsapp_business_account\", \"entry\": [".to_vec();
    let res = app
        .post_raw(
            &t.channel.id,
            garbage.clone(),
            Some(sign(&t.app_secret, &garbage)),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(res).await, "invalid_json");

    let wrong_shape =
        br#"{"object": "whatsapp_business_account", "entry": {"not": "a list"}}"#.to_vec();
    let res = app
        .post_raw(
            &t.channel.id,
            wrong_shape.clone(),
            Some(sign(&t.app_secret, &wrong_shape)),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_code(res).await, "invalid_payload");

    // 5 MB announced: refused from the headers alone, before a byte of body is read.
    let (status, answer) = head_only_post(app.addr, &t.channel.id, 5 * 1024 * 1024).await;
    assert_eq!(status, 413, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"]["code"], "payload_too_large");

    let res = app
        .post_raw(
            &ombud_core::ChannelId::new(),
            body.clone(),
            Some(sign(&t.app_secret, &body)),
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .http
        .post(app.url("/channels/whatsapp/not-an-id/webhook"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_code(res).await, "not_found");

    // Nothing of the rejected requests was stored or answered.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app
        .store
        .conversations(&t.tenant.id)
        .await
        .unwrap()
        .is_empty());
    assert!(graph.requests().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_handshake() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let path = format!("/channels/whatsapp/{}/webhook", t.channel.id);

    let ok = app
        .http
        .get(app.url(&format!(
            "{path}?hub.mode=subscribe&hub.verify_token=pune-verify&hub.challenge=1158201444"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");

    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=pune-verify&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
    ] {
        let res = app
            .http
            .get(app.url(&format!("{path}?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{query}");
        assert_eq!(error_code(res).await, "verification_failed");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_other_types_and_status_only_payloads_are_accepted() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let citizen = "919800000001";

    // Unknown fields everywhere: still a message, still answered.
    let mut payload = text_payload(&t.channel, citizen, "wamid.U1", "hello");
    payload["brand_new_top_level"] = json!({"x": 1});
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["context"] =
        json!({"forwarded": true});
    payload["entry"][0]["changes"][0]["value"]["unknown_list"] = json!([1, 2, 3]);
    let res = app.post_signed(&t, &payload).await;
    assert_eq!(res.status(), 200);
    let replies = graph.wait_for_reply_to(citizen, 1).await;
    assert_eq!(replies.len(), 1);

    // An image whose media the Graph API does not know: stored with its
    // kind, its fetch fails, and the citizen is asked to send it again.
    let image = envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": t.channel.whatsapp().unwrap().phone_number_id},
        "contacts": [{"profile": {"name": "A"}, "wa_id": citizen}],
        "messages": [{"from": citizen, "id": "wamid.IMG", "timestamp": "1763856000", "type": "image",
                      "image": {"caption": "the pothole", "mime_type": "image/jpeg", "id": "123"}}]
    }));
    assert_eq!(app.post_signed(&t, &image).await.status(), 200);
    let replies = graph.wait_for_reply_to(citizen, 2).await;
    assert!(
        replies[1].starts_with("Sorry, we could not take that file"),
        "{}",
        replies[1]
    );
    let stored = app.messages_of(&t.tenant.id).await;
    let img = stored
        .iter()
        .find(|m| m.provider_id.as_deref() == Some("wamid.IMG"))
        .unwrap();
    assert_eq!(img.kind, ombud_core::MessageKind::Image);
    assert_eq!(img.body, "the pothole");
    let media = img.media.as_ref().expect("its attachment");
    assert_eq!(media.state, ombud_core::media::MediaState::Failed);
    assert!(
        media
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("HTTP 400"),
        "{media:?}"
    );

    // A status-only payload moves our outbound message forward.
    let ok = wait_until(Duration::from_secs(2), || async {
        app.messages_of(&t.tenant.id)
            .await
            .iter()
            .any(|m| m.direction == ombud_core::Direction::Outbound && m.provider_id.is_some())
    })
    .await;
    assert!(ok);
    let outbound = app
        .messages_of(&t.tenant.id)
        .await
        .into_iter()
        .find(|m| m.provider_id.as_deref() == Some("wamid.FAKE00000001"))
        .unwrap();
    assert_eq!(outbound.status, DeliveryStatus::Sent);
    let statuses = envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": t.channel.whatsapp().unwrap().phone_number_id},
        "statuses": [
            {"id": "wamid.FAKE00000001", "status": "read", "timestamp": "1763856010", "recipient_id": citizen},
            {"id": "wamid.FAKE00000001", "status": "delivered", "timestamp": "1763856005", "recipient_id": citizen},
            {"id": "wamid.UNKNOWN", "status": "delivered", "timestamp": "1763856005", "recipient_id": citizen}
        ]
    }));
    let res = app.post_signed(&t, &statuses).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["statuses"], 1,
        "read applies; late delivered and unknown wamid do not: {body}"
    );
    let outbound = app
        .messages_of(&t.tenant.id)
        .await
        .into_iter()
        .find(|m| m.id == outbound.id)
        .unwrap();
    assert_eq!(outbound.status, DeliveryStatus::Read);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_delivered_three_times_is_stored_and_answered_once() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let payload = text_payload(
        &t.channel,
        "919800000001",
        "wamid.SAME",
        "garbage not collected near the market",
    );
    let (a, b, c) = tokio::join!(
        app.post_signed(&t, &payload),
        app.post_signed(&t, &payload),
        app.post_signed(&t, &payload)
    );
    for res in [a, b, c] {
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        graph
            .wait_for_deliveries(1, Duration::from_secs(2))
            .await
            .len(),
        1
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let messages = app.messages_of(&t.tenant.id).await;
    let inbound = messages
        .iter()
        .filter(|m| m.direction == ombud_core::Direction::Inbound)
        .count();
    assert_eq!(inbound, 1);
    assert_eq!(graph.requests().len(), 1, "exactly one reply was sent");
    app.stop().await;
}

/// Sends only the request head of a POST announcing `length` bytes, then reads the
/// answer: a server that judges the size from the headers answers at once. (Sending
/// the body races the server closing the connection after its early answer.)
async fn head_only_post(
    addr: std::net::SocketAddr,
    channel: &ombud_core::ChannelId,
    length: usize,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /channels/whatsapp/{channel}/webhook HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nX-Hub-Signature-256: sha256={}\r\n\
         Content-Length: {length}\r\nConnection: close\r\n\r\n",
        "0".repeat(64)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .expect("the server answered without waiting for the body")
        .unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// A dashboard form with a NUL character (PostgreSQL cannot store one) is
/// refused with the field named, never a server error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_a_nul_character_is_refused_by_name() {
    use crate::staff::{member, Staff};
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(
        &app,
        "admin@pune.example",
        &t.tenant.id,
        ombud_core::Role::Admin,
    )
    .await;
    let admin = Staff::login(&app, "admin@pune.example").await;
    let res = admin
        .submit("/app/developers/keys", &[("name", "a\0b")])
        .await;
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("contains a NUL character"));
    app.stop().await;
}
