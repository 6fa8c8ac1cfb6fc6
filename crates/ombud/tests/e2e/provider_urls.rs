//! Channel provider URLs cannot be used to reach inside (issue 20, finding 1):
//! the dashboard, the API and the CLI refuse a host the operator has not
//! allowed, a sender refuses a host taken off the list since, and what a
//! provider answers is never repeated beyond a short summary of its own JSON
//! error.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode as AxumStatus;
use ombud_core::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api::{call, field};
use crate::helpers::*;
use crate::staff::{member, Staff};

/// A service inside the operator's network: it answers every request with
/// the same status and body, and counts what reached it.
struct Internal {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Internal {
    async fn start(status: u16, content_type: &'static str, answer: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                (
                    AxumStatus::from_u16(status).unwrap(),
                    [("content-type", content_type)],
                    answer,
                )
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

const SECRET_ERROR: &str =
    r#"{"error":{"message":"INTERNAL-SECRET-7f3a9 the admin console","code":190}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_the_api_and_the_cli_refuse_a_provider_url_inside() {
    let internal = Internal::start(400, "application/json", SECRET_ERROR).await;
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.example").await;
    let csrf = admin.csrf_token().await;
    // The tests allow 127.0.0.1 as a provider host; every other inside
    // address and name is refused, however it is spelled.
    let inside = [
        format!("http://localhost:{}", internal.port),
        format!("http://127.0.0.2:{}", internal.port),
        format!("http://[::1]:{}", internal.port),
        "http://169.254.169.254/latest".to_owned(),
        "http://10.0.0.5:8080".to_owned(),
        "https://graph.facebook.com.internal.example".to_owned(),
    ];
    for url in &inside {
        // The dashboard's WhatsApp and Telegram forms.
        let res = admin
            .submit(
                "/app/settings/channels",
                &[
                    ("name", "WhatsApp 2"),
                    ("phone_number_id", "106540352242922"),
                    ("app_secret", "s"),
                    ("access_token", "INTERNAL-BEARER"),
                    ("verify_token", "v"),
                    ("graph_url", url),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let page = res.text().await.unwrap();
        assert!(page.contains("outbound.provider_hosts"), "{url}: {page}");
        let res = admin
            .submit(
                "/app/settings/channels/telegram",
                &[
                    ("name", "Bot"),
                    ("bot_token", "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"),
                    ("secret_token", "s3cret"),
                    ("api_url", url),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let page = res.text().await.unwrap();
        assert!(page.contains("outbound.provider_hosts"), "{url}: {page}");

        // The API, as an admin signed in.
        for body in [
            json!({"kind": "whatsapp", "name": "wa", "phone_number_id": "1065", "app_secret": "s",
                   "verify_token": "v", "access_token": "t", "graph_url": url}),
            json!({"kind": "telegram", "name": "tg",
                   "bot_token": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", "api_url": url}),
        ] {
            let (status, e) = call(
                admin
                    .request(Method::POST, "/api/v1/channels")
                    .header("x-csrf-token", &csrf)
                    .json(&body),
            )
            .await;
            assert_eq!(status, 422, "{url}: {e}");
            let named = field(&e).unwrap();
            assert!(named == "graph_url" || named == "api_url", "{e}");
        }

        // The CLI.
        let (code, _, stderr) = run_cli(
            &app.db,
            &[
                "channel",
                "add",
                "whatsapp",
                "--tenant",
                "pune",
                "--phone-number-id",
                "1065",
                "--app-secret",
                "s",
                "--verify-token",
                "v",
                "--access-token",
                "t",
                "--graph-url",
                url,
            ],
        );
        assert_eq!(code, 2, "{url}: {stderr}");
        assert!(stderr.contains("graph_url"), "{stderr}");
        let (code, _, stderr) = run_cli(
            &app.db,
            &[
                "channel",
                "add",
                "telegram",
                "--tenant",
                "pune",
                "--bot-token",
                "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
                "--api-url",
                url,
            ],
        );
        assert_eq!(code, 2, "{url}: {stderr}");
        assert!(stderr.contains("api_url"), "{stderr}");
    }
    assert_eq!(app.store.channels(&t.tenant.id).await.unwrap().len(), 1);
    assert_eq!(internal.hits(), 0, "nothing reached the internal service");

    // Meta's own API, and a host the operator allows, are taken; the answer
    // holds no credential.
    for (url, phone) in [
        ("https://graph.facebook.com", "1065"),
        (&graph.url(), "1066"),
    ] {
        let (status, made) = call(
            admin
                .request(Method::POST, "/api/v1/channels")
                .header("x-csrf-token", &csrf)
                .json(
                    &json!({"kind": "whatsapp", "name": "wa", "phone_number_id": phone,
                    "app_secret": "APP-SECRET-1", "verify_token": "VERIFY-1",
                    "access_token": "ACCESS-1", "graph_url": url}),
                ),
        )
        .await;
        assert_eq!(status, 201, "{made}");
        let text = made.to_string();
        for secret in ["APP-SECRET-1", "VERIFY-1", "ACCESS-1"] {
            assert!(!text.contains(secret), "{text}");
        }
        let id = made["channel"]["id"].as_str().unwrap();
        let key = app.api_key(&t.tenant.id, &[Scope::ConversationsRead]).await;
        let (status, got) = call(app.api(Method::GET, &format!("/channels/{id}"), &key)).await;
        assert_eq!((status, &got["kind"]), (StatusCode::OK, &json!("whatsapp")));
    }
    // http to Meta is refused: the token would cross the network in clear.
    let (status, e) = call(
        admin
            .request(Method::POST, "/api/v1/channels")
            .header("x-csrf-token", &csrf)
            .json(
                &json!({"kind": "whatsapp", "name": "wa", "phone_number_id": "1065",
                "app_secret": "s", "verify_token": "v", "access_token": "t",
                "graph_url": "http://graph.facebook.com"}),
            ),
    )
    .await;
    assert_eq!(
        (status.as_u16(), field(&e)),
        (422, Some("graph_url")),
        "{e}"
    );
    // A key, whatever its scopes, cannot connect channels.
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let (status, _) = call(
        app.api(Method::POST, "/channels", &key)
            .json(&json!({"kind": "webchat", "name": "chat"})),
    )
    .await;
    assert_eq!(status, 403);
    app.stop().await;
}

/// A channel saved while the operator allowed its host, and sent on after
/// the host was taken off the list: the send is refused without a
/// connection, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_taken_off_the_list_is_refused_at_send() {
    let internal = Internal::start(400, "application/json", SECRET_ERROR).await;
    let db = TestDb::new().await;
    let mut env = db.env();
    env.retain(|(k, _)| *k != "OMBUD_OUTBOUND__PROVIDER_HOSTS");
    env.push((
        "OMBUD_OUTBOUND__PROVIDER_HOSTS",
        "127.0.0.1,localhost".into(),
    ));
    let (code, _, stderr) = run_cli_env(
        &env,
        &[
            "tenant", "create", "--slug", "pune", "--name", "Pune", "--prefix", "PUNE",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let graph_url = format!("http://localhost:{}", internal.port);
    let (code, made, stderr) = run_cli_env(
        &env,
        &[
            "channel",
            "add",
            "whatsapp",
            "--tenant",
            "pune",
            "--phone-number-id",
            "1065",
            "--app-secret",
            "pune-app-secret",
            "--verify-token",
            "v",
            "--access-token",
            "t",
            "--graph-url",
            &graph_url,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(made["graph_url"], graph_url.as_str());

    // Now the operator allows only 127.0.0.1, and no inside range at all.
    let app = TestApp::spawn_on(db, |c| c.outbound.allow_cidrs = String::new(), None).await;
    let tenant = app
        .store
        .tenant_by_slug(&TenantSlug::parse("pune").unwrap())
        .await
        .unwrap()
        .unwrap();
    let channel = app.store.channels(&tenant.id).await.unwrap().remove(0);
    let t = TestTenant {
        tenant: tenant.clone(),
        channel,
        app_secret: "pune-app-secret".into(),
    };
    app.say(&t, "919800000001", "The street light is broken")
        .await;
    let failed = wait_until(Duration::from_secs(10), || async {
        app.messages_of(&tenant.id)
            .await
            .iter()
            .any(|m| m.direction == Direction::Outbound && m.status == DeliveryStatus::Failed)
    })
    .await;
    assert!(failed, "the reply was not refused");
    let key = app.api_key(&tenant.id, &[Scope::ConversationsRead]).await;
    let error = wait_for_error(&app, &key, &tenant.id).await;
    assert!(
        error.contains("localhost") && error.contains("outbound.provider_hosts"),
        "{error}"
    );
    assert!(!error.contains("INTERNAL-SECRET"), "{error}");
    assert_eq!(internal.hits(), 0, "nothing reached the internal service");
    app.stop().await;
}

/// What an allowed provider host answers is shown only as a short summary of
/// its own JSON error; any other body is never repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_providers_answer_is_never_echoed_beyond_its_json_error() {
    let page = Internal::start(
        400,
        "text/html",
        "<html>INTERNAL-SECRET-7f3a9 admin console</html>",
    )
    .await;
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let (_, channel) = ombud_engine::provision::add_whatsapp_channel(
        app.store.as_ref(),
        &ombud_core::SystemClock,
        &ombud_engine::Acting::cli(),
        app.engine.outbound().providers(),
        &t.tenant.slug,
        "html".into(),
        WhatsAppConfig {
            phone_number_id: "2065".into(),
            app_secret: Secret::new("html-secret"),
            verify_token: Secret::new("v"),
            access_token: Secret::new("t"),
            graph_url: format!("http://127.0.0.1:{}", page.port),
            api_version: "v23.0".into(),
            waba_id: None,
            templates: Default::default(),
        },
    )
    .await
    .unwrap();
    let html = TestTenant {
        tenant: t.tenant.clone(),
        channel,
        app_secret: "html-secret".into(),
    };
    app.say(&html, "919800000001", "The street light is broken")
        .await;
    let key = app.api_key(&t.tenant.id, &[Scope::ConversationsRead]).await;
    let error = wait_for_error(&app, &key, &t.tenant.id).await;
    assert_eq!(error, "HTTP 400 (the body was not a Graph API error)");
    assert_eq!(page.hits(), 1);
    app.stop().await;
}

/// The first delivery error among the tenant's messages, as the API shows it.
async fn wait_for_error(app: &TestApp, key: &str, tenant: &TenantId) -> String {
    let recorded = wait_until(Duration::from_secs(10), || async {
        app.messages_of(tenant)
            .await
            .iter()
            .any(|m| m.error.is_some())
    })
    .await;
    assert!(recorded, "no delivery error was recorded");
    let conversation = app.messages_of(tenant).await[0].conversation_id.clone();
    let (_, messages) = call(app.api(
        Method::GET,
        &format!("/conversations/{conversation}/messages"),
        key,
    ))
    .await;
    messages["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|m: &Value| m["error"].as_str().map(str::to_owned))
        .unwrap_or_default()
}
