//! Every state-changing route and command writes its audit entry: the API's
//! routes are read from the served OpenAPI document, the dashboard's from its
//! router's source, the CLI's from `ombud --help`. Each is performed once by
//! an allowed actor and must write exactly its entries (one per complaint for
//! a bulk change) with the right actor and action; a refused attempt writes
//! none. A new route or command that no case here covers fails the test.

use std::collections::{BTreeSet, HashSet};

use ombud_core::audit::{ActorKind, AuditEntry};
use ombud_core::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::audit::session_api;
use crate::helpers::*;
use crate::staff::*;
use crate::work::{complaint, street_light};

/// What one case must have written.
struct Expect<'a> {
    actions: Vec<&'a str>,
    /// The actor's email (a person), key name (an API key), or "cli".
    actor: &'a str,
}

fn one<'a>(action: &'a str, actor: &'a str) -> Expect<'a> {
    Expect {
        actions: vec![action],
        actor,
    }
}

struct Ledger<'a> {
    app: &'a TestApp,
    tenant: TenantId,
    seen: usize,
    covered: BTreeSet<String>,
}

impl<'a> Ledger<'a> {
    async fn new(app: &'a TestApp, tenant: &TenantId) -> Ledger<'a> {
        let mut l = Ledger {
            app,
            tenant: tenant.clone(),
            seen: 0,
            covered: BTreeSet::new(),
        };
        l.seen = l.all().await.len();
        l
    }

    async fn all(&self) -> Vec<AuditEntry> {
        self.app
            .store
            .audit_chain(&self.tenant, 0, 100_000)
            .await
            .unwrap()
    }

    /// What was written since the last check.
    async fn new_entries(&mut self) -> Vec<AuditEntry> {
        let all = self.all().await;
        let fresh = all[self.seen..].to_vec();
        self.seen = all.len();
        fresh
    }

    /// Checks the entries since the last check against `expect`, and marks
    /// `route` covered.
    async fn check(&mut self, route: &str, expect: Expect<'_>) -> Vec<AuditEntry> {
        let fresh = self.new_entries().await;
        let actions: Vec<&str> = fresh.iter().map(|e| e.entry.action.as_str()).collect();
        assert_eq!(actions, expect.actions, "{route}: the entries written");
        for e in &fresh {
            let a = &e.entry.actor;
            let who = match a.kind {
                ActorKind::Cli => Some("cli"),
                ActorKind::ApiKey => a.name.as_deref(),
                _ => a.email.as_deref(),
            };
            assert_eq!(who, Some(expect.actor), "{route}: the actor of {e:?}");
            assert!(!e.entry.target.id.is_empty(), "{route}: a target");
        }
        self.covered.insert(route.to_owned());
        fresh
    }

    /// A refused attempt: nothing written.
    async fn none(&mut self, route: &str, what: &str) {
        let fresh = self.new_entries().await;
        assert!(fresh.is_empty(), "{route} ({what}) wrote {fresh:?}");
    }
}

async fn json_of(req: reqwest::RequestBuilder, status: u16) -> Value {
    let res = req.send().await.unwrap();
    let got = res.status().as_u16();
    let body = res.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

/// The API's state-changing operations, as `METHOD /path`, from the served
/// OpenAPI document.
async fn api_routes(app: &TestApp) -> BTreeSet<String> {
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if ["post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

/// The dashboard's POST routes, from its router's source.
fn dashboard_routes() -> BTreeSet<String> {
    let path = format!("{}/../web/src/dashboard/mod.rs", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(path).unwrap();
    let mut out = BTreeSet::new();
    for part in source.split(".route(").skip(1) {
        let Some(start) = part.find('"') else {
            continue;
        };
        let rest = &part[start + 1..];
        let end = rest.find('"').unwrap();
        let route = &rest[..end];
        // The handlers of this route: up to the next `.route(` or the end.
        if rest[end..].contains("post(") {
            out.insert(format!("POST {route}"));
        }
    }
    assert!(out.len() > 20, "{out:?}");
    out
}

/// The CLI's commands, from `ombud --help` and each command's own help.
fn cli_commands() -> BTreeSet<String> {
    let help = |args: &[&str]| -> Vec<String> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ombud"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let Some(at) = text.find("Commands:") else {
            return Vec::new();
        };
        text[at..]
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .filter(|c| c != "help")
            .collect()
    };
    let mut out = BTreeSet::new();
    for command in help(&[]) {
        let subs = help(&[&command]);
        if subs.is_empty() {
            out.insert(command);
        } else {
            for sub in subs {
                out.insert(format!("{command} {sub}"));
            }
        }
    }
    out
}

/// Commands that change no tenant's state an admin answers for, and why.
const CLI_NOT_AUDITED: &[(&str, &str)] = &[
    ("serve", "runs the server; what it serves is audited"),
    ("migrate", "the schema only"),
    ("openapi", "prints the API's document"),
    (
        "demo",
        "a demo on a fresh data dir; its tenant and channel are audited as the CLI's",
    ),
    (
        "say",
        "sends a message as WhatsApp would: a citizen's, not an action",
    ),
    (
        "migrate-db",
        "copies a whole deployment, its audit trail with it",
    ),
    ("loadtest", "a load test on its own data"),
    ("bench dashboard", "a benchmark on its own data"),
    ("bench api", "a benchmark on its own data"),
    ("bench agents", "a benchmark on its own data"),
    ("bench slowloris", "a benchmark on its own server"),
    ("bench webhooks", "a benchmark on its own data"),
    (
        "seed",
        "fills a tenant with test data for benchmarks and drills",
    ),
    ("tenant list", "reads"),
    ("backup list", "reads"),
    (
        "backup prune",
        "deletes backup files by the retention rule the operator configured; no tenant data changes",
    ),
    ("channel list", "reads"),
    (
        "secret-key rotate",
        "re-seals secrets under a new key; no value changes",
    ),
    ("audit verify", "reads"),
    ("audit export", "reads"),
    ("audit public-key", "reads"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_changing_route_and_command_writes_its_entry_and_a_refusal_none() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(crate::mail::with_smtp, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let tid = t.tenant.id.clone();
    let owner = member(&app, "owner@pune.gov.in", &tid, Role::Owner).await;
    let ravi = member(&app, "ravi@pune.gov.in", &tid, Role::Staff).await;
    member(&app, "viewer@pune.gov.in", &tid, Role::Viewer).await;
    let number = street_light(&app, &t, &graph, "919800000001").await;
    let filed = complaint(&app, &t, &number).await;
    street_light(&app, &t, &graph, "919800000002").await;
    app.say(&t, "919800000009", "human").await;
    graph.wait_for_reply_to("919800000009", 1).await;
    let conversation = app.store.handed_over(&tid).await.unwrap()[0]
        .conversation
        .id
        .to_string();
    let key = app.api_key(&tid, &Scope::ALL).await;
    let viewer_key = app.api_key(&tid, &[Scope::ComplaintsRead]).await;
    let mut admin = Staff::new(&app);
    let viewer = Staff::login(&app, "viewer@pune.gov.in").await;
    let mut l = Ledger::new(&app, &tid).await;
    let me = "owner@pune.gov.in";
    let k = "tests";

    // --- Sign-in. A failed login is the one refusal that is recorded.
    let res = admin.login_as(me, "not the password!").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    l.check("POST /app/login", one("login.failed", me)).await;
    let res = admin.login_as(me, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/login", one("login.succeeded", me)).await;

    // --- The API, with a key (and a session where only a session may).
    let c = json_of(
        app.api(Method::POST, "/complaints", &viewer_key)
            .json(&json!({"description": "Pothole on MG road"})),
        403,
    )
    .await;
    assert_eq!(c["error"]["code"], "missing_scope");
    l.none("POST /complaints", "without the scope").await;
    json_of(
        app.api(Method::POST, "/complaints", &key)
            .json(&json!({"description": ""})),
        422,
    )
    .await;
    l.none("POST /complaints", "invalid").await;
    let made = json_of(
        app.api(Method::POST, "/complaints", &key)
            .json(&json!({"description": "Pothole on MG road"})),
        201,
    )
    .await;
    let api_complaint = made["id"].as_str().unwrap().to_owned();
    let e = l
        .check("POST /complaints", one("complaint.created", k))
        .await;
    assert_eq!(e[0].entry.target.label.as_deref(), made["number"].as_str());
    json_of(
        app.api(Method::PATCH, &format!("/complaints/{api_complaint}"), &key)
            .json(&json!({"status": "closed"})),
        422,
    )
    .await;
    l.none("PATCH /complaints/{id}", "an illegal move").await;
    json_of(
        app.api(Method::PATCH, &format!("/complaints/{api_complaint}"), &key)
            .json(&json!({"status": "acknowledged"})),
        200,
    )
    .await;
    l.check("PATCH /complaints/{id}", one("complaint.status_changed", k))
        .await;
    json_of(
        app.api(
            Method::POST,
            &format!("/complaints/{api_complaint}/notes"),
            &key,
        )
        .json(&json!({"note": "called the contractor"})),
        201,
    )
    .await;
    let e = l
        .check(
            "POST /complaints/{id}/notes",
            one("complaint.note_added", k),
        )
        .await;
    assert!(!serde_json::to_string(&e).unwrap().contains("contractor"));
    let open = app
        .store
        .count_complaints(
            &tid,
            &ombud_store::ComplaintFilter {
                statuses: vec![ComplaintStatus::New],
                ..Default::default()
            },
        )
        .await
        .unwrap() as usize;
    assert!(open >= 2, "{open}");
    json_of(
        app.api(Method::POST, "/complaints/bulk-update", &key)
            .json(&json!({"filter": {"status": ["new"]}, "change": {"priority": "high"}})),
        200,
    )
    .await;
    let e = l
        .check(
            "POST /complaints/bulk-update",
            Expect {
                actions: vec!["complaint.priority_changed"; open],
                actor: k,
            },
        )
        .await;
    let bulk: HashSet<_> = e.iter().map(|e| e.entry.bulk_id.clone()).collect();
    assert_eq!(bulk.len(), 1, "one bulk id");
    assert!(bulk.iter().all(Option::is_some));

    json_of(
        app.api(
            Method::POST,
            &format!("/conversations/{conversation}/messages"),
            &key,
        )
        .json(&json!({"body": ""})),
        422,
    )
    .await;
    l.none("POST /conversations/{id}/messages", "empty").await;
    json_of(
        app.api(
            Method::POST,
            &format!("/conversations/{conversation}/messages"),
            &key,
        )
        .json(&json!({"body": "We are on it."})),
        201,
    )
    .await;
    l.check(
        "POST /conversations/{id}/messages",
        one("conversation.staff_replied", k),
    )
    .await;

    json_of(
        app.api(Method::POST, "/agents", &key)
            .json(&json!({"name": "", "kind": "intake"})),
        422,
    )
    .await;
    l.none("POST /agents", "no name").await;
    let agent = json_of(
        app.api(Method::POST, "/agents", &key)
            .json(&json!({"name": "helper", "kind": "intake"})),
        201,
    )
    .await;
    let agent_id = agent["id"].as_str().unwrap().to_owned();
    l.check("POST /agents", one("agent.created", k)).await;
    let version = json_of(
        app.api(Method::POST, &format!("/agents/{agent_id}/versions"), &key)
            .json(&json!({"config": {}, "changelog": "first"})),
        201,
    )
    .await;
    let version_id = version["id"].as_str().unwrap().to_owned();
    l.check("POST /agents/{id}/versions", one("agent.version_saved", k))
        .await;
    let channel = t.channel.id.to_string();
    json_of(
        app.api(
            Method::POST,
            &format!("/channels/{channel}/deployments"),
            &key,
        )
        .json(&json!({"version_id": "agv_00000000000000000000000000"})),
        422,
    )
    .await;
    l.none("POST /channels/{id}/deployments", "no such version")
        .await;
    json_of(
        app.api(
            Method::POST,
            &format!("/channels/{channel}/deployments"),
            &key,
        )
        .json(&json!({"version_id": version_id})),
        201,
    )
    .await;
    l.check("POST /channels/{id}/deployments", one("agent.deployed", k))
        .await;
    let chat = json_of(
        app.api(
            Method::POST,
            &format!("/agents/{agent_id}/versions/1/test-chats"),
            &key,
        ),
        201,
    )
    .await;
    let chat_id = chat["id"].as_str().unwrap().to_owned();
    l.check(
        "POST /agents/{id}/versions/{number}/test-chats",
        one("test_chat.started", k),
    )
    .await;
    json_of(
        app.api(
            Method::POST,
            &format!("/test-chats/{chat_id}/messages"),
            &key,
        )
        .json(&json!({"text": "hello"})),
        201,
    )
    .await;
    l.check(
        "POST /test-chats/{id}/messages",
        one("test_chat.message_sent", k),
    )
    .await;

    json_of(
        app.api(Method::POST, "/webhooks", &key)
            .json(&json!({"url": "ftp://example.org"})),
        422,
    )
    .await;
    l.none("POST /webhooks", "a bad URL").await;
    let hook = json_of(
        app.api(Method::POST, "/webhooks", &key)
            .json(&json!({"url": "http://127.0.0.1:9/hook"})),
        201,
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    l.check("POST /webhooks", one("webhook_endpoint.created", k))
        .await;
    json_of(
        app.api(Method::PATCH, &format!("/webhooks/{hook_id}"), &key)
            .json(&json!({"description": "CRM"})),
        200,
    )
    .await;
    l.check("PATCH /webhooks/{id}", one("webhook_endpoint.changed", k))
        .await;
    json_of(
        app.api(
            Method::POST,
            &format!("/webhooks/{hook_id}/rotate-secret"),
            &key,
        ),
        200,
    )
    .await;
    l.check(
        "POST /webhooks/{id}/rotate-secret",
        one("webhook_endpoint.secret_rotated", k),
    )
    .await;
    let sent = json_of(
        app.api(Method::POST, &format!("/webhooks/{hook_id}/test"), &key),
        202,
    )
    .await;
    l.check(
        "POST /webhooks/{id}/test",
        one("webhook_endpoint.tested", k),
    )
    .await;
    let event = sent["event_id"].as_str().unwrap();
    json_of(
        app.api(
            Method::POST,
            &format!("/webhooks/{hook_id}/deliveries/{event}/replay"),
            &key,
        ),
        202,
    )
    .await;
    l.check(
        "POST /webhooks/{id}/deliveries/{event_id}/replay",
        one("webhook_endpoint.replayed", k),
    )
    .await;
    json_of(
        app.api(Method::POST, &format!("/webhooks/{hook_id}/replay"), &key)
            .json(&json!({"since": "2026-01-01T00:00:00Z"})),
        202,
    )
    .await;
    l.check(
        "POST /webhooks/{id}/replay",
        one("webhook_endpoint.replayed", k),
    )
    .await;
    assert_eq!(
        status_of(app.api(Method::DELETE, &format!("/webhooks/{hook_id}"), &key)).await,
        204
    );
    l.check("DELETE /webhooks/{id}", one("webhook_endpoint.deleted", k))
        .await;

    // Only an admin's session manages keys and channels.
    assert_eq!(
        status_of(
            app.api(Method::POST, "/api-keys", &key)
                .json(&json!({"name": "x", "scopes": ["complaints:read"]}))
        )
        .await,
        403
    );
    l.none("POST /api-keys", "with a key").await;
    let made = json_of(
        session_api(&admin, Method::POST, "/api-keys")
            .await
            .json(&json!({"name": "crm", "scopes": ["complaints:read"]})),
        201,
    )
    .await;
    l.check("POST /api-keys", one("api_key.created", me)).await;
    let key_id = made["api_key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        status_of(session_api(&admin, Method::DELETE, &format!("/api-keys/{key_id}")).await).await,
        204
    );
    l.check("DELETE /api-keys/{id}", one("api_key.revoked", me))
        .await;
    assert_eq!(
        status_of(session_api(&admin, Method::DELETE, &format!("/api-keys/{key_id}")).await).await,
        404
    );
    l.none("DELETE /api-keys/{id}", "revoked already").await;
    json_of(
        session_api(&admin, Method::POST, "/channels")
            .await
            .json(&json!({"kind": "webchat", "name": "Website"})),
        201,
    )
    .await;
    l.check("POST /channels", one("channel.added", me)).await;
    let templates = format!("/channels/{}/templates", t.channel.id);
    let mapping = json!({"waba_id": "1020", "notices": {"status_changed": {
        "name": "complaint_status", "languages": ["en"], "body": ["complaint_number"]}}});
    json_of(
        session_api(&admin, Method::PUT, &templates)
            .await
            .json(&mapping),
        200,
    )
    .await;
    l.check(
        "PUT /channels/{id}/templates",
        one("channel.templates_set", me),
    )
    .await;
    let mut bad = mapping.clone();
    bad["notices"]["status_changed"]["languages"] = json!(["english"]);
    json_of(
        session_api(&admin, Method::PUT, &templates)
            .await
            .json(&bad),
        422,
    )
    .await;
    l.none("PUT /channels/{id}/templates", "a bad language code")
        .await;
    json_of(
        session_api(&admin, Method::POST, &format!("{templates}/sync")).await,
        200,
    )
    .await;
    l.check(
        "POST /channels/{id}/templates/sync",
        one("channel.templates_synced", me),
    )
    .await;

    // --- The dashboard.
    let res = viewer
        .submit(
            &format!("/app/complaints/{number}/status"),
            &[("value", "acknowledged")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    l.none("POST /app/complaints/{key}/{action}", "a viewer")
        .await;
    for (action, value, expected) in [
        ("status", "acknowledged", "complaint.status_changed"),
        ("priority", "urgent", "complaint.priority_changed"),
        ("area", "Ward 7", "complaint.area_changed"),
        ("assign", ravi.id.as_str(), "complaint.assigned"),
        ("note", "checked on site", "complaint.note_added"),
    ] {
        let res = admin
            .submit(
                &format!("/app/complaints/{number}/{action}"),
                &[("value", value)],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
        l.check("POST /app/complaints/{key}/{action}", one(expected, me))
            .await;
    }
    let ids = format!("{}", filed.id);
    let res = admin
        .submit(
            "/app/complaints/bulk",
            &[
                ("action", "note"),
                ("note", "bulk note"),
                ("scope", "selected"),
                ("ids", &ids),
                ("ids", &api_complaint),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let e = l
        .check(
            "POST /app/complaints/bulk",
            Expect {
                actions: vec!["complaint.note_added"; 2],
                actor: me,
            },
        )
        .await;
    assert!(e[0].entry.bulk_id.is_some() && e[0].entry.bulk_id == e[1].entry.bulk_id);

    let res = admin
        .submit(&format!("/app/inbox/{conversation}/reply"), &[("body", "")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/inbox/{id}/reply", "empty").await;
    let res = admin
        .submit(
            &format!("/app/inbox/{conversation}/reply"),
            &[("body", "Thank you")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/inbox/{id}/reply",
        one("conversation.staff_replied", me),
    )
    .await;
    admin
        .submit(&format!("/app/inbox/{conversation}/hand-back"), &[])
        .await;
    l.check(
        "POST /app/inbox/{id}/hand-back",
        one("conversation.handed_back", me),
    )
    .await;

    let page = admin
        .submit(
            "/app/team/invitations",
            &[("email", "meera@pune.gov.in"), ("role", "staff")],
        )
        .await
        .text()
        .await
        .unwrap();
    l.check("POST /app/team/invitations", one("invitation.created", me))
        .await;
    let at = page.find("/app/invite/").unwrap();
    let invite_path = page[at..].split('<').next().unwrap().to_owned();
    let res = Staff::new(&app)
        .post_form(
            &invite_path,
            &[
                ("name", "Meera"),
                ("new", "a long new password"),
                ("confirm", "not the same"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/invite/{token}", "passwords differ").await;
    let res = Staff::new(&app)
        .post_form(
            &invite_path,
            &[
                ("name", "Meera"),
                ("new", "a long new password"),
                ("confirm", "a long new password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check(
        "POST /app/invite/{token}",
        one("invitation.accepted", "meera@pune.gov.in"),
    )
    .await;
    admin
        .submit(
            "/app/team/invitations",
            &[("email", "later@pune.gov.in"), ("role", "viewer")],
        )
        .await;
    l.new_entries().await;
    let invitation = app.store.open_invitations(&tid).await.unwrap()[0]
        .id
        .to_string();
    admin
        .submit(&format!("/app/team/invitations/{invitation}/revoke"), &[])
        .await;
    l.check(
        "POST /app/team/invitations/{id}/revoke",
        one("invitation.revoked", me),
    )
    .await;
    let m = |action: &str| format!("/app/team/members/{}/{action}", ravi.id);
    admin.submit(&m("role"), &[("role", "viewer")]).await;
    l.check(
        "POST /app/team/members/{id}/role",
        one("member.role_changed", me),
    )
    .await;
    admin.submit(&m("password"), &[]).await;
    l.check(
        "POST /app/team/members/{id}/password",
        one("password.reset", me),
    )
    .await;
    admin.submit(&m("remove"), &[]).await;
    l.check(
        "POST /app/team/members/{id}/remove",
        one("member.removed", me),
    )
    .await;

    // "Forgot your password?", by someone not signed in: asked for, then
    // used, each recorded as that account's.
    let forgetful = format!(
        "forgetful-{}@pune.gov.in",
        ombud_core::id::new_id_body().to_lowercase()
    );
    member(&app, &forgetful, &tid, Role::Staff).await;
    let visitor = Staff::new(&app);
    visitor
        .post_form("/app/forgot", &[("email", "nobody@pune.gov.in")])
        .await;
    l.none("POST /app/forgot", "no such account").await;
    visitor
        .post_form("/app/forgot", &[("email", &forgetful)])
        .await;
    l.check(
        "POST /app/forgot",
        one("password.reset_requested", &forgetful),
    )
    .await;
    let mail = crate::mail::wait_for_mail(&forgetful, 1).await;
    let at = mail[0].body.find("/app/reset/").unwrap();
    let reset_path = mail[0].body[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let res = visitor
        .post_form(
            &reset_path,
            &[("new", "a long new password"), ("confirm", "other")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/reset/{token}", "passwords differ").await;
    visitor
        .post_form(
            &reset_path,
            &[
                ("new", "a long new password"),
                ("confirm", "a long new password"),
            ],
        )
        .await;
    l.check(
        "POST /app/reset/{token}",
        one("password.reset_by_link", &forgetful),
    )
    .await;

    let res = admin
        .submit(
            "/app/settings/categories",
            &[("name_en", "Parks"), ("priority", "low")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/settings/categories", one("category.added", me))
        .await;
    let parks = app
        .store
        .categories(&tid)
        .await
        .unwrap()
        .iter()
        .find(|c| c.slug == "parks")
        .unwrap()
        .id
        .to_string();
    admin
        .submit(
            &format!("/app/settings/categories/{parks}"),
            &[("name_en", "Parks"), ("priority", "high")],
        )
        .await;
    let e = l
        .check(
            "POST /app/settings/categories/{id}",
            one("category.changed", me),
        )
        .await;
    assert_eq!(e[0].entry.changes.len(), 1, "{e:?}");
    let res = admin
        .submit(
            "/app/settings/channels",
            &[
                ("name", "Second"),
                ("phone_number_id", "123456"),
                ("app_secret", "s3cret-app"),
                ("access_token", "t0ken-access"),
                ("verify_token", "v3rify"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let e = l
        .check("POST /app/settings/channels", one("channel.added", me))
        .await;
    let text = serde_json::to_string(&e).unwrap();
    for secret in ["s3cret-app", "t0ken-access", "v3rify"] {
        assert!(!text.contains(secret), "{text}");
    }
    admin
        .submit(
            "/app/settings/channels/webchat",
            &[("name", "Kiosk"), ("allowed_origins", "")],
        )
        .await;
    l.check(
        "POST /app/settings/channels/{kind}",
        one("channel.added", me),
    )
    .await;

    let res = admin
        .submit("/app/agents/new", &[("name", "second"), ("kind", "intake")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/agents/new", one("agent.created", me))
        .await;
    admin
        .submit(
            &format!("/app/agents/{agent_id}/versions"),
            &[("config", "{}"), ("changelog", "second")],
        )
        .await;
    l.check(
        "POST /app/agents/{id}/versions",
        one("agent.version_saved", me),
    )
    .await;
    // Back to version 1 of the same agent: a rollback.
    admin
        .submit(
            "/app/agents/deploy",
            &[
                ("channel_id", &channel),
                (
                    "version_id",
                    app.store
                        .agent_versions(&tid, &agent_id.parse().unwrap())
                        .await
                        .unwrap()[0]
                        .id
                        .as_str(),
                ),
            ],
        )
        .await;
    l.check("POST /app/agents/deploy", one("agent.deployed", me))
        .await;
    admin
        .submit(
            "/app/agents/deploy",
            &[("channel_id", &channel), ("version_id", &version_id)],
        )
        .await;
    l.check("POST /app/agents/deploy", one("agent.rolled_back", me))
        .await;
    let res = admin
        .submit(&format!("/app/agents/{agent_id}/versions/1/test"), &[])
        .await;
    l.check(
        "POST /app/agents/{id}/versions/{number}/test",
        one("test_chat.started", me),
    )
    .await;
    let chat_path = location(&res);
    admin.submit(&chat_path, &[("text", "hello")]).await;
    l.check(
        "POST /app/test-chats/{id}",
        one("test_chat.message_sent", me),
    )
    .await;

    let page = admin
        .submit(
            "/app/developers/keys",
            &[("name", "erp"), ("scope", "complaints:read")],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("ombud_"));
    l.check("POST /app/developers/keys", one("api_key.created", me))
        .await;
    let erp = app
        .store
        .api_keys(&tid)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "erp")
        .unwrap()
        .id
        .to_string();
    admin
        .submit(&format!("/app/developers/keys/{erp}/revoke"), &[])
        .await;
    l.check(
        "POST /app/developers/keys/{id}/revoke",
        one("api_key.revoked", me),
    )
    .await;
    let res = admin
        .submit(
            "/app/developers/webhooks",
            &[("url", "http://127.0.0.1:9/dash"), ("description", "")],
        )
        .await;
    l.check(
        "POST /app/developers/webhooks",
        one("webhook_endpoint.created", me),
    )
    .await;
    let hook = location(&res);
    let hook = hook
        .trim_start_matches("/app/developers/webhooks/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    // Its page with the secret shown once: recorded as shown.
    admin
        .get(&format!("/app/developers/webhooks/{hook}?secret=show"))
        .await;
    l.check(
        "GET /app/developers/webhooks/{id}?secret=show",
        one("webhook_endpoint.secret_shown", me),
    )
    .await;
    for (action, expected) in [
        ("disable", "webhook_endpoint.changed"),
        ("enable", "webhook_endpoint.changed"),
        ("rotate", "webhook_endpoint.secret_rotated"),
        ("test", "webhook_endpoint.tested"),
    ] {
        admin
            .submit(&format!("/app/developers/webhooks/{hook}/{action}"), &[])
            .await;
        l.check(
            "POST /app/developers/webhooks/{id}/{action}",
            one(expected, me),
        )
        .await;
    }
    admin
        .submit(
            &format!("/app/developers/webhooks/{hook}/replay-failed"),
            &[("since_hours", "24")],
        )
        .await;
    l.check(
        "POST /app/developers/webhooks/{id}/{action}",
        one("webhook_endpoint.replayed", me),
    )
    .await;
    let delivery = app
        .store
        .webhook_deliveries(&tid, &hook.parse().unwrap(), None, None, 1)
        .await
        .unwrap()[0]
        .event_id
        .to_string();
    admin
        .submit(
            &format!("/app/developers/webhooks/{hook}/deliveries/{delivery}/replay"),
            &[],
        )
        .await;
    l.check(
        "POST /app/developers/webhooks/{id}/deliveries/{event}/replay",
        one("webhook_endpoint.replayed", me),
    )
    .await;
    let res = admin
        .submit(&format!("/app/developers/webhooks/{hook}/delete"), &[])
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    l.check(
        "POST /app/developers/webhooks/{id}/{action}",
        one("webhook_endpoint.deleted", me),
    )
    .await;

    let res = viewer.submit("/app/welcome/team", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    l.none("POST /app/welcome/{step}", "a viewer").await;
    admin.submit("/app/welcome/team", &[]).await;
    l.check("POST /app/welcome/{step}", one("onboarding.step_done", me))
        .await;

    // Switching organisation is not an action: nothing is written.
    let other = app.tenant("nashik", "NASIK", &graph).await;
    app.store
        .add_membership(
            &other.tenant.id,
            &owner.id,
            Role::Owner,
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap();
    l.new_entries().await;
    admin.submit("/app/tenant", &[("tenant", "nashik")]).await;
    admin.submit("/app/tenant", &[("tenant", "pune")]).await;
    l.none("POST /app/tenant", "not an action").await;
    l.covered.insert("POST /app/tenant".into());
    let res = admin
        .submit(
            "/app/account/summary",
            &[("tenant", "pune"), ("daily_summary", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/account/summary", one("member.daily_summary", me))
        .await;
    let res = admin
        .submit(
            "/app/account/summary",
            &[("tenant", "no-such-office"), ("daily_summary", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    l.none("POST /app/account/summary", "no such organisation")
        .await;

    // The password, then logout: both end sessions.
    let res = admin
        .submit(
            "/app/password",
            &[
                ("current", "wrong!"),
                ("new", "another long one"),
                ("confirm", "another long one"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    l.none("POST /app/password", "wrong current password").await;
    let res = admin
        .submit(
            "/app/password",
            &[
                ("current", PASSWORD),
                ("new", "another long one"),
                ("confirm", "another long one"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    admin.cookie = new_session_cookie(&res);
    l.check("POST /app/password", one("password.changed", me))
        .await;
    let res = admin.submit("/app/logout", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    l.check("POST /app/logout", one("logout", me)).await;

    // Every event written so far carries the fields its payload struct (and
    // the docs' catalogue) promise.
    let mut kinds = HashSet::new();
    for row in app
        .db
        .texts("select type || ' ' || cast(data as text) from events")
        .await
    {
        let (kind, data) = row.split_once(' ').unwrap();
        let kind = EventType::parse(kind).unwrap();
        let data: Value = serde_json::from_str(data).unwrap();
        for field in ombud_core::event::payload::fields(kind) {
            assert!(data.get(field).is_some(), "{kind:?} lacks {field}: {data}");
        }
        kinds.insert(kind);
    }
    assert!(kinds.len() >= 10, "{kinds:?}");

    // --- The CLI.
    let (seen, covered) = (l.seen, l.covered);
    let db = app.stop_keeping_db().await;
    let mut cli_covered = BTreeSet::new();
    let (code, _, err) = run_cli(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "pune",
            "--email",
            "new@pune.gov.in",
            "--role",
            "staff",
        ],
    );
    assert_eq!(code, 0, "{err}");
    cli_covered.insert("user create");
    let (code, out, err) = run_cli(
        &db,
        &[
            "apikey",
            "create",
            "--tenant",
            "pune",
            "--name",
            "from the shell",
            "--scopes",
            "complaints:read",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    cli_covered.insert("apikey create");
    let (code, out, err) = run_cli(
        &db,
        &[
            "channel", "add", "webchat", "--tenant", "pune", "--name", "Third",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    cli_covered.insert("channel add");
    let (code, _, err) = run_cli(
        &db,
        &[
            "tenant",
            "create",
            "--slug",
            "thane",
            "--name",
            "Thane office",
            "--prefix",
            "THANE",
        ],
    );
    assert_eq!(code, 0, "{err}");
    cli_covered.insert("tenant create");
    let (code, _, _) = run_cli(
        &db,
        &[
            "user",
            "create",
            "--tenant",
            "pune",
            "--email",
            "not an email",
            "--role",
            "staff",
        ],
    );
    assert_ne!(code, 0);
    // Backups: taken and verified here, restored elsewhere (whose trail
    // says so).
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().to_str().unwrap();
    let (code, made, err) = run_cli(&db, &["backup", "create", "--to", to, "--json"]);
    assert_eq!(code, 0, "{err}");
    let file = made["file"].as_str().unwrap().to_owned();
    let (code, _, err) = run_cli(&db, &["backup", "verify", &file]);
    assert_eq!(code, 0, "{err}");
    let backup_actions = vec![
        ("backup.created", ActorKind::Cli),
        ("backup.verified", ActorKind::Cli),
    ];
    // Restored elsewhere: a fresh data directory, or on PostgreSQL a fresh
    // database (the keys in the directory).
    let elsewhere = db.elsewhere().await;
    let into = elsewhere.dir.path().to_str().unwrap().to_owned();
    let mut args = vec!["restore", file.as_str(), "--data-dir", into.as_str()];
    if let Some(url) = &elsewhere.url {
        args.extend(["--database-url", url.as_str()]);
    }
    let (code, _, err) = run_cli(&db, &args);
    assert_eq!(code, 0, "{err}");
    let restored = ombud::app::open_store(&test_config(&elsewhere))
        .await
        .unwrap();
    let chain = restored.audit_chain(&tid, 0, 1000).await.unwrap();
    let last = &chain.last().unwrap().entry;
    assert_eq!(
        (last.action.as_str(), last.actor.kind),
        ("backup.restored", ActorKind::Cli)
    );
    for command in ["backup create", "backup verify", "restore"] {
        cli_covered.insert(command);
    }
    let app = TestApp::spawn_on(db, |_| {}, None).await;
    let mut l2 = Ledger {
        app: &app,
        tenant: tid.clone(),
        seen,
        covered: BTreeSet::new(),
    };
    let fresh = l2.new_entries().await;
    let actions: Vec<(&str, ActorKind)> = fresh
        .iter()
        .map(|e| (e.entry.action.as_str(), e.entry.actor.kind))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("user.created", ActorKind::Cli),
            ("api_key.created", ActorKind::Cli),
            ("channel.added", ActorKind::Cli),
        ]
        .into_iter()
        .chain(backup_actions)
        .collect::<Vec<_>>(),
        "one entry per command, none for the refused one"
    );
    let thane = app
        .store
        .tenant_by_slug(&TenantSlug::parse("thane").unwrap())
        .await
        .unwrap()
        .unwrap();
    let thane_chain = app.store.audit_chain(&thane.id, 0, 10).await.unwrap();
    assert_eq!(thane_chain[0].entry.action, "tenant.created");

    // Nothing left out: every route and command has its case.
    let mut missing = Vec::new();
    for route in api_routes(&app).await {
        if !covered.contains(&route) {
            missing.push(route);
        }
    }
    for route in dashboard_routes() {
        if !covered.contains(&route) {
            missing.push(route);
        }
    }
    for command in cli_commands() {
        let exempt = CLI_NOT_AUDITED.iter().any(|(c, _)| *c == command);
        if !exempt && !cli_covered.contains(command.as_str()) {
            missing.push(format!("ombud {command}"));
        }
    }
    assert!(
        missing.is_empty(),
        "no case checks the audit entry of: {missing:?}"
    );
    app.stop().await;
}
