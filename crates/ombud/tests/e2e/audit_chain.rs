//! The audit trail's chain: `ombud audit verify` names the first entry that
//! does not hold, however the trail was tampered with (on the database and in
//! an export), and retention cuts the chain where it still verifies.

use ombud_core::*;
use serde_json::json;

use crate::audit::{chain, run_cli_raw};
use crate::helpers::*;
use crate::staff::*;

/// The rows of `seq` in the tenant's chain, for tampering by hand.
fn row(tenant: &TenantId, seq: i64) -> String {
    format!("tenant_id = '{tenant}' and seq = {seq}")
}

fn verify_names(db: &TestDb, seq: i64, what: &str) {
    let (code, out, err) = run_cli(db, &["audit", "verify", "--tenant", "pune"]);
    assert_ne!(code, 0, "{what}: must fail; {out:#}");
    assert_eq!(
        out["tenants"][0]["first_bad"]["seq"], seq,
        "{what}: names entry {seq}; {out:#} {err}"
    );
}

fn verify_holds(db: &TestDb, what: &str) {
    let (code, out, err) = run_cli(db, &["audit", "verify", "--tenant", "pune"]);
    assert_eq!(code, 0, "{what}: {out:#} {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_first_entry_changed_deleted_inserted_swapped_or_rewritten() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let tid = t.tenant.id.clone();
    member(&app, "admin@pune.gov.in", &tid, Role::Admin).await;
    // The tenant and its channel (entries 1 and 2), three logins, then a
    // shutdown, which signs the head (5)...
    for _ in 0..3 {
        Staff::login(&app, "admin@pune.gov.in").await;
    }
    let db = app.stop_keeping_db().await;
    // ...and three more, signed at 8.
    let app = TestApp::spawn_on(db, |_| {}, None).await;
    for _ in 0..3 {
        Staff::login(&app, "admin@pune.gov.in").await;
    }
    let entries = chain(&app, &tid).await;
    assert_eq!(entries.len(), 8);
    let db = app.stop_keeping_db().await;
    verify_holds(&db, "untouched");

    // A field changed.
    db.execute(&format!(
        "update audit_events set action = 'logout' where {}",
        row(&tid, 3)
    ))
    .await;
    verify_names(&db, 3, "a changed field");
    db.execute(&format!(
        "update audit_events set action = 'login.succeeded' where {}",
        row(&tid, 3)
    ))
    .await;
    verify_holds(&db, "put back");

    // An entry deleted.
    db.execute(&format!(
        "create table saved as select * from audit_events where {};
         delete from audit_events where {};",
        row(&tid, 4),
        row(&tid, 4)
    ))
    .await;
    verify_names(&db, 4, "a deleted entry");
    db.execute("insert into audit_events select * from saved; drop table saved;")
        .await;
    verify_holds(&db, "put back");

    // Two swapped.
    let swap = |a: i64, b: i64| {
        format!(
            "update audit_events set seq = -1 where {ra};
             update audit_events set seq = {a} where {rb};
             update audit_events set seq = {b} where tenant_id = '{tid}' and seq = -1;",
            ra = row(&tid, a),
            rb = row(&tid, b)
        )
    };
    db.execute(&swap(2, 3)).await;
    verify_names(&db, 2, "two swapped");
    db.execute(&swap(2, 3)).await;
    verify_holds(&db, "put back");

    // One inserted: a copy of entry 2 placed after it, the rest moved on.
    db.execute(&format!(
        "update audit_events set seq = seq + 100 where tenant_id = '{tid}' and seq > 2;
         update audit_events set seq = seq - 99 where tenant_id = '{tid}' and seq > 100;
         create table saved as select * from audit_events where {};
         update saved set seq = 3, id = 'aud_00000000000000000000000000';
         insert into audit_events select * from saved; drop table saved;",
        row(&tid, 2)
    ))
    .await;
    verify_names(&db, 3, "an inserted entry");
    db.execute(&format!(
        "delete from audit_events where {};
         update audit_events set seq = seq + 100 where tenant_id = '{tid}' and seq > 3;
         update audit_events set seq = seq - 101 where tenant_id = '{tid}' and seq > 100;",
        row(&tid, 3)
    ))
    .await;
    verify_holds(&db, "put back");

    // The tail rewritten from entry 5, every hash recomputed and the head
    // moved: the chain holds, the checkpoint signed at 5 does not.
    let mut prev = entries[3].clone();
    for e in &entries[4..] {
        let mut forged = e.entry.clone();
        forged.action = "logout".into();
        let forged = forged.chained(prev.seq, &prev.hash);
        db.execute(&format!(
            "update audit_events set action = 'logout', prev_hash = '{}', hash = '{}' where {};
             update audit_heads set hash = '{}' where tenant_id = '{tid}' and seq = {};",
            forged.prev_hash,
            forged.hash,
            row(&tid, forged.seq),
            forged.hash,
            forged.seq
        ))
        .await;
        prev = forged;
    }
    verify_names(&db, 5, "a rewritten tail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_verifies_offline_and_a_changed_line_does_not() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    for _ in 0..4 {
        Staff::login(&app, "admin@pune.gov.in").await;
    }
    let db = app.stop_keeping_db().await;
    let (code, export, err) = run_cli_raw(&db, &["audit", "export", "--tenant", "pune"]);
    assert_eq!(code, 0, "{err}");
    // The header, the tenant and its channel, four logins, the checkpoint
    // and the head.
    assert_eq!(export.lines().count(), 1 + 2 + 4 + 1 + 1, "{export}");
    let file = db.dir.path().join("export.jsonl");
    std::fs::write(&file, &export).unwrap();
    let path = file.to_str().unwrap();
    let (code, out, err) = run_cli(&db, &["audit", "verify", "--file", path]);
    assert_eq!(
        (code, &out["tenants"][0]["ok"]),
        (0, &json!(true)),
        "{out:#} {err}"
    );

    // Checked with another key: the checkpoint does not hold.
    let other = "00".repeat(32);
    let (code, _, _) = run_cli(
        &db,
        &["audit", "verify", "--file", path, "--public-key", &other],
    );
    assert_ne!(code, 0);

    // One entry changed in the file.
    let changed = export.replacen("\"login.succeeded\"", "\"logout\"", 2);
    let changed = changed.replacen("\"logout\"", "\"login.succeeded\"", 1);
    std::fs::write(&file, changed).unwrap();
    let (code, out, _) = run_cli(&db, &["audit", "verify", "--file", path]);
    assert_ne!(code, 0);
    assert_eq!(out["tenants"][0]["first_bad"]["seq"], 4, "{out:#}");
}

/// A clock stopped at one time.
struct At(chrono::DateTime<chrono::Utc>);

impl Clock for At {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_cuts_the_chain_at_a_signed_checkpoint_and_the_rest_still_verifies() {
    use ombud_core::audit::SigningKey;
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let tid = t.tenant.id.clone();
    member(&app, "admin@pune.gov.in", &tid, Role::Admin).await;
    let key = SigningKey::from_base64(
        &std::fs::read_to_string(app.db.dir.path().join("audit.key")).unwrap(),
    )
    .unwrap();
    let now = chrono::Utc::now();
    let ops = |at| ombud_engine::Operations::new(app.store.clone(), std::sync::Arc::new(At(at)));
    // The tenant, its channel and three logins, signed 800 days ago...
    for _ in 0..3 {
        Staff::login(&app, "admin@pune.gov.in").await;
    }
    let long_ago = ops(now - chrono::Duration::days(800));
    assert_eq!(long_ago.sign_checkpoints(&key).await.unwrap(), 1);
    // ...two more, signed today.
    for _ in 0..2 {
        Staff::login(&app, "admin@pune.gov.in").await;
    }
    let today = ops(now);
    today.sign_checkpoints(&key).await.unwrap();
    assert_eq!(chain(&app, &tid).await.len(), 7);

    // Kept 730 days: the five entries the old checkpoint covers go.
    let pruned = today
        .prune_audit(chrono::Duration::days(730))
        .await
        .unwrap();
    assert_eq!(pruned, 5);
    let left = chain(&app, &tid).await;
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6, 7]);
    let verified = today
        .verify_audit(&tid, Some(&key.public_hex()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((verified.entries, verified.last_seq), (2, 7));
    // Again: nothing more is old enough.
    assert_eq!(
        today
            .prune_audit(chrono::Duration::days(730))
            .await
            .unwrap(),
        0
    );

    let db = app.stop_keeping_db().await;
    verify_holds(&db, "after pruning");
    let (code, export, err) = run_cli_raw(&db, &["audit", "export", "--tenant", "pune"]);
    assert_eq!(code, 0, "{err}");
    let file = db.dir.path().join("pruned.jsonl");
    std::fs::write(&file, &export).unwrap();
    let (code, out, err) = run_cli(&db, &["audit", "verify", "--file", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out:#} {err}");

    // The checkpoint the chain starts at is what vouches for the cut.
    db.execute(&format!(
        "delete from audit_checkpoints where tenant_id = '{tid}' and seq = 5"
    ))
    .await;
    verify_names(&db, 6, "a start no checkpoint vouches for");
}
