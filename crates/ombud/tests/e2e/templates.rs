//! WhatsApp templates (issue 23, part 1): outside the 24-hour window a status
//! notice goes as the approved template mapped to it, filled in the citizen's
//! language; without one it is not sent, and the complaint's timeline and the
//! staff banner say why. The fake Graph API refuses free-form text outside
//! the window (131047) and checks every template send against the templates
//! it holds, so a wrong send fails the test.

use std::time::Duration;

use ombud_core::*;
use reqwest::Method;
use serde_json::json;

use crate::audit::session_api;
use crate::helpers::*;
use crate::staff::*;

const WABA: &str = "102030405060";

/// Moves a complaint (by its number) through the API, as an integration would.
pub(crate) async fn set_status(app: &TestApp, key: &str, number: &str, status: &str) {
    let res = app
        .api(Method::PATCH, &format!("/complaints/{number}"), key)
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

pub(crate) async fn timeline(app: &TestApp, t: &TestTenant, number: &str) -> Vec<(String, String)> {
    let c = crate::work::complaint(app, t, number).await;
    app.store
        .complaint_events(&t.tenant.id, &c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.to_value.unwrap_or_default()))
        .collect()
}

/// An admin maps the channel's notices to templates (`mapping`: the PUT's
/// body) and syncs Meta's; what the sync answered.
pub(crate) async fn map_and_sync(
    staff: &Staff<'_>,
    channel: &ChannelId,
    mapping: &serde_json::Value,
) -> serde_json::Value {
    let path = format!("/channels/{channel}/templates");
    let res = session_api(staff, Method::PUT, &path)
        .await
        .json(mapping)
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert_eq!(status, 200, "{}", res.text().await.unwrap_or_default());
    let res = session_api(staff, Method::POST, &format!("{path}/sync"))
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Waits until `to` has `n` template sends, accepted or not.
pub(crate) async fn template_sends(graph: &FakeGraph, to: &str, n: usize) -> Vec<GraphRequest> {
    let found = || {
        graph
            .requests()
            .into_iter()
            .filter(|r| r.to == to && r.kind == "template")
            .collect::<Vec<_>>()
    };
    wait_until(Duration::from_secs(5), || async { found().len() >= n }).await;
    found()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_outside_the_window_goes_as_the_mapped_template_or_says_why_it_cannot() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    let t = app.tenant("tpl", "TPL", &graph).await;
    graph.enforce_window(app.clock.clone());
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let hindi = "919800000031";
    let english = "919800000032";
    let theirs = crate::work::file_saying(
        &app,
        &t,
        &graph,
        hindi,
        [
            "हमारी गली में पानी की पाइप टूट गई है और पानी बह रहा है",
            "शिवाजी स्कूल के पास, कोथरूड",
            "हाँ",
        ],
    )
    .await;
    let ours = crate::work::file_saying(
        &app,
        &t,
        &graph,
        english,
        [
            "The street light near the school is broken",
            "Near Shivaji school, Kothrud",
            "yes",
        ],
    )
    .await;
    assert_eq!(
        crate::work::complaint(&app, &t, &theirs)
            .await
            .language
            .as_str(),
        "hi"
    );

    // Inside the window: the text, as before.
    set_status(&app, &key, &theirs, "acknowledged").await;
    let told = graph.wait_for_reply_to(hindi, 4).await;
    assert_eq!(told.len(), 4, "{told:?}");
    assert!(told[3].contains(&theirs), "{}", told[3]);

    // 25 hours later, with no template mapped: nothing is sent (Meta would
    // refuse it), and the timeline and the banner say why.
    app.pass(chrono::Duration::hours(25)).await;
    set_status(&app, &key, &ours, "acknowledged").await;
    let line = timeline(&app, &t, &ours).await.pop().unwrap();
    assert_eq!(line.0, "notify_failed");
    assert_eq!(
        line.1,
        "could not notify: no approved template for status_changed in en: no template is mapped to this notice"
    );
    let admin_user = user(
        &app,
        "admin@tpl.test",
        &[(&t.tenant.id, Role::Admin)],
        false,
    )
    .await;
    let staff = Staff::login(&app, admin_user.email.as_str()).await;
    let list = staff.get("/app/complaints").await.text().await.unwrap();
    assert!(
        list.contains("1 notice to citizens could not be sent in the last 7 days"),
        "{list}"
    );
    assert!(
        list.contains(&ours) && list.contains("no template is mapped"),
        "the banner names it"
    );
    assert!(
        list.contains("WhatsApp templates</a> page"),
        "and says how to fix it"
    );
    let page = staff
        .get(&format!("/app/complaints/{ours}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("could not notify: no approved template for status_changed in en"));

    // The admin maps a template (checked field by field) and syncs Meta's.
    graph.add_template(
        WABA,
        "complaint_status",
        "en_US",
        "APPROVED",
        "Your complaint {{1}} ({{3}}) is now {{2}}.",
        Some("Complaint {{1}}"),
    );
    graph.add_template(
        WABA,
        "complaint_status",
        "hi",
        "APPROVED",
        "आपकी शिकायत {{1}} ({{3}}) अब {{2}} है।",
        Some("शिकायत {{1}}"),
    );
    graph.add_template(
        WABA,
        "complaint_status",
        "mr",
        "PENDING",
        "{{1}} {{2}} {{3}}",
        Some("{{1}}"),
    );
    for i in 0..120 {
        graph.add_template(
            WABA,
            &format!("marketing_{i}"),
            "en_US",
            "APPROVED",
            "Hello",
            None,
        );
    }
    let channel = t.channel.id.to_string();
    let path = format!("/channels/{channel}/templates");
    let mapping = json!({"waba_id": WABA, "notices": {"status_changed": {
        "name": "complaint_status", "languages": ["en_US", "hi"],
        "body": ["complaint_number", "status_label", "category"], "header": ["complaint_number"]}}});
    let mut bad = mapping.clone();
    bad["notices"]["status_changed"]["body"][1] = json!("colour");
    let res = session_api(&staff, Method::PUT, &path)
        .await
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let e: serde_json::Value = res.json().await.unwrap();
    assert!(e.to_string().contains("notices.status_changed.body"), "{e}");
    let synced = map_and_sync(&staff, &t.channel.id, &mapping).await;
    assert_eq!(synced["synced"], 123, "every page is read: {synced}");
    let view: serde_json::Value = app
        .api(Method::GET, &path, &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["waba_id"], WABA);
    assert_eq!(view["notices"]["status_changed"]["languages"][1], "hi");

    // Now each citizen gets the template in their language, filled.
    set_status(&app, &key, &theirs, "in_progress").await;
    set_status(&app, &key, &ours, "in_progress").await;
    let to_hindi = template_sends(&graph, hindi, 1).await;
    let to_english = template_sends(&graph, english, 1).await;
    assert_eq!(
        to_hindi[0].template,
        Some(("complaint_status".into(), "hi".into()))
    );
    assert_eq!(to_hindi[0].status, 200, "{:?}", to_hindi[0]);
    assert!(
        to_hindi[0]
            .body
            .starts_with(&format!("आपकी शिकायत {theirs} (")),
        "{}",
        to_hindi[0].body
    );
    assert!(
        !to_hindi[0].body.contains("{{") && !to_hindi[0].body.contains("in_progress"),
        "{}",
        to_hindi[0].body
    );
    assert_eq!(
        to_english[0].template,
        Some(("complaint_status".into(), "en_US".into()))
    );
    assert!(
        to_english[0]
            .body
            .starts_with(&format!("Your complaint {ours} ("))
            && to_english[0].body.ends_with("is now in progress."),
        "{}",
        to_english[0].body
    );
    // The transcript keeps what the citizen read.
    let sent = app.messages_of(&t.tenant.id).await;
    let tpl = sent
        .iter()
        .find(|m| m.kind == MessageKind::Template && m.body.contains(&ours))
        .expect("stored");
    assert!(tpl.body.starts_with("Your complaint"), "{}", tpl.body);

    // Meta pauses the Hindi one (a status webhook): the Hindi citizen gets
    // the English fallback; with both paused, nothing is sent and it says so.
    let news = |language: &str, event: &str| {
        json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "time": 1, "changes": [
        {"field": "message_template_status_update", "value": {"event": event, "message_template_id": 1,
            "message_template_name": "complaint_status", "message_template_language": language, "reason": null}}]}]})
    };
    let res = app.post_signed(&t, &news("hi", "PAUSED")).await;
    assert_eq!(res.status(), 200);
    set_status(&app, &key, &theirs, "resolved").await;
    let to_hindi = template_sends(&graph, hindi, 2).await;
    assert_eq!(
        to_hindi[1].template,
        Some(("complaint_status".into(), "en_US".into()))
    );
    app.post_signed(&t, &news("en_US", "PAUSED")).await;
    set_status(&app, &key, &ours, "resolved").await;
    let line = timeline(&app, &t, &ours).await.pop().unwrap();
    assert_eq!(line.0, "notify_failed");
    assert!(
        line.1.contains("complaint_status (en_US) is PAUSED")
            && line.1.contains("complaint_status (hi) is PAUSED"),
        "{}",
        line.1
    );

    // Approved again, and the citizen writes: inside the window, text again.
    app.post_signed(&t, &news("en_US", "APPROVED")).await;
    graph.citizen_wrote(english);
    app.say(&t, english, "any news?").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    set_status(&app, &key, &ours, "closed").await;
    wait_until(Duration::from_secs(5), || async {
        graph
            .delivered_to(english)
            .iter()
            .any(|b| b.contains(&ours) && !b.starts_with("Your complaint"))
    })
    .await;

    // Meta re-categorises one (a webhook), and adds one that the daily sync
    // picks up the next night.
    let recategorised = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "time": 1, "changes": [
        {"field": "template_category_update", "value": {"message_template_id": 1,
            "message_template_name": "complaint_status", "message_template_language": "en_US",
            "previous_category": "UTILITY", "new_category": "MARKETING"}}]}]});
    assert_eq!(app.post_signed(&t, &recategorised).await.status(), 200);
    let synced = || async {
        app.store
            .wa_templates(&t.tenant.id, &t.channel.id)
            .await
            .unwrap()
    };
    let en = synced()
        .await
        .into_iter()
        .find(|w| w.name == "complaint_status" && w.language == "en_US")
        .unwrap();
    assert_eq!(
        (en.category.as_str(), en.status.as_str()),
        ("MARKETING", "APPROVED")
    );
    graph.add_template(WABA, "complaint_reminder", "hi", "APPROVED", "{{1}}", None);
    app.pass(chrono::Duration::days(1)).await;
    let nightly = wait_until(Duration::from_secs(10), || async {
        synced()
            .await
            .iter()
            .any(|w| w.name == "complaint_reminder")
    })
    .await;
    assert!(nightly, "the templates.sync job read Meta's list again");

    // Never once did Ombud send what Meta refuses.
    let refused: Vec<_> = graph
        .requests()
        .into_iter()
        .filter(|r| r.error_code.is_some())
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verdict_after_the_window_goes_as_the_validated_template_in_marathi() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn().await;
    graph.enforce_window(app.clock.clone());
    let t = app.tenant("verify", "VRFY", &graph).await;
    let key = app.api_key(&t.tenant.id, &Scope::ALL).await;
    let citizen = "919800000083";
    let number = crate::verification::file_in_marathi(&app, &t, &graph, citizen).await;
    set_status(&app, &key, &number, "pending_validation").await;
    let told = graph.wait_for_reply_to(citizen, 4).await;
    assert!(told[3].contains("प्रत्यक्ष पडताळणी बाकी"), "{}", told[3]);

    // A day and more later the citizen's window has closed; the office has
    // an approved Marathi template for the validated notice.
    app.pass(chrono::Duration::hours(30)).await;
    graph.add_template(
        WABA,
        "complaint_validated",
        "mr",
        "APPROVED",
        "तुमची तक्रार {{1}}: {{2}}.",
        None,
    );
    member(&app, "admin@verify.gov.in", &t.tenant.id, Role::Admin).await;
    let admin = Staff::login(&app, "admin@verify.gov.in").await;
    let mapping = json!({"waba_id": WABA, "notices": {"validated": {
        "name": "complaint_validated", "languages": ["mr"],
        "body": ["complaint_number", "status_label"]}}});
    map_and_sync(&admin, &t.channel.id, &mapping).await;
    let res = app
        .api(
            Method::POST,
            &format!("/complaints/{number}/verification"),
            &key,
        )
        .json(&json!({"outcome": "validated", "note": "Lamp is dead."}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sent = template_sends(&graph, citizen, 1).await;
    assert_eq!(
        sent[0].template,
        Some(("complaint_validated".into(), "mr".into()))
    );
    assert_eq!(sent[0].status, 200, "{:?}", sent[0]);
    assert_eq!(
        sent[0].body,
        format!("तुमची तक्रार {number}: प्रत्यक्ष पडताळणी झाली.")
    );
    app.stop().await;
}
