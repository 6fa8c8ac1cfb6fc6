//! Every state-changing route and command writes its audit entry: the API's
//! routes are read from the served OpenAPI document, the dashboard's from its
//! router's source, the CLI's from `ombud --help`. Each is performed once by
//! an allowed actor and must write exactly its entries (one per complaint for
//! a bulk change) with the right actor and action; a refused attempt writes
//! none. A new route or command that no case here covers fails the test.

use std::collections::BTreeSet;

use ombud_core::audit::{ActorKind, AuditEntry};
use ombud_core::*;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::staff::*;
use crate::work::{complaint, street_light};

mod admin_pages;
mod api;
mod staff_work;

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
/// API routes that change nothing (each still has its case: it writes no entry).
const API_NOT_AUDITED: &[(&str, &str)] = &[(
    "POST /settings/assignment/try",
    "tries the rules on a sample complaint",
)];

/// Dashboard routes that change nothing (each still has its case: it
/// writes no entry).
const DASHBOARD_NOT_AUDITED: &[(&str, &str)] = &[(
    "POST /app/inbox/{id}/typing",
    "tells the others looking that someone is typing; nothing is stored",
)];

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
    ("bench retention", "a benchmark on its own data"),
    ("bench intake", "reads a set of messages; nothing is stored"),
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

/// What every case works with: the office, its people, a filed complaint, a
/// handed-over conversation, keys, and the ledger.
struct Scene<'a> {
    app: &'a TestApp,
    graph: &'a FakeGraph,
    t: &'a TestTenant,
    tid: &'a TenantId,
    owner: &'a User,
    ravi: &'a User,
    number: &'a str,
    filed: &'a Complaint,
    conversation: &'a str,
    key: &'a str,
    viewer_key: &'a str,
    admin: Staff<'a>,
    viewer: Staff<'a>,
    l: Ledger<'a>,
    me: &'a str,
    k: &'a str,
}

/// What the API's cases made that the dashboard's build on.
struct Made {
    api_complaint: String,
    agent_id: String,
    version_id: String,
    channel: String,
}

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

    let mut scene = Scene {
        app: &app,
        graph: &graph,
        t: &t,
        tid: &tid,
        owner: &owner,
        ravi: &ravi,
        number: &number,
        filed: &filed,
        conversation: &conversation,
        key: &key,
        viewer_key: &viewer_key,
        admin,
        viewer,
        l,
        me,
        k,
    };
    let made = api::cases(&mut scene).await;
    staff_work::cases(&mut scene, &made).await;
    admin_pages::cases(&mut scene, &made).await;
    let Scene { l, .. } = scene;
    // Someone whose data the command line exports and erases.
    let citizen = "919800000779";
    app.say(&t, citizen, "hello").await;
    let theirs = app
        .store
        .conversation_of_address(&tid, &t.channel.id, citizen)
        .await
        .unwrap()
        .unwrap();
    let person = app
        .store
        .conversation(&tid, &theirs)
        .await
        .unwrap()
        .unwrap()
        .conversation
        .contact_id
        .to_string();

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
    for what in ["export", "erase"] {
        let args = ["contact", what, "--tenant", "pune", "--contact", &person];
        let (code, out, err) = run_cli(&db, &args);
        assert_eq!(code, 0, "{out} {err}");
        cli_covered.insert(if what == "export" {
            "contact export"
        } else {
            "contact erase"
        });
    }
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
            ("contact.exported", ActorKind::Cli),
            ("contact.erased", ActorKind::Cli),
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
        let exempt = API_NOT_AUDITED.iter().any(|(r, _)| *r == route);
        if !exempt && !covered.contains(&route) {
            missing.push(route);
        }
    }
    for route in dashboard_routes() {
        let exempt = DASHBOARD_NOT_AUDITED.iter().any(|(r, _)| *r == route);
        if !exempt && !covered.contains(&route) {
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
