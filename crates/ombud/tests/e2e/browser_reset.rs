//! "Forgot your password?" in Debian's Chromium, driven by
//! `tests/browser/reset.mjs`, with the mail read where the tests' SMTP
//! server (aiosmtpd) keeps it: the same page for an unknown address and no
//! mail to it, the link works once and signs the other device out, the old
//! password stops working, and a link opened an hour and a minute later (the
//! server's clock moved) is refused. Screenshots: target/browser-artifacts/.

use std::process::Command;

use ombud_core::Role;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::staff::{member, PASSWORD};

fn run_script(scenario: &Value) -> String {
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scenario.json");
    std::fs::write(&path, scenario.to_string()).unwrap();
    let out = Command::new("node")
        .arg(repo.join("tests/browser/reset.mjs"))
        .env("SCENARIO", &path)
        .env("ARTIFACTS", repo.join("target/browser-artifacts"))
        .output()
        .expect("node runs (scripts/test installs Node's packages and Chromium)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the browser flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and Node with tests/browser installed: scripts/test runs it with --ignored"]
async fn a_forgotten_password_is_reset_in_chromium() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_with(crate::mail::with_smtp, None).await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let id = ombud_core::id::new_id_body().to_lowercase();
    let email = format!("asha-{id}@pune.gov.in");
    member(&app, &email, &t.tenant.id, Role::Staff).await;
    let maildir = std::env::var("OMBUD_TEST_SMTP_MAILDIR").expect("OMBUD_TEST_SMTP_MAILDIR");
    let scenario = json!({
        "mode": "flow",
        "base": format!("http://{}", app.addr),
        "email": email,
        "unknown": format!("nobody-{id}@pune.gov.in"),
        "old_password": PASSWORD,
        "new_password": "a fresh and long passphrase",
        "maildir": maildir,
        "width": 375,
        "height": 740,
    });
    let said = {
        let scenario = scenario.clone();
        tokio::task::spawn_blocking(move || run_script(&scenario))
            .await
            .unwrap()
    };
    let second: Value = said
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the second link");
    // An hour and a minute later.
    app.pass(chrono::Duration::minutes(61)).await;
    let mut expired = scenario.clone();
    expired["mode"] = json!("expired");
    expired["link"] = second["second"].clone();
    tokio::task::spawn_blocking(move || run_script(&expired))
        .await
        .unwrap();
    app.stop().await;
}
