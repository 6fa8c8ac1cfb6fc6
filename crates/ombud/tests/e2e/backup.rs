//! Backups of a SQLite deployment, on SQLite whatever the suite's backend:
//! one taken while the server serves restores into an empty data directory
//! that serves the same citizens, staff, keys and sealed channel secrets; a
//! damaged, cut, wrongly keyed or too new backup is refused, each with its
//! own exit code and a message that says which.

use reqwest::Method;

use crate::fake_graph::FakeGraph;
use crate::helpers::*;
use crate::staff::{member, Staff};
use ombud_core::{Role, Scope};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_to_a_server_with_the_same_data() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_on(TestDb::sqlite(), |_| {}, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    app.say(
        &t,
        "919800000001",
        "Streetlight not working near Shivaji School",
    )
    .await;
    graph.wait_for_reply_to("919800000001", 1).await;
    member(&app, "clerk@pune.gov.in", &t.tenant.id, Role::Staff).await;
    let key = app.api_key(&t.tenant.id, &[Scope::ComplaintsRead]).await;

    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().to_str().unwrap();
    let (code, made, err) = run_cli(&app.db, &["backup", "create", "--to", to, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(made["manifest"]["tables"]["conversations"], 1, "{made:#}");
    assert_eq!(made["encrypted"], false);
    assert!(err.contains("not encrypted"), "a warning says so: {err}");
    let file = made["file"].as_str().unwrap().to_owned();
    // After the backup: not in it.
    app.say(&t, "919800000002", "Garbage not collected for a week")
        .await;
    graph.wait_for_reply_to("919800000002", 1).await;
    // The machine is lost, data directory and all.
    drop(app.stop_keeping_db().await);

    let fresh = TestDb::sqlite();
    let dir = fresh.dir.path().to_str().unwrap().to_owned();
    let (code, restored, err) = run_cli(&fresh, &["restore", &file, "--data-dir", &dir, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(restored["verified"]["tenants"], 1, "{restored:#}");
    assert_eq!(
        restored["verified"]["channels_opened"], 1,
        "the sealed secrets open"
    );
    // Once is enough: a second restore would overwrite what is there.
    let (code, _, err) = run_cli(&fresh, &["restore", &file, "--data-dir", &dir]);
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");

    let app = TestApp::spawn_on(fresh, |_| {}, None).await;
    let conversations = app.store.conversations(&t.tenant.id).await.unwrap();
    assert_eq!(
        conversations.len(),
        1,
        "what came before the backup, not after"
    );
    // Staff passwords, API keys and the channel's sealed app secret work.
    Staff::login(&app, "clerk@pune.gov.in").await;
    let res = app.api(Method::GET, "/me", &key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.say(&t, "919800000001", "status").await;
    graph.wait_for_reply_to("919800000001", 2).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_cut_wrongly_keyed_or_too_new_backup_is_refused_saying_which() {
    let db = TestDb::sqlite();
    let (code, _, err) = run_cli(
        &db,
        &[
            "tenant", "create", "--slug", "pune", "--name", "Pune", "--prefix", "PUNE",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let to = dir.path().to_str().unwrap();
    let (code, made, err) = run_cli(&db, &["backup", "create", "--to", to, "--json"]);
    assert_eq!(code, 0, "{err}");
    let good = made["file"].as_str().unwrap().to_owned();
    let bytes = std::fs::read(&good).unwrap();
    let verify = |file: &str, extra: &[&str]| {
        let mut args = vec!["backup", "verify", file];
        args.extend_from_slice(extra);
        let (code, _, err) = run_cli(&db, &args);
        (code, err)
    };
    assert_eq!(verify(&good, &[]).0, 0);

    // A few bytes damaged, anywhere past the first few. Not one bit: some
    // bits of a compressed stream are ones its decoder never reads (a bit
    // at the middle of a fresh backup was, in 3 of 60 tried: the backup
    // came back byte for byte the same, so accepting it was right).
    for at in [bytes.len() / 3, bytes.len() / 2, bytes.len() - 12] {
        let mut flipped = bytes.clone();
        for b in &mut flipped[at..at + 4] {
            *b ^= 0xa5;
        }
        std::fs::write(path("flipped.tar.zst"), &flipped).unwrap();
        let (code, err) = verify(&path("flipped.tar.zst"), &[]);
        assert_eq!(code, 3, "byte {at}: {err}");
        assert!(err.contains("corrupted"), "{err}");
    }
    // Cut short.
    std::fs::write(path("cut.tar.zst"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (code, err) = verify(&path("cut.tar.zst"), &[]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("truncated"), "{err}");

    // Encrypted to one key, opened with another (or none).
    let keygen = |name: &str| {
        let out = std::process::Command::new("age-keygen")
            .arg("-o")
            .arg(path(name))
            .output()
            .expect("age-keygen (scripts/test installs age)");
        assert!(out.status.success());
        let text = std::fs::read_to_string(path(name)).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap()
            .to_owned()
    };
    let (mine, _) = (keygen("mine.txt"), keygen("other.txt"));
    let mut env = db.env();
    env.push(("OMBUD_BACKUP__AGE_RECIPIENTS", mine.clone()));
    let (code, sealed, err) = run_cli_env(&env, &["backup", "create", "--to", to, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sealed["encrypted"], true);
    let sealed = sealed["file"].as_str().unwrap().to_owned();
    assert!(sealed.ends_with(".tar.zst.age"));
    assert!(
        !std::fs::read(&sealed)
            .unwrap()
            .windows(9)
            .any(|w| w == b"secret.ke"),
        "the keys are not in the clear"
    );
    assert_eq!(verify(&sealed, &["--identity", &path("mine.txt")]).0, 0);
    for extra in [&["--identity", &path("other.txt")][..], &[]] {
        let (code, err) = verify(&sealed, extra);
        assert_eq!(code, 5, "{err}");
        assert!(err.contains("wrong key"), "{err}");
    }

    // Made by a newer Ombud: a schema this one does not know.
    let conn = rusqlite::Connection::open(db.dir.path().join("ombud.db")).unwrap();
    conn.execute(
        "insert into schema_migrations (version, name, applied_at) values (999, 'from the future', '2027-01-01T00:00:00.000000Z')",
        [],
    )
    .unwrap();
    drop(conn);
    let (code, newer, err) = run_cli(&db, &["backup", "create", "--to", to, "--json"]);
    assert_eq!(code, 0, "{err}");
    let newer = newer["file"].as_str().unwrap().to_owned();
    let (code, err) = verify(&newer, &[]);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("schema version 999"), "{err}");
    let target = tempfile::tempdir().unwrap();
    let (code, _, err) = run_cli(
        &db,
        &[
            "restore",
            &newer,
            "--data-dir",
            target.path().to_str().unwrap(),
        ],
    );
    assert_eq!(code, 6, "{err}");
    assert!(!target.path().join("ombud.db").exists(), "nothing restored");

    // Retention by hand (`backup prune`), one day kept: the newest verified
    // backup (the encrypted one) and the newest of all, not verified, stay.
    let mut env = db.env();
    env.push(("OMBUD_BACKUP__TO", to.to_owned()));
    env.push(("OMBUD_BACKUP__KEEP_DAILY", "1".into()));
    env.push(("OMBUD_BACKUP__KEEP_WEEKLY", "0".into()));
    env.push(("OMBUD_BACKUP__KEEP_MONTHLY", "0".into()));
    let (code, gone, err) = run_cli_env(&env, &["backup", "prune", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        gone,
        serde_json::json!([good]),
        "only the older verified one goes"
    );
    let left: Vec<String> = ombud::backup::Destination::Dir(dir.path().to_owned())
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.location)
        .collect();
    assert_eq!(left, [sealed, newer]);
}

/// One after the other: the backup gauges are the process's, and the two
/// servers' clocks are days apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_in_a_directory_and_on_s3_are_verified_kept_by_generation_and_measured() {
    scheduled_backups_are_verified_kept_by_generation_and_measured(None).await;
    let bucket = crate::backup_s3::TestBucket::new().await;
    let settings = ombud::backup::BackupSettings {
        to: Some(bucket.url("scheduled")),
        s3: bucket.settings(),
        ..Default::default()
    };
    scheduled_backups_are_verified_kept_by_generation_and_measured(Some(settings)).await;
}

/// `ombud serve` with `backup.schedule`: each day's backup is made by the
/// `backup.create` job, verified by restoring it, recorded in the audit
/// trail as the system's, and retention keeps the days configured, in the
/// data directory's `backups` or where `to` says; the metrics say when the
/// last one was verified.
async fn scheduled_backups_are_verified_kept_by_generation_and_measured(
    to: Option<ombud::backup::BackupSettings>,
) {
    let graph = FakeGraph::start().await;
    let where_to = to.clone();
    let app = TestApp::spawn_on(
        TestDb::sqlite(),
        move |c| {
            if let Some(to) = where_to {
                c.backup = to;
            }
            c.backup.schedule = Some("0 3 * * *".into());
            c.backup.timezone = "Asia/Kolkata".into();
            c.backup.keep_daily = 3;
            c.backup.keep_weekly = 0;
            c.backup.keep_monthly = 0;
        },
        None,
    )
    .await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let dest = match &to {
        Some(s) => ombud::backup::Destination::new(s.to.as_deref().unwrap(), s).unwrap(),
        None => ombud::backup::Destination::Dir(app.db.dir.path().join("backups")),
    };
    let list = || async { dest.list().await.unwrap_or_default() };
    // The scheduler starts beside the listener: wait for its first act.
    let scheduled = || async { app.store.job(ombud::backup::scheduled::JOB).await.unwrap() };
    wait_until(std::time::Duration::from_secs(10), || async {
        scheduled().await.is_some()
    })
    .await;
    let job = scheduled().await.expect("scheduled on start");
    assert_eq!(
        job.schedule.as_ref().map(|s| (s.0.as_str(), s.1.as_str())),
        Some(("0 3 * * *", "Asia/Kolkata"))
    );
    let verified = || async {
        list()
            .await
            .into_iter()
            .filter(|l| l.verified_at.is_some())
            .count()
    };
    // Five days pass, one at a time: a verified backup each day.
    let mut runs = 0;
    for day in 1..=5 {
        app.pass(chrono::Duration::days(1)).await;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let job = app
                .store
                .job(ombud::backup::scheduled::JOB)
                .await
                .unwrap()
                .unwrap();
            if job.runs as usize == runs + 1 {
                assert_eq!(job.last_error, None, "day {day}");
                runs += 1;
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no backup on day {day}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            verified().await,
            day.min(3),
            "day {day}: kept {:?}",
            list().await
        );
    }
    let kept = list().await;
    assert_eq!(kept.len(), 3, "only the last three days");
    assert!(kept
        .windows(2)
        .all(|w| w[1].created_at - w[0].created_at >= chrono::Duration::hours(23)));

    // The audit trail: each made and verified by the system.
    let chain = app.store.audit_chain(&t.tenant.id, 0, 1000).await.unwrap();
    let backups: Vec<(&str, ombud_core::audit::ActorKind)> = chain
        .iter()
        .filter(|e| e.entry.action.starts_with("backup."))
        .map(|e| (e.entry.action.as_str(), e.entry.actor.kind))
        .collect();
    assert_eq!(backups.len(), 10, "{backups:?}");
    assert!(backups
        .iter()
        .all(|(_, k)| *k == ombud_core::audit::ActorKind::System));

    // The metrics: the last one verified a moment ago, by the server's clock.
    let admin = app.admin.unwrap();
    let body = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in the scrape"))
    };
    let (ok, said) = crate::observability::promtool(&["check", "metrics"], Some(&body));
    assert!(ok, "{said}");
    let verified_at = value("ombud_backup_last_verified_timestamp_seconds");
    let now = app.engine.now().timestamp() as f64;
    assert!((now - verified_at).abs() < 120.0, "{verified_at} vs {now}");
    assert!(value("ombud_backup_size_bytes") > 0.0);
    app.stop().await;
}

/// A server on the suite's backend, one citizen's complaint answered.
pub async fn serving_one_citizen() -> (FakeGraph, TestApp, TestTenant) {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    app.say(&t, "919800000001", "Drain overflowing near the market")
        .await;
    graph.wait_for_reply_to("919800000001", 1).await;
    (graph, app, t)
}

/// On the suite's backend: on PostgreSQL the backup is `pg_dump`'s, taken
/// under the snapshot its row counts were read in, and verifying restores it
/// into a scratch database on the same server (dropped after) and reads it
/// back through the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_the_configured_backend_verifies_by_restoring_it() {
    let (_graph, app, _) = serving_one_citizen().await;
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().to_str().unwrap();
    let (code, made, err) = run_cli(&app.db, &["backup", "create", "--to", to, "--json"]);
    assert_eq!(code, 0, "{err}");
    let backend = if app.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(made["manifest"]["backend"], backend, "{made:#}");
    assert_eq!(made["manifest"]["tables"]["conversations"], 1);
    let file = made["file"].as_str().unwrap().to_owned();
    let (code, verified, err) = run_cli(&app.db, &["backup", "verify", &file, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        (
            verified["tenants"].as_u64(),
            verified["channels_opened"].as_u64()
        ),
        (Some(1), Some(1)),
        "{verified:#}"
    );
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let flipped = backups.path().join("flipped.tar.zst");
    std::fs::write(&flipped, bytes).unwrap();
    let (code, _, err) = run_cli(&app.db, &["backup", "verify", flipped.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    app.stop().await;
}

/// On a terminal, create, verify and restore draw progress bars on stderr
/// (under `script`, which gives the command a pseudo-terminal); piped, as
/// in every other test here, they draw nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_show_progress_on_a_terminal_and_not_in_a_pipe() {
    let db = TestDb::sqlite();
    let (code, _, err) = run_cli(
        &db,
        &[
            "tenant", "create", "--slug", "pune", "--name", "Pune", "--prefix", "PUNE",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let backups = tempfile::tempdir().unwrap();
    let to = backups.path().to_str().unwrap();
    let (code, made, piped) = run_cli(&db, &["backup", "create", "--to", to, "--json"]);
    assert_eq!(code, 0, "{piped}");
    assert!(!piped.contains("backing up"), "no bar in a pipe: {piped}");
    let file = made["file"].as_str().unwrap().to_owned();
    let target = tempfile::tempdir().unwrap();
    let on_a_terminal = |args: &str| {
        let command = format!("{} {args}", env!("CARGO_BIN_EXE_ombud"));
        let out = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .envs(db.env())
            .output()
            .expect("script (util-linux)");
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{args}: {said}");
        said
    };
    let said = on_a_terminal(&format!("backup create --to {to}"));
    assert!(
        said.contains("backing up") && said.contains("storing"),
        "{said}"
    );
    assert!(said.contains("KiB/"), "bytes done of the total: {said}");
    let said = on_a_terminal(&format!("backup verify {file}"));
    assert!(
        said.contains("reading") && said.contains("verified"),
        "{said}"
    );
    let said = on_a_terminal(&format!(
        "restore {file} --data-dir {}",
        target.path().display()
    ));
    assert!(
        said.contains("reading") && said.contains("restored"),
        "{said}"
    );
}
