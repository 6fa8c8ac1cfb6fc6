use super::*;

const PHONE: &str = "106540352242922";

fn payload(value: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}]
    })
    .to_string()
    .into_bytes()
}

#[test]
fn text_messages_with_profile_names() {
    let body = payload(serde_json::json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE},
        "contacts": [{"profile": {"name": "Asha"}, "wa_id": "919800000001"}],
        "messages": [
            {"from": "919800000001", "id": "wamid.A", "timestamp": "1763856000",
             "type": "text", "text": {"body": "street light broken"}},
            {"from": "919800000001", "id": "wamid.B", "timestamp": "1763856001",
             "type": "image", "image": {"caption": "see", "mime_type": "image/jpeg", "id": "1"}},
            {"from": "919800000001", "id": "wamid.C", "timestamp": "1763856002",
             "type": "brand_new_type", "brand_new_type": {}}
        ]
    }));
    let out = parse_webhook(&body, PHONE, None).unwrap();
    let m = &out.batch.messages;
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].body, "street light broken");
    assert_eq!(m[0].profile_name.as_deref(), Some("Asha"));
    assert_eq!(m[0].kind, MessageKind::Text);
    assert_eq!(m[1].kind, MessageKind::Image);
    // A photo's words are its caption; the photo is fetched by its id.
    assert_eq!(m[1].body, "see");
    let media = m[1].media.as_ref().unwrap();
    assert_eq!(media.id, "1");
    assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(m[0].media, None);
    assert_eq!(m[2].kind, MessageKind::Other);
    assert_eq!(m[2].media, None);
    assert_eq!(m[0].sent_at.map(|t| t.timestamp()), Some(1763856000));
}

#[test]
fn taps_on_buttons_lists_and_template_quick_replies_carry_their_id() {
    let body = payload(serde_json::json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE},
        "messages": [
            {"from": "919800000001", "id": "wamid.R1", "timestamp": "1763856000",
             "context": {"from": "15550001111", "id": "wamid.OUT1"},
             "type": "interactive",
             "interactive": {"type": "button_reply", "button_reply": {"id": "solved:no", "title": "No, not solved"}}},
            {"from": "919800000001", "id": "wamid.R2", "timestamp": "1763856001",
             "type": "interactive",
             "interactive": {"type": "list_reply", "list_reply": {"id": "rate:4", "title": "4 ★ Good", "description": ""}}},
            {"from": "919800000001", "id": "wamid.R3", "timestamp": "1763856002",
             "context": {"from": "15550001111", "id": "wamid.OUT2"},
             "type": "button", "button": {"payload": "rate:2", "text": "Poor"}},
            {"from": "919800000001", "id": "wamid.R4", "timestamp": "1763856003",
             "type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {}}}
        ]
    }));
    let m = parse_webhook(&body, PHONE, None).unwrap().batch.messages;
    let got: Vec<_> = m
        .iter()
        .map(|m| (m.kind, m.payload.as_deref(), m.body.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                MessageKind::Interactive,
                Some("solved:no"),
                "No, not solved"
            ),
            (MessageKind::Interactive, Some("rate:4"), "4 ★ Good"),
            (MessageKind::Button, Some("rate:2"), "Poor"),
            (MessageKind::Interactive, None, "[interactive]"),
        ]
    );
    assert!(m.iter().all(|m| m.kind != MessageKind::Text));
}

#[test]
fn statuses_with_errors_and_foreign_numbers() {
    let mut v: serde_json::Value = serde_json::from_slice(&payload(serde_json::json!({
        "metadata": {"phone_number_id": PHONE},
        "statuses": [
            {"id": "wamid.X", "status": "delivered", "timestamp": "1", "recipient_id": "9198"},
            {"id": "wamid.Y", "status": "failed", "timestamp": "1", "recipient_id": "9198",
             "biz_opaque_callback_data": "msg_1",
             "errors": [{"code": 131047, "title": "Re-engagement message",
                         "error_data": {"details": "More than 24 hours have passed"}}]}
        ]
    })))
    .unwrap();
    v["entry"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": "W2", "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "other"},
             "messages": [{"from": "1", "id": "wamid.Z", "type": "text", "text": {"body": "x"}}]}}
        ]}));
    let out = parse_webhook(v.to_string().as_bytes(), PHONE, None).unwrap();
    assert_eq!(out.foreign, 1);
    assert!(out.batch.messages.is_empty());
    let s = &out.batch.statuses;
    assert_eq!(s[0].status, DeliveryStatus::Delivered);
    assert_eq!(s[1].status, DeliveryStatus::Failed);
    assert_eq!(
        s[1].error.as_deref(),
        Some("131047: More than 24 hours have passed")
    );
    assert_eq!(s[1].callback_data.as_deref(), Some("msg_1"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(matches!(
        parse_webhook(b"{nope", PHONE, None),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(
        parse_webhook(b"[]", PHONE, None),
        Err(ParseError::Shape(_))
    ));
    assert!(matches!(
        parse_webhook(br#"{"object":"page","entry":[]}"#, PHONE, None),
        Err(ParseError::Shape(_))
    ));
    assert!(matches!(
        parse_webhook(
            br#"{"object":"whatsapp_business_account","entry":"x"}"#,
            PHONE,
            None
        ),
        Err(ParseError::Shape(_))
    ));
}

#[test]
fn template_status_and_category_news_of_this_account_is_read() {
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1020", "time": 1764000000, "changes": [
            {"field": "message_template_status_update", "value": {
                "event": "PAUSED", "message_template_id": 594425479261596_i64,
                "message_template_name": "complaint_status", "message_template_language": "hi",
                "reason": null, "other_info": {"title": "FIRST_PAUSE"}}},
            {"field": "template_category_update", "value": {
                "message_template_id": 594425479261596_i64,
                "message_template_name": "complaint_status", "message_template_language": "en_US",
                "previous_category": "UTILITY", "new_category": "MARKETING"}},
            {"field": "message_template_status_update", "value": {"event": "APPROVED"}}
        ]}, {"id": "9999", "changes": [
            {"field": "message_template_status_update", "value": {
                "event": "APPROVED", "message_template_name": "elsewhere",
                "message_template_language": "en"}}
        ]}]
    })
    .to_string();
    let out = parse_webhook(body.as_bytes(), PHONE, Some("1020")).unwrap();
    let news = &out.templates;
    assert_eq!(news.len(), 2, "{news:?}");
    assert_eq!(news[0].status.as_deref(), Some("PAUSED"));
    assert_eq!(news[0].language, "hi");
    assert_eq!(news[1].category.as_deref(), Some("MARKETING"));
    assert_eq!(news[1].status, None);
    assert_eq!(out.foreign, 1, "another account's news is left alone");
    assert!(out.batch.messages.is_empty());
    let any = parse_webhook(body.as_bytes(), PHONE, None).unwrap();
    assert_eq!(any.templates.len(), 3);
}

#[test]
fn a_location_pin_carries_its_point_name_and_address() {
    let body = payload(serde_json::json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE},
        "messages": [
            {"from": "919800000001", "id": "wamid.L1", "timestamp": "1763856000", "type": "location",
             "location": {"latitude": 18.5195, "longitude": 73.8553,
                          "name": "Shaniwar Wada", "address": "Shaniwar Peth, Pune 411030"}},
            {"from": "919800000001", "id": "wamid.L2", "timestamp": "1763856001", "type": "location",
             "location": {"latitude": 18.5, "longitude": 73.8}},
            {"from": "919800000001", "id": "wamid.L3", "timestamp": "1763856002", "type": "location",
             "location": {"latitude": 123.0, "longitude": 73.8}}
        ]
    }));
    let m = parse_webhook(&body, PHONE, None).unwrap().batch.messages;
    let shared = |i: usize| {
        m[i].payload
            .as_deref()
            .and_then(ombud_core::geo::SharedLocation::from_payload)
    };
    assert_eq!(m[0].kind, MessageKind::Location);
    assert_eq!(m[0].body, "[location 18.5195,73.8553] Shaniwar Wada");
    assert_eq!(
        shared(0).unwrap().label(),
        "Shaniwar Wada, Shaniwar Peth, Pune 411030"
    );
    assert_eq!(shared(1).unwrap().label(), "18.500000, 73.800000");
    assert_eq!(shared(2), None, "not a point on the globe");
}

#[test]
fn voice_notes_and_photos_name_their_media_and_checksum() {
    let body = payload(serde_json::json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE},
        "messages": [
            {"from": "919800000001", "id": "wamid.V", "timestamp": "1763856000", "type": "audio",
             "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "the-notes-sha256-in-base64",
                       "id": "1481427412573049", "voice": true}},
            {"from": "919800000001", "id": "wamid.P", "timestamp": "1763856001", "type": "image",
             "image": {"mime_type": "image/jpeg", "sha256": "abc", "id": ""}},
            {"from": "919800000001", "id": "wamid.D", "timestamp": "1763856002", "type": "document",
             "document": {"mime_type": "application/pdf", "id": "77", "filename": "bill.pdf"}}
        ]
    }));
    let out = parse_webhook(&body, PHONE, None).unwrap();
    let m = &out.batch.messages;
    let voice = m[0].media.as_ref().unwrap();
    assert_eq!(voice.id, "1481427412573049");
    assert_eq!(voice.sha256.as_deref(), Some("the-notes-sha256-in-base64"));
    assert_eq!(m[0].body, "");
    // No id, nothing to fetch: kept as a message only, described.
    assert_eq!(m[1].media, None);
    assert_eq!(m[1].body, "[image]");
    // Documents are not fetched.
    assert_eq!(m[2].media, None);
}
