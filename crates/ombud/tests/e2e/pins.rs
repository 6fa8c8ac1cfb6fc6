//! Location pins (issue 27): a citizen shares a WhatsApp location, or their
//! browser's in the web chat, instead of typing where; it becomes the
//! complaint's location, with its point, shown to staff as a link to
//! OpenStreetMap and given by the API.

use std::time::Duration;

use ombud_core::*;
use serde_json::json;

use crate::helpers::*;
use crate::staff::*;

/// A pin at Shaniwar Wada, as Meta posts a shared location.
fn pin(t: &TestTenant, citizen: &str) -> serde_json::Value {
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111",
                     "phone_number_id": t.channel.whatsapp().unwrap().phone_number_id},
        "contacts": [{"profile": {"name": "Asha"}, "wa_id": citizen}],
        "messages": [{"from": citizen, "id": format!("wamid.PIN.{citizen}"), "timestamp": "1763856000",
                      "type": "location",
                      "location": {"latitude": 18.5195, "longitude": 73.8553,
                                   "name": "Shaniwar Wada", "address": "Shaniwar Peth, Pune"}}]
    }))
}

/// A pothole's complaint located by a pin instead of words, with a photo
/// of it; its number.
pub async fn pinned(app: &TestApp, t: &TestTenant, graph: &FakeGraph, citizen: &str) -> String {
    let before = graph.delivered_to(citizen).len();
    graph.citizen_wrote(citizen);
    app.say(t, citizen, "There is a big pothole near the temple")
        .await;
    graph.wait_for_reply_to(citizen, before + 1).await;
    graph.citizen_wrote(citizen);
    assert_eq!(app.post_signed(t, &pin(t, citizen)).await.status(), 200);
    graph.wait_for_reply_to(citizen, before + 2).await;
    let (media_id, sha256) = graph.add_media(&crate::media::phone_photo(), "image/jpeg");
    let taken = crate::media::send_photo(app, t, graph, citizen, (&media_id, &sha256), None).await;
    assert!(
        taken.starts_with("Thank you, we have your photo"),
        "{taken}"
    );
    graph.citizen_wrote(citizen);
    app.say(t, citizen, "yes").await;
    graph.wait_for_reply_to(citizen, before + 4).await;
    number_in(&graph.delivered_to(citizen).pop().unwrap()).expect("a complaint number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_location_pin_locates_the_complaint_for_staff_and_the_api() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let citizen = "919800000777";
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "The street light near the school is broken")
        .await;
    let asked = graph.wait_for_reply_to(citizen, 1).await;
    assert!(asked[0].contains("Where is this"), "{asked:?}");

    graph.citizen_wrote(citizen);
    assert_eq!(app.post_signed(&t, &pin(&t, citizen)).await.status(), 200);
    let confirm = graph.wait_for_reply_to(citizen, 2).await;
    assert!(
        confirm[1].contains("Location: Shaniwar Wada, Shaniwar Peth, Pune"),
        "{confirm:?}"
    );
    graph.citizen_wrote(citizen);
    app.say(&t, citizen, "yes").await;
    let done = graph.wait_for_reply_to(citizen, 3).await;
    let number = number_in(&done[2]).expect("a complaint number");

    // The API gives the point.
    let key = app.api_key(&t.tenant.id, &[Scope::ComplaintsRead]).await;
    let c = crate::sla::complaint_json(&app, &key, &number).await;
    assert_eq!(c["location"], "Shaniwar Wada, Shaniwar Peth, Pune", "{c}");
    assert_eq!(
        c["point"],
        json!({"latitude": 18.5195, "longitude": 73.8553})
    );

    // Staff see it on the map: a link out, nothing loaded from elsewhere.
    member(&app, "staff@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let staff = Staff::login(&app, "staff@pune.gov.in").await;
    let page = staff.page(&format!("/app/complaints/{number}")).await;
    assert!(
        page.contains(
            "href=\"https://www.openstreetmap.org/?mlat=18.519500&#38;mlon=73.855300#map=18/18.519500/73.855300\""
        ),
        "{page}"
    );
    app.stop().await;
}

/// "Use my location" in the web chat: the browser's point goes to the
/// office as a pin, and locates the complaint as WhatsApp's does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_chat_visitor_sends_their_location_and_it_locates_the_complaint() {
    use crate::channels::{post_message, visitor_token, webchat_channel};
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let channel = webchat_channel(&app, &t, &["https://pune.example"]).await;
    let token = &visitor_token(&app, &channel, "https://pune.example").await;
    let replies = || async {
        app.messages_of(&t.tenant.id)
            .await
            .iter()
            .filter(|m| m.direction == Direction::Outbound)
            .count()
    };

    // What is not a place on Earth, or a pin with a tapped choice, is
    // refused, naming the field.
    for location in [
        json!({"latitude": 91.0, "longitude": 73.8}),
        json!({"latitude": 18.5, "longitude": -180.5}),
        json!({"latitude": "north", "longitude": 73.8}),
        json!({"latitude": 18.5}),
        json!({"latitude": 18.5, "longitude": 73.8, "altitude": 500}),
    ] {
        let body = json!({"text": "here", "location": location});
        let (status, e) = post_message(&app, &channel, token, body).await;
        assert!(status.is_client_error(), "{location}: {status} {e}");
        if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(e["error"]["fields"][0]["field"], "location", "{e}");
        }
    }
    let body = json!({"text": "Yes", "payload": "intake:yes",
                      "location": {"latitude": 18.5, "longitude": 73.8}});
    let (status, e) = post_message(&app, &channel, token, body).await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], "location");
    assert_eq!(replies().await, 0, "nothing refused was taken");

    // The dialogue: the problem, then the pin (as the widget posts it),
    // then yes.
    let steps = [
        json!({"text": "There is a big pothole near the temple", "client_id": "p1"}),
        json!({"text": "My location (18.51950, 73.85530)", "client_id": "p2",
               "location": {"latitude": 18.5195, "longitude": 73.8553}}),
        json!({"text": "yes", "client_id": "p3"}),
    ];
    for (i, body) in steps.into_iter().enumerate() {
        let (status, e) = post_message(&app, &channel, token, body).await;
        assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{e}");
        assert!(
            wait_until(Duration::from_secs(10), || async { replies().await > i }).await,
            "no answer to step {i}"
        );
    }
    let confirm = &app.messages_of(&t.tenant.id).await;
    let asked: Vec<&str> = confirm
        .iter()
        .filter(|m| m.direction == Direction::Outbound)
        .map(|m| m.body.as_str())
        .collect();
    assert!(
        asked[1].contains("Location: 18.519500, 73.855300"),
        "{asked:?}"
    );
    let number = number_in(asked[2]).expect("a complaint number");
    let key = app.api_key(&t.tenant.id, &[Scope::ComplaintsRead]).await;
    let c = crate::sla::complaint_json(&app, &key, &number).await;
    assert_eq!(
        c["point"],
        json!({"latitude": 18.5195, "longitude": 73.8553}),
        "{c}"
    );
    assert_eq!(c["location"], "18.519500, 73.855300", "{c}");
    assert_eq!(
        c["channel_id"],
        channel.id.as_str(),
        "came in on the web chat"
    );
    app.stop().await;
}

/// An area drawn on the map takes the complaints whose pins fall inside
/// it, though the pin's words name no area of the catalogue; a pin
/// outside every outline leaves the words to decide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_inside_an_areas_outline_gives_the_complaint_that_area() {
    use reqwest::Method;
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.gov.in").await;
    let square = |lat: f64, lon: f64| {
        json!([{"latitude": lat - 0.01, "longitude": lon - 0.01},
               {"latitude": lat - 0.01, "longitude": lon + 0.01},
               {"latitude": lat + 0.01, "longitude": lon + 0.01},
               {"latitude": lat + 0.01, "longitude": lon - 0.01}])
    };
    let areas = json!({"areas": [
        {"slug": "kasba-peth", "names": {"en": "Kasba Peth"}, "wards": ["16"],
         "boundary": square(18.5195, 73.8553)},
        {"slug": "kothrud", "names": {"en": "Kothrud"}, "keywords": ["kothrud"],
         "boundary": square(18.5074, 73.8077)},
    ]});
    let put = |body: serde_json::Value| {
        let admin = &admin;
        async move {
            crate::audit::session_api(admin, Method::PUT, "/settings/areas")
                .await
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Two corners are no outline.
    let two = json!({"areas": [{"slug": "x", "names": {"en": "X"},
        "boundary": [{"latitude": 18.5, "longitude": 73.8}, {"latitude": 18.6, "longitude": 73.9}]}]});
    let res = put(two).await;
    assert_eq!(res.status(), 422);
    let e: serde_json::Value = res.json().await.unwrap();
    assert_eq!(e["error"]["fields"][0]["field"], "areas[0].boundary", "{e}");
    assert_eq!(put(areas).await.status(), 200);

    // Shaniwar Wada's pin is inside Kasba Peth's outline.
    let number = pinned(&app, &t, &graph, "919800000778").await;
    let key = app.api_key(&t.tenant.id, &[Scope::ComplaintsRead]).await;
    let c = crate::sla::complaint_json(&app, &key, &number).await;
    assert_eq!(c["area"], "kasba-peth", "{c}");
    app.stop().await;
}
