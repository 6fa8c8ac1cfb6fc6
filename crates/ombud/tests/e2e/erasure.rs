//! A person's data (issue 26, item 3): the export holds their profile,
//! every message and every complaint with the timeline they may see (no
//! internal notes), in their language; the erasure leaves no trace of
//! their number, name or words (SQLite: not a byte in the database file or
//! its WAL; PostgreSQL: no row), keeps the reports as they were, sends
//! `contact.erased`, is recorded under a pseudonym, and happens once; the
//! same number writing again is a new contact.

use std::collections::BTreeMap;
use std::time::Duration;

use ombud_core::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::staff::*;
use crate::webhooks::{endpoint, Receiver};

const NUMBER: &str = "919812345678";
const NAME: &str = "Sunita Deshmukh";
/// What she wrote that nobody else did, in English and in Hindi.
const PHRASE_EN: &str = "Zebrafinch Lane";
const PHRASE_HI: &str = "कबूतरखाना";
const LOCATION: &str = "behind Tulsibaug Ganpati temple";

/// Sends `text` from her, with her WhatsApp profile name, as Meta does.
async fn say_as_her(app: &TestApp, t: &TestTenant, text: &str) {
    let wamid = format!("wamid.{}", ombud_core::id::new_id_body());
    let mut payload = text_payload(&t.channel, NUMBER, &wamid, text);
    payload["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = json!(NAME);
    let res = app.post_signed(t, &payload).await;
    assert_eq!(res.status(), 200);
}

/// Files a complaint through the intake dialogue, answering what it asks
/// (20 seconds apart, as a person types: the agent's limit of 5 messages a
/// minute is not what this tests, and the clock stays within the 5 minutes
/// a webhook receiver allows its timestamps).
async fn file(
    app: &TestApp,
    t: &TestTenant,
    graph: &FakeGraph,
    [what, location, yes]: [&str; 3],
) -> String {
    let mut next = what.to_owned();
    for _ in 0..6 {
        app.pass(chrono::Duration::seconds(20)).await;
        let before = graph.delivered_to(NUMBER).len();
        graph.citizen_wrote(NUMBER);
        say_as_her(app, t, &next).await;
        let replies = graph.wait_for_reply_to(NUMBER, before + 1).await;
        let reply = replies.last().expect("a reply");
        if let Some(number) = number_in(reply) {
            return number;
        }
        let c = app.conversation_of(t, NUMBER).await;
        next = match c.agent_state["step"].as_str() {
            Some("await_category") => "1".into(),
            Some("await_location") => location.into(),
            Some("await_confirm") => yes.into(),
            other => panic!("the bot is at {other:?} after {next:?}: {reply}"),
        };
    }
    panic!(
        "no complaint after six messages: {:?}",
        graph.delivered_to(NUMBER)
    );
}

/// What may not be left anywhere once she is erased.
fn needles() -> Vec<&'static str> {
    vec![NUMBER, NAME, PHRASE_EN, PHRASE_HI, LOCATION]
}

/// The needles found in the database: on SQLite, byte by byte in the
/// database file and its WAL; on PostgreSQL, in any row of any table.
async fn traces(app: &TestApp) -> Vec<String> {
    let mut found = Vec::new();
    if app.db.is_postgres() {
        let tables = app
            .db
            .texts(
                "select table_name from information_schema.tables
                 where table_schema = current_schema() and table_type = 'BASE TABLE'",
            )
            .await;
        for table in tables {
            for needle in needles() {
                let q = format!(
                    "select cast(count(*) as text) from {table} t where t::text like '%{}%'",
                    needle.replace('\'', "''")
                );
                if app.db.texts(&q).await[0] != "0" {
                    found.push(format!("{needle} in {table}"));
                }
            }
        }
        return found;
    }
    for file in ["ombud.db", "ombud.db-wal"] {
        let path = app.db.dir.path().join(file);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for needle in needles() {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(format!("{needle} in {file}"));
            }
        }
    }
    found
}

/// Complaints per (status, category) in the dashboard's CSV export.
async fn csv_counts(staff: &Staff<'_>) -> BTreeMap<(String, String), usize> {
    let res = staff.get("/app/complaints.csv").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let mut counts = BTreeMap::new();
    for row in csv_rows(&text).into_iter().skip(1) {
        *counts.entry((row[1].clone(), row[3].clone())).or_insert(0) += 1;
    }
    counts
}

/// RFC 4180's rows: fields split on commas outside quotes, `""` a quote.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, ch) => field.push(ch),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, ch) => field.push(ch),
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_is_exported_whole_and_erased_without_a_trace_or_a_change_to_the_reports() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("pune", "PUNE", &graph).await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let receiver = Receiver::start();
    let body =
        json!({"url": receiver.url(), "description": "DPO", "event_types": ["contact.erased"]});
    let (_, secret) = endpoint(&app, &key, body).await;
    receiver.control(json!({"secrets": [secret]})).await;
    member(&app, "admin@pune.gov.in", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@pune.gov.in").await;

    // Her two complaints, in English and in Hindi, and someone else's.
    let what = format!("Garbage dumped on {PHRASE_EN} for ten days, it smells");
    let first = file(&app, &t, &graph, [&what, LOCATION, "yes"]).await;
    let what = format!("{PHRASE_HI} के पास पानी की पाइपलाइन फट गई है, सड़क पर पानी बह रहा है");
    let second = file(&app, &t, &graph, [&what, "तुळशीबाग मंदिर के पीछे", "हाँ"]).await;
    crate::work::street_light(&app, &t, &graph, "919800000001").await;
    // Staff work on hers: a status she may see, a note she may not.
    let res = app
        .api(Method::PATCH, &format!("/complaints/{first}"), &key)
        .json(&json!({"status": "in_progress"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let note = "Internal: the contractor says Ward 14 is short of trucks";
    let res = app
        .api(Method::POST, &format!("/complaints/{first}/notes"), &key)
        .json(&json!({"note": note}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let held = app.conversation_of(&t, NUMBER).await;
    let (conversation, contact) = (held.id, held.contact_id.to_string());
    let messages = app
        .store
        .messages(&t.tenant.id, &conversation)
        .await
        .unwrap();

    // The export: everything about her, in her language, no note.
    let export_path = format!("/contacts/{contact}/export");
    let res = app
        .api(Method::POST, &export_path, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let export: Value = res.json().await.unwrap();
    assert_eq!(export["format"], "ombud.person/1");
    assert_eq!(export["contact"]["address"], NUMBER);
    assert_eq!(export["contact"]["name"], NAME);
    assert_eq!(export["contact"]["language"], "hi", "{}", export["contact"]);
    assert_eq!(export["messages"].as_array().unwrap().len(), messages.len());
    let text = export.to_string();
    for needle in needles() {
        assert!(text.contains(needle), "{needle} missing from the export");
    }
    assert!(
        !text.contains("contractor"),
        "an internal note was exported"
    );
    let complaints = export["complaints"].as_array().unwrap();
    let mine: Vec<&str> = complaints
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert!(mine.contains(&first.as_str()) && mine.contains(&second.as_str()));
    let c1 = complaints
        .iter()
        .find(|c| c["number"] == first.as_str())
        .unwrap();
    assert_eq!(c1["status"], "in_progress");
    assert_eq!(c1["status_label"], "कार्य जारी", "in her language");
    let whats: Vec<&str> = c1["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["what"].as_str().unwrap())
        .collect();
    assert_eq!(whats, ["created", "status_changed"]);
    // Only those who may erase may export.
    let reader = app.api_key(&t.tenant.id, &[Scope::ConversationsRead]).await;
    let res = app
        .api(Method::POST, &export_path, &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let overview = |app: &TestApp| {
        let tenant = t.tenant.clone();
        let store = app.store.clone();
        let now = app.engine.now();
        async move {
            let o = store
                .overview(&tenant, now - chrono::Duration::days(30), now)
                .await
                .unwrap();
            format!(
                "{:?} {:?} {:?}",
                o.per_day, o.open_by_category, o.open_by_age
            )
        }
    };
    let reports = (overview(&app).await, csv_counts(&admin).await);
    assert!(
        !traces(&app).await.is_empty(),
        "the needles are there to find"
    );

    // The erasure.
    let erase_path = format!("/contacts/{contact}/erase");
    let res = app
        .api(Method::POST, &erase_path, &reader)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .api(Method::POST, &erase_path, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let erased: Value = res.json().await.unwrap();
    assert_eq!(erased["erased"], true);
    assert_eq!(erased["complaints"], 2);
    assert_eq!(erased["messages"].as_u64(), Some(messages.len() as u64));
    assert_eq!(traces(&app).await, Vec::<String>::new());
    assert_eq!((overview(&app).await, csv_counts(&admin).await), reports);
    // The complaints stay, without her words.
    let c = crate::work::complaint(&app, &t, &first).await;
    assert_eq!((c.description.as_str(), c.location.as_deref()), ("", None));
    assert_eq!(c.status, ComplaintStatus::InProgress);

    // The webhook, and the trail naming her by pseudonym only.
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["type"], "contact.erased", "{}", got[0]);
    assert_eq!(got[0]["verified"], true, "{}", got[0]);
    let delivered: Value = serde_json::from_str(got[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(delivered["data"]["contact_id"], contact.as_str());
    let trail = app
        .store
        .audit_events(&t.tenant.id, &Default::default(), None, 1000)
        .await
        .unwrap();
    let entry = trail
        .iter()
        .find(|e| e.entry.action == "contact.erased")
        .expect("the erasure's entry");
    let label = entry.entry.target.label.clone().unwrap();
    assert!(label.starts_with("erased:"), "{label}");
    let all = serde_json::to_string(&trail).unwrap();
    for needle in needles() {
        assert!(!all.contains(needle), "{needle} in the audit trail");
    }
    assert!(trail.iter().any(|e| e.entry.action == "contact.exported"));

    // A second erasure changes nothing.
    let res = app
        .api(Method::POST, &erase_path, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["erased"], false);
    let trail_after = app
        .store
        .audit_events(&t.tenant.id, &Default::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(trail_after.len(), trail.len());

    // Her number writing again is someone new, met afresh.
    graph.citizen_wrote(NUMBER);
    let before = graph.delivered_to(NUMBER).len();
    app.say(&t, NUMBER, "hello").await;
    let replies = graph.wait_for_reply_to(NUMBER, before + 1).await;
    assert!(
        replies.last().unwrap().contains("complaint desk"),
        "{replies:?}"
    );
    let fresh = app.conversation_of(&t, NUMBER).await;
    assert_ne!(fresh.id, conversation);
    assert_ne!(fresh.contact_id.to_string(), contact);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_export_and_erase_from_the_conversation_page_and_the_cli_does_the_same() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("nagpur", "NAG", &graph).await;
    let citizens = ["919800000501", "919800000502"];
    for c in citizens {
        crate::work::street_light(&app, &t, &graph, c).await;
    }
    let conversation = |c: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            app.store
                .conversation_of_address(&t.tenant.id, &t.channel.id, c)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let first = conversation(citizens[0]).await;
    member(&app, "admin@nagpur.gov.in", &t.tenant.id, Role::Admin).await;
    member(&app, "staff@nagpur.gov.in", &t.tenant.id, Role::Staff).await;
    let admin = Staff::login(&app, "admin@nagpur.gov.in").await;
    let staff = Staff::login(&app, "staff@nagpur.gov.in").await;

    let page = admin
        .get(&format!("/app/inbox/{first}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Download their data"), "{page}");
    let page = staff
        .get(&format!("/app/inbox/{first}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Download their data"), "staff do not see it");
    let res = staff
        .submit(&format!("/app/inbox/{first}/export"), &[])
        .await;
    assert_eq!(res.status(), 403);

    let res = admin
        .submit(&format!("/app/inbox/{first}/export"), &[])
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let export: Value = res.json().await.unwrap();
    assert_eq!(export["contact"]["address"], citizens[0]);

    // Without the box ticked, nothing happens.
    let res = admin
        .submit(&format!("/app/inbox/{first}/erase"), &[])
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("cannot be undone"), "{page}");
    let res = admin
        .submit(&format!("/app/inbox/{first}/erase"), &[("confirm", "yes")])
        .await;
    assert_eq!(res.status(), 303);
    let page = admin
        .get(&format!("/app/inbox/{first}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("This person was erased"), "{page}");
    assert!(page.contains("(words removed)"), "{page}");
    assert!(!page.contains(citizens[0]), "{page}");

    // The command line: export, erase, erase again.
    let second = app
        .store
        .conversation(&t.tenant.id, &conversation(citizens[1]).await)
        .await
        .unwrap()
        .unwrap()
        .conversation
        .contact_id
        .to_string();
    let args = |what: &'static str| {
        [
            "contact",
            what,
            "--tenant",
            "nagpur",
            "--contact",
            second.as_str(),
        ]
    };
    let (code, out, err) = run_cli(&app.db, &args("export"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out["contact"]["address"], citizens[1]);
    let (code, out, err) = run_cli(&app.db, &args("erase"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out["erased"], true);
    let (code, out, _) = run_cli(&app.db, &args("erase"));
    assert_eq!((code, &out["erased"]), (0, &json!(false)));
    let (code, _, err) = run_cli(
        &app.db,
        &[
            "contact",
            "erase",
            "--tenant",
            "nagpur",
            "--contact",
            "nonsense",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("contact"), "{err}");
    app.stop().await;
}
