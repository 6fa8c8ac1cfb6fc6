//! The disaster-recovery drill of `docs/disaster-recovery.md`, its marked
//! commands (```sh drill on SQLite, ```sh drill-postgres on PostgreSQL) run
//! as written there, on the suite's backend: a server with traffic, a backup,
//! more traffic, the data (directory or schema) destroyed, a restore, the
//! server again. Everything up to the backup is back; what came after is
//! reported.

use std::path::Path;

use crate::fake_graph::FakeGraph;
use crate::helpers::*;

/// The drill's command blocks marked `sh <marker>`, in order.
fn drill_blocks(marker: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/disaster-recovery.md"
    ))
    .unwrap();
    let mut blocks = Vec::new();
    let mut rest = doc.as_str();
    let fence = format!("```sh {marker}\n");
    while let Some(at) = rest.find(&fence) {
        let body = &rest[at + fence.len()..];
        let end = body.find("```").expect("a drill block ends");
        blocks.push(body[..end].to_owned());
        rest = &body[end..][3..];
    }
    blocks
}

/// Runs one block with `sh -eu`, `ombud` on the PATH.
fn run(block: &str, env: &[(&str, String)]) {
    let bin = Path::new(env!("CARGO_BIN_EXE_ombud")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .arg("-euc")
        .arg(block)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PATH", path)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the drill's block failed:\n{block}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disaster_recovery_drill_runs_as_written_and_loses_only_what_came_after_the_backup() {
    let db = TestDb::new().await;
    let postgres = db.is_postgres();
    let blocks = drill_blocks(if postgres { "drill-postgres" } else { "drill" });
    assert_eq!(blocks.len(), 3, "backup, destroy, restore");
    let graph = FakeGraph::start().await;
    let backups = tempfile::tempdir().unwrap();
    let drill = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, String)> = db.env().into_iter().collect();
    env.push(("OMBUD_BACKUP__TO", backups.path().display().to_string()));
    env.push(("DRILL", drill.path().display().to_string()));

    // A server with traffic.
    let app = TestApp::spawn_on(db, |_| {}, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    for i in 0..5 {
        let citizen = format!("91980000010{i}");
        app.say(&t, &citizen, "Water supply is irregular in our lane")
            .await;
        graph.wait_for_reply_to(&citizen, 1).await;
    }
    let before = app.store.conversations(&t.tenant.id).await.unwrap().len();
    run(&blocks[0], &env);
    let verified: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(drill.path().join("verified.json")).unwrap())
            .unwrap();
    assert_eq!(verified["manifest"]["tables"]["conversations"], before);
    // More, after the backup.
    for i in 0..3 {
        let citizen = format!("91980000020{i}");
        app.say(&t, &citizen, "Garbage not collected").await;
        graph.wait_for_reply_to(&citizen, 1).await;
    }
    let after = app.store.conversations(&t.tenant.id).await.unwrap().len();
    // The machine is lost: the server stops, the data directory goes.
    let db = app.stop_keeping_db().await;
    run(&blocks[1], &env);
    assert!(!db.dir.path().exists(), "the data directory is gone");
    if postgres {
        assert!(
            db.texts("select table_name::text from information_schema.tables where table_schema = current_schema()")
                .await
                .is_empty(),
            "the schema is gone"
        );
    }
    run(&blocks[2], &env);
    let tenants = std::fs::read_to_string(drill.path().join("tenants.json")).unwrap();
    assert!(tenants.contains("pune"), "{tenants}");

    // Serving again: everything up to the backup.
    let app = TestApp::spawn_on(db, |_| {}, None).await;
    let back = app.store.conversations(&t.tenant.id).await.unwrap();
    assert_eq!(back.len(), before, "the conversations before the backup");
    eprintln!(
        "drill: {before} conversations backed up and restored; {} written after the backup were lost, as the recovery point says",
        after - before
    );
    app.say(&t, "919800000100", "Any update?").await;
    graph.wait_for_reply_to("919800000100", 2).await;
    app.stop().await;
}
