//! docs/onboarding.md, run: every command of its checklist, in order, against
//! a real `ombud serve` on the test's database. What the test adds: the
//! values of the document's `$VARIABLES`, the server's address for
//! `https://complaints.example.org`, and `--graph-url` pointing the channel at
//! the stand-in for Meta's Graph API. `curl -s URL` is done as a GET.

use crate::crash::{serve_with, wait_ready};
use crate::helpers::*;

/// The commands of the document's `sh` blocks, in order.
fn commands(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        match line.trim() {
            "```sh" => inside = true,
            "```" => inside = false,
            l if inside && !l.is_empty() && !l.starts_with('#') => out.push(l.to_owned()),
            _ => {}
        }
    }
    out
}

/// Words as a shell splits them (double quotes only, which is all the
/// document uses).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_the_onboarding_checklist_works() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/onboarding.md"
    ))
    .unwrap();
    let graph = FakeGraph::start().await;
    let db = TestDb::new().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut vars: Vec<(String, String)> = vec![
        ("$META_APP_SECRET".into(), "pune-meta-app-secret".into()),
        ("$VERIFY_TOKEN".into(), "pune-verify-phrase".into()),
        ("$META_ACCESS_TOKEN".into(), "pune-access-token".into()),
        ("https://complaints.example.org".into(), base.clone()),
    ];
    let mut server = None;
    let lines = commands(&doc);
    assert!(lines.len() >= 9, "{lines:?}");
    for line in &lines {
        let mut line = line.clone();
        for (name, value) in &vars {
            line = line.replace(name.as_str(), value);
        }
        assert!(
            !line.contains('$'),
            "a variable the test does not know: {line}"
        );
        let mut args = words(&line);
        let program = args.remove(0);
        // The server runs from the first step that needs it on.
        let needs_server = program == "curl" || args.first().map(String::as_str) == Some("say");
        if needs_server && server.is_none() {
            server = Some(serve_with(&db, port, &[]));
            wait_ready(&http, &base).await;
        }
        match program.as_str() {
            "ombud" => {
                if args.starts_with(&["channel".into(), "add".into()]) {
                    args.extend(["--graph-url".into(), graph.url()]);
                }
                let argv: Vec<&str> = args.iter().map(String::as_str).collect();
                let (code, out, stderr) = run_cli(&db, &argv);
                assert_eq!(code, 0, "{line}: {stderr}");
                if let Some(id) = out["channel_id"].as_str() {
                    vars.push(("$CHANNEL_ID".into(), id.to_owned()));
                }
                if args[0] == "user" {
                    assert!(out["one_time_password"].is_string(), "{out}");
                }
            }
            "curl" => {
                let url = args.iter().find(|a| a.starts_with("http")).unwrap();
                let res = http.get(url).send().await.unwrap();
                assert_eq!(res.status(), 200, "{line}");
                assert_eq!(res.text().await.unwrap(), "1158201444");
            }
            other => panic!("the checklist runs {other}, which this test does not know"),
        }
    }
    // The first complaint was answered with its number.
    let replies = graph.wait_for_reply_to("919800000001", 3).await;
    let last = replies.last().cloned().unwrap_or_default();
    let number = number_in(&last).unwrap_or_else(|| panic!("no complaint number in {replies:?}"));
    assert!(number.starts_with("PUNE-"), "{number}");
    drop(server);
}
