//! The REST API end to end: complaints through a key, tenant walls on every
//! route (enumerated from the OpenAPI document, so new routes are covered),
//! scopes, keys revoked at once, the rate limit, idempotency, ETags, and the
//! dashboard's session with its CSRF header.

use ombud_core::{Role, Scope};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::staff::{member, Staff};

/// Sends the request; its status and body (JSON, else the text as a string).
pub(crate) async fn call(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    body(req.send().await.unwrap()).await
}

/// The first field an error names.
pub(crate) fn field(e: &Value) -> Option<&str> {
    e["error"]["fields"][0]["field"].as_str()
}

pub(crate) async fn body(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reads_and_changes_complaints_under_the_dashboards_rules() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let number = crate::work::street_light(&app, &t, &graph, "919800000001").await;

    let (status, page) = call(app.api(Method::GET, "/complaints?status=new&limit=10", &key)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["number"], number.as_str());
    assert_eq!(page["next_cursor"], Value::Null);

    // By number, with an ETag; the same tag gets 304.
    let res = app
        .api(Method::GET, &format!("/complaints/{number}"), &key)
        .send()
        .await
        .unwrap();
    let tag = res.headers()["etag"].to_str().unwrap().to_owned();
    let (_, c) = body(res).await;
    let id = c["id"].as_str().unwrap().to_owned();
    let res = app
        .api(Method::GET, &format!("/complaints/{id}"), &key)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    // A legal move, then an illegal one refused with the field named.
    let (status, c) = call(
        app.api(Method::PATCH, &format!("/complaints/{id}"), &key)
            .header("if-match", &tag)
            .json(&json!({"status": "in_progress", "priority": "high", "area": "Ward 7"})),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        (
            c["status"].as_str(),
            c["priority"].as_str(),
            c["area"].as_str()
        ),
        (Some("in_progress"), Some("high"), Some("Ward 7"))
    );
    let (status, e) = call(
        app.api(Method::PATCH, &format!("/complaints/{id}"), &key)
            .json(&json!({"status": "new"})),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["fields"][0]["field"], "status");
    // A change of several fields fails before its first write: the legal
    // priority change is not made when the assignee is no member.
    let stranger = ombud_core::UserId::new();
    let (status, e) = call(
        app.api(Method::PATCH, &format!("/complaints/{id}"), &key)
            .json(&json!({"priority": "low", "assignee_id": stranger.to_string()})),
    )
    .await;
    assert_eq!(
        (status, field(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("assignee_id")),
        "{e}"
    );
    let (_, now) = call(app.api(Method::GET, &format!("/complaints/{id}"), &key)).await;
    assert_eq!(now["priority"], "high", "nothing was written");
    // The old tag no longer matches.
    let (status, e) = call(
        app.api(Method::PATCH, &format!("/complaints/{id}"), &key)
            .header("if-match", &tag)
            .json(&json!({"priority": "low"})),
    )
    .await;
    assert_eq!(status, 412, "{e}");
    // The citizen heard of the status change.
    let told = graph.wait_for_reply_to("919800000001", 4).await;
    assert!(told.last().unwrap().contains(&number), "{told:?}");

    let (status, n) = call(
        app.api(Method::POST, &format!("/complaints/{id}/notes"), &key)
            .json(&json!({"note": "crew sent <script>x</script>"})),
    )
    .await;
    assert_eq!(status, 201, "{n}");
    assert!(!n["to_value"].as_str().unwrap().contains("<script>"));
    let (_, events) = call(app.api(Method::GET, &format!("/complaints/{id}/events"), &key)).await;
    let actions: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"created"));
    assert!(
        actions.contains(&"status_changed") && actions.contains(&"note"),
        "{actions:?}"
    );
    assert!(events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["actor"].as_str().unwrap().starts_with("api:key_")));
    // The complaint's page names the key that acted, not "a former member".
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.example").await;
    let page = admin.page(&format!("/app/complaints/{number}")).await;
    assert!(
        page.contains("<strong>the API key “tests”</strong> added an internal note"),
        "{page}"
    );
    assert!(!page.contains("a former member"));

    // Filed on behalf of the contact: linked to their conversation.
    let (_, contacts) = call(app.api(Method::GET, "/contacts", &key)).await;
    let contact = contacts["data"][0]["id"].as_str().unwrap();
    let (status, made) = call(
        app.api(Method::POST, "/complaints", &key)
            .json(&json!({"description": "Garbage not collected", "contact_id": contact})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["source"], "api");
    assert!(made["conversation_id"]
        .as_str()
        .unwrap()
        .starts_with("cnv_"));

    // Bulk: everything open goes on hold; the report counts it.
    let (status, report) = call(app.api(Method::POST, "/complaints/bulk-update", &key).json(
        &json!({"filter": {"status": ["new", "in_progress"]}, "change": {"status": "on_hold"}}),
    ))
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["changed"], 2);

    // Conversations and messages page by cursor.
    let (_, convs) = call(app.api(Method::GET, "/conversations", &key)).await;
    let conv = convs["data"][0]["id"].as_str().unwrap();
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/conversations/{conv}/messages?limit=2&cursor={c}"),
            None => format!("/conversations/{conv}/messages?limit=2"),
        };
        let (status, page) = call(app.api(Method::GET, &path, &key)).await;
        assert_eq!(status, 200, "{page}");
        seen += page["data"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        app.store
            .messages(&t.tenant.id, &conv.parse().unwrap())
            .await
            .unwrap()
            .len()
    );
    // The agent runs that answered it.
    let (status, runs) = call(app.api(
        Method::GET,
        &format!("/conversations/{conv}/executions"),
        &key,
    ))
    .await;
    assert_eq!(status, 200, "{runs}");
    assert!(!runs["data"].as_array().unwrap().is_empty());
    assert_eq!(runs["data"][0]["status"], "ok");
    // Staff write only into handed-over conversations.
    let (status, e) = call(
        app.api(
            Method::POST,
            &format!("/conversations/{conv}/messages"),
            &key,
        )
        .json(&json!({"body": "hello"})),
    )
    .await;
    assert_eq!(
        (status, field(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("conversation")),
        "{e}"
    );

    // Bad input names the field; a body that is not JSON says so.
    let (status, e) = call(app.api(Method::GET, "/complaints?limit=500", &key)).await;
    assert_eq!(
        (status, field(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("limit"))
    );
    let (status, e) = call(
        app.api(Method::POST, "/complaints", &key)
            .json(&json!({"description": 5})),
    )
    .await;
    assert_eq!(
        (status, field(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("description")),
        "{e}"
    );
    let (status, e) = call(
        app.api(Method::POST, "/complaints", &key)
            .header("content-type", "application/json")
            .body("{oops"),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let (status, _) = call(
        app.api(Method::POST, "/complaints", &key)
            .body("description=x"),
    )
    .await;
    assert_eq!(status, 415);
    // NUL characters (which PostgreSQL cannot store) are refused by name,
    // in the API and on the dashboard's list.
    let (status, e) = call(app.api(Method::GET, "/complaints?q=a%00b", &key)).await;
    assert_eq!(
        (status, field(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("q")),
        "{e}"
    );
    let (status, e) = call(
        app.api(Method::POST, "/complaints", &key)
            .json(&json!({"description": "a\u{0}b"})),
    )
    .await;
    assert_eq!(
        (status, field(&e)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("description")),
        "{e}"
    );
    crate::staff::member(&app, "viewer@pune.example", &t.tenant.id, Role::Viewer).await;
    let viewer = Staff::login(&app, "viewer@pune.example").await;
    let res = viewer.get("/app/complaints?q=a%00b&area=x%00").await;
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("must not contain NUL characters"));
    app.stop().await;
}

/// The same POST with the same Idempotency-Key is answered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_makes_a_post_happen_once() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app
        .api_key(
            &t.tenant.id,
            &[Scope::ComplaintsWrite, Scope::ComplaintsRead],
        )
        .await;
    let post = |desc: &str| {
        app.api(Method::POST, "/complaints", &key)
            .header("idempotency-key", "erp-4711")
            .json(&json!({"description": desc}))
    };
    let first = post("Pothole on FC road").send().await.unwrap();
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].clone();
    let (_, a) = body(first).await;
    let again = post("Pothole on FC road").send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    let (_, b) = body(again).await;
    assert_eq!(a, b, "the same answer");
    let (status, e) = call(post("Something else")).await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["code"], "idempotency_key_reused");
    let (_, list) = call(app.api(Method::GET, "/complaints", &key)).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "made once");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_refused_once_revoked_or_expired_and_limited_per_minute() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let res = app.http.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let (status, e) = call(
        app.http
            .get(app.url("/api/v1/me"))
            .bearer_auth("ombud_nope"),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );

    let (key, _) = app
        .api_key_limited(&t.tenant.id, "erp", &[Scope::ComplaintsRead], 3)
        .await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let res = app.api(Method::GET, "/me", &key).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["ratelimit-limit"], "3");
        remaining.push(
            res.headers()["ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let res = app.api(Method::GET, "/me", &key).send().await.unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    let (_, e) = body(res).await;
    assert_eq!(e["error"]["code"], "rate_limited");
    // The key's last use was written.
    let keys = app.store.api_keys(&t.tenant.id).await.unwrap();
    assert!(keys[0].last_used_at.is_some());

    // Revoked: refused on the very next request.
    let other = app.api_key(&t.tenant.id, &[Scope::ComplaintsRead]).await;
    assert_eq!(
        app.api(Method::GET, "/me", &other)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let other_id = app.store.api_keys(&t.tenant.id).await.unwrap()[0]
        .id
        .clone();
    assert!(app
        .store
        .revoke_api_key(&t.tenant.id, &other_id, chrono::Utc::now(), Vec::new())
        .await
        .unwrap());
    assert_eq!(
        app.api(Method::GET, "/me", &other)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Expired: refused once its day has passed.
    let (expiring, _) = app
        .engine
        .ops()
        .create_api_key(
            &ombud_engine::Acting::cli(),
            ombud_web::auth::KeyRequest {
                tenant: t.tenant.id.clone(),
                name: "for a day".into(),
                scopes: vec![Scope::ComplaintsRead],
                rate_limit_per_minute: 60,
                expires_in_days: Some(1),
                created_by: None,
            },
        )
        .await
        .unwrap();
    let status = |key: String| {
        let req = app.api(Method::GET, "/me", &key);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(status(expiring.clone()).await, 200);
    app.pass(chrono::Duration::hours(25)).await;
    assert_eq!(status(expiring).await, 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_works_with_its_csrf_header_and_admins_manage_keys() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    member(&app, "viewer@pune.example", &t.tenant.id, Role::Viewer).await;
    let admin = Staff::login(&app, "admin@pune.example").await;
    let csrf = admin.csrf_token().await;

    let (status, me) = call(admin.request(Method::GET, "/api/v1/me")).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["auth"].as_str(), me["role"].as_str()),
        (Some("session"), Some("admin"))
    );
    let new_key = json!({"name": "erp", "scopes": ["complaints:read"], "expires_in_days": 30});
    let (status, e) = call(
        admin
            .request(Method::POST, "/api/v1/api-keys")
            .json(&new_key),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf")),
        "{e}"
    );
    let (status, made) = call(
        admin
            .request(Method::POST, "/api/v1/api-keys")
            .header("x-csrf-token", &csrf)
            .json(&new_key),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with(made["api_key"]["prefix"].as_str().unwrap()));
    let (_, me) = call(app.api(Method::GET, "/me", &key)).await;
    assert_eq!(me["scopes"], json!(["complaints:read"]));
    // A key cannot make keys, and neither can a viewer.
    let (status, _) = call(app.api(Method::GET, "/api-keys", &key)).await;
    assert_eq!(status, 403);
    let viewer = Staff::login(&app, "viewer@pune.example").await;
    assert_eq!(
        viewer
            .request(Method::GET, "/api/v1/api-keys")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let (_, list) = call(admin.request(Method::GET, "/api/v1/api-keys")).await;
    assert!(
        list["data"][0].get("key").is_none(),
        "the key is never listed"
    );
    // Revoked through the API: refused at once.
    let id = made["api_key"]["id"].as_str().unwrap();
    let res = admin
        .request(Method::DELETE, &format!("/api/v1/api-keys/{id}"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.api(Method::GET, "/me", &key)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.stop().await;
}
