//! Secrets at rest (issue 20, finding 3): every channel credential, webhook
//! secret and stored answer that shows a secret is sealed in the database;
//! rows from before sealing are sealed when the server starts; files are for
//! Ombud's user only; a key rotation re-seals everything and the server works
//! on with the new key.

use std::time::Duration;

use ombud_channels::whatsapp::{sign, text_message_payload};
use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::call;
use crate::crash::{cli, serve_with, wait_ready, whatsapp_channel};
use crate::helpers::*;
use crate::staff::{member, Staff};

/// Where each secret may be found, to look for it in plain text.
fn files_of(db: &TestDb) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(db.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ombud.db"))
        })
        .collect()
}

/// The secrets among `secrets` that can be read in the database: in its
/// files, byte for byte (SQLite), or in its secret columns (PostgreSQL).
async fn readable(db: &TestDb, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    if db.is_postgres() {
        let mut stored = Vec::new();
        for query in [
            "select app_secret from channels",
            "select verify_token from channels",
            "select access_token from channels",
            "select secret from webhook_endpoints",
            "select previous_secret from webhook_endpoints",
            "select body from idempotency_keys",
        ] {
            stored.extend(db.texts(query).await);
        }
        for s in &stored {
            if !(s.is_empty() || s.starts_with("sealed:v1:")) {
                found.push(format!("not sealed: {s}"));
            }
        }
        for secret in secrets {
            if stored.iter().any(|s| s.contains(secret.as_str())) {
                found.push(secret.clone());
            }
        }
        return found;
    }
    let files = files_of(db);
    assert!(!files.is_empty());
    for path in files {
        // SQLite removes the WAL and shared-memory files when its last
        // connection closes, which may be just now.
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for secret in secrets {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push(format!("{secret} in {}", path.display()));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_and_webhook_secrets_are_sealed_at_rest_and_old_plain_rows_on_start() {
    let graph = FakeGraph::start().await;
    let receiver = crate::webhooks::Receiver::start();
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.example", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.example").await;
    let csrf = admin.csrf_token().await;
    let mut secrets: Vec<String> = ["pune-app-secret", "pune-verify", "pune-access"]
        .map(String::from)
        .to_vec();

    // A Telegram bot and a web chat, through the API.
    let bot_token = "770011:TELEGRAM-BOT-TOKEN-abcdefghijklmnop";
    let (status, tg) = call(
        admin
            .request(Method::POST, "/api/v1/channels")
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "tg-1")
            .json(
                &json!({"kind": "telegram", "name": "tg", "bot_token": bot_token,
                "secret_token": "TG-SECRET-TOKEN-1", "api_url": graph.url()}),
            ),
    )
    .await;
    assert_eq!(status, 201, "{tg}");
    secrets.extend([bot_token.to_owned(), "TG-SECRET-TOKEN-1".to_owned()]);
    let (status, chat) = call(
        admin
            .request(Method::POST, "/api/v1/channels")
            .header("x-csrf-token", &csrf)
            .json(&json!({"kind": "webchat", "name": "chat"})),
    )
    .await;
    assert_eq!(status, 201, "{chat}");
    let chat_id: ChannelId = chat["channel"]["id"].as_str().unwrap().parse().unwrap();
    let chat = app.store.channel(&chat_id).await.unwrap().unwrap();
    secrets.push(chat.webchat().unwrap().signing_key.expose().to_owned());

    // A webhook endpoint, its secret rotated; an API key, whose answer is kept
    // for its idempotency key.
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let (status, endpoint) = call(
        app.api(Method::POST, "/webhooks", &key)
            .header("idempotency-key", "hook-1")
            .json(&json!({"url": receiver.url()})),
    )
    .await;
    assert_eq!(status, 201, "{endpoint}");
    secrets.push(endpoint["secret"].as_str().unwrap().to_owned());
    let id = endpoint["id"].as_str().unwrap();
    let (status, rotated) =
        call(app.api(Method::POST, &format!("/webhooks/{id}/rotate-secret"), &key)).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    secrets.push(new_secret.clone());
    let (status, made) = call(
        admin
            .request(Method::POST, "/api/v1/api-keys")
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "key-1")
            .json(&json!({"name": "erp", "scopes": ["complaints:read"]})),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    secrets.push(made["key"].as_str().unwrap().to_owned());
    // The replay still shows the key it showed the first time.
    let (_, again) = call(
        admin
            .request(Method::POST, "/api/v1/api-keys")
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "key-1")
            .json(&json!({"name": "erp", "scopes": ["complaints:read"]})),
    )
    .await;
    assert_eq!(again["key"], made["key"]);

    let db = app.stop_keeping_db().await;
    let found = readable(&db, &secrets).await;
    assert!(found.is_empty(), "readable at rest: {found:?}");

    // Rows as an Ombud before sealing wrote them: plain text. They are
    // sealed when the server starts, and everything works as before.
    db.execute(&format!(
        "update channels set app_secret = 'pune-app-secret', access_token = 'pune-access' where id = '{}';
         update webhook_endpoints set secret = '{new_secret}' where id = '{id}';",
        t.channel.id
    ))
    .await;
    assert!(!readable(&db, &secrets).await.is_empty(), "plain again");
    let app = TestApp::spawn_on(db, |_| {}, None).await;
    receiver.control(json!({"secrets": [new_secret]})).await;
    app.say(&t, "919800000001", "hello").await;
    replied(&graph, 1).await;
    let log = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert!(
        log.iter().all(|d| d["verified"] == true),
        "every delivery verifies with the endpoint's secret: {log:?}"
    );
    let db = app.stop_keeping_db().await;
    let found = readable(&db, &secrets).await;
    assert!(found.is_empty(), "readable after the start: {found:?}");
}

/// The data dir and everything Ombud makes in it are for its user only, and
/// `ombud serve` says so when it finds otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_for_ombuds_user_only_and_serve_warns_otherwise() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new().await;
    let data = db.dir.path().join("data");
    let mut env = db.env();
    env.retain(|(k, _)| *k != "OMBUD_DATA_DIR");
    env.push(("OMBUD_DATA_DIR", data.display().to_string()));
    let (code, _, stderr) = run_cli_env(
        &env,
        &[
            "tenant", "create", "--slug", "pune", "--name", "Pune", "--prefix", "PUNE",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let data_dir = data.display().to_string();
    let http = reqwest::Client::new();
    let mut server = serve_with(&db, port, &[("OMBUD_DATA_DIR", &data_dir)]);
    wait_ready(&http, &base).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data dir");
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap().flatten() {
        let path = entry.path();
        if path.is_file() {
            files += 1;
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    // On PostgreSQL the database's files are its server's; the keys are ours.
    let ours: &[&str] = if db.is_postgres() {
        &["secret.key", "audit.key"]
    } else {
        &[
            "ombud.db",
            "ombud.db-wal",
            "ombud.db-shm",
            "serve.lock",
            "secret.key",
            "audit.key",
        ]
    };
    for name in ours {
        assert!(data.join(name).exists(), "{name}");
    }
    assert_eq!(files, ours.len());
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let log = std::fs::read_to_string(db.dir.path().join("serve.log")).unwrap();
    assert!(!log.contains("readable by other users"), "{log}");

    // Someone made the key readable to all: the server says so.
    std::fs::set_permissions(
        data.join("secret.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let server = serve_with(&db, port, &[("OMBUD_DATA_DIR", &data_dir)]);
    wait_ready(&http, &base).await;
    let log = std::fs::read_to_string(db.dir.path().join("serve.log")).unwrap();
    assert!(
        log.contains("readable by other users") && log.contains("secret.key"),
        "{log}"
    );
    drop(server);
}

/// Posts a text from 919800000001, signed with the channel's app secret, as
/// Meta would, and expects it taken.
async fn say(http: &reqwest::Client, url: &str, wamid: &str, text: &str) {
    let body = text_message_payload("5550101", "919800000001", wamid, text).to_string();
    let res = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign("pune-secret", body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Waits (up to 30 s: the suite runs on two loaded cores) for the `n`th
/// reply to 919800000001, and fails without it.
async fn replied(graph: &FakeGraph, n: usize) {
    let got = wait_until(Duration::from_secs(30), || async {
        graph.delivered_to("919800000001").len() >= n
    })
    .await;
    assert!(
        got,
        "reply {n} never came: {:?}",
        graph.delivered_to("919800000001")
    );
}

/// The tests' webhook receiver listens on loopback.
const LOOPBACK_HOOKS: &[(&str, &str)] = &[("OMBUD_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8")];

/// `ombud secret-key rotate`: everything re-sealed under a new key, the old
/// one kept beside it, the server working on; a rotation cut short is
/// finished by running it again, and `serve` refuses to start meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_reseals_everything_and_the_server_works_on() {
    let graph = FakeGraph::start().await;
    let receiver = crate::webhooks::Receiver::start();
    let db = TestDb::new().await;
    cli(
        &db,
        &[
            "tenant", "create", "--slug", "pune", "--name", "Pune", "--prefix", "PUNE",
        ],
    );
    let channel = whatsapp_channel(&db, "pune", "5550101", "pune-secret", &graph.url());
    let key = cli(
        &db,
        &[
            "apikey",
            "create",
            "--tenant",
            "pune",
            "--name",
            "ops",
            "--scopes",
            "webhooks:manage,agents:write,agents:read",
        ],
    )["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let server = serve_with(&db, port, LOOPBACK_HOOKS);
    wait_ready(&http, &base).await;
    // A webhook endpoint, and an LLM agent whose API key is sealed in its version.
    let post = |path: &str, body: Value| {
        http.post(format!("{base}/api/v1{path}"))
            .bearer_auth(&key)
            .json(&body)
    };
    // Unordered: the server is killed below, and on PostgreSQL a delivery it
    // had claimed stays claimed for its lease (60 s), which would hold up an
    // ordered endpoint's later deliveries that long.
    let (status, endpoint) = call(post(
        "/webhooks",
        json!({"url": receiver.url(), "ordered": false}),
    ))
    .await;
    assert_eq!(status, 201, "{endpoint}");
    receiver
        .control(json!({"secrets": [endpoint["secret"]]}))
        .await;
    let (status, agent) = call(post("/agents", json!({"name": "model", "kind": "llm"}))).await;
    assert_eq!(status, 201, "{agent}");
    let (status, version) = call(post(
        &format!("/agents/{}/versions", agent["id"].as_str().unwrap()),
        json!({"config": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key": "sk-LLM-KEY-1"}}),
    ))
    .await;
    assert_eq!(status, 201, "{version}");
    drop(server);

    let key_file = db.dir.path().join("secret.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();
    let rotated = cli(&db, &["secret-key", "rotate"]);
    assert!(rotated["resealed"].as_u64().unwrap() >= 5, "{rotated}");
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(new_key, old_key);
    assert_eq!(
        std::fs::read_to_string(db.dir.path().join("secret.key.previous")).unwrap(),
        old_key
    );
    // The LLM key opens with the new key only.
    let stored = db
        .texts(if db.is_postgres() {
            "select config::text from agent_versions where config::text like '%api_key_sealed%'"
        } else {
            "select config from agent_versions where config like '%api_key_sealed%'"
        })
        .await;
    let sealed: Value = serde_json::from_str(&stored[0]).unwrap();
    let sealed = sealed["api_key_sealed"].as_str().unwrap();
    let tenant_id = db.texts("select id from tenants").await.remove(0);
    let open = |k: &str| {
        ombud_core::seal::SealKey::from_base64(k)
            .unwrap()
            .open(sealed, &tenant_id)
            .map(|s| s.expose().to_owned())
    };
    assert_eq!(open(&new_key).unwrap(), "sk-LLM-KEY-1");
    assert!(open(&old_key).is_err());

    // The server works on: Meta's signature checks, the reply goes out, the
    // webhook is signed with the endpoint's secret.
    let server = serve_with(&db, port, LOOPBACK_HOOKS);
    wait_ready(&http, &base).await;
    let url = format!("{base}{}", channel["webhook_path"].as_str().unwrap());
    say(&http, &url, "wamid.ROT1", "hello").await;
    replied(&graph, 1).await;
    let id = endpoint["id"].as_str().unwrap();
    let (status, _) = call(post(&format!("/webhooks/{id}/test"), json!({}))).await;
    assert_eq!(status, 202);
    let log = receiver.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(log[0]["verified"], true, "{log:?}");
    drop(server);

    // A rotation cut short after writing its key: serve refuses, and the
    // command run again finishes it with that key.
    let pending = ombud_core::seal::SealKey::generate().to_base64();
    std::fs::write(db.dir.path().join("secret.key.next"), &pending).unwrap();
    let (code, _, stderr) = run_cli(&db, &["migrate"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("ombud secret-key rotate"), "{stderr}");
    cli(&db, &["secret-key", "rotate"]);
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap().trim(),
        pending.trim()
    );
    assert!(!db.dir.path().join("secret.key.next").exists());
    let server = serve_with(&db, port, LOOPBACK_HOOKS);
    wait_ready(&http, &base).await;
    say(&http, &url, "wamid.ROT2", "status").await;
    replied(&graph, 2).await;
    drop(server);

    // With the key in OMBUD_SECRET_KEY, the new key is the operator's to give.
    let current = std::fs::read_to_string(&key_file).unwrap();
    let mut env = db.env();
    env.push(("OMBUD_SECRET_KEY", current.trim().to_owned()));
    let (code, _, stderr) = run_cli_env(&env, &["secret-key", "rotate"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--new-key"), "{stderr}");
    let given = ombud_core::seal::SealKey::generate().to_base64();
    let (code, out, stderr) = run_cli_env(&env, &["secret-key", "rotate", "--new-key", &given]);
    assert_eq!(code, 0, "{stderr}");
    assert!(out["resealed"].as_u64().unwrap() >= 5, "{out}");
    let given_env = [
        ("OMBUD_SECRET_KEY", given.as_str()),
        ("OMBUD_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8"),
    ];
    let server = serve_with(&db, port, &given_env);
    wait_ready(&http, &base).await;
    say(&http, &url, "wamid.ROT3", "status").await;
    replied(&graph, 3).await;
    drop(server);
}
