//! The audit trail: each admin or staff action writes exactly one entry
//! naming who, what and from where; a refused action writes none (except a
//! failed login); no secret is ever in an entry, the API's answer, the page
//! or an export; tenants see only their own. The chain's checks are in
//! `audit_chain`, every route's entry in `audit_coverage`.

use std::collections::HashSet;

use ombud_core::audit::AuditEntry;
use ombud_core::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::staff::*;

pub(crate) async fn chain(app: &TestApp, t: &TenantId) -> Vec<AuditEntry> {
    app.store.audit_chain(t, 0, 10_000).await.unwrap()
}

/// Runs `act`, then checks it wrote exactly one entry, of `action`, by
/// `actor` (an email, or a key's name), and returns it.
async fn one_entry<F: std::future::Future<Output = ()>>(
    app: &TestApp,
    t: &TenantId,
    action: &str,
    actor: &str,
    act: F,
) -> AuditEntry {
    let before = chain(app, t).await.len();
    act.await;
    let after = chain(app, t).await;
    assert_eq!(
        after.len(),
        before + 1,
        "{action}: exactly one entry, got {:?}",
        after[before..]
            .iter()
            .map(|e| &e.entry.action)
            .collect::<Vec<_>>()
    );
    let e = after.last().unwrap().clone();
    assert_eq!(e.entry.action, action);
    let who = e.entry.actor.email.clone().or(e.entry.actor.name.clone());
    assert_eq!(who.as_deref(), Some(actor), "{action}: the actor");
    e
}

/// Runs `act` and checks it wrote nothing.
async fn no_entry<F: std::future::Future<Output = ()>>(
    app: &TestApp,
    t: &TenantId,
    what: &str,
    act: F,
) {
    let before = chain(app, t).await.len();
    act.await;
    assert_eq!(chain(app, t).await.len(), before, "{what}: no entry");
}

/// A session's API request, with its CSRF token.
pub(crate) async fn session_api(
    staff: &Staff<'_>,
    method: Method,
    path: &str,
) -> reqwest::RequestBuilder {
    let token = staff.csrf_token().await;
    staff
        .request(method, &format!("/api/v1{path}"))
        .header("x-csrf-token", token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_admin_action_writes_one_entry_and_a_refused_one_none() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let tid = t.tenant.id.clone();
    member(&app, "admin@pune.gov.in", &tid, Role::Admin).await;
    let clerk = member(&app, "clerk@pune.gov.in", &tid, Role::Staff).await;
    let mut secrets: Vec<String> = vec![PASSWORD.into(), "wrong password!".into()];

    // Sign-in: success, and a failure, which is the one refusal recorded.
    let mut admin = Staff::new(&app);
    let e = one_entry(&app, &tid, "login.succeeded", "admin@pune.gov.in", async {
        let res = admin.login_as("admin@pune.gov.in", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    })
    .await;
    assert_eq!(e.entry.target.label.as_deref(), Some("admin@pune.gov.in"));
    assert_eq!(e.entry.origin.address.as_deref(), Some("127.0.0.1"));
    assert!(e.entry.origin.request_id.is_some(), "{e:?}");
    one_entry(&app, &tid, "login.failed", "admin@pune.gov.in", async {
        let mut someone = Staff::new(&app);
        let res = someone
            .login_as("admin@pune.gov.in", "wrong password!")
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    })
    .await;

    // API keys, from the dashboard and the API.
    let e = one_entry(&app, &tid, "api_key.created", "admin@pune.gov.in", async {
        let res = admin
            .submit(
                "/app/developers/keys",
                &[("name", "erp"), ("scope", "complaints:read")],
            )
            .await;
        let page = res.text().await.unwrap();
        let key = page
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|w| w.starts_with("ombud_") && w.len() > 40)
            .expect("the key is shown once")
            .to_owned();
        secrets.push(key);
    })
    .await;
    assert_eq!(e.entry.target.label.as_deref(), Some("erp"));
    no_entry(&app, &tid, "a key without a name", async {
        let res = admin
            .submit(
                "/app/developers/keys",
                &[("name", ""), ("scope", "complaints:read")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
    let mut made = Value::Null;
    one_entry(&app, &tid, "api_key.created", "admin@pune.gov.in", async {
        made = session_api(&admin, Method::POST, "/api-keys")
            .await
            .json(&json!({"name": "crm", "scopes": ["audit:read"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    })
    .await;
    secrets.push(made["key"].as_str().unwrap().to_owned());
    let key_id = made["api_key"]["id"].as_str().unwrap().to_owned();

    // Webhook endpoints, through the API.
    let mut endpoint = Value::Null;
    let e = one_entry(
        &app,
        &tid,
        "webhook_endpoint.created",
        "admin@pune.gov.in",
        async {
            endpoint = session_api(&admin, Method::POST, "/webhooks")
                .await
                .json(&json!({"url": "http://127.0.0.1:9/hook", "event_types": ["audit.recorded"]}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        },
    )
    .await;
    assert!(e
        .entry
        .changes
        .iter()
        .any(|c| c.field == "url" && c.after == Some(json!("http://127.0.0.1:9/hook"))));
    secrets.push(endpoint["secret"].as_str().unwrap().to_owned());
    let id = endpoint["id"].as_str().unwrap().to_owned();
    no_entry(&app, &tid, "a refused URL", async {
        let res = session_api(&admin, Method::PATCH, &format!("/webhooks/{id}"))
            .await
            .json(&json!({"url": "ftp://example.org"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    })
    .await;
    let e = one_entry(
        &app,
        &tid,
        "webhook_endpoint.changed",
        "admin@pune.gov.in",
        async {
            let res = session_api(&admin, Method::PATCH, &format!("/webhooks/{id}"))
                .await
                .json(&json!({"description": "CRM", "enabled": false}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        },
    )
    .await;
    let fields: HashSet<&str> = e.entry.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, HashSet::from(["description", "enabled"]));
    one_entry(
        &app,
        &tid,
        "webhook_endpoint.secret_shown",
        "admin@pune.gov.in",
        async {
            let res = session_api(&admin, Method::GET, &format!("/webhooks/{id}/secret"))
                .await
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
        },
    )
    .await;
    let e = one_entry(
        &app,
        &tid,
        "webhook_endpoint.secret_rotated",
        "admin@pune.gov.in",
        async {
            let v: Value = session_api(
                &admin,
                Method::POST,
                &format!("/webhooks/{id}/rotate-secret"),
            )
            .await
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            secrets.push(v["secret"].as_str().unwrap().to_owned());
        },
    )
    .await;
    assert!(e
        .entry
        .changes
        .iter()
        .any(|c| c.field == "secret" && c.after == Some(json!("rotated"))));
    one_entry(
        &app,
        &tid,
        "webhook_endpoint.deleted",
        "admin@pune.gov.in",
        async {
            let res = session_api(&admin, Method::DELETE, &format!("/webhooks/{id}"))
                .await
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
        },
    )
    .await;

    // The team.
    let e = one_entry(
        &app,
        &tid,
        "invitation.created",
        "admin@pune.gov.in",
        async {
            let page = admin
                .submit(
                    "/app/team/invitations",
                    &[("email", "meera@pune.gov.in"), ("role", "staff")],
                )
                .await
                .text()
                .await
                .unwrap();
            let at = page.find("/app/invite/").expect("the link") + "/app/invite/".len();
            secrets.push(page[at..].split('<').next().unwrap().to_owned());
        },
    )
    .await;
    assert_eq!(e.entry.target.label.as_deref(), Some("meera@pune.gov.in"));
    let clerk_id = clerk.id.to_string();
    let e = one_entry(
        &app,
        &tid,
        "member.role_changed",
        "admin@pune.gov.in",
        async {
            let res = admin
                .submit(
                    &format!("/app/team/members/{clerk_id}/role"),
                    &[("role", "viewer")],
                )
                .await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER);
        },
    )
    .await;
    assert_eq!(
        (
            e.entry.target.id.as_str(),
            e.entry.changes[0].before.clone(),
            e.entry.changes[0].after.clone()
        ),
        (
            clerk_id.as_str(),
            Some(json!("staff")),
            Some(json!("viewer"))
        )
    );
    let clerk_session = Staff::login(&app, "clerk@pune.gov.in").await;
    no_entry(&app, &tid, "a viewer inviting", async {
        let res = clerk_session
            .submit(
                "/app/team/invitations",
                &[("email", "x@pune.gov.in"), ("role", "staff")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    })
    .await;
    one_entry(&app, &tid, "member.removed", "admin@pune.gov.in", async {
        let res = admin
            .submit(&format!("/app/team/members/{clerk_id}/remove"), &[])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    })
    .await;
    one_entry(&app, &tid, "api_key.revoked", "admin@pune.gov.in", async {
        let res = session_api(&admin, Method::DELETE, &format!("/api-keys/{key_id}"))
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    })
    .await;

    // What the trail holds, through the API and an export, has no secret.
    let listed = session_api(&admin, Method::GET, "/audit-events?limit=200")
        .await
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = admin.get("/app/audit").await.text().await.unwrap();
    assert!(page.contains("member.role_changed"), "{page}");
    one_entry(&app, &tid, "logout", "admin@pune.gov.in", async {
        let res = admin.submit("/app/logout", &[]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    })
    .await;
    let stored = serde_json::to_string(&chain(&app, &tid).await).unwrap();
    let events = app
        .db
        .texts("select cast(data as text) from events where type = 'audit.recorded'")
        .await
        .join("\n");
    let db = app.stop_keeping_db().await;
    let (code, _, export) = run_cli_raw(&db, &["audit", "export", "--tenant", "pune"]);
    assert_eq!(code, 0, "{export}");
    for secret in &secrets {
        for (what, text) in [
            ("the store", &stored),
            ("the API", &listed),
            ("the Audit page", &page),
            ("the events", &events),
            ("the export", &export),
        ] {
            assert!(!text.contains(secret.as_str()), "{what} holds a secret");
        }
    }
    assert!(listed.contains("member.role_changed"), "{listed}");
    let (code, out, err) = run_cli(&db, &["audit", "verify"]);
    assert_eq!(code, 0, "{out:#} {err}");
    assert_eq!(out["tenants"][0]["ok"], true, "{out:#}");
}

/// `run_cli`, with stdout as text (an export is JSON lines).
pub(crate) fn run_cli_raw(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ombud"))
        .args(args)
        .envs(db.env().iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run ombud");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_reads_its_own_trail_and_only_admins_do() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let a = app.tenant("pune", "PUNE", &graph).await;
    let b = app.tenant("nagpur", "NAG", &graph).await;
    member(&app, "admin@pune.gov.in", &a.tenant.id, Role::Admin).await;
    member(&app, "admin@nagpur.gov.in", &b.tenant.id, Role::Admin).await;
    member(&app, "clerk@pune.gov.in", &a.tenant.id, Role::Staff).await;
    member(&app, "viewer@pune.gov.in", &a.tenant.id, Role::Viewer).await;
    let admin_a = Staff::login(&app, "admin@pune.gov.in").await;
    let admin_b = Staff::login(&app, "admin@nagpur.gov.in").await;

    // A's endpoints: one that names audit.recorded, one that takes "all events".
    let key_a = app
        .api_key(&a.tenant.id, &[Scope::WebhooksManage, Scope::AuditRead])
        .await;
    let mut ids = Vec::new();
    for types in [json!(["audit.recorded"]), json!([])] {
        let v: Value = app
            .api(Method::POST, "/webhooks", &key_a)
            .json(
                &json!({"url": "http://127.0.0.1:9/hook", "event_types": types, "enabled": false}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    // Enabled now, so the entries of what follows are queued for them.
    for id in &ids {
        let res = app
            .api(Method::PATCH, &format!("/webhooks/{id}"), &key_a)
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    admin_b
        .submit(
            "/app/team/invitations",
            &[("email", "x@nagpur.gov.in"), ("role", "staff")],
        )
        .await;
    admin_a
        .submit(
            "/app/team/invitations",
            &[("email", "x@pune.gov.in"), ("role", "staff")],
        )
        .await;

    let read = |staff: &Staff<'_>| {
        let req = staff.request(Method::GET, "/api/v1/audit-events?limit=200");
        async move { req.send().await.unwrap() }
    };
    let ours: Value = read(&admin_a).await.json().await.unwrap();
    let tenants: HashSet<&str> = ours["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tenant_id"].as_str().unwrap())
        .collect();
    assert_eq!(tenants, HashSet::from([a.tenant.id.as_str()]));
    assert!(ours.to_string().contains("x@pune.gov.in"));
    assert!(!ours.to_string().contains("nagpur"), "{ours:#}");
    let by_key: Value = app
        .api(Method::GET, "/audit-events?action=invitation.", &key_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_key["data"].as_array().unwrap().len(), 1, "{by_key:#}");
    let no_scope = app.api_key(&a.tenant.id, &[Scope::WebhooksManage]).await;
    let res = app
        .api(Method::GET, "/audit-events", &no_scope)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    for email in ["clerk@pune.gov.in", "viewer@pune.gov.in"] {
        let s = Staff::login(&app, email).await;
        assert_eq!(read(&s).await.status(), StatusCode::FORBIDDEN, "{email}");
        assert_eq!(
            s.get("/app/audit").await.status(),
            StatusCode::FORBIDDEN,
            "{email}: the Audit page"
        );
    }
    // The Audit page: this tenant's entries, filtered, each with its diff.
    let page = admin_a.get("/app/audit").await.text().await.unwrap();
    assert!(page.contains("x@pune.gov.in"), "{page}");
    assert!(!page.contains("nagpur"), "{page}");
    let page = admin_a
        .get("/app/audit?action=invitation.")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("invitation.created"), "{page}");
    assert!(!page.contains("webhook_endpoint.created"), "{page}");
    assert!(page.contains("<ins>staff</ins>"), "the diff: {page}");
    let page = admin_a
        .get("/app/audit?from=not-a-date")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("a date like"), "{page}");

    // The stream: to A's endpoint that names it, with A's entries only.
    let named = ids[0].parse().unwrap();
    let all = ids[1].parse().unwrap();
    let to_named = app
        .store
        .webhook_deliveries(&a.tenant.id, &named, None, None, 200)
        .await
        .unwrap();
    assert!(!to_named.is_empty());
    assert!(to_named
        .iter()
        .all(|d| d.event_type == EventType::AuditRecorded));
    let to_all = app
        .store
        .webhook_deliveries(&a.tenant.id, &all, None, None, 200)
        .await
        .unwrap();
    assert!(
        to_all
            .iter()
            .all(|d| d.event_type != EventType::AuditRecorded),
        "an endpoint that takes all events does not get the trail unasked"
    );
    let data = app
        .db
        .texts("select cast(data as text) from events where type = 'audit.recorded'")
        .await;
    let of_a: Vec<&String> = data
        .iter()
        .filter(|d| d.contains(a.tenant.id.as_str()))
        .collect();
    assert!(of_a.iter().all(|d| !d.contains(b.tenant.id.as_str())));
    app.stop().await;
}
