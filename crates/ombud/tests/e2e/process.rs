//! Process agents: the Python reference worker answering through WhatsApp,
//! warm workers, the cap on live workers, the hard timeout, replacement of a
//! dead worker, and the bubblewrap sandbox.

use std::time::Duration;

use ombud_core::Scope;
use serde_json::{json, Value};

use crate::agents::{agent, deploy, executions, version};
use crate::helpers::*;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn python_worker(script: &str, sandbox: &str, extra: Value) -> Value {
    let path = format!("{ROOT}/{script}");
    let path = std::fs::canonicalize(&path).unwrap().display().to_string();
    let dir = std::path::Path::new(&path)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let mut config = json!({
        "command": "/usr/bin/python3",
        "args": ["-u", path],
        "sandbox": {"mode": sandbox, "read_only": [dir]},
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// Makes a process agent with `config`, deploys it, and returns (agent id, key).
async fn deployed(app: &TestApp, t: &TestTenant, config: Value) -> (String, String) {
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let id = agent(app, &key, "worker", "process").await;
    let v = version(app, &key, &id, config).await;
    deploy(app, &key, t, &v).await;
    (id, key)
}

fn alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Live processes running `script`, counted from /proc.
fn running(script: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains(script) && cmdline.starts_with("/usr/bin/python3")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_worker_answers_stays_warm_for_the_next_message_and_is_closed_when_idle() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let config = python_worker(
        "examples/workers/complaint_worker.py",
        "bubblewrap",
        json!({"idle_timeout_secs": 2}),
    );
    let (id, key) = deployed(&app, &t, config).await;
    let citizen = "919800000001";

    app.say(&t, citizen, "The street light at Shivaji chowk is broken")
        .await;
    let replies = graph.wait_for_reply_to(citizen, 1).await;
    let re = regex::Regex::new(r"^Registered as (PUNE-\d{8}-\d{4})\. \(worker (\d+), message 1\)$")
        .unwrap();
    let caps = re
        .captures(&replies[0])
        .unwrap_or_else(|| panic!("{replies:?}"));
    let number = caps[1].to_owned();
    let inner_pid = caps[2].to_owned();
    let complaint = app
        .store
        .complaints(&t.tenant.id, 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(complaint.number.as_str(), number);
    assert_eq!(
        complaint.description,
        "The street light at Shivaji chowk is broken"
    );

    app.say(&t, citizen, "What is the status?").await;
    let replies = graph.wait_for_reply_to(citizen, 2).await;
    assert_eq!(
        replies[1],
        format!("You have 1 open complaint(s). (worker {inner_pid}, message 2)"),
        "the same worker, still holding its count"
    );
    let executions = executions(&app, &key, &id).await;
    let (second, first) = (
        &executions[0]["output"]["runtime"],
        &executions[1]["output"]["runtime"],
    );
    assert_eq!(
        (first["reused"].as_bool(), second["reused"].as_bool()),
        (Some(false), Some(true))
    );
    let pid = first["worker_pid"].as_u64().unwrap();
    assert_eq!(
        second["worker_pid"].as_u64(),
        Some(pid),
        "the warm path spawns nothing"
    );
    assert!(alive(pid), "warm between messages");
    assert!(
        wait_until(Duration::from_secs(6), || async { !alive(pid) }).await,
        "closed after the 2 s idle timeout"
    );
    assert_eq!(executions[1]["tool_calls"][0]["name"], "create_complaint");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_conversations_never_have_more_than_max_workers_alive() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    // Its own copy of the script, so other tests' workers are not counted.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let script = dir.path().join("cap_worker.py");
    std::fs::copy(format!("{ROOT}/tests/workers/probe_worker.py"), &script).unwrap();
    let config = json!({
        "command": "/usr/bin/python3", "args": ["-u", script.display().to_string()],
        "sandbox": {"mode": "none"}, "max_workers": 8, "idle_timeout_secs": 60,
    });
    deployed(&app, &t, config).await;

    let name = "cap_worker.py";
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watch = {
        let watching = watching.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(running(name));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let citizens: Vec<String> = (0..50).map(|i| format!("9198{i:08}")).collect();
    for c in &citizens {
        app.say(&t, c, "hello").await;
    }
    for c in &citizens {
        let replies = graph.wait_for_reply_to(c, 1).await;
        assert!(
            replies[0].starts_with("echo hello from "),
            "{c}: {replies:?}"
        );
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = watch.join().unwrap();
    println!("peak live workers seen in /proc: {peak}");
    assert!(peak <= 8, "{peak} workers were alive at once");
    assert!(peak >= 1);
    assert!(running(name) <= 8);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_never_answers_is_killed_at_the_hard_timeout_and_a_dead_one_replaced() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let config = python_worker(
        "tests/workers/probe_worker.py",
        "none",
        json!({"hard_timeout_secs": 1}),
    );
    let (id, key) = deployed(&app, &t, config).await;

    // A worker killed while warm is replaced by a new one for the next message.
    let a = "919800000001";
    app.say(&t, a, "hello").await;
    let first = graph.wait_for_reply_to(a, 1).await.remove(0);
    let pid: i32 = first.rsplit(' ').next().unwrap().parse().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(2), || async { !alive(pid as u64) }).await);
    app.say(&t, a, "hello again").await;
    let second = graph.wait_for_reply_to(a, 2).await.remove(1);
    assert!(second.starts_with("echo hello again from "), "{second}");
    assert_ne!(
        second.rsplit(' ').next().unwrap(),
        pid.to_string(),
        "a new worker"
    );

    // One that sleeps forever is killed at 1 s; the run is a timeout.
    let b = "919800000002";
    app.say(&t, b, "sleep").await;
    let timed_out = wait_until(Duration::from_secs(5), || async {
        executions(&app, &key, &id)
            .await
            .first()
            .is_some_and(|r| r["status"] == "timeout")
    })
    .await;
    assert!(timed_out, "{:?}", executions(&app, &key, &id).await.first());
    let run = executions(&app, &key, &id).await.remove(0);
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("did not finish within 1 s"),
        "{run}"
    );
    assert!(run["duration_ms"].as_i64().unwrap() < 3000, "{run}");
    let sleeper = run["output"]["runtime"]["worker_pid"].as_u64().unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || async { !alive(sleeper) }).await,
        "killed"
    );

    // One that crashes mid-run fails the run; its conversation goes to staff.
    let c = "919800000003";
    app.say(&t, c, "crash").await;
    let failed = wait_until(Duration::from_secs(5), || async {
        executions(&app, &key, &id)
            .await
            .first()
            .is_some_and(|r| r["status"] == "failed")
    })
    .await;
    assert!(failed);
    let run = executions(&app, &key, &id).await.remove(0);
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("exited before it was done (exit status: 3)"),
        "{run}"
    );
    assert!(
        error.contains("crashing on purpose"),
        "the worker's last words: {run}"
    );
    let conversations = app.store.conversations(&t.tenant.id).await.unwrap();
    let human = conversations
        .iter()
        .filter(|c| c.state == ombud_core::ConversationState::Human)
        .count();
    assert_eq!(
        human, 2,
        "the timed-out and the crashed conversations are handed to staff"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_bubblewrap_a_worker_reaches_no_socket_and_not_the_data_dir() {
    // The data dir outside /tmp, so the sandbox's private /tmp does not hide it.
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data_dir = data.path().to_owned();
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(|c| c.data_dir = data_dir.clone(), None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let secret = data_dir.join("secret.key");
    assert!(secret.exists());
    let probe = format!("probe {} {}", app.addr.port(), secret.display());

    // Without the sandbox the probe connects and reads: the check can fail.
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let id = agent(&app, &key, "worker", "process").await;
    let open = version(
        &app,
        &key,
        &id,
        python_worker("tests/workers/probe_worker.py", "none", json!({})),
    )
    .await;
    let fenced = version(
        &app,
        &key,
        &id,
        python_worker("tests/workers/probe_worker.py", "bubblewrap", json!({})),
    )
    .await;
    deploy(&app, &key, &t, &open).await;
    app.say(&t, "919800000001", &probe).await;
    let reply = graph.wait_for_reply_to("919800000001", 1).await.remove(0);
    assert!(
        reply.starts_with("connected; read 16 bytes; env []"),
        "{reply}"
    );

    deploy(&app, &key, &t, &fenced).await;
    app.say(&t, "919800000002", &probe).await;
    let reply = graph.wait_for_reply_to("919800000002", 1).await.remove(0);
    assert!(reply.starts_with("no network"), "{reply}");
    assert!(reply.contains("cannot read (FileNotFoundError)"), "{reply}");
    assert!(reply.ends_with("env []"), "{reply}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_reference_worker_speaks_the_same_protocol() {
    let build = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "ombud-example-worker"])
            .current_dir(ROOT)
            .status()
            .expect("cargo runs")
    })
    .await
    .unwrap();
    assert!(build.success());
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{ROOT}/target"));
    let program = std::fs::canonicalize(format!("{target}/debug/ombud-example-worker")).unwrap();
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let dir = program.parent().unwrap().display().to_string();
    let config = json!({
        "command": program.display().to_string(),
        "sandbox": {"mode": "bubblewrap", "read_only": [dir]},
    });
    deployed(&app, &t, config).await;
    let citizen = "919800000001";
    app.say(&t, citizen, "Garbage has not been collected for a week")
        .await;
    let first = graph.wait_for_reply_to(citizen, 1).await.remove(0);
    let re = regex::Regex::new(r"^Registered as PUNE-\d{8}-\d{4}\. \(worker (\d+), message 1\)$")
        .unwrap();
    let pid = re.captures(&first).unwrap_or_else(|| panic!("{first}"))[1].to_owned();
    app.say(&t, citizen, "status?").await;
    let second = graph.wait_for_reply_to(citizen, 2).await.remove(1);
    assert_eq!(
        second,
        format!("You have 1 open complaint(s). (worker {pid}, message 2)")
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_benchmark_runs_and_never_starts_a_second_worker() {
    let script = format!("{ROOT}/examples/workers/complaint_worker.py");
    let db = TestDb::new().await;
    let (code, json, stderr) = run_cli(
        &db,
        &[
            "bench",
            "agents",
            "--samples",
            "20",
            "--script",
            &script,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{json}");
    for row in rows {
        assert_eq!(row["samples"], 20);
        assert!(row["median_us"].as_f64().unwrap() > 0.0, "{row}");
    }
    // With --dialogue every sample files a complaint (the command checks
    // the count and fails otherwise).
    let (code, json, stderr) = run_cli(
        &db,
        &[
            "bench",
            "agents",
            "--samples",
            "10",
            "--script",
            &script,
            "--dialogue",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        json[1]["what"].as_str().unwrap().contains("dialogue"),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_runs_only_the_programs_the_operator_allows() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(
        |c| c.agents.process_commands = "/usr/bin/python3".into(),
        None,
    )
    .await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let id = agent(&app, &key, "worker", "process").await;
    let (status, e) = crate::api::call(
        app.api(
            reqwest::Method::POST,
            &format!("/agents/{id}/versions"),
            &key,
        )
        .json(&json!({"config": {"command": "/bin/sh", "args": ["-c", "cat /etc/shadow"]}})),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(crate::api::field(&e), Some("config.command"));
    assert!(e.to_string().contains("agents.process_commands"), "{e}");
    version(&app, &key, &id, json!({"command": "/usr/bin/python3"})).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_panel_runs_a_process_version_on_its_own_warm_worker() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let id = agent(&app, &key, "worker", "process").await;
    let config = python_worker(
        "examples/workers/complaint_worker.py",
        "bubblewrap",
        json!({}),
    );
    version(&app, &key, &id, config).await;
    let path = format!("/agents/{id}/versions/1/test-chats");
    let (status, chat) = crate::api::call(app.api(reqwest::Method::POST, &path, &key)).await;
    assert_eq!(status, 201, "{chat}");
    let say = |text: &'static str| {
        let path = format!("/test-chats/{}/messages", chat["id"].as_str().unwrap());
        let req = app
            .api(reqwest::Method::POST, &path, &key)
            .json(&json!({"text": text}));
        async move {
            let (status, turn) = crate::api::call(req).await;
            assert_eq!(status, 201, "{turn}");
            turn["replies"][0].as_str().unwrap().to_owned()
        }
    };
    let first = say("The street light at Shivaji chowk is broken").await;
    let re = regex::Regex::new(r"^Registered as (TEST-\d{8}-\d{4})\. \(worker (\d+), message 1\)$")
        .unwrap();
    let caps = re.captures(&first).unwrap_or_else(|| panic!("{first}"));
    let second = say("What is the status?").await;
    assert_eq!(
        second,
        format!(
            "You have 1 open complaint(s). (worker {}, message 2)",
            &caps[2]
        ),
        "the chat's own worker, warm, and its test complaint"
    );
    assert!(graph.requests().is_empty(), "nothing reached the channel");
    assert!(app
        .store
        .complaints(&t.tenant.id, 5)
        .await
        .unwrap()
        .is_empty());
    app.stop().await;
}
