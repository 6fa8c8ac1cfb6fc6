//! A web chat's greeting and sites, set by the tenant's admins (issue 24):
//! through the API and the dashboard, the same checks (each bad field named,
//! nothing half-saved), audited, served in the widget, and walled off from
//! other tenants and from members below admin.

use ombud_core::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::audit::session_api;
use crate::channels::webchat_channel;
use crate::fake_graph::FakeGraph;
use crate::helpers::*;
use crate::staff::*;

async fn widget(app: &TestApp, channel: &Channel) -> String {
    let res = app
        .http
        .get(app.url(&channel.webhook_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_greets_web_visitors_in_its_own_words() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let other = app.tenant("nashik", "NSK", &graph).await;
    let channel = webchat_channel(&app, &t, &[]).await;
    let admin = user(
        &app,
        "admin@pune.gov.in",
        &[(&t.tenant.id, Role::Admin)],
        false,
    )
    .await;
    let staff_member = user(
        &app,
        "staff@pune.gov.in",
        &[(&t.tenant.id, Role::Staff)],
        false,
    )
    .await;
    let stranger = user(
        &app,
        "admin@nashik.gov.in",
        &[(&other.tenant.id, Role::Admin)],
        false,
    )
    .await;
    let admin = Staff::login(&app, admin.email.as_str()).await;

    // Until the office writes one, the widget has Ombud's own greetings.
    let script = widget(&app, &channel).await;
    assert!(script.contains("var office = {};"), "{script}");
    assert!(script.contains("\"hi\":\"नमस्ते!"), "{script}");

    // Each bad field is named, and nothing is saved.
    let path = format!("/channels/{}/webchat", channel.id);
    let put = |body: Value| {
        let admin = &admin;
        let path = path.clone();
        async move {
            let res = session_api(admin, Method::PUT, &path)
                .await
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for (body, field) in [
        (
            json!({"allowed_origins": ["ftp://pune.example"]}),
            "allowed_origins",
        ),
        (
            json!({"allowed_origins": ["https://pune.example/complaints"]}),
            "allowed_origins",
        ),
        (
            json!({"greetings": {"english": "Hello"}}),
            "greetings.english",
        ),
        (
            json!({"greetings": {"hi": "न".repeat(501)}}),
            "greetings.hi",
        ),
        (
            json!({"greetings": {"en": "Hello\u{0007}"}}),
            "greetings.en",
        ),
    ] {
        let (status, e) = put(body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert!(e.to_string().contains(field), "{body} names {field}: {e}");
    }
    let (status, _) = put(json!({"greeting": {"en": "typo in the field"}})).await;
    assert!(status.is_client_error(), "an unknown field is refused");
    assert!(widget(&app, &channel).await.contains("var office = {};"));

    // Saved: the origins in one spelling, the greetings as written.
    let (status, view) = put(json!({
        "allowed_origins": ["https://pune.example/", " https://ward12.pune.example "],
        "greetings": {"en": "Welcome to Pune ward 12.\nTell us what is wrong and where.",
                      "hi": "नमस्ते, वार्ड 12 कार्यालय।"}}))
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view["allowed_origins"],
        json!(["https://pune.example", "https://ward12.pune.example"])
    );
    assert_eq!(view["greetings"]["hi"], "नमस्ते, वार्ड 12 कार्यालय।");
    let script = widget(&app, &channel).await;
    assert!(
        script.contains(r#"var office = {"en":"Welcome to Pune ward 12.\nTell us what is wrong and where.","hi":"नमस्ते, वार्ड 12 कार्यालय।"};"#),
        "{script}"
    );
    let trail = app.store.audit_chain(&t.tenant.id, 0, 1000).await.unwrap();
    let set = trail
        .iter()
        .find(|e| e.entry.action == "channel.webchat_set")
        .expect("audited");
    let fields: Vec<&str> = set.entry.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["allowed_origins", "greetings"]);
    // The origins now decide who may embed it.
    let visitor = |origin: &'static str| {
        app.http
            .post(app.url(&format!("/channels/webchat/{}/visitors", channel.id)))
            .header("origin", origin)
            .send()
    };
    assert_eq!(
        visitor("https://evil.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        visitor("https://ward12.pune.example")
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );

    // The dashboard's page: the same, with a field per language.
    let page_path = format!("/app/settings/channels/{}/webchat", channel.id);
    let page = admin.get(&page_path).await.text().await.unwrap();
    assert!(
        page.contains("नमस्ते, वार्ड 12 कार्यालय।") && page.contains("https://ward12.pune.example"),
        "{page}"
    );
    assert!(
        page.contains(r#"placeholder="नमस्कार! काय अडचण आहे"#),
        "Ombud's own Marathi shows greyed: {page}"
    );
    let res = admin
        .submit(
            &page_path,
            &[
                ("greeting.en", ""),
                ("greeting.hi", "नमस्ते"),
                ("greeting.mr", "नमस्कार, प्रभाग १२"),
                ("allowed_origins", "https://pune.example\nnot an origin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("not an origin&#34; is not an origin like https://example.org"),
        "{page}"
    );
    assert!(
        page.contains("नमस्कार, प्रभाग १२"),
        "what was typed is kept: {page}"
    );
    assert!(
        widget(&app, &channel)
            .await
            .contains("Welcome to Pune ward 12."),
        "nothing saved"
    );
    let res = admin
        .submit(
            &page_path,
            &[
                ("greeting.en", ""),
                ("greeting.hi", "नमस्ते"),
                ("greeting.mr", "नमस्कार, प्रभाग १२"),
                ("allowed_origins", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = admin
        .get(&format!("{page_path}?saved=true"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Saved."), "{page}");
    let script = widget(&app, &channel).await;
    assert!(
        script.contains(r#"var office = {"hi":"नमस्ते","mr":"नमस्कार, प्रभाग १२"};"#),
        "an emptied field has no greeting: {script}"
    );
    assert_eq!(
        visitor("https://evil.example").await.unwrap().status(),
        StatusCode::CREATED,
        "any site now"
    );

    // Walls: a member below admin, another tenant's admin, a channel of
    // another kind.
    let member = Staff::login(&app, staff_member.email.as_str()).await;
    assert_eq!(member.get(&page_path).await.status(), StatusCode::FORBIDDEN);
    let res = session_api(&member, Method::PUT, &path)
        .await
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let outsider = Staff::login(&app, stranger.email.as_str()).await;
    assert_eq!(
        outsider.get(&page_path).await.status(),
        StatusCode::NOT_FOUND
    );
    let res = session_api(&outsider, Method::PUT, &path)
        .await
        .json(&json!({"greetings": {"en": "hijacked"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = admin
        .submit(
            &format!("/app/settings/channels/{}/webchat", t.channel.id),
            &[("greeting.en", "x")],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "a WhatsApp number has no web chat settings"
    );
    assert!(!widget(&app, &channel).await.contains("hijacked"));
    app.stop().await;
}
